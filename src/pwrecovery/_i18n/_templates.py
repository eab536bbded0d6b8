"""Message templates: ``str.format`` braces with plain names, rendered without raising.

``_compile`` parses a template once (None when a field is not a plain name),
``_render`` fills it (a missing name renders empty, an unused one is ignored),
``_pick`` chooses a plural form by the catalog's rule, and ``placeholders``
lists the names a template uses.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

# A message: one template, or its plural forms in the order of the catalog's Plural-Forms.
Message: TypeAlias = str | tuple[str, ...]
PluralRule: TypeAlias = Callable[[int], int]

_Piece: TypeAlias = tuple[str, str | None, str | None, str]  # literal, name, conversion, spec
_FORMATTER: Final = string.Formatter()
_CONVERSIONS: Final = (None, "s", "r", "a")


@functools.lru_cache(maxsize=4096)
def _compile(template: str) -> tuple[_Piece, ...] | None:
    """The template's pieces, or None unless every field is a plain name."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError:
        return None
    pieces: list[_Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (
            not name.isidentifier() or "{" in (spec or "") or conversion not in _CONVERSIONS
        ):
            return None
        pieces.append((literal, name, conversion, spec or ""))
    return tuple(pieces)


def _render(template: str, params: Mapping[str, object]) -> str | None:
    pieces = _compile(template)
    if pieces is None:
        return None
    out: list[str] = []
    for literal, name, conversion, spec in pieces:
        out.append(literal)
        if name is None:
            continue
        value = params.get(name, "")
        if conversion == "r":
            value = repr(value)
        elif conversion == "a":
            value = ascii(value)
        elif conversion == "s":
            value = str(value)
        try:
            out.append(format(value, spec))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def placeholders(template: str) -> frozenset[str]:
    """The names a template uses (empty for one that is not a valid template).

    >>> sorted(placeholders("{host}:{port}"))
    ['host', 'port']
    """
    return frozenset(name for _, name, _, _ in _compile(template) or () if name is not None)


def _pick(message: Message, count: int | None, rule: PluralRule) -> str:
    if isinstance(message, str):
        return message
    if count is None:
        return message[0]
    try:
        index = rule(count)
    except (ArithmeticError, TypeError, ValueError):
        index = 0 if count == 1 else len(message) - 1
    return message[min(max(index, 0), len(message) - 1)]
