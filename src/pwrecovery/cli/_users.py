"""``user ...`` and ``address ...``: the users catalog and the recovery addresses.

Every change names the workstation (``--origin``) and is audited by the service.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pwrecovery import _i18n
from pwrecovery.cli import _csv
from pwrecovery.cli._console import (
    EXIT_CODES,
    EXIT_OK,
    CliError,
    Command,
    user_json,
)
from pwrecovery.exceptions import ImportRejected, PasswordConfirmationMismatch
from pwrecovery.models import User


def user_line(command: Command, user: User) -> str:
    console = command.console
    role = console.text("cli.user.role.supervisor" if user.supervisor else "cli.user.role.user")
    if user.recovery_email is None:
        address = console.text("cli.user.address.none")
    elif user.recovery_email_verified:
        address = console.text("cli.user.address.verified", address=user.recovery_email)
    else:
        address = console.text("cli.user.address.pending", address=user.recovery_email)
    line = console.text("cli.user.line", login=user.login, role=role, address=address)
    return f"{line}\t{console.text('cli.user.disabled_mark')}" if user.disabled else line


def cmd_user_add(command: Command) -> int:
    args = command.args
    password = command.console.ask_secret("cli.prompt.new_password")
    confirmation = command.console.ask_secret("cli.prompt.confirm_password")
    if password != confirmation:
        raise PasswordConfirmationMismatch
    user = command.service.add_user(
        args.login,
        password,
        supervisor=args.supervisor,
        display_name=args.name,
        origin=command.origin,
    )
    return command.done({"user": user_json(user)}, "cli.user.added", login=user.login)


def cmd_user_list(command: Command) -> int:
    users = command.service.users()
    if command.json:
        command.emit({"users": [user_json(u) for u in users]})
    else:
        for user in users:
            command.console.line(user_line(command, user))
    return EXIT_OK


def cmd_user_show(command: Command) -> int:
    user = command.service.get_user(command.args.login)
    command.emit({"user": user_json(user)}, user_line(command, user))
    return EXIT_OK


def cmd_user_disable(command: Command) -> int:
    user = command.service.disable_user(command.args.login, origin=command.origin)
    return command.done({"user": user_json(user)}, "cli.user.disabled", login=user.login)


def cmd_user_enable(command: Command) -> int:
    user = command.service.enable_user(command.args.login, origin=command.origin)
    return command.done({"user": user_json(user)}, "cli.user.enabled", login=user.login)


def cmd_user_remove(command: Command) -> int:
    user = command.service.get_user(command.args.login)
    command.service.remove_user(user.login, origin=command.origin)
    return command.done({"login": user.login}, "cli.user.removed", login=user.login)


def cmd_user_supervisor(command: Command) -> int:
    on = command.args.state == "on"
    user = command.service.set_supervisor(command.args.login, on, origin=command.origin)
    msgid = "cli.user.supervisor_on" if on else "cli.user.supervisor_off"
    return command.done({"user": user_json(user)}, msgid, login=user.login)


def cmd_user_unlock(command: Command) -> int:
    user = command.service.unlock_user(command.args.login, origin=command.origin)
    return command.done({"user": user_json(user)}, "cli.user.unlocked", login=user.login)


def cmd_user_rename(command: Command) -> int:
    args = command.args
    user = command.service.set_display_name(args.login, args.name, origin=command.origin)
    return command.done(
        {"user": user_json(user)}, "cli.user.renamed", login=user.login, name=user.display_name
    )


def cmd_user_locale(command: Command) -> int:
    given: str = command.args.locale_value
    locale = None if given == "-" else (_i18n.normalize_locale(given) or given)
    user = command.service.set_user_locale(command.args.login, locale, origin=command.origin)
    if user.locale is None:
        return command.done({"user": user_json(user)}, "cli.user.locale_cleared", login=user.login)
    return command.done(
        {"user": user_json(user)}, "cli.user.locale_set", login=user.login, locale=user.locale
    )


def cmd_user_legacy(command: Command) -> int:
    days: int = command.args.days
    readiness = command.service.readiness(legacy_older_than=timedelta(days=days))
    logins = list(readiness.legacy_hash_users)
    if command.json:
        command.emit({"days": days, "users": logins})
    elif not logins:
        command.console.say("cli.user.legacy_none")
    else:
        for login in logins:
            command.console.line(login)
    return EXIT_OK


# -- import ------------------------------------------------------------------


def _rejected(command: Command, users: _csv.UsersFile, rejected: ImportRejected | None) -> CliError:
    """One line per bad row, in file order, each with the line it begins on."""
    console = command.console
    found: list[tuple[int, int, str, str, str]] = []  # line, row, login, reason, sentence
    for problem in users.problems:
        row = users.lines.index(problem.line) + 1
        sentence = console.text(problem.msgid, login=problem.login, **dict(problem.params))
        found.append((problem.line, row, problem.login, problem.reason, sentence))
    if rejected is not None:
        messages = rejected.row_messages(console.locale)
        for (row, login, reason), sentence in zip(rejected.rows, messages, strict=True):
            found.append((users.lines[row - 1], row, login, reason, sentence))
    found.sort(key=lambda item: item[:2])
    return CliError(
        "cli.import.nothing_imported",
        EXIT_CODES[ImportRejected.code],
        code=ImportRejected.code,
        lines=[console.text("cli.import.bad_row", line=f[0], message=f[4]) for f in found],
        rows=[
            {"line": line, "row": row, "login": login, "reason": reason, "message": sentence}
            for line, row, login, reason, sentence in found
        ],
    )


def cmd_user_import(command: Command) -> int:
    args = command.args
    users = _csv.read_users(args.file)
    service = command.service
    mail: Literal["immediate", "queued"] = "queued" if args.queued else "immediate"
    try:
        dry_run = bool(args.dry_run or users.problems)
        created = service.import_users(
            users.rows, mail=mail, origin=command.origin, dry_run=dry_run
        )
    except ImportRejected as rejected:
        raise _rejected(command, users, rejected) from None
    if users.problems:
        raise _rejected(command, users, None)
    data = {"dry_run": bool(args.dry_run), "users": [user_json(u) for u in created]}
    if args.dry_run:
        if not command.json:
            for user in created:
                command.console.line(user_line(command, user))
        command.emit(data, command.console.plural("cli.import.dry_run", len(created)))
    else:
        command.emit(data, command.console.plural("cli.import.done", len(created)))
    return EXIT_OK


# -- recovery addresses ------------------------------------------------------


def cmd_address_set(command: Command) -> int:
    address = command.service.set_recovery_email(
        command.args.login, command.args.address, origin=command.origin
    )
    return command.done({"address": address}, "success.address_code_sent", address=address)


def cmd_address_confirm(command: Command) -> int:
    code = command.console.ask_secret("cli.prompt.code")
    login = command.args.login
    command.service.confirm_recovery_email(login, code, origin=command.origin)
    return command.done({"login": login}, "cli.address.confirmed", login=login)
