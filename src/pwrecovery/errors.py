"""The errors pwrecovery raises.

Every error has a stable ``.code`` for programs and a ``str()`` that is a
complete sentence in the service's locale, ready to show to a person. No
error message ever holds a secret.

::

    PwRecoveryError                  error (never raised directly)
    ├── UnknownUser                  unknown_user
    ├── UserExists                   user_exists
    ├── InvalidLogin                 invalid_login
    ├── RecoveryEmailMissing         recovery_email_missing   .missing
    ├── NoSenderConfigured           no_sender_configured
    ├── SenderCredentialsEmpty       sender_credentials_empty
    ├── SenderAuthenticationFailed   sender_auth_failed       .host
    ├── SenderUnreachable            sender_unreachable       .host .port .reason
    ├── UnknownSender                unknown_sender           .sender_id
    ├── TokenUnavailable             token_unavailable        .sender_id
    ├── DeliveryFailed               delivery_failed          .attempts
    ├── RateLimited                  rate_limited             .retry_after
    ├── InvalidEmailAddress          invalid_email
    ├── InvalidHeaderValue           invalid_header_value     .field
    ├── InvalidCredentials           invalid_credentials
    ├── TemporaryPasswordExpired     temporary_password_expired
    ├── TooManyAttempts              too_many_attempts        .retry_after
    ├── PasswordConfirmationMismatch password_mismatch
    ├── PasswordPolicyViolation      password_policy          .reasons
    ├── VerificationFailed           verification_failed
    ├── SecretKeyInvalid             secret_key_invalid
    ├── SecretUndecryptable          secret_undecryptable     .sender_id
    ├── ConcurrentModification       concurrent_modification
    ├── StoreUnavailable             store_unavailable
    ├── StoreSchemaTooNew            store_schema_too_new     .found .supported
    ├── StoreDamaged                 store_damaged            .table
    └── InvalidConfiguration         invalid_configuration    .setting (also a ValueError)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Final

from pwrecovery import messages

MISSING_USER: Final = "user"
MISSING_SUPERVISOR: Final = "supervisor"


def _rebuild(cls: type[PwRecoveryError], params: dict[str, object], locale: str) -> PwRecoveryError:
    error = cls(**params)
    error.locale = locale
    return error


class PwRecoveryError(Exception):
    """Base of every pwrecovery error; never raised directly.

    ``locale`` picks the language of ``str(error)``; the service sets it to its
    own locale before an error reaches the host.
    """

    code: ClassVar[str] = "error"

    def __init__(self, **params: object) -> None:
        super().__init__()
        self._params = params
        self.locale: str = messages.DEFAULT_LOCALE

    def _message_key(self) -> str:
        return self.code

    def _message_params(self) -> dict[str, object]:
        return dict(self._params)

    def __str__(self) -> str:
        locale = self.locale if self.locale in messages.LOCALES else messages.DEFAULT_LOCALE
        template = messages.ERRORS[locale][self._message_key()]
        return template.format(**self._message_params())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._params, self.locale))


class UnknownUser(PwRecoveryError):
    code = "unknown_user"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class UserExists(PwRecoveryError):
    code = "user_exists"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class InvalidLogin(PwRecoveryError):
    code = "invalid_login"

    def __init__(self, max_length: int) -> None:
        super().__init__(max_length=max_length)


class RecoveryEmailMissing(PwRecoveryError):
    """``missing`` holds ``"user"``, ``"supervisor"`` or both."""

    code = "recovery_email_missing"

    def __init__(self, login: str, missing: frozenset[str]) -> None:
        super().__init__(login=login, missing=missing)
        self.login = login
        self.missing = frozenset(missing)

    def _message_key(self) -> str:
        if self.missing >= {MISSING_USER, MISSING_SUPERVISOR}:
            return f"{self.code}.both"
        if MISSING_USER in self.missing:
            return f"{self.code}.user"
        return f"{self.code}.supervisor"


class NoSenderConfigured(PwRecoveryError):
    code = "no_sender_configured"

    def __init__(self) -> None:
        super().__init__()


class SenderCredentialsEmpty(PwRecoveryError):
    code = "sender_credentials_empty"

    def __init__(self) -> None:
        super().__init__()


class SenderAuthenticationFailed(PwRecoveryError):
    code = "sender_auth_failed"

    def __init__(self, host: str) -> None:
        super().__init__(host=host)
        self.host = host


class SenderUnreachable(PwRecoveryError):
    """``reason`` is one of the keys of ``messages.UNREACHABLE_REASONS``."""

    code = "sender_unreachable"

    def __init__(self, host: str, port: int, reason: str = "connection") -> None:
        super().__init__(host=host, port=port, reason=reason)
        self.host = host
        self.port = port
        self.reason = reason

    def _message_params(self) -> dict[str, object]:
        reasons = messages.UNREACHABLE_REASONS[self.locale]
        return {**self._params, "reason": reasons.get(self.reason, reasons["connection"])}


class UnknownSender(PwRecoveryError):
    code = "unknown_sender"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class TokenUnavailable(PwRecoveryError):
    """No OAuth 2.0 access token could be had for an XOAUTH2 sender (no provider, or it failed)."""

    code = "token_unavailable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class DeliveryFailed(PwRecoveryError):
    """Every sender account was tried and none delivered the mail."""

    code = "delivery_failed"

    def __init__(self, attempts: int = 0) -> None:
        super().__init__(attempts=attempts)
        self.attempts = attempts


class RateLimited(PwRecoveryError):
    code = "rate_limited"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after

    def _message_params(self) -> dict[str, object]:
        return {"retry_after": messages.format_duration(self.retry_after, self.locale)}


class InvalidEmailAddress(PwRecoveryError):
    code = "invalid_email"

    def __init__(self) -> None:
        super().__init__()


class InvalidHeaderValue(PwRecoveryError):
    code = "invalid_header_value"

    def __init__(self, field: str) -> None:
        super().__init__(field=field)
        self.field = field


class InvalidCredentials(PwRecoveryError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__()


class TemporaryPasswordExpired(PwRecoveryError):
    code = "temporary_password_expired"

    def __init__(self) -> None:
        super().__init__()


class TooManyAttempts(PwRecoveryError):
    code = "too_many_attempts"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after

    def _message_params(self) -> dict[str, object]:
        return {"retry_after": messages.format_duration(self.retry_after, self.locale)}


class PasswordConfirmationMismatch(PwRecoveryError):
    code = "password_mismatch"

    def __init__(self) -> None:
        super().__init__()


class PasswordPolicyViolation(PwRecoveryError):
    """``reasons`` holds the codes of the rules the password broke."""

    code = "password_policy"

    def __init__(self, reasons: tuple[str, ...], *, min_length: int, max_length: int) -> None:
        super().__init__(reasons=tuple(reasons), min_length=min_length, max_length=max_length)
        self.reasons = tuple(reasons)

    def _message_params(self) -> dict[str, object]:
        texts = messages.PASSWORD_REASONS[self.locale]
        limits = {
            "min_length": self._params["min_length"],
            "max_length": self._params["max_length"],
        }
        return {"reasons": "; ".join(texts[reason].format(**limits) for reason in self.reasons)}


class VerificationFailed(PwRecoveryError):
    code = "verification_failed"

    def __init__(self) -> None:
        super().__init__()


class SecretKeyInvalid(PwRecoveryError):
    code = "secret_key_invalid"

    def __init__(self) -> None:
        super().__init__()


class SecretUndecryptable(PwRecoveryError):
    code = "secret_undecryptable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class ConcurrentModification(PwRecoveryError):
    code = "concurrent_modification"

    def __init__(self) -> None:
        super().__init__()


class StoreUnavailable(PwRecoveryError):
    """The store could not be read or written (locked too long, disk error, not a database)."""

    code = "store_unavailable"

    def __init__(self) -> None:
        super().__init__()


class StoreSchemaTooNew(PwRecoveryError):
    """The store was written by a newer pwrecovery; this one refuses to touch it."""

    code = "store_schema_too_new"

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(found=found, supported=supported)
        self.found = found
        self.supported = supported


class StoreDamaged(PwRecoveryError):
    """A stored row cannot be read back (edited by hand, or damaged); ``table`` says where."""

    code = "store_damaged"

    def __init__(self, table: str) -> None:
        super().__init__(table=table)
        self.table = table


class InvalidConfiguration(PwRecoveryError, ValueError):
    """A setting given to pwrecovery is out of range; ``rule`` says what it must be."""

    code = "invalid_configuration"

    def __init__(self, setting: str, rule: str) -> None:
        super().__init__(setting=setting, rule=rule)
        self.setting = setting
