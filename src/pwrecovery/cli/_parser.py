"""The command line's grammar, its help in the run's locale.

The options shared by every command are accepted before or after it; the main
parser holds their defaults. argparse writes to the run's console (not to
``sys.stdout``) and, instead of exiting the process, raises ``ParserExit``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pwrecovery
from pwrecovery import _i18n
from pwrecovery.cli import _senders, _users, _window
from pwrecovery.cli._console import KEY_VARIABLE, Command, Console
from pwrecovery.models import Security

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

Handler = Callable[[Command], int]


class ParserExit(Exception):
    """argparse finished the run (help, version, a usage error) with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _parser_class(console: Console) -> type[argparse.ArgumentParser]:
    class Parser(argparse.ArgumentParser):
        def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
            if message:
                stream = console.stdout if file is sys.stdout else console.stderr
                stream.write(message)

        def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
            if message:
                console.stderr.write(message)
            raise ParserExit(status)

    return Parser


def _locale_type(console: Console) -> Callable[[str], str]:
    def locale(value: str) -> str:
        if not _i18n.DEFAULT_TEXTS.has(value):
            locales = ", ".join(_i18n.DEFAULT_TEXTS.locales())
            raise argparse.ArgumentTypeError(
                console.text("cli.locale.unknown", value=value, locales=locales)
            )
        return str(_i18n.normalize_locale(value))

    return locale


def _zone_type(console: Console) -> Callable[[str], ZoneInfo]:
    def zone(value: str) -> ZoneInfo:
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise argparse.ArgumentTypeError(
                console.text("cli.timezone.unknown", value=value)
            ) from None

    return zone


def _count_type(console: Console, least: int) -> Callable[[str], int]:
    def count(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = least - 1
        if number < least:
            raise argparse.ArgumentTypeError(
                console.text("cli.number.too_small", value=value, least=least)
            )
        return number

    return count


def _version_action(console: Console) -> type[argparse.Action]:
    class Version(argparse.Action):
        def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
            console.say("cli.version", version=pwrecovery.__version__)
            parser.exit()

    return Version


def _common_options(console: Console, *, defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the command; the main parser holds the defaults."""
    h = console.text

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    common = _parser_class(console)(add_help=False)
    common.add_argument("--db", default=default(None), metavar="PATH", help=h("cli.help.db"))
    common.add_argument(
        "--key-file",
        default=default(None),
        metavar="PATH",
        help=h("cli.help.key_file", variable=KEY_VARIABLE),
    )
    common.add_argument(
        "--locale",
        type=_locale_type(console),
        default=default(None),
        help=h("cli.help.locale", locales=", ".join(_i18n.DEFAULT_TEXTS.locales())),
    )
    common.add_argument(
        "--json", action="store_true", default=default(value=False), help=h("cli.help.json")
    )
    common.add_argument(
        "--origin", default=default(None), metavar="NAME", help=h("cli.help.origin")
    )
    common.add_argument(
        "--ca-file", default=default(None), metavar="PEM", help=h("cli.help.ca_file")
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=default(30.0),
        metavar="SECONDS",
        help=h("cli.help.timeout"),
    )
    common.add_argument(
        "--timezone",
        type=_zone_type(console),
        default=default(None),
        metavar="ZONE",
        help=h("cli.help.timezone"),
    )
    return common


def build_parser(console: Console) -> argparse.ArgumentParser:  # noqa: PLR0915 (one grammar)
    h = console.text
    common = _common_options(console, defaults=False)
    parser = _parser_class(console)(
        prog="pwrecovery",
        description=h("cli.help.description"),
        parents=[_common_options(console, defaults=True)],
    )
    parser.add_argument(
        "--version", nargs=0, action=_version_action(console), help=h("cli.help.version")
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def group(name: str, msgid: str) -> Any:  # noqa: ANN401 (argparse's subparsers type is private)
        return commands.add_parser(name, help=h(msgid)).add_subparsers(
            dest=f"{name}_command", required=True, metavar="ACTION"
        )

    def add(
        name: str,
        handler: Handler,
        msgid: str,
        *,
        under: Any = commands,  # noqa: ANN401 (argparse's subparsers type is private)
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = under.add_parser(name, help=h(msgid), parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    key = group("key", "cli.help.key")
    add("new", _senders.cmd_key_new, "cli.help.key_new", under=key).add_argument(
        "--output", metavar="FILE", help=h("cli.help.key_output")
    )

    user = group("user", "cli.help.user")
    user_add = add("add", _users.cmd_user_add, "cli.help.user_add", under=user)
    user_add.add_argument("login", metavar="LOGIN")
    user_add.add_argument("--supervisor", action="store_true", help=h("cli.help.supervisor"))
    user_add.add_argument("--name", default="", help=h("cli.help.display_name"))
    add("list", _users.cmd_user_list, "cli.help.user_list", under=user)
    for name, handler in (
        ("show", _users.cmd_user_show),
        ("disable", _users.cmd_user_disable),
        ("enable", _users.cmd_user_enable),
        ("remove", _users.cmd_user_remove),
        ("unlock", _users.cmd_user_unlock),
    ):
        add(name, handler, f"cli.help.user_{name}", under=user).add_argument(
            "login", metavar="LOGIN"
        )
    user_import = add("import", _users.cmd_user_import, "cli.help.user_import", under=user)
    user_import.add_argument("file", metavar="FILE.csv", help=h("cli.help.import_file"))
    user_import.add_argument("--dry-run", action="store_true", help=h("cli.help.dry_run"))
    user_import.add_argument("--queued", action="store_true", help=h("cli.help.import_queued"))
    supervisor = add(
        "supervisor", _users.cmd_user_supervisor, "cli.help.user_supervisor", under=user
    )
    supervisor.add_argument("login", metavar="LOGIN")
    supervisor.add_argument("state", choices=("on", "off"))
    rename = add("rename", _users.cmd_user_rename, "cli.help.user_rename", under=user)
    rename.add_argument("login", metavar="LOGIN")
    rename.add_argument("name", metavar="NAME", help=h("cli.help.display_name"))
    user_locale = add("locale", _users.cmd_user_locale, "cli.help.user_locale", under=user)
    user_locale.add_argument("login", metavar="LOGIN")
    user_locale.add_argument(
        "locale_value", metavar="LOCALE|-", help=h("cli.help.user_locale_value")
    )
    add("legacy", _users.cmd_user_legacy, "cli.help.user_legacy", under=user).add_argument(
        "--days", type=_count_type(console, 0), default=0, help=h("cli.help.legacy_days")
    )

    address = group("address", "cli.help.address")
    address_set = add("set", _users.cmd_address_set, "cli.help.address_set", under=address)
    address_set.add_argument("login", metavar="LOGIN")
    address_set.add_argument("address", metavar="ADDRESS")
    add(
        "confirm", _users.cmd_address_confirm, "cli.help.address_confirm", under=address
    ).add_argument("login", metavar="LOGIN")

    sender = group("sender", "cli.help.sender")
    sender_add = add("add", _senders.cmd_sender_add, "cli.help.sender_add", under=sender)
    sender_add.add_argument("owner", metavar="OWNER", help=h("cli.help.owner"))
    sender_add.add_argument("--host", required=True, help=h("cli.help.host"))
    sender_add.add_argument("--port", type=int, required=True, help=h("cli.help.port"))
    sender_add.add_argument(
        "--security",
        choices=[s.value for s in Security],
        required=True,
        help=h("cli.help.security"),
    )
    sender_add.add_argument("--username", required=True, help=h("cli.help.username"))
    sender_add.add_argument(
        "--from", dest="from_address", default=None, metavar="ADDRESS", help=h("cli.help.from")
    )
    sender_add.add_argument("--name", default="", help=h("cli.help.sender_name"))
    sender_add.add_argument("--oauth", choices=_senders.OAUTH_KINDS, help=h("cli.help.oauth"))
    for option in ("tenant-id", "client-id", "authority-host", "token-uri"):
        sender_add.add_argument(f"--{option}", help=h(f"cli.help.{option.replace('-', '_')}"))
    sender_add.add_argument(
        "--service-account-file", metavar="PATH", help=h("cli.help.service_account_file")
    )
    add("list", _senders.cmd_sender_list, "cli.help.sender_list", under=sender)
    add("remove", _senders.cmd_sender_remove, "cli.help.sender_remove", under=sender).add_argument(
        "id", metavar="ID"
    )

    recover = add("recover", _window.cmd_recover, "cli.help.recover")
    recover.add_argument("login", metavar="LOGIN")
    recover.add_argument("--queued", action="store_true", help=h("cli.help.recover_queued"))
    add("deliver", _window.cmd_deliver, "cli.help.deliver").add_argument(
        "--limit", type=_count_type(console, 1), default=100, help=h("cli.help.deliver_limit")
    )
    add("login", _window.cmd_login, "cli.help.login").add_argument("login", metavar="LOGIN")
    add("change-password", _window.cmd_change_password, "cli.help.change_password").add_argument(
        "login", metavar="LOGIN"
    )
    add("audit", _window.cmd_audit, "cli.help.audit").add_argument(
        "login", metavar="LOGIN", nargs="?"
    )
    add("check", _window.cmd_check, "cli.help.check").add_argument(
        "--verify-senders", action="store_true", help=h("cli.help.verify_senders")
    )
    add("demo", _window.cmd_demo, "cli.help.demo")
    return parser
