"""Self-service password recovery by e-mail for host accounting applications.

>>> import pwrecovery as pr
>>> pr.Policy().temporary_password_ttl.days
7
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pwrecovery.adapters.argon2 import Argon2idHasher
from pwrecovery.adapters.memory import InMemoryStore, ManualClock, RecordingMailer
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.adapters.sqlite import SqliteStore
from pwrecovery.adapters.system import SystemClock
from pwrecovery.domain.model import (
    AuditEvent,
    Authentication,
    DeliveryReport,
    LoginResult,
    LoginStatus,
    PendingVerification,
    Purpose,
    QueuedMessage,
    Readiness,
    RecoverySent,
    Security,
    SenderAccount,
    SenderRecord,
    SenderSettings,
    TemporaryCredential,
    User,
    UserRecord,
)
from pwrecovery.domain.policy import Policy
from pwrecovery.errors import (
    ConcurrentModification,
    DeliveryFailed,
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
    SecretKeyInvalid,
    SecretUndecryptable,
    SenderAuthenticationFailed,
    SenderCredentialsEmpty,
    SenderUnreachable,
    StoreDamaged,
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
from pwrecovery.ports import Clock, Mailer, PasswordHasher, Store, TokenProvider
from pwrecovery.secretbox import generate_key
from pwrecovery.service import RecoveryService

__all__ = [
    "Argon2idHasher",
    "AuditEvent",
    "Authentication",
    "Clock",
    "ConcurrentModification",
    "DeliveryFailed",
    "DeliveryReport",
    "InMemoryStore",
    "InvalidConfiguration",
    "InvalidCredentials",
    "InvalidEmailAddress",
    "InvalidHeaderValue",
    "InvalidLogin",
    "LoginResult",
    "LoginStatus",
    "Mailer",
    "ManualClock",
    "NoSenderConfigured",
    "PasswordConfirmationMismatch",
    "PasswordHasher",
    "PasswordPolicyViolation",
    "PendingVerification",
    "Policy",
    "Purpose",
    "PwRecoveryError",
    "QueuedMessage",
    "RateLimited",
    "Readiness",
    "RecordingMailer",
    "RecoveryEmailMissing",
    "RecoverySent",
    "RecoveryService",
    "SecretKeyInvalid",
    "SecretUndecryptable",
    "Security",
    "SenderAccount",
    "SenderAuthenticationFailed",
    "SenderCredentialsEmpty",
    "SenderRecord",
    "SenderSettings",
    "SenderUnreachable",
    "SmtpMailer",
    "SqliteStore",
    "Store",
    "StoreDamaged",
    "StoreSchemaTooNew",
    "StoreUnavailable",
    "SystemClock",
    "TemporaryCredential",
    "TemporaryPasswordExpired",
    "TokenProvider",
    "TokenUnavailable",
    "TooManyAttempts",
    "UnknownSender",
    "UnknownUser",
    "User",
    "UserExists",
    "UserRecord",
    "VerificationFailed",
    "generate_key",
]

if TYPE_CHECKING:
    from pwrecovery.adapters.sqlalchemy import SqlAlchemyStore  # noqa: F401


def __getattr__(name: str) -> object:
    # SqlAlchemyStore needs the optional extra "server" (SQLAlchemy): it is imported only
    # when asked for, so `import pwrecovery` never needs SQLAlchemy. Not in __all__ for
    # the same reason.
    if name == "SqlAlchemyStore":
        from pwrecovery.adapters.sqlalchemy import SqlAlchemyStore  # noqa: PLC0415

        return SqlAlchemyStore
    msg = f"module 'pwrecovery' has no attribute {name!r}"
    raise AttributeError(msg)
