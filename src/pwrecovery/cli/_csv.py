"""``user import FILE.csv``: the CSV file an old application's users come in.

UTF-8, with or without the byte order mark Excel writes; a header row naming
the columns (any order, any case); commas, or semicolons when the header has
semicolons and no comma (Excel in some regions). Only ``login`` and
``password_hash`` are required. Yes/no columns take yes/no, true/false, 1/0,
sí/si (any case); an empty cell is no. Blank lines are skipped.

The header is checked before any row is read: an unknown, repeated or missing
column is a usage error. A row whose yes/no cell says neither, or that has more
cells than the header, is a bad row, reported with the service's own findings.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import attrs

from pwrecovery import _i18n
from pwrecovery.cli._console import EXIT_SETUP, EXIT_USAGE, CliError
from pwrecovery.models import ImportedUser

COLUMNS: Final = (
    "login",
    "password_hash",
    "supervisor",
    "display_name",
    "recovery_email",
    "recovery_email_verified",
    "locale",
)
REQUIRED: Final = ("login", "password_hash")
YES: Final = frozenset({"yes", "true", "1", "sí", "si"})
NO: Final = frozenset({"no", "false", "0", ""})


@attrs.frozen
class RowProblem:
    """A row the CSV itself makes unusable: its line, its login, and the sentence's
    msgid and parameters."""

    line: int
    login: str
    reason: str  # a stable code for --json
    msgid: str
    params: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class UsersFile:
    """The rows of the file, the line each begins on, and what is wrong with some."""

    rows: tuple[ImportedUser, ...]
    lines: tuple[int, ...]
    problems: tuple[RowProblem, ...]


def _read_text(path: str) -> str:
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise CliError("cli.import.not_utf8", EXIT_USAGE, path=path) from error
    except OSError as error:
        raise CliError("cli.import.unreadable", EXIT_SETUP, path=path) from error


def _header(cells: Sequence[str], path: str) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            raise CliError(
                "cli.import.unknown_column",
                EXIT_USAGE,
                column=name,
                columns=", ".join(COLUMNS),
                path=path,
            )
        if name in seen:
            raise CliError("cli.import.duplicate_column", EXIT_USAGE, column=name, path=path)
        seen.add(name)
    for name in REQUIRED:
        if name not in seen:
            raise CliError("cli.import.missing_column", EXIT_USAGE, column=name, path=path)
    return names


def yes_no(value: str) -> bool | None:
    """True, False, or None for a cell that says neither."""
    text = unicodedata.normalize("NFC", value.strip().lower())
    if text in YES:
        return True
    if text in NO:
        return False
    return None


def _locale(value: str) -> str | None:
    """A locale in its canonical spelling (es-mx → es_MX); the service judges it."""
    if not value:
        return None
    return _i18n.normalize_locale(value) or value


def read_users(path: str) -> UsersFile:
    """The users in the CSV file ``path`` (``CliError`` for a file or header that
    cannot be used)."""
    text = _read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise CliError("cli.import.empty", EXIT_USAGE, path=path)
        names = _header(header, path)
        rows: list[ImportedUser] = []
        lines: list[int] = []
        problems: list[RowProblem] = []
        end = reader.line_num
        for cells in reader:
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            values = dict(zip(names, (cell.strip() for cell in cells), strict=False))
            login = values.get("login", "")
            if len(cells) > len(names):
                problems.append(
                    RowProblem(line, login, "field_count", "cli.import.field_count", ())
                )
            flags: dict[str, bool] = {}
            for column in ("supervisor", "recovery_email_verified"):
                flag = yes_no(values.get(column, ""))
                if flag is None:
                    params = (("column", column), ("value", values[column]))
                    problems.append(
                        RowProblem(line, login, "invalid_yes_no", "cli.import.yes_no", params)
                    )
                flags[column] = bool(flag)
            rows.append(
                ImportedUser(
                    login=login,
                    password_hash=values.get("password_hash", ""),
                    supervisor=flags["supervisor"],
                    display_name=values.get("display_name", ""),
                    recovery_email=values.get("recovery_email") or None,
                    recovery_email_verified=flags["recovery_email_verified"],
                    locale=_locale(values.get("locale", "")),
                )
            )
            lines.append(line)
    except csv.Error as error:
        raise CliError(
            "cli.import.malformed", EXIT_USAGE, path=path, line=reader.line_num
        ) from error
    return UsersFile(tuple(rows), tuple(lines), tuple(problems))
