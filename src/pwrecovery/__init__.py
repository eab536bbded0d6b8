"""Self-service password recovery by e-mail for host accounting applications.

Everything a host needs is importable from here (``import pwrecovery as pr``);
the modules behind it are private unless documented (``pwrecovery.testing``,
``pwrecovery.records`` for those who write a store, ``pwrecovery.oauth``).

>>> import pwrecovery as pr
>>> pr.Policy().temporary_password_ttl.days
7
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import TYPE_CHECKING

from pwrecovery._domain.policy import Policy
from pwrecovery._i18n import Translations
from pwrecovery._service import RecoveryService
from pwrecovery.adapters.argon2 import Argon2idHasher
from pwrecovery.adapters.legacy import BcryptHasher, Pbkdf2Hasher
from pwrecovery.adapters.memory import InMemoryStore, ManualClock, RecordingMailer
from pwrecovery.adapters.secretbox import generate_key
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.adapters.sqlite import SqliteStore
from pwrecovery.adapters.system import SystemClock
from pwrecovery.exceptions import (
    AccountDisabled,
    BasicAuthDisabled,
    CatalogError,
    ConcurrentModification,
    CredentialError,
    DeliveryFailed,
    DeliveryRejected,
    ImportRejected,
    InputError,
    InvalidConfiguration,
    InvalidCredentials,
    InvalidEmailAddress,
    InvalidHeaderValue,
    InvalidLogin,
    NoSenderConfigured,
    PasswordConfirmationMismatch,
    PasswordPolicyViolation,
    PwRecoveryError,
    RateLimited,
    RecoveryEmailMissing,
    RecoveryRefused,
    SecretError,
    SecretKeyInvalid,
    SecretKeyMissing,
    SecretUndecryptable,
    SenderAddressRefused,
    SenderAuthenticationFailed,
    SenderCredentialsEmpty,
    SenderError,
    SenderInUse,
    SenderUnreachable,
    StoreDamaged,
    StoreError,
    StoreSchemaTooNew,
    StoreUnavailable,
    TemporaryPasswordExpired,
    TokenUnavailable,
    TooManyAttempts,
    UnknownSender,
    UnknownUser,
    UserExists,
    VerificationFailed,
)
from pwrecovery.models import (
    AuditEvent,
    Authentication,
    DeliveryReport,
    ImportedUser,
    LoginResult,
    LoginStatus,
    PasswordChanged,
    Problem,
    Purpose,
    Readiness,
    RecoverySent,
    Security,
    SenderAccount,
    SenderSettings,
    User,
)
from pwrecovery.ports import (
    Clock,
    Mailer,
    MailSession,
    PasswordHasher,
    SessionMailer,
    Store,
    TokenProvider,
)

try:
    __version__ = metadata.version("pwrecovery")
except metadata.PackageNotFoundError:  # pragma: no cover (run from a source tree)
    __version__ = "0+unknown"

__all__ = [
    "AccountDisabled",
    "Argon2idHasher",
    "AuditEvent",
    "Authentication",
    "BasicAuthDisabled",
    "BcryptHasher",
    "CatalogError",
    "Clock",
    "ConcurrentModification",
    "CredentialError",
    "DeliveryFailed",
    "DeliveryRejected",
    "DeliveryReport",
    "ImportRejected",
    "ImportedUser",
    "InMemoryStore",
    "InputError",
    "InvalidConfiguration",
    "InvalidCredentials",
    "InvalidEmailAddress",
    "InvalidHeaderValue",
    "InvalidLogin",
    "LoginResult",
    "LoginStatus",
    "MailSession",
    "Mailer",
    "ManualClock",
    "NoSenderConfigured",
    "PasswordChanged",
    "PasswordConfirmationMismatch",
    "PasswordHasher",
    "PasswordPolicyViolation",
    "Pbkdf2Hasher",
    "Policy",
    "Problem",
    "Purpose",
    "PwRecoveryError",
    "RateLimited",
    "Readiness",
    "RecordingMailer",
    "RecoveryEmailMissing",
    "RecoveryRefused",
    "RecoverySent",
    "RecoveryService",
    "SecretError",
    "SecretKeyInvalid",
    "SecretKeyMissing",
    "SecretUndecryptable",
    "Security",
    "SenderAccount",
    "SenderAddressRefused",
    "SenderAuthenticationFailed",
    "SenderCredentialsEmpty",
    "SenderError",
    "SenderInUse",
    "SenderSettings",
    "SenderUnreachable",
    "SessionMailer",
    "SmtpMailer",
    "SqliteStore",
    "Store",
    "StoreDamaged",
    "StoreError",
    "StoreSchemaTooNew",
    "StoreUnavailable",
    "SystemClock",
    "TemporaryPasswordExpired",
    "TokenProvider",
    "TokenUnavailable",
    "TooManyAttempts",
    "Translations",
    "UnknownSender",
    "UnknownUser",
    "User",
    "UserExists",
    "VerificationFailed",
    "generate_key",
]

if TYPE_CHECKING:
    from pwrecovery.adapters.sqlalchemy import SqlAlchemyStore  # noqa: F401

# Names that moved in release 2: still importable from here, with a warning.
_MOVED = {
    "UserRecord": "pwrecovery.records",
    "SenderRecord": "pwrecovery.records",
    "QueuedMessage": "pwrecovery.records",
    "PendingVerification": "pwrecovery.records",
    "TemporaryCredential": "pwrecovery.records",
}


def __getattr__(name: str) -> object:
    # SqlAlchemyStore needs the optional extra "server" (SQLAlchemy): it is imported only
    # when asked for, so `import pwrecovery` never needs SQLAlchemy.
    if name == "SqlAlchemyStore":
        try:
            from pwrecovery.adapters.sqlalchemy import SqlAlchemyStore  # noqa: PLC0415
        except ModuleNotFoundError as error:
            msg = (
                "SqlAlchemyStore needs SQLAlchemy and a database driver: "
                "pip install 'pwrecovery[server]' (PostgreSQL) or 'pwrecovery[mysql]'"
            )
            raise ModuleNotFoundError(msg, name=error.name) from error
        return SqlAlchemyStore
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(
            f"pwrecovery.{name} moved to {module}.{name}; the old name goes in release 3",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(module), name)
    msg = f"module 'pwrecovery' has no attribute {name!r}"
    raise AttributeError(msg)
