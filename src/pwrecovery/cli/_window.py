"""The login window and its surroundings: ``recover``, ``login``, ``change-password``,
``deliver`` (the worker), ``audit``, ``check`` and ``demo``."""

from __future__ import annotations

from pwrecovery.cli._console import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    CliError,
    Command,
    event_json,
    stamp,
)
from pwrecovery.models import LoginStatus


def cmd_recover(command: Command) -> int:
    sent = command.service.request_recovery(
        command.args.login,
        origin=command.origin,
        delivery="queued" if command.args.queued else "immediate",
    )
    command.emit(
        {"masked_address": sent.masked_address, "expires_at": sent.expires_at.isoformat()},
        sent.message(command.locale),
    )
    return EXIT_OK


def cmd_deliver(command: Command) -> int:
    report = command.service.deliver_pending(limit=command.args.limit)
    counts = {
        "sent": report.sent,
        "retried": report.retried,
        "abandoned": report.abandoned,
        "dropped": report.dropped,
    }
    return command.done(counts, "cli.deliver.report", **counts)


def cmd_login(command: Command) -> int:
    """Sign in; with a temporary password, ask for the new one twice and change it."""
    console, login = command.console, command.args.login
    password = console.ask_secret("cli.prompt.password")
    result = command.service.authenticate(login, password, origin=command.origin)
    if result.status is LoginStatus.OK:
        return command.done({"status": result.status.value}, "cli.login.ok")
    if not command.json and result.expires_at is not None:
        expires = console.texts.moment(console.locale, result.expires_at, command.zone)
        console.say("cli.login.must_change", expires=expires)
    new = console.ask_secret("cli.prompt.new_password")
    confirmation = console.ask_secret("cli.prompt.confirm_password")
    changed = command.service.change_password(
        login, password, new, confirmation, origin=command.origin
    )
    data = {"status": result.status.value, "changed": True, "recovered": changed.recovered}
    command.emit(data, changed.message(command.locale))  # "Clave recuperada con éxito."
    return EXIT_OK


def cmd_change_password(command: Command) -> int:
    console = command.console
    current = console.ask_secret("cli.prompt.current_password")
    new = console.ask_secret("cli.prompt.new_password")
    confirmation = console.ask_secret("cli.prompt.confirm_password")
    changed = command.service.change_password(
        command.args.login, current, new, confirmation, origin=command.origin
    )
    command.emit({"changed": True, "recovered": changed.recovered}, changed.message(command.locale))
    return EXIT_OK


def cmd_audit(command: Command) -> int:
    """The trail, oldest first: each event's time in the company's zone, what happened
    (a sentence), the login, the workstation, and its details."""
    events = command.service.audit_trail(command.args.login)
    if command.json:
        command.emit({"events": [event_json(e) for e in events]})
        return EXIT_OK
    console, zone = command.console, command.zone
    for event in events:
        detail = " ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
        fields = [stamp(event.at, zone), console.describe(event.kind), event.login or "-"]
        fields += [event.origin or "-", detail]
        console.line("\t".join(fields).rstrip())
    return EXIT_OK


def cmd_check(command: Command) -> int:
    """Every finding as a sentence; exit 1 when one of them stops a recovery."""
    readiness = command.service.readiness(verify_senders=command.args.verify_senders)
    problems = readiness.problems()
    locale = command.locale
    if command.json:
        command.emit(
            {
                "ready": readiness.ready,
                "problems": [
                    {"code": p.code, "params": dict(p.params), "message": p.message(locale)}
                    for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            command.console.line(problem.message(locale))
        if not problems:
            command.console.say("readiness.ready")
    return EXIT_OK if readiness.ready else EXIT_PROBLEMS


# Options the demo would silently ignore: it makes its own store, key and CA.
_NOT_FOR_DEMO = (("db", "--db"), ("key_file", "--key-file"), ("ca_file", "--ca-file"))


def cmd_demo(command: Command) -> int:
    for attribute, flag in (*_NOT_FOR_DEMO, ("json", "--json")):
        if getattr(command.args, attribute):
            raise CliError("cli.demo.refused_option", EXIT_USAGE, option=flag)
    from pwrecovery.cli import demo  # noqa: PLC0415 (it needs aiosmtpd, only for this command)

    return demo.run(command.console, command.zone)
