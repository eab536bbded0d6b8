"""The public API: an explicit, importable, documented __all__, and shims where a path moved."""

from __future__ import annotations

import importlib
import inspect

import pytest

import pwrecovery as pr
from pwrecovery import exceptions

# The public contract (docs/design.md): every name hosts code against.
CONTRACT = [
    "RecoveryService",
    "SqliteStore",
    "SmtpMailer",
    "InMemoryStore",
    "RecordingMailer",
    "generate_key",
    "Policy",
    "PasswordHasher",
    "Argon2idHasher",
    "SenderSettings",
    "Security",
    "SenderAccount",
    "Store",
    "Mailer",
    "Clock",
    "User",
    "RecoverySent",
    "LoginResult",
    "LoginStatus",
    "AuditEvent",
    "PwRecoveryError",
    "UnknownUser",
    "UserExists",
    "RecoveryEmailMissing",
    "NoSenderConfigured",
    "SenderCredentialsEmpty",
    "SenderAuthenticationFailed",
    "SenderUnreachable",
    "DeliveryFailed",
    "RateLimited",
    "InvalidEmailAddress",
    "InvalidCredentials",
    "TemporaryPasswordExpired",
    "TooManyAttempts",
    "PasswordConfirmationMismatch",
    "PasswordPolicyViolation",
    "VerificationFailed",
    # release 2
    "ImportedUser",
    "Pbkdf2Hasher",
    "BcryptHasher",
    "AccountDisabled",
    "ImportRejected",
    "SenderInUse",
    "SecretKeyMissing",
    "BasicAuthDisabled",
    "Translations",
    "TokenProvider",
    "Readiness",
    "Problem",
]

# Release 1 import paths that moved: each still works, with a DeprecationWarning.
MOVED_MODULES = {
    "pwrecovery.errors": "UnknownUser",
    "pwrecovery.service": "RecoveryService",
    "pwrecovery.secretbox": "generate_key",
    "pwrecovery.domain.model": "UserRecord",
}
MOVED_NAMES = ["UserRecord", "SenderRecord", "QueuedMessage", "PendingVerification"]


def test_all_is_sorted_and_unique() -> None:
    """__all__ lists each name once, in sorted order, so a diff shows every change."""
    assert sorted(set(pr.__all__)) == list(pr.__all__)


@pytest.mark.parametrize("name", list(pr.__all__))
def test_every_exported_name_is_importable(name: str) -> None:
    """`from pwrecovery import <name>` works for every name in __all__."""
    module = importlib.import_module("pwrecovery")
    assert getattr(module, name) is not None


def test_star_import_gives_exactly_all() -> None:
    """`from pwrecovery import *` brings in exactly the names of __all__."""
    namespace: dict[str, object] = {}
    exec("from pwrecovery import *", namespace)  # noqa: S102 (a fixed import statement)
    assert sorted(pr.__all__) == sorted(k for k in namespace if k != "__builtins__")


def test_every_contract_name_is_exported() -> None:
    """Every public name the contract promises is in __all__."""
    assert [] == [name for name in CONTRACT if name not in pr.__all__]


def test_every_error_class_is_exported() -> None:
    """A host can catch any error pwrecovery raises by its public name."""
    classes = [
        name
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, pr.PwRecoveryError) and not name.startswith("_")
    ]
    assert [] == [name for name in classes if name not in pr.__all__]


@pytest.mark.parametrize("name", list(pr.__all__))
def test_exported_names_are_the_library_objects(name: str) -> None:
    """Everything exported is defined inside pwrecovery, not re-exported from elsewhere."""
    assert getattr(pr, name).__module__.startswith("pwrecovery")


@pytest.mark.parametrize(("module", "name"), list(MOVED_MODULES.items()))
def test_moved_modules_still_import_with_a_warning(module: str, name: str) -> None:
    """A release 1 import path keeps working for one more release, and says where to go."""
    import sys  # noqa: PLC0415

    sys.modules.pop(module, None)
    with pytest.warns(DeprecationWarning, match="pwrecovery"):
        imported = importlib.import_module(module)
    assert getattr(imported, name) is not None


@pytest.mark.parametrize("name", MOVED_NAMES)
def test_moved_names_still_resolve_with_a_warning(name: str) -> None:
    """pr.UserRecord and the other store records moved to pwrecovery.records."""
    from pwrecovery import records  # noqa: PLC0415

    with pytest.warns(DeprecationWarning, match="pwrecovery.records"):
        found = getattr(pr, name)
    assert getattr(records, name) is found


def test_server_store_without_its_extra_says_which_to_install() -> None:
    """Asking for SqlAlchemyStore without SQLAlchemy names the extra, not a bare module."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'sqlalchemy' or name.startswith('sqlalchemy.'):\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pwrecovery as pr\n"
        "try:\n"
        "    pr.SqlAlchemyStore\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'pwrecovery[server]'" in done.stdout
