"""What every command shares: exit codes, the console, and the run's service.

The console reads answers (without echo on a terminal, one per line when input
is piped) and writes sentences from the gettext catalogs in the run's locale.
``Command`` is one run: its arguments, its console, and the service built on
first use over the SQLite store, the SMTP mailer, the built-in OAuth 2.0 token
provider and the legacy hashers for imported passwords.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import platform
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pwrecovery import _i18n, exceptions
from pwrecovery._service import RecoveryService
from pwrecovery.adapters.legacy import BcryptHasher, Pbkdf2Hasher
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.adapters.sqlite import SqliteStore
from pwrecovery.models import AuditEvent, SenderAccount, User
from pwrecovery.oauth import BuiltinTokenProvider
from pwrecovery.ports import PasswordHasher

KEY_VARIABLE: Final = "PWRECOVERY_KEY"
DEFAULT_DB: Final = "pwrecovery.db"

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1  # `check` found something that stops a recovery
EXIT_USAGE: Final = 2  # argparse's own, input that ended too soon, a bad CSV header
EXIT_SETUP: Final = 3  # no key; an unreadable key, CA, CSV or service account file
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = 141  # 128 + SIGPIPE: the reader of our output went away

# One exit code per error code, stable across releases.
EXIT_CODES: Final[Mapping[str, int]] = {
    exceptions.UnknownUser.code: 10,
    exceptions.UserExists.code: 11,
    exceptions.InvalidLogin.code: 12,
    exceptions.RecoveryEmailMissing.code: 13,
    exceptions.NoSenderConfigured.code: 14,
    exceptions.SenderCredentialsEmpty.code: 15,
    exceptions.SenderAuthenticationFailed.code: 16,
    exceptions.SenderUnreachable.code: 17,
    exceptions.UnknownSender.code: 18,
    exceptions.DeliveryFailed.code: 19,
    exceptions.RateLimited.code: 20,
    exceptions.InvalidEmailAddress.code: 21,
    exceptions.InvalidHeaderValue.code: 22,
    exceptions.InvalidCredentials.code: 23,
    exceptions.TemporaryPasswordExpired.code: 24,
    exceptions.TooManyAttempts.code: 25,
    exceptions.PasswordConfirmationMismatch.code: 26,
    exceptions.PasswordPolicyViolation.code: 27,
    exceptions.VerificationFailed.code: 28,
    exceptions.SecretKeyInvalid.code: 29,
    exceptions.SecretUndecryptable.code: 30,
    exceptions.ConcurrentModification.code: 31,
    exceptions.StoreUnavailable.code: 32,
    exceptions.StoreSchemaTooNew.code: 33,
    exceptions.InvalidConfiguration.code: 34,
    exceptions.StoreDamaged.code: 35,
    exceptions.TokenUnavailable.code: 36,
    exceptions.AccountDisabled.code: 37,
    exceptions.ImportRejected.code: 38,
    exceptions.SenderInUse.code: 39,
    exceptions.SecretKeyMissing.code: 40,
    exceptions.BasicAuthDisabled.code: 41,
    exceptions.SenderAddressRefused.code: 42,
    exceptions.DeliveryRejected.code: 43,
}


def exit_code_for(error: exceptions.PwRecoveryError) -> int:
    """The error's exit code, or its nearest ancestor's (an error an adapter derives)."""
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in EXIT_CODES:
            return EXIT_CODES[code]
    return EXIT_PROBLEMS


class CliError(Exception):
    """A problem of the command line itself (not of the library): a sentence of the
    catalog, an exit code, and for a rejected file one line per bad row."""

    def __init__(
        self,
        msgid: str,
        exit_code: int,
        *,
        code: str | None = None,
        lines: Sequence[str] = (),
        rows: Sequence[Mapping[str, object]] = (),
        **params: object,
    ) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.exit_code = exit_code
        self.code = code or msgid.removeprefix("cli.")
        self.lines = tuple(lines)
        self.rows = tuple(rows)
        self.params = params


# -- the console -------------------------------------------------------------


class Console:
    """Where the command reads answers and writes sentences; injectable for tests."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, locale: str) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.locale = locale
        self.texts = _i18n.DEFAULT_TEXTS

    def text(self, msgid: str, **params: object) -> str:
        return self.texts.text(self.locale, msgid, **params)

    def plural(self, msgid: str, count: int, **params: object) -> str:
        return self.texts.plural(self.locale, msgid, count, **params)

    def say(self, msgid: str, **params: object) -> None:
        self.line(self.text(msgid, **params))

    def line(self, text: str, *, flush: bool = False) -> None:
        print(text, file=self.stdout, flush=flush)

    def warn(self, text: str) -> None:
        print(text, file=self.stderr)

    def describe(self, kind: str) -> str:
        """An audit event's kind as a sentence (the kind itself if no catalog knows it)."""
        msgid = f"audit.{kind}"
        return self.text(msgid) if msgid in self.texts.msgids() else kind

    def ask_secret(self, msgid: str) -> str:
        """Ask without echo on a terminal; read one line when input is piped."""
        prompt = self.text(msgid)
        if self.stdin.isatty():
            try:
                return getpass.getpass(prompt, stream=self.stderr)
            except EOFError:
                raise CliError("cli.input.missing", EXIT_USAGE) from None
        self.stderr.write(prompt)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise CliError("cli.input.missing", EXIT_USAGE)
        return line.rstrip("\r\n")


# -- locale, zone, trust -----------------------------------------------------


def locale_from(environ: Mapping[str, str]) -> str:
    """The locale the environment asks for: the first of LC_ALL, LC_MESSAGES and LANG
    that is set; ``C`` and ``POSIX`` (the untranslated locale) speak English, and no
    setting at all speaks es_MX; any other name is resolved (es_ES → es_MX, fr → es_MX)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "").strip()
        if value:
            base = value.split(".", 1)[0].split("@", 1)[0]
            if base in {"C", "POSIX"}:
                return "en"
            return _i18n.DEFAULT_TEXTS.resolve(value)
    return _i18n.DEFAULT_LOCALE


def local_zone(environ: Mapping[str, str]) -> ZoneInfo:
    """The machine's time zone: ``TZ`` when it names an IANA zone, else the zone
    ``/etc/localtime`` links to, else ``/etc/timezone``; UTC when none says one."""
    names = [environ.get("TZ", "").strip().removeprefix(":")]
    with contextlib.suppress(OSError):
        target = str(Path("/etc/localtime").readlink())
        names.append(target.rpartition("zoneinfo/")[2] if "zoneinfo/" in target else "")
    with contextlib.suppress(OSError, UnicodeDecodeError):
        names.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in names:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError, OSError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")


def stamp(moment: datetime, zone: ZoneInfo) -> str:
    """A moment for a listing: ``2026-12-03 18:11:05 CST`` in the company's zone."""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    label = local.tzname() or ""
    if not (label.isascii() and label.isalpha()):
        label = zone.key or label
    return f"{local:%Y-%m-%d %H:%M:%S} {label}"


def trust_context(ca_file: str | None) -> ssl.SSLContext | None:
    """The system's trusted CAs plus ``ca_file`` (a private mail server's CA); None
    without one, for the mailer's own default."""
    if not ca_file:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise CliError("cli.ca.unreadable", EXIT_SETUP, path=ca_file) from error
    return context


def legacy_hashers() -> tuple[PasswordHasher, ...]:
    """Django's pbkdf2_sha256 always; bcrypt when its package is installed."""
    hashers: list[PasswordHasher] = [Pbkdf2Hasher()]
    with contextlib.suppress(exceptions.InvalidConfiguration):
        hashers.append(BcryptHasher())
    return tuple(hashers)


# -- one run -----------------------------------------------------------------


class Command:
    """One run of the command: parsed arguments, console, and the service built on demand."""

    def __init__(
        self, args: argparse.Namespace, console: Console, environ: Mapping[str, str]
    ) -> None:
        self.args = args
        self.console = console
        self.environ = environ
        self._service: RecoveryService | None = None
        self._store: SqliteStore | None = None
        self._zone: ZoneInfo | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def locale(self) -> str:
        return self.console.locale

    @property
    def zone(self) -> ZoneInfo:
        """The company's zone: ``--timezone``, else the machine's."""
        if self._zone is None:
            chosen: ZoneInfo | None = self.args.timezone
            self._zone = chosen if chosen is not None else local_zone(self.environ)
        return self._zone

    @property
    def origin(self) -> str:
        return str(self.args.origin or platform.node() or "pwrecovery")

    def emit(self, data: Mapping[str, object], text: str | None = None) -> None:
        """The result: a JSON object with --json, else the sentence ``text``."""
        if self.json:
            payload = json.dumps({"ok": True, **data}, ensure_ascii=False)
            print(payload, file=self.console.stdout)
        elif text is not None:
            self.console.line(text)

    def done(self, data: Mapping[str, object], msgid: str, **params: object) -> int:
        """Emit the result with the catalog's sentence ``msgid``; exit 0."""
        self.emit(data, self.console.text(msgid, **params))
        return EXIT_OK

    def keys(self) -> list[str]:
        key_file: str | None = self.args.key_file
        if key_file:
            try:
                lines = Path(key_file).read_text(encoding="utf-8").split()
            except (OSError, UnicodeDecodeError) as error:
                raise CliError("cli.key.unreadable", EXIT_SETUP, path=key_file) from error
            return [line for line in lines if line]
        value = self.environ.get(KEY_VARIABLE, "").strip()
        if not value:
            raise CliError("cli.key.missing", EXIT_SETUP)
        return [key.strip() for key in value.split(",") if key.strip()]

    @property
    def service(self) -> RecoveryService:
        if self._service is None:
            keys = self.keys()
            ca_file: str | None = self.args.ca_file
            mailer = SmtpMailer(timeout=self.args.timeout, ssl_context=trust_context(ca_file))
            store = SqliteStore(self.args.db or DEFAULT_DB)
            self._store = store
            self._service = RecoveryService(
                store=store,
                mailer=mailer,
                secret_key=keys,
                locale=self.locale,
                token_provider=BuiltinTokenProvider(verify=ca_file or True),
                legacy_hashers=legacy_hashers(),
                timezone=self.zone,
            )
        return self._service

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


# -- JSON shapes -------------------------------------------------------------


def user_json(user: User) -> dict[str, object]:
    return {
        "login": user.login,
        "display_name": user.display_name,
        "supervisor": user.supervisor,
        "recovery_email": user.recovery_email,
        "recovery_email_verified": user.recovery_email_verified,
        "disabled": user.disabled,
        "locale": user.locale,
    }


def sender_json(account: SenderAccount) -> dict[str, object]:
    settings = account.settings
    return {
        "id": account.id,
        "owner": account.owner,
        "host": settings.host,
        "port": settings.port,
        "security": settings.security.value,
        "authentication": settings.authentication.value,
        "username": settings.username,
        "from_address": settings.from_address,
        "display_name": settings.display_name,
        "verified_at": account.verified_at.isoformat(),
    }


def event_json(event: AuditEvent) -> dict[str, object]:
    return {
        "kind": event.kind,
        "login": event.login,
        "at": event.at.isoformat(),
        "origin": event.origin,
        "detail": dict(event.detail),
    }
