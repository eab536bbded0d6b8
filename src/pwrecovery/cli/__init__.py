"""The ``pwrecovery`` command: the whole contract over a SQLite store.

Passwords, codes, client secrets and refresh tokens are never taken as
arguments: they are asked for without echo (or read one per line from
standard input when it is not a terminal, for scripts). Every sentence comes
from the gettext catalogs, in the locale of ``--locale`` or the environment
(``locale_from``). Every error leaves with its own exit code (``EXIT_CODES``)
and, with ``--json``, as ``{"ok": false, "error": {...}}``.

The commands live by subject: ``_users`` (the users catalog, addresses, CSV
import through ``_csv``), ``_senders`` (sender accounts, keys), ``_window``
(recover, login, change-password, deliver, audit, check, demo); ``_parser`` is
the grammar and ``_console`` what they share.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from pwrecovery.cli._console import (
    DEFAULT_DB,
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_SETUP,
    EXIT_USAGE,
    KEY_VARIABLE,
    CliError,
    Command,
    Console,
    exit_code_for,
    local_zone,
    locale_from,
    trust_context,
)
from pwrecovery.cli._parser import ParserExit, build_parser
from pwrecovery.exceptions import PwRecoveryError

__all__ = [
    "DEFAULT_DB",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_SETUP",
    "EXIT_USAGE",
    "KEY_VARIABLE",
    "CliError",
    "build_parser",
    "local_zone",
    "locale_from",
    "main",
    "trust_context",
]


def _locale_asked(arguments: Sequence[str]) -> str | None:
    """The value of ``--locale`` if the arguments give one, before they are parsed (the
    help texts are written in it)."""
    for index, argument in enumerate(arguments):
        if argument == "--":
            break
        if argument == "--locale" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--locale="):
            return argument.partition("=")[2]
    return None


def _start_locale(arguments: Sequence[str], environ: Mapping[str, str]) -> str:
    from pwrecovery import _i18n  # noqa: PLC0415 (only here)

    asked = _locale_asked(arguments)
    if asked is not None and _i18n.DEFAULT_TEXTS.has(asked):
        return str(_i18n.normalize_locale(asked))
    return locale_from(environ)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command; return its exit code.

    When the reader of standard output goes away (``pwrecovery demo | head -3``) the
    run ends quietly with 141, as Python's documentation on SIGPIPE recommends.
    """
    environment = os.environ if environ is None else environ
    arguments = list(sys.argv[1:] if argv is None else argv)
    console = Console(
        stdin or sys.stdin,
        stdout or sys.stdout,
        stderr or sys.stderr,
        _start_locale(arguments, environment),
    )
    try:
        code = _run(arguments, console, environment)
        console.stdout.flush()
    except BrokenPipeError:
        _point_at_devnull(console.stdout)
        return EXIT_BROKEN_PIPE
    return code


def _point_at_devnull(stream: TextIO) -> None:
    """Python flushes standard output again at exit: let that go nowhere, quietly."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        descriptor = os.open(os.devnull, os.O_WRONLY)
        os.dup2(descriptor, stream.fileno())
        os.close(descriptor)


def _run(arguments: list[str], console: Console, environ: Mapping[str, str]) -> int:
    try:
        args = build_parser(console).parse_args(arguments)
    except ParserExit as finished:
        return finished.status
    console.locale = args.locale or locale_from(environ)
    command = Command(args, console, environ)
    try:
        result: int = args.handler(command)
    except PwRecoveryError as error:
        error.locale = console.locale
        return _fail(command, error.code, error.message(console.locale), exit_code_for(error))
    except CliError as error:
        for line in error.lines if not command.json else ():
            console.warn(line)
        message = console.text(error.msgid, **error.params)
        return _fail(command, error.code, message, error.exit_code, error.rows)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        command.close()
    return result


def _fail(
    command: Command,
    code: str,
    message: str,
    exit_code: int,
    rows: Sequence[Mapping[str, object]] = (),
) -> int:
    if command.json:
        error: dict[str, object] = {"code": code, "message": message}
        if rows:
            error["rows"] = [dict(row) for row in rows]
        payload = json.dumps({"ok": False, "error": error}, ensure_ascii=False)
        print(payload, file=command.console.stdout)
    else:
        command.console.warn(message)
    return exit_code
