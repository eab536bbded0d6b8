"""The ``pwrecovery`` command: the whole contract over a SQLite store.

Passwords, codes and keys are never taken as arguments: they are asked for
without echo (or read one per line from standard input when it is not a
terminal, for scripts). Every error leaves with its own exit code
(``EXIT_CODES``) and, with ``--json``, as ``{"ok": false, "error": {...}}``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import platform
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TextIO

from pwrecovery import errors, messages
from pwrecovery._service import RecoveryService
from pwrecovery.adapters.secretbox import generate_key
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.adapters.sqlite import SqliteStore
from pwrecovery.exceptions import PwRecoveryError
from pwrecovery.models import (
    AuditEvent,
    LoginStatus,
    Security,
    SenderAccount,
    SenderSettings,
    User,
)

KEY_VARIABLE: Final = "PWRECOVERY_KEY"
DEFAULT_DB: Final = "pwrecovery.db"

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1  # `check` found something that would stop a recovery
EXIT_USAGE: Final = 2  # argparse's own, and input that ended too soon
EXIT_SETUP: Final = 3  # no key, unreadable key or CA file
EXIT_INTERRUPTED: Final = 130

# One exit code per error class, stable across releases.
EXIT_CODES: Final[Mapping[str, int]] = {
    errors.UnknownUser.code: 10,
    errors.UserExists.code: 11,
    errors.InvalidLogin.code: 12,
    errors.RecoveryEmailMissing.code: 13,
    errors.NoSenderConfigured.code: 14,
    errors.SenderCredentialsEmpty.code: 15,
    errors.SenderAuthenticationFailed.code: 16,
    errors.SenderUnreachable.code: 17,
    errors.UnknownSender.code: 18,
    errors.DeliveryFailed.code: 19,
    errors.RateLimited.code: 20,
    errors.InvalidEmailAddress.code: 21,
    errors.InvalidHeaderValue.code: 22,
    errors.InvalidCredentials.code: 23,
    errors.TemporaryPasswordExpired.code: 24,
    errors.TooManyAttempts.code: 25,
    errors.PasswordConfirmationMismatch.code: 26,
    errors.PasswordPolicyViolation.code: 27,
    errors.VerificationFailed.code: 28,
    errors.SecretKeyInvalid.code: 29,
    errors.SecretUndecryptable.code: 30,
    errors.ConcurrentModification.code: 31,
    errors.StoreUnavailable.code: 32,
    errors.StoreSchemaTooNew.code: 33,
    errors.InvalidConfiguration.code: 34,
    errors.StoreDamaged.code: 35,
    errors.TokenUnavailable.code: 36,
}


class CliError(Exception):
    """A problem of the command line itself (not of the library), with its exit code."""

    def __init__(self, key: str, exit_code: int, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.exit_code = exit_code
        self.params = params


def locale_from(environ: Mapping[str, str]) -> str:
    """es_MX unless the environment's language is English."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if value:
            return "en" if value.lower().startswith("en") else messages.DEFAULT_LOCALE
    return messages.DEFAULT_LOCALE


def _time(moment: datetime) -> str:
    return messages.format_utc(moment)


def _user_json(user: User) -> dict[str, object]:
    return {
        "login": user.login,
        "display_name": user.display_name,
        "supervisor": user.supervisor,
        "recovery_email": user.recovery_email,
        "recovery_email_verified": user.recovery_email_verified,
    }


def _sender_json(account: SenderAccount) -> dict[str, object]:
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


def _event_json(event: AuditEvent) -> dict[str, object]:
    return {
        "kind": event.kind,
        "login": event.login,
        "at": event.at.isoformat(),
        "origin": event.origin,
        "detail": dict(event.detail),
    }


class Console:
    """Where the command reads answers and writes results; injectable for tests."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, locale: str) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.locale = locale

    def text(self, key: str, **params: object) -> str:
        return messages.CLI[self.locale][key].format(**params)

    def say(self, key: str, **params: object) -> None:
        print(self.text(key, **params), file=self.stdout)

    def ask_secret(self, key: str) -> str:
        """Ask without echo on a terminal; read one line when input is piped."""
        prompt = self.text(key)
        if self.stdin.isatty():
            return getpass.getpass(prompt, stream=self.stderr)
        self.stderr.write(prompt)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise CliError("input.missing", EXIT_USAGE)
        return line.rstrip("\r\n")


class Command:
    """One run of the command: parsed arguments, console, and the service built on demand."""

    def __init__(
        self, args: argparse.Namespace, console: Console, environ: Mapping[str, str]
    ) -> None:
        self.args = args
        self.console = console
        self.environ = environ
        self._service: RecoveryService | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def emit(self, data: Mapping[str, object], key: str | None = None, **params: object) -> None:
        """The result: a JSON object with --json, else the sentence ``key``."""
        if self.json:
            print(json.dumps({"ok": True, **data}, ensure_ascii=False), file=self.console.stdout)
        elif key is not None:
            self.console.say(key, **params)

    def keys(self) -> list[str]:
        key_file: str | None = self.args.key_file
        if key_file:
            try:
                lines = Path(key_file).read_text(encoding="utf-8").split()
            except OSError as error:
                raise CliError("key.unreadable", EXIT_SETUP, path=key_file) from error
            return [line for line in lines if line]
        value = self.environ.get(KEY_VARIABLE, "").strip()
        if not value:
            raise CliError("key.missing", EXIT_SETUP)
        return value.split(",")

    def mailer(self) -> SmtpMailer:
        context = None
        if self.args.ca_file:
            try:
                context = ssl.create_default_context(cafile=self.args.ca_file)
            except (OSError, ssl.SSLError) as error:
                raise CliError("ca.unreadable", EXIT_SETUP, path=self.args.ca_file) from error
        return SmtpMailer(timeout=self.args.timeout, ssl_context=context)

    @property
    def service(self) -> RecoveryService:
        if self._service is None:
            keys = self.keys()
            self._service = RecoveryService(
                store=SqliteStore(self.args.db),
                mailer=self.mailer(),
                secret_key=keys,
                locale=self.console.locale,
            )
        return self._service

    @property
    def origin(self) -> str:
        return str(self.args.origin or platform.node() or "pwrecovery")


# -- commands ------------------------------------------------------------


def cmd_key_new(command: Command) -> int:
    key = generate_key()
    output: str | None = command.args.output
    if output is None:
        if command.json:
            command.emit({"key": key})
        else:
            print(key, file=command.console.stdout)
        return EXIT_OK
    try:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise CliError("key.exists", EXIT_SETUP, path=output) from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    command.emit({"path": output}, "key.written", path=output)
    return EXIT_OK


def cmd_user_add(command: Command) -> int:
    args = command.args
    password = command.console.ask_secret("prompt.new_password")
    confirmation = command.console.ask_secret("prompt.confirm_password")
    if password != confirmation:
        raise errors.PasswordConfirmationMismatch
    user = command.service.add_user(
        args.login, password, supervisor=args.supervisor, display_name=args.name
    )
    command.emit({"user": _user_json(user)}, "user.added", login=user.login)
    return EXIT_OK


def _user_line(command: Command, user: User) -> str:
    console = command.console
    role = console.text("user.role.supervisor" if user.supervisor else "user.role.user")
    if user.recovery_email is None:
        address = console.text("user.address.none")
    elif user.recovery_email_verified:
        address = console.text("user.address.verified", address=user.recovery_email)
    else:
        address = console.text("user.address.pending", address=user.recovery_email)
    return console.text("user.line", login=user.login, role=role, address=address)


def cmd_user_list(command: Command) -> int:
    users = command.service.users()
    if command.json:
        command.emit({"users": [_user_json(u) for u in users]})
    for user in [] if command.json else users:
        print(_user_line(command, user), file=command.console.stdout)
    return EXIT_OK


def cmd_user_show(command: Command) -> int:
    user = command.service.get_user(command.args.login)
    if command.json:
        command.emit({"user": _user_json(user)})
    else:
        print(_user_line(command, user), file=command.console.stdout)
    return EXIT_OK


def cmd_address_set(command: Command) -> int:
    address = command.service.set_recovery_email(
        command.args.login, command.args.address, origin=command.origin
    )
    command.emit({"address": address}, "address.sent", address=address)
    return EXIT_OK


def cmd_address_confirm(command: Command) -> int:
    code = command.console.ask_secret("prompt.code")
    command.service.confirm_recovery_email(command.args.login, code, origin=command.origin)
    command.emit({"login": command.args.login}, "address.confirmed", login=command.args.login)
    return EXIT_OK


def cmd_sender_add(command: Command) -> int:
    args = command.args
    settings = SenderSettings(
        host=args.host,
        port=args.port,
        security=Security(args.security),
        username=args.username,
        from_address=args.from_address or args.username,
        display_name=args.name,
    )
    password = command.console.ask_secret("prompt.sender_password")
    account = command.service.configure_sender(
        args.owner, settings, password, origin=command.origin
    )
    command.emit(
        {"sender": _sender_json(account)},
        "sender.saved",
        id=account.id,
        username=settings.username,
        host=settings.host,
        port=settings.port,
    )
    return EXIT_OK


def cmd_sender_list(command: Command) -> int:
    accounts = command.service.senders()
    if command.json:
        command.emit({"senders": [_sender_json(a) for a in accounts]})
        return EXIT_OK
    for account in accounts:
        settings = account.settings
        command.console.say(
            "sender.line",
            id=account.id,
            owner=account.owner,
            username=settings.username,
            host=settings.host,
            port=settings.port,
            security=settings.security.value,
            verified_at=_time(account.verified_at),
        )
    return EXIT_OK


def cmd_sender_remove(command: Command) -> int:
    command.service.remove_sender(command.args.id, origin=command.origin)
    command.emit({"id": command.args.id}, "sender.removed", id=command.args.id)
    return EXIT_OK


def cmd_recover(command: Command) -> int:
    sent = command.service.request_recovery(
        command.args.login,
        origin=command.origin,
        delivery="queued" if command.args.queued else "immediate",
    )
    command.emit(
        {"masked_address": sent.masked_address, "expires_at": sent.expires_at.isoformat()},
        "recover.sent",
        address=sent.masked_address,
        expires=_time(sent.expires_at),
    )
    return EXIT_OK


def cmd_deliver(command: Command) -> int:
    report = command.service.deliver_pending(limit=command.args.limit)
    command.emit(
        {
            "sent": report.sent,
            "retried": report.retried,
            "abandoned": report.abandoned,
            "dropped": report.dropped,
        },
        "deliver.report",
        sent=report.sent,
        retried=report.retried,
        abandoned=report.abandoned,
        dropped=report.dropped,
    )
    return EXIT_OK


def cmd_login(command: Command) -> int:
    login = command.args.login
    password = command.console.ask_secret("prompt.password")
    result = command.service.authenticate(login, password, origin=command.origin)
    if result.status is LoginStatus.OK:
        command.emit({"status": result.status.value}, "login.ok")
        return EXIT_OK
    expires = result.expires_at
    if not command.json and expires is not None:
        command.console.say("login.must_change", expires=_time(expires))
    new = command.console.ask_secret("prompt.new_password")
    confirmation = command.console.ask_secret("prompt.confirm_password")
    command.service.change_password(login, password, new, confirmation, origin=command.origin)
    command.emit({"status": result.status.value, "changed": True}, "password.recovered")
    return EXIT_OK


def cmd_change_password(command: Command) -> int:
    console = command.console
    current = console.ask_secret("prompt.current_password")
    new = console.ask_secret("prompt.new_password")
    confirmation = console.ask_secret("prompt.confirm_password")
    command.service.change_password(
        command.args.login, current, new, confirmation, origin=command.origin
    )
    command.emit({"changed": True}, "password.changed")
    return EXIT_OK


def cmd_audit(command: Command) -> int:
    events = command.service.audit_trail(command.args.login)
    if command.json:
        command.emit({"events": [_event_json(e) for e in events]})
        return EXIT_OK
    for event in events:
        detail = " ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
        fields = [f"{event.at:%Y-%m-%d %H:%M:%S}", event.kind, event.login or "-"]
        fields += [event.origin or "-", detail]
        print("\t".join(fields).rstrip(), file=command.console.stdout)
    return EXIT_OK


def cmd_check(command: Command) -> int:
    service = command.service
    readiness = service.readiness(verify_senders=command.args.verify_senders)
    problems: list[tuple[str, dict[str, object]]] = []
    if not readiness.senders:
        problems.append(("check.no_sender", {}))
    problems += [("check.undecryptable", {"id": s}) for s in readiness.undecryptable_senders]
    for sender, code in readiness.failing_senders:
        message = messages.ERRORS[command.console.locale].get(code, code)
        problems.append(("check.failing", {"id": sender, "code": code, "message": message}))
    if not readiness.supervisor_ready:
        problems.append(("check.no_supervisor", {}))
    problems += [
        ("check.user_without_address", {"login": login})
        for login in readiness.users_without_address
    ]
    if command.json:
        command.emit(
            {
                "ready": readiness.ready,
                "problems": [{"code": key.removeprefix("check."), **p} for key, p in problems],
            }
        )
    else:
        for key, params in problems:
            command.console.say(key, **params)
        if not problems:
            command.console.say("check.ready")
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_demo(command: Command) -> int:
    from pwrecovery.cli import demo  # noqa: PLC0415 (needs aiosmtpd, only for this command)

    return demo.run(command.console)


# -- parser --------------------------------------------------------------


def _common_options(*, defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command; the main parser holds the defaults."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=default(DEFAULT_DB), help="SQLite store (./pwrecovery.db)")
    common.add_argument(
        "--key-file", default=default(None), help=f"file with the key(s); else ${KEY_VARIABLE}"
    )
    common.add_argument(
        "--locale", choices=messages.LOCALES, default=default(None), help="es_MX or en"
    )
    common.add_argument("--json", action="store_true", default=default(value=False))
    common.add_argument("--origin", default=default(None), help="workstation name for the audit")
    common.add_argument("--ca-file", default=default(None), help="extra CA to trust for SMTP")
    common.add_argument("--timeout", type=float, default=default(30.0), help="SMTP timeout (s)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="pwrecovery",
        description="Self-service password recovery by e-mail, over a SQLite store.",
        parents=[_common_options(defaults=True)],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str,
        handler: Callable[[Command], int],
        help_text: str,
        *,
        under: Any = commands,  # noqa: ANN401 (argparse's subparsers type is private)
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = under.add_parser(name, help=help_text, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    key = commands.add_parser("key", help="encryption keys").add_subparsers(
        dest="key_command", required=True, metavar="ACTION"
    )
    add("new", cmd_key_new, "make a new key", under=key).add_argument(
        "--output", help="write it to this new file (mode 600) instead of printing it"
    )

    user = commands.add_parser("user", help="users catalog").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_add = add("add", cmd_user_add, "add a user (asks for the password)", under=user)
    user_add.add_argument("login")
    user_add.add_argument("--supervisor", action="store_true")
    user_add.add_argument("--name", default="", help="display name")
    add("list", cmd_user_list, "list users", under=user)
    add("show", cmd_user_show, "show one user", under=user).add_argument("login")

    address = commands.add_parser("address", help="recovery addresses").add_subparsers(
        dest="address_command", required=True, metavar="ACTION"
    )
    address_set = add("set", cmd_address_set, "set it and mail a code", under=address)
    address_set.add_argument("login")
    address_set.add_argument("address")
    address_confirm = add(
        "confirm", cmd_address_confirm, "confirm it (asks for the code)", under=address
    )
    address_confirm.add_argument("login")

    sender = commands.add_parser("sender", help="sender accounts").add_subparsers(
        dest="sender_command", required=True, metavar="ACTION"
    )
    sender_add = add("add", cmd_sender_add, "add one; its login is checked", under=sender)
    sender_add.add_argument("owner")
    sender_add.add_argument("--host", required=True)
    sender_add.add_argument("--port", type=int, required=True)
    sender_add.add_argument("--security", choices=[s.value for s in Security], required=True)
    sender_add.add_argument("--username", required=True)
    sender_add.add_argument("--from", dest="from_address", default=None)
    sender_add.add_argument("--name", default="", help="display name in From")
    add("list", cmd_sender_list, "list them in selection order", under=sender)
    add("remove", cmd_sender_remove, "remove one", under=sender).add_argument("id")

    recover = add("recover", cmd_recover, "Recuperar clave: mail a temporary password")
    recover.add_argument("login")
    recover.add_argument("--queued", action="store_true", help="store the mail for `deliver`")
    add("deliver", cmd_deliver, "send the queued mails that are due").add_argument(
        "--limit", type=int, default=100
    )
    add("login", cmd_login, "sign in (and change a temporary password)").add_argument("login")
    add("change-password", cmd_change_password, "change a password").add_argument("login")
    add("audit", cmd_audit, "show the audit trail").add_argument("login", nargs="?")
    add("check", cmd_check, "what would stop a recovery now").add_argument(
        "--verify-senders", action="store_true", help="also log in to every sender"
    )
    add("demo", cmd_demo, "the whole story against a loopback SMTP server")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command; return its exit code."""
    environment = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    locale = args.locale or locale_from(environment)
    console = Console(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr, locale)
    command = Command(args, console, environment)
    try:
        result: int = args.handler(command)
    except PwRecoveryError as error:
        error.locale = locale
        return _fail(command, error.code, str(error), EXIT_CODES.get(error.code, 1))
    except CliError as error:
        return _fail(command, error.key, console.text(error.key, **error.params), error.exit_code)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return result


def _fail(command: Command, code: str, message: str, exit_code: int) -> int:
    if command.json:
        payload = {"ok": False, "error": {"code": code, "message": message}}
        print(json.dumps(payload, ensure_ascii=False), file=command.console.stdout)
    else:
        print(message, file=command.console.stderr)
    return exit_code
