"""Temporary passwords and verification codes.

A temporary password is recognisable by its form: groups of four symbols from
its own alphabet joined by hyphens (``Kx7P-mQ2z-H9aB``). Ordinary passwords
may not take that form, so any typed text is checked against exactly one hash:
the temporary password's when it has the form, the ordinary one's otherwise.

Randomness enters through one seam, ``randbelow``: the service passes
``secrets.randbelow``; tests may pass anything with the same signature.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Final

# Letters and digits without the look-alikes 0 O 1 l I.
TEMPORARY_PASSWORD_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # noqa: S105 (not a secret)
TEMPORARY_GROUP: Final = 4
TEMPORARY_SEPARATOR: Final = "-"
MAX_TEMPORARY_LENGTH: Final = 64
VERIFICATION_CODE_ALPHABET: Final = "0123456789"
VERIFICATION_CODE_LENGTH: Final = 8

_SYMBOL: Final = f"[{TEMPORARY_PASSWORD_ALPHABET}]"
# Two groups or more, every one of four symbols but the last (one to four), hyphens or
# single spaces between them: how the mail shows it and how people type it.
_GROUP: Final = f"{_SYMBOL}{{{TEMPORARY_GROUP}}}"
_LAST_GROUP: Final = f"{_SYMBOL}{{1,{TEMPORARY_GROUP}}}"
_TEMPORARY_FORM: Final = re.compile(rf"{_GROUP}(?:[- ]{_GROUP})*[- ]{_LAST_GROUP}")

RandBelow = Callable[[int], int]


def _draw(randbelow: RandBelow, alphabet: str, length: int) -> str:
    return "".join(alphabet[randbelow(len(alphabet))] for _ in range(length))


def group(symbols: str) -> str:
    """Symbols written in groups of four: ``Kx7PmQ2zH9aB`` → ``Kx7P-mQ2z-H9aB``."""
    return TEMPORARY_SEPARATOR.join(
        symbols[i : i + TEMPORARY_GROUP] for i in range(0, len(symbols), TEMPORARY_GROUP)
    )


def generate_temporary_password(randbelow: RandBelow, length: int) -> str:
    """A temporary password: ``length`` symbols drawn uniformly from the alphabet, grouped."""
    return group(_draw(randbelow, TEMPORARY_PASSWORD_ALPHABET, length))


def temporary_form(typed: str) -> str | None:
    """The canonical temporary password ``typed`` is, if it has the form; else None.

    Surrounding spaces are ignored and single spaces may stand for the hyphens.
    """
    text = typed.strip()
    if len(text) > MAX_TEMPORARY_LENGTH + MAX_TEMPORARY_LENGTH // TEMPORARY_GROUP:
        return None
    if _TEMPORARY_FORM.fullmatch(text) is None:
        return None
    return text.replace(" ", TEMPORARY_SEPARATOR)


def generate_verification_code(randbelow: RandBelow) -> str:
    """A code to confirm a recovery address: eight digits, easy to type."""
    return _draw(randbelow, VERIFICATION_CODE_ALPHABET, VERIFICATION_CODE_LENGTH)


def entropy_bits(alphabet: str, length: int) -> float:
    """Bits of entropy of a secret of ``length`` uniform draws from ``alphabet``."""
    return length * math.log2(len(alphabet))


def normalize_code(code: str) -> str:
    """Accept a code as typed: spaces and dashes between digits are ignored."""
    return "".join(ch for ch in code[:64] if ch not in " -\t")
