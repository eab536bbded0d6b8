"""The public API (DESIGN §2, CONVENTIONS §1): an explicit, importable, documented __all__."""

from __future__ import annotations

import importlib
import inspect

import pytest

import pwrecovery as pr
from pwrecovery import errors

# The public contract of DESIGN §2: every name hosts code against.
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
]


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
    """Every public name DESIGN §2 promises (and that exists today) is in __all__."""
    assert [] == [name for name in CONTRACT if name not in pr.__all__]


def test_every_error_class_is_exported() -> None:
    """A host can catch any error pwrecovery raises by its public name."""
    classes = [
        name
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, pr.PwRecoveryError)
    ]
    assert [] == [name for name in classes if name not in pr.__all__]


@pytest.mark.parametrize("name", list(pr.__all__))
def test_exported_names_are_the_library_objects(name: str) -> None:
    """Everything exported is defined inside pwrecovery, not re-exported from elsewhere."""
    assert getattr(pr, name).__module__.startswith("pwrecovery")
