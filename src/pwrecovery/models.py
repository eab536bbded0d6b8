"""The values a host sees and gives: users, sender settings, answers, the audit trail.

None of them holds a secret; what a store keeps (hashes, sealed blobs) is in
``pwrecovery.records``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from pwrecovery import _i18n
from pwrecovery._domain.headers import check_header_value, check_host
from pwrecovery._domain.logins import normalize_display_name
from pwrecovery.exceptions import InvalidConfiguration

MAX_PORT: Final = 65535
GENERIC_MASK: Final = "***@***"  # the masked address of a uniform answer


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
        raise InvalidConfiguration("port", "range", min=1, max=MAX_PORT)


def _header_safe(field: str) -> attrs._ValidatorType[str]:
    def check(_instance: object, _attribute: object, value: str) -> None:
        check_header_value(value, field)

    return check


def _choices(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


def _to_security(value: str) -> Security:
    try:
        return Security(value)
    except ValueError as error:
        raise InvalidConfiguration("security", "one_of", choices=_choices(Security)) from error


def _to_authentication(value: str) -> Authentication:
    try:
        return Authentication(value)
    except ValueError as error:
        choices = _choices(Authentication)
        raise InvalidConfiguration("authentication", "one_of", choices=choices) from error


def _to_address(value: str) -> str:
    # Imported here: addresses imports headers, which this module also imports.
    from pwrecovery._domain.addresses import normalize_address  # noqa: PLC0415

    return normalize_address(value)


@attrs.frozen
class SenderSettings:
    """Where and as whom a sender account sends mail. The password is kept apart.

    ``from_address`` is checked when the account is saved: the server must
    accept it at MAIL FROM.
    """

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
class User:
    """A user as the host sees it: no secret fields.

    ``locale`` is the language of the mails this user receives (None: the
    service's); ``disabled`` users can neither sign in nor recover.
    """

    login: str
    display_name: str
    supervisor: bool
    recovery_email: str | None
    recovery_email_verified: bool
    disabled: bool = False
    locale: str | None = None


@attrs.frozen(kw_only=True)
class ImportedUser:
    """One row of ``RecoveryService.import_users``: a user whose password hash comes from
    the host's old system (a format the service's hasher or a legacy hasher identifies).

    ``recovery_email_verified=True`` means the host vouches for the address (audited
    as such); otherwise a verification code is mailed to it.
    """

    login: str
    password_hash: str = attrs.field(repr=False)
    supervisor: bool = False
    display_name: str = ""
    recovery_email: str | None = None
    recovery_email_verified: bool = False
    locale: str | None = None


def _frozen_detail(detail: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in detail.items()})


@attrs.frozen
class AuditEvent:
    """Something that happened, for the audit trail. Never holds a secret.

    ``login`` is the user's login, or for a login that does not exist its keyed
    fingerprint (``#`` and 16 hexadecimal digits), never the text typed.
    """

    kind: str
    login: str | None
    at: datetime
    origin: str | None = None
    detail: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_detail, hash=False)


@attrs.frozen
class DeliveryReport:
    """What one ``deliver_pending()`` run did."""

    sent: int = 0
    retried: int = 0
    abandoned: int = 0
    dropped: int = 0  # its temporary password or code was no longer current: nothing to send


@attrs.frozen
class LoginResult:
    status: LoginStatus
    expires_at: datetime | None = None  # set when status is MUST_CHANGE_PASSWORD


@attrs.frozen
class RecoverySent:
    """The answer to "Recuperar clave": where the mail went (masked) and until when
    the temporary password is valid."""

    masked_address: str
    expires_at: datetime
    _texts: _i18n.Texts | None = attrs.field(default=None, repr=False, eq=False, alias="texts")
    _zone: ZoneInfo | None = attrs.field(default=None, repr=False, eq=False, alias="zone")
    _locale: str | None = attrs.field(default=None, repr=False, eq=False, alias="locale")

    def message(self, locale: str | None = None) -> str:
        """The sentence to show ("Se envió una clave temporal a …"), in ``locale``."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale or self._locale or _i18n.DEFAULT_LOCALE
        expires = texts.moment(chosen, self.expires_at, self._zone)
        if self.masked_address != GENERIC_MASK:
            return texts.text(
                chosen, "success.recovery_sent", address=self.masked_address, expires=expires
            )
        return texts.text(chosen, "success.recovery_sent_generic", expires=expires)


@attrs.frozen
class PasswordChanged:
    """The answer to ``change_password``: which password let the user in (``"temporary"``
    after a recovery, ``"password"`` in the catalog), and the sentence to show."""

    via: str
    _texts: _i18n.Texts | None = attrs.field(default=None, repr=False, eq=False, alias="texts")
    _locale: str | None = attrs.field(default=None, repr=False, eq=False, alias="locale")

    @property
    def recovered(self) -> bool:
        """Whether this change ended a recovery (the temporary password was used)."""
        return self.via == "temporary"

    def message(self, locale: str | None = None) -> str:
        """ "Clave recuperada con éxito." after a recovery; "Clave cambiada con éxito."
        otherwise; in ``locale``."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale or self._locale or _i18n.DEFAULT_LOCALE
        key = "success.password_recovered" if self.recovered else "success.password_changed"
        return texts.text(chosen, key)


@attrs.frozen
class Problem:
    """One thing that stops or weakens recovery, found by ``readiness()``.

    ``code`` is stable (``no_sender``, ``sender_tampered``…); ``params`` name what
    it is about (a sender id, a login); ``message(locale)`` is the sentence.
    """

    code: str
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_detail, hash=False)
    _texts: _i18n.Texts | None = attrs.field(default=None, repr=False, eq=False, alias="texts")
    _locale: str | None = attrs.field(default=None, repr=False, eq=False, alias="locale")

    def message(self, locale: str | None = None) -> str:
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale or self._locale or _i18n.DEFAULT_LOCALE
        if self.code == "users_on_legacy_hash":
            older_than = int(self.params.get("older_than_seconds", "0"))
            msgid = (
                "readiness.users_on_legacy_hash"
                if older_than
                else "readiness.users_on_legacy_hash_any"
            )
            days = texts.duration(chosen, timedelta(seconds=older_than))
            return texts.plural(chosen, msgid, int(self.params["count"]), days=days)
        return texts.text(chosen, f"readiness.{self.code}", **self.params)


@attrs.frozen
class Readiness:
    """What would stop a recovery right now (``RecoveryService.readiness()``).

    ``failing_senders`` holds ``(sender id, error code)`` pairs, filled only when
    the senders were asked to log in; ``problems()`` gives every finding as a
    ``Problem`` with its sentence.
    """

    senders: tuple[str, ...]
    undecryptable_senders: tuple[str, ...]
    failing_senders: tuple[tuple[str, str], ...]
    supervisor_ready: bool
    users_without_address: tuple[str, ...]
    tampered_senders: tuple[str, ...] = ()
    cooling_down_senders: tuple[tuple[str, datetime], ...] = ()
    failing_messages: tuple[tuple[str, str], ...] = ()  # (sender id, sentence of its error)
    legacy_hash_users: tuple[str, ...] = ()
    legacy_older_than: timedelta = timedelta(0)
    key_present: bool = True
    _texts: _i18n.Texts | None = attrs.field(default=None, repr=False, eq=False, alias="texts")
    _locale: str | None = attrs.field(default=None, repr=False, eq=False, alias="locale")
    _zone: ZoneInfo | None = attrs.field(default=None, repr=False, eq=False, alias="zone")

    @property
    def usable_senders(self) -> tuple[str, ...]:
        broken = (
            set(self.undecryptable_senders)
            | set(self.tampered_senders)
            | {sender for sender, _ in self.failing_senders}
            | {sender for sender, _ in self.cooling_down_senders}
        )
        return tuple(sender for sender in self.senders if sender not in broken)

    @property
    def ready(self) -> bool:
        """Whether a user with a verified address could recover now."""
        return bool(self.usable_senders or not self.key_present) and self.supervisor_ready

    def problems(self) -> list[Problem]:
        """Every finding, most blocking first, each with its sentence."""
        return [
            Problem(code, params, texts=self._texts, locale=self._locale)
            for code, params in self._findings()
        ]

    def _findings(self) -> list[tuple[str, dict[str, str]]]:
        locale = self._locale or _i18n.DEFAULT_LOCALE
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        reasons = dict(self.failing_messages)
        found: list[tuple[str, dict[str, str]]] = []
        if not self.key_present:
            found.append(("secret_key_missing", {}))
        if not self.senders:
            found.append(("no_sender", {}))
        found += [("sender_tampered", {"sender": s}) for s in self.tampered_senders]
        found += [("sender_undecryptable", {"sender": s}) for s in self.undecryptable_senders]
        found += [
            ("sender_failing", {"sender": s, "code": c, "reason": reasons.get(s, c)})
            for s, c in self.failing_senders
        ]
        found += [
            ("sender_cooling_down", {"sender": s, "until": texts.moment(locale, u, self._zone)})
            for s, u in self.cooling_down_senders
        ]
        if not self.supervisor_ready:
            found.append(("no_supervisor", {}))
        found += [("user_without_address", {"login": u}) for u in self.users_without_address]
        if self.legacy_hash_users:
            older_than = str(int(self.legacy_older_than.total_seconds()))
            count = str(len(self.legacy_hash_users))
            found.append(
                ("users_on_legacy_hash", {"count": count, "older_than_seconds": older_than})
            )
        return found
