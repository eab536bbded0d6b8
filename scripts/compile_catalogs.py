"""Compile pwrecovery's gettext catalogs: every ``.po`` under the locale folder to ``.mo``.

    python scripts/compile_catalogs.py            write each .mo beside its .po
    python scripts/compile_catalogs.py --check    change nothing; exit 1 if a committed
                                                  .mo is missing or differs from its .po

The output depends only on the ``.po`` and on Babel's version (pinned in the ``dev``
extra): the ``.po`` headers carry fixed dates, and Babel writes the messages sorted.
A catalog with a fuzzy or untranslated entry is refused, since ``write_mo`` would drop
it silently and the message would fall back to another language.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "src" / "pwrecovery" / "_i18n" / "locale"


def problems(po_path: Path) -> list[str]:
    """What would make the compiled catalog lose a message."""
    with po_path.open("rb") as source:
        catalog = read_po(source, abort_invalid=True)
    found = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            found.append(f"{po_path}: {message.id!r} is fuzzy")
        if not all(strings):
            found.append(f"{po_path}: {message.id!r} is not translated")
    return found


def compile_po(po_path: Path) -> bytes:
    """The ``.mo`` bytes for one ``.po``."""
    with po_path.open("rb") as source:
        catalog = read_po(source, abort_invalid=True)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    return compiled.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; write nothing")
    parser.add_argument("--locale-dir", type=Path, default=LOCALE_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sources = sorted(args.locale_dir.glob("*/LC_MESSAGES/*.po"))
    if not sources:
        print(f"no .po files under {args.locale_dir}", file=sys.stderr)
        return 1
    failed = False
    for po_path in sources:
        found = problems(po_path)
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            failed = True
            continue
        mo_path = po_path.with_suffix(".mo")
        compiled = compile_po(po_path)
        current = mo_path.read_bytes() if mo_path.exists() else None
        if compiled == current:
            continue
        if args.check:
            print(f"{mo_path} is out of date: run scripts/compile_catalogs.py", file=sys.stderr)
            failed = True
        else:
            mo_path.write_bytes(compiled)
            print(f"wrote {mo_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
