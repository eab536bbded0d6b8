"""Value objects of the core. Secrets are never part of a ``repr``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from pwrecovery.domain.headers import check_header_value, check_host
from pwrecovery.domain.logins import normalize_display_name
from pwrecovery.errors import InvalidConfiguration

MAX_PORT = 65535


class Security(enum.StrEnum):
    """How the SMTP connection is protected."""

    SSL = "ssl"  # implicit TLS, usually port 465
    STARTTLS = "starttls"  # plaintext upgraded with STARTTLS, usually port 587
    NONE = "none"  # no encryption: credentials go only to loopback addresses


class Authentication(enum.StrEnum):
    """How a sender account logs in to its SMTP server."""

    PASSWORD = "password"  # noqa: S105 (a method, not a secret): AUTH PLAIN or LOGIN
    XOAUTH2 = "xoauth2"  # SASL XOAUTH2 with an OAuth 2.0 access token from a TokenProvider


class LoginStatus(enum.StrEnum):
    OK = "ok"
    MUST_CHANGE_PASSWORD = "must_change_password"  # noqa: S105 (a status name, not a secret)


class Purpose(enum.StrEnum):
    """Why a mail is sent; the value goes to the ``X-PwRecovery-Purpose`` header."""

    TEMPORARY_PASSWORD = "temporary-password"  # noqa: S105 (a purpose, not a secret)
    EMAIL_VERIFICATION = "email-verification"
    PASSWORD_CHANGED = "password-changed"  # noqa: S105 (a purpose, not a secret)
    ADDRESS_CHANGED = "recovery-address-changed"

    @property
    def carries_secret(self) -> bool:
        return self in {Purpose.TEMPORARY_PASSWORD, Purpose.EMAIL_VERIFICATION}


def _port(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PORT:
        raise InvalidConfiguration("port", f"it must be a whole number from 1 to {MAX_PORT}")


def _header_safe(field: str) -> attrs._ValidatorType[str]:
    def check(_instance: object, _attribute: object, value: str) -> None:
        check_header_value(value, field)

    return check


def _to_security(value: str) -> Security:
    try:
        return Security(value)
    except ValueError as error:
        raise InvalidConfiguration("security", "it must be 'ssl', 'starttls' or 'none'") from error


def _to_authentication(value: str) -> Authentication:
    try:
        return Authentication(value)
    except ValueError as error:
        raise InvalidConfiguration(
            "authentication", "it must be 'password' or 'xoauth2'"
        ) from error


def _to_address(value: str) -> str:
    # Imported here: addresses imports this module's neighbours, not the other way round.
    from pwrecovery.domain.addresses import normalize_address  # noqa: PLC0415

    return normalize_address(value)


@attrs.frozen
class SenderSettings:
    """Where and as whom a sender account sends mail. The password is kept apart."""

    host: str = attrs.field(validator=lambda _i, _a, v: check_host(v))
    port: int = attrs.field(validator=_port)
    security: Security = attrs.field(converter=_to_security)
    username: str = attrs.field(validator=_header_safe("username"))
    from_address: str = attrs.field(converter=_to_address)
    display_name: str = attrs.field(default="", converter=normalize_display_name)
    authentication: Authentication = attrs.field(
        default=Authentication.PASSWORD, converter=_to_authentication
    )


@attrs.frozen
class SenderAccount:
    """A sender account as the host sees it: never its password."""

    id: str
    owner: str
    settings: SenderSettings
    verified_at: datetime


@attrs.frozen
class SenderRecord:
    """A sender account as a store keeps it: the password only as an AES-GCM blob."""

    account: SenderAccount
    secret: bytes = attrs.field(repr=False)
    owner_supervisor: bool = False


@attrs.frozen
class User:
    """A user as the host sees it: no secret fields."""

    login: str
    display_name: str
    supervisor: bool
    recovery_email: str | None
    recovery_email_verified: bool


@attrs.frozen
class TemporaryCredential:
    """An issued temporary password, known only by its hash."""

    id: str
    hash: str = attrs.field(repr=False)
    issued_at: datetime
    expires_at: datetime


@attrs.frozen
class PendingVerification:
    """A verification code sent to the recovery address, known only by its hash."""

    code_hash: str = attrs.field(repr=False)
    expires_at: datetime
    attempts: int = 0


@attrs.frozen(kw_only=True)
class UserRecord:
    """Everything a store keeps about one user.

    ``key`` is the case-insensitive form of ``login`` that lookups use;
    ``version`` grows by one with every stored change, so a store can refuse an
    update made from a stale read.
    """

    login: str
    key: str
    display_name: str = ""
    supervisor: bool = False
    password_hash: str = attrs.field(repr=False)
    recovery_email: str | None = None
    recovery_email_verified: bool = False
    pending_verification: PendingVerification | None = None
    temporary: TemporaryCredential | None = None
    failed_sign_ins: int = 0
    locked_until: datetime | None = None
    recovery_requests: tuple[datetime, ...] = ()
    version: int = 0

    def to_user(self) -> User:
        return User(
            login=self.login,
            display_name=self.display_name,
            supervisor=self.supervisor,
            recovery_email=self.recovery_email,
            recovery_email_verified=self.recovery_email_verified,
        )

    @property
    def has_verified_address(self) -> bool:
        return self.recovery_email is not None and self.recovery_email_verified


def _frozen_detail(detail: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in detail.items()})


@attrs.frozen
class AuditEvent:
    """Something that happened, for the audit trail. Never holds a secret."""

    kind: str
    login: str | None
    at: datetime
    origin: str | None = None
    detail: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_detail, hash=False)


@attrs.frozen(kw_only=True)
class QueuedMessage:
    """A mail waiting in the outbox (``request_recovery(..., delivery="queued")``).

    ``payload`` is the mail's content, its secret included, as an AES-GCM blob bound
    to ``id``; ``credential_id`` names the temporary password it carries, revoked if
    the mail can never be sent. ``version`` grows with every stored change.
    """

    id: str
    user_key: str
    purpose: Purpose
    credential_id: str | None
    payload: bytes = attrs.field(repr=False)
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str | None = None
    version: int = 0


@attrs.frozen
class DeliveryReport:
    """What one ``deliver_pending()`` run did."""

    sent: int = 0
    retried: int = 0
    abandoned: int = 0
    dropped: int = 0  # its temporary password was no longer current: nothing to send


@attrs.frozen
class LoginResult:
    status: LoginStatus
    expires_at: datetime | None = None  # set when status is MUST_CHANGE_PASSWORD


@attrs.frozen
class Readiness:
    """What would stop a recovery right now (``RecoveryService.readiness()``).

    ``failing_senders`` holds ``(sender id, error code)`` pairs, filled only
    when the senders were asked to log in.
    """

    senders: tuple[str, ...]
    undecryptable_senders: tuple[str, ...]
    failing_senders: tuple[tuple[str, str], ...]
    supervisor_ready: bool
    users_without_address: tuple[str, ...]

    @property
    def usable_senders(self) -> tuple[str, ...]:
        broken = set(self.undecryptable_senders) | {sender for sender, _ in self.failing_senders}
        return tuple(sender for sender in self.senders if sender not in broken)

    @property
    def ready(self) -> bool:
        """Whether a user with a verified address could recover now."""
        return bool(self.usable_senders) and self.supervisor_ready


@attrs.frozen
class RecoverySent:
    masked_address: str
    expires_at: datetime
