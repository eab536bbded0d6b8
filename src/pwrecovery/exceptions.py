"""The errors pwrecovery raises.

Every error has a stable ``.code`` for programs and structured attributes;
``str(error)`` is a complete sentence in the locale the service set, and
``error.message(locale)`` renders it in any other. No message ever holds a
secret. Hosts may catch a whole group (``CredentialError``, ``SenderError``…)
or one error.

::

    PwRecoveryError                    error (never raised directly)
    ├── InputError                     a person typed something that cannot be used
    │   ├── InvalidLogin               invalid_login
    │   ├── InvalidEmailAddress        invalid_email
    │   ├── InvalidHeaderValue         invalid_header_value       .field
    │   ├── PasswordConfirmationMismatch password_mismatch
    │   ├── PasswordPolicyViolation    password_policy            .reasons
    │   └── ImportRejected             import_rejected            .rows
    ├── CatalogError                   the users catalog or the senders list refused
    │   ├── UnknownUser                unknown_user               .login
    │   ├── UserExists                 user_exists                .login
    │   ├── UnknownSender              unknown_sender             .sender_id
    │   └── SenderInUse                sender_in_use              .login .sender_ids
    ├── CredentialError                a sign-in or a code was refused
    │   ├── InvalidCredentials         invalid_credentials
    │   ├── TemporaryPasswordExpired   temporary_password_expired
    │   ├── TooManyAttempts            too_many_attempts          .retry_after
    │   ├── AccountDisabled            account_disabled
    │   └── VerificationFailed         verification_failed
    ├── RecoveryRefused                "Recuperar clave" cannot go ahead
    │   ├── RecoveryEmailMissing       recovery_email_missing     .missing
    │   └── RateLimited                rate_limited               .retry_after
    ├── SenderError                    the mail configuration or a delivery failed
    │   ├── NoSenderConfigured         no_sender_configured
    │   ├── SenderCredentialsEmpty     sender_credentials_empty
    │   ├── SenderAuthenticationFailed sender_auth_failed         .host
    │   │   └── BasicAuthDisabled      basic_auth_disabled        .host
    │   ├── SenderUnreachable          sender_unreachable         .host .port .reason
    │   ├── SenderAddressRefused       sender_address_refused     .host .address .reply_code
    │   ├── TokenUnavailable           token_unavailable          .sender_id
    │   └── DeliveryFailed             delivery_failed            .attempts .reply_code .reason
    │       └── DeliveryRejected       delivery_rejected          (permanent)
    ├── SecretError                    the encryption key
    │   ├── SecretKeyInvalid           secret_key_invalid
    │   ├── SecretKeyMissing           secret_key_missing
    │   └── SecretUndecryptable        secret_undecryptable       .sender_id
    ├── StoreError                     the database
    │   ├── StoreUnavailable           store_unavailable
    │   ├── StoreSchemaTooNew          store_schema_too_new       .found .supported
    │   ├── StoreDamaged               store_damaged              .table
    │   └── ConcurrentModification     concurrent_modification
    └── InvalidConfiguration           invalid_configuration      .setting .rule (also a ValueError)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, ClassVar, Final

from pwrecovery import _i18n

MISSING_USER: Final = "user"
MISSING_SUPERVISOR: Final = "supervisor"
_ROWS_IN_MESSAGE: Final = 5


def _rebuild(cls: type[PwRecoveryError], params: dict[str, object], locale: str) -> PwRecoveryError:
    error = cls(**params)
    error.locale = locale
    return error


class PwRecoveryError(Exception):
    """Base of every pwrecovery error; never raised directly.

    ``locale`` picks the language of ``str(error)``; the service sets it to the
    locale of the person it answers before the error reaches the host.
    """

    code: ClassVar[str] = "error"

    def __init__(self, **params: object) -> None:
        super().__init__()
        self._params = params
        self.locale: str = _i18n.DEFAULT_LOCALE
        self._texts: _i18n.Texts | None = None

    def _message_id(self) -> str:
        return f"error.{self.code}"

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        del texts, locale
        return dict(self._params)

    def message(self, locale: str | None = None) -> str:
        """The sentence in ``locale`` (any shipped or host-added locale), else in ``.locale``."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return texts.text(chosen, self._message_id(), **self._message_params(texts, chosen))

    def __str__(self) -> str:
        return self.message()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._params, self.locale))


# -- groups ------------------------------------------------------------------


class InputError(PwRecoveryError):
    """A person typed something that cannot be used; the sentence says what to fix."""


class CatalogError(PwRecoveryError):
    """The users catalog or the list of sender accounts refused a change."""


class CredentialError(PwRecoveryError):
    """A sign-in, a password change or a verification code was refused."""


class RecoveryRefused(PwRecoveryError):
    """ "Recuperar clave" cannot go ahead for this user now."""


class SenderError(PwRecoveryError):
    """A sender account could not be used, or no mail could be delivered."""


class SecretError(PwRecoveryError):
    """The encryption key is wrong, missing, or does not open a stored secret."""


class StoreError(PwRecoveryError):
    """The store could not be read or written as it should."""


# -- input -------------------------------------------------------------------


class InvalidLogin(InputError):
    """A login that is empty, too long, or holds control characters."""

    code = "invalid_login"

    def __init__(self, max_length: int, *, empty: bool = False) -> None:
        super().__init__(max_length=max_length, empty=empty)
        self.empty = empty

    def _message_id(self) -> str:
        return "error.invalid_login.empty" if self.empty else "error.invalid_login"


class InvalidEmailAddress(InputError):
    code = "invalid_email"


class InvalidHeaderValue(InputError):
    code = "invalid_header_value"

    def __init__(self, field: str) -> None:
        super().__init__(field=field)
        self.field = field


class PasswordConfirmationMismatch(InputError):
    code = "password_mismatch"


class PasswordPolicyViolation(InputError):
    """``reasons`` holds the codes of the rules the password broke."""

    code = "password_policy"

    def __init__(self, reasons: Iterable[str], *, min_length: int, max_length: int) -> None:
        super().__init__(reasons=tuple(reasons), min_length=min_length, max_length=max_length)
        self.reasons: tuple[str, ...] = tuple(reasons)

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        limits = {
            "min_length": self._params["min_length"],
            "max_length": self._params["max_length"],
        }
        rules = [texts.text(locale, f"password_rule.{reason}", **limits) for reason in self.reasons]
        return {"reasons": "; ".join(rules)}


class ImportRejected(InputError):
    """Nothing was imported; ``rows`` holds ``(row number, login, reason code)`` for each bad row.

    Row numbers count from 1, in the order the rows were given.
    """

    code = "import_rejected"

    def __init__(self, rows: Iterable[tuple[int, str, str]]) -> None:
        bad = tuple((int(number), str(login), str(reason)) for number, login, reason in rows)
        super().__init__(rows=bad)
        self.rows = bad

    def message(self, locale: str | None = None) -> str:
        """The sentence, naming the first few bad rows (``row_messages`` gives them all)."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        shown = self.row_messages(chosen)[:_ROWS_IN_MESSAGE]
        details = "; ".join(shown) + ("; …" if len(self.rows) > _ROWS_IN_MESSAGE else "")
        return texts.plural(chosen, self._message_id(), len(self.rows), details=details)

    def row_messages(self, locale: str | None = None) -> list[str]:
        """One line per bad row: its number, its login and why it was refused."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return [
            texts.text(
                chosen,
                "import_row",
                row=number,
                login=login,
                reason=texts.text(chosen, f"import_reason.{reason}"),
            )
            for number, login, reason in self.rows
        ]


# -- catalog -----------------------------------------------------------------


class UnknownUser(CatalogError):
    code = "unknown_user"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class UserExists(CatalogError):
    code = "user_exists"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class UnknownSender(CatalogError):
    code = "unknown_sender"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class SenderInUse(CatalogError):
    """The user owns sender accounts (``sender_ids``); remove them first."""

    code = "sender_in_use"

    def __init__(self, login: str, sender_ids: Iterable[str]) -> None:
        ids = tuple(sender_ids)
        super().__init__(login=login, sender_ids=ids)
        self.login = login
        self.sender_ids = ids

    def message(self, locale: str | None = None) -> str:
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return texts.plural(chosen, self._message_id(), len(self.sender_ids), login=self.login)


# -- credentials -------------------------------------------------------------


class InvalidCredentials(CredentialError):
    code = "invalid_credentials"


class TemporaryPasswordExpired(CredentialError):
    code = "temporary_password_expired"


class _Waiting(PwRecoveryError):
    """An error that says how long to wait (``retry_after``)."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        return {"retry_after": texts.duration(locale, self.retry_after)}


class TooManyAttempts(_Waiting, CredentialError):
    code = "too_many_attempts"


class AccountDisabled(CredentialError):
    """Said only once the password was right, so that the state does not leak."""

    code = "account_disabled"


class VerificationFailed(CredentialError):
    code = "verification_failed"


# -- recovery ----------------------------------------------------------------


class RecoveryEmailMissing(RecoveryRefused):
    """``missing`` holds ``"user"``, ``"supervisor"`` or both."""

    code = "recovery_email_missing"

    def __init__(self, login: str, missing: Iterable[str]) -> None:
        super().__init__(login=login, missing=frozenset(missing))
        self.login = login
        self.missing = frozenset(missing)

    def _message_id(self) -> str:
        if self.missing >= {MISSING_USER, MISSING_SUPERVISOR}:
            return f"error.{self.code}.both"
        if MISSING_USER in self.missing:
            return f"error.{self.code}.user"
        return f"error.{self.code}.supervisor"


class RateLimited(_Waiting, RecoveryRefused):
    """Too many requests for this user (``reason="requests"``), or every sender has spent
    its SMTP logins of the minute (``reason="smtp_budget"``): wait ``retry_after``."""

    code = "rate_limited"

    def __init__(self, retry_after: timedelta, reason: str = "requests") -> None:
        super().__init__(retry_after)
        self._params["reason"] = reason
        self.reason = reason

    def _message_id(self) -> str:
        return "error.rate_limited.busy" if self.reason == "smtp_budget" else "error.rate_limited"


# -- senders and delivery ----------------------------------------------------


class NoSenderConfigured(SenderError):
    code = "no_sender_configured"


class SenderCredentialsEmpty(SenderError):
    code = "sender_credentials_empty"


class SenderAuthenticationFailed(SenderError):
    code = "sender_auth_failed"

    def __init__(self, host: str) -> None:
        super().__init__(host=host)
        self.host = host


class BasicAuthDisabled(SenderAuthenticationFailed):
    """The server no longer accepts a username and password (Microsoft 365's
    ``535 5.7.139`` / ``550 5.7.30``): switch the sender to OAuth 2.0."""

    code = "basic_auth_disabled"


class SenderUnreachable(SenderError):
    """``reason`` says why: connection, timeout, certificate, tls, expects_ssl, …"""

    code = "sender_unreachable"

    def __init__(self, host: str, port: int, reason: str = "connection") -> None:
        super().__init__(host=host, port=port, reason=reason)
        self.host = host
        self.port = port
        self.reason = reason

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        msgid = f"unreachable.{self.reason}"
        if msgid not in texts.msgids():
            msgid = "unreachable.connection"
        reason = texts.text(locale, msgid, port=self.port, host=self.host)
        return {"host": self.host, "port": self.port, "reason": reason}


class SenderAddressRefused(SenderError):
    """The server refused the sender's From address at MAIL FROM."""

    code = "sender_address_refused"

    def __init__(self, host: str, address: str, reply_code: int = 0) -> None:
        super().__init__(host=host, address=address, reply_code=reply_code)
        self.host = host
        self.address = address
        self.reply_code = reply_code

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        del texts, locale
        return {"host": self.host, "address": self.address, "reply": self.reply_code or "-"}


class TokenUnavailable(SenderError):
    """No OAuth 2.0 access token could be had for an XOAUTH2 sender."""

    code = "token_unavailable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class DeliveryFailed(SenderError):
    """No sender could deliver the mail now; trying later may work.

    ``reply_code`` is the server's reply code when one refused the mail; ``reason``
    names a refusal the client made itself (``smtputf8_unsupported``: the recipient
    needs SMTPUTF8 and the server does not offer it), else it is empty.
    """

    code = "delivery_failed"

    def __init__(self, attempts: int = 0, reply_code: int = 0, reason: str = "") -> None:
        super().__init__(attempts=attempts, reply_code=reply_code, reason=reason)
        self.attempts = attempts
        self.reply_code = reply_code
        self.reason = reason

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        reply = str(self.reply_code or "-")
        msgid = f"unreachable.{self.reason}"
        if self.reason and msgid in texts.msgids():
            reply = f"{reply}, {texts.text(locale, msgid)}"
        return {"attempts": self.attempts, "reply": reply}


class DeliveryRejected(DeliveryFailed):
    """A server refused the mail for good (a 5xx reply): trying later will not help."""

    code = "delivery_rejected"


# -- secrets -----------------------------------------------------------------


class SecretKeyInvalid(SecretError):
    code = "secret_key_invalid"


class SecretKeyMissing(SecretError):
    """This service has no key (``secret_key=None``) and the action needs it."""

    code = "secret_key_missing"


class SecretUndecryptable(SecretError):
    code = "secret_undecryptable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


# -- store -------------------------------------------------------------------


class StoreUnavailable(StoreError):
    """The store could not be read or written (locked too long, disk error, not a database)."""

    code = "store_unavailable"


class StoreSchemaTooNew(StoreError):
    """The store was written by a newer pwrecovery; this one refuses to touch it."""

    code = "store_schema_too_new"

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(found=found, supported=supported)
        self.found = found
        self.supported = supported


class StoreDamaged(StoreError):
    """A stored row cannot be read back (edited by hand, or damaged); ``table`` says where."""

    code = "store_damaged"

    def __init__(self, table: str) -> None:
        super().__init__(table=table)
        self.table = table


class ConcurrentModification(StoreError):
    code = "concurrent_modification"


# -- configuration -----------------------------------------------------------


class InvalidConfiguration(PwRecoveryError, ValueError):
    """A setting given to pwrecovery is out of range.

    ``rule`` is a code (``port_range``, ``positive_duration``, ``one_of``…) whose
    sentence, with ``rule_params``, says what the setting must be.
    """

    code = "invalid_configuration"

    def __init__(self, setting: str, rule: str, **rule_params: object) -> None:
        super().__init__(setting=setting, rule=rule, **rule_params)
        self.setting = setting
        self.rule = rule
        self.rule_params = rule_params

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        rule = texts.text(locale, f"config_rule.{self.rule}", **self.rule_params)
        return {"setting": self.setting, "rule": rule}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_configuration, (self.setting, self.rule, self.rule_params, self.locale))


def _rebuild_configuration(
    setting: str, rule: str, rule_params: dict[str, object], locale: str
) -> InvalidConfiguration:
    error = InvalidConfiguration(setting, rule, **rule_params)
    error.locale = locale
    return error
