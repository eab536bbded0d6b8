"""``Secret``: how a password, a code or a key travels inside the library.

Its ``repr`` and ``str`` are masked, so a traceback formatted with its local
variables (what error reporters capture) shows ``Secret('********')`` wherever
a secret is held below the public methods.
"""

from __future__ import annotations

from typing import Final, NoReturn

_MASK: Final = "Secret('********')"


class Secret:
    """A secret text; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        msg = "a Secret is not pickled"
        raise TypeError(msg)


def reveal(value: Secret | None) -> str | None:
    return value.reveal() if value is not None else None
