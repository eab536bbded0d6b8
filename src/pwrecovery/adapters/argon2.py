"""``Argon2idHasher``: the default ``PasswordHasher``, on ``cryptography``'s Argon2id."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Final

import attrs
from cryptography.exceptions import InvalidKey, UnsupportedAlgorithm
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from pwrecovery.exceptions import InvalidConfiguration

_PHC: Final = re.compile(
    # [0-9], not \d: \d also matches other scripts' digits, which int() would read.
    r"\$argon2id\$v=(?P<v>[0-9]{1,3})"
    r"\$m=(?P<m>[0-9]{1,10}),t=(?P<t>[0-9]{1,10}),p=(?P<p>[0-9]{1,3})"
    r"\$(?P<salt>[A-Za-z0-9+/]{11,88})\$(?P<hash>[A-Za-z0-9+/]{22,88})"
)
_VERSION: Final = 19
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
_MIN_SALT: Final = 8
_MIN_HASH: Final = 16
_MAX_BYTES: Final = 64
_CEILING: Final = 4  # stored parameters beyond four times our own are refused uncomputed


def _ceiling(value: int) -> int:
    """The default bound for a parameter: four times it. A value that is not a whole
    number is passed through, so that the constructor refuses it as that parameter."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return _CEILING * value


@attrs.frozen
class _Params:
    memory_cost: int
    iterations: int
    lanes: int


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _parse(encoded: str) -> _Params | None:
    match = _PHC.fullmatch(encoded) if isinstance(encoded, str) else None
    if match is None or int(match["v"]) != _VERSION:
        return None
    try:
        salt, digest = _b64decode(match["salt"]), _b64decode(match["hash"])
    except (binascii.Error, ValueError):
        return None
    if not (_MIN_SALT <= len(salt) <= _MAX_BYTES and _MIN_HASH <= len(digest) <= _MAX_BYTES):
        return None
    return _Params(int(match["m"]), int(match["t"]), int(match["p"]))


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfiguration(name, "positive_count")


@attrs.frozen
class Argon2idHasher:
    """Argon2id in PHC strings (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``).

    The defaults are OWASP's minimum: 19 MiB, two passes, one lane. Stored
    hashes are verified only when their parameters are within the ``max_*``
    bounds (by default four times this hasher's own), so a planted hash cannot
    make a sign-in take seconds or allocate gigabytes: a hash outside them, or
    malformed, is not ``identified`` and is never computed.

    >>> hasher = Argon2idHasher(memory_cost=8, iterations=1)  # cheap, for examples only
    >>> encoded = hasher.hash("correct horse")
    >>> hasher.verify(encoded, "correct horse"), hasher.verify(encoded, "wrong")
    (True, False)
    """

    memory_cost: int = 19456  # KiB
    iterations: int = 2
    lanes: int = 1
    max_memory_cost: int = attrs.field(
        default=attrs.Factory(lambda self: _ceiling(self.memory_cost), takes_self=True),
        kw_only=True,
    )
    max_iterations: int = attrs.field(
        default=attrs.Factory(lambda self: _ceiling(self.iterations), takes_self=True),
        kw_only=True,
    )
    max_lanes: int = attrs.field(
        default=attrs.Factory(lambda self: _ceiling(self.lanes), takes_self=True),
        kw_only=True,
    )

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(type(self)):
            _positive_int(field.name, getattr(self, field.name))
        if self.memory_cost < 8 * self.lanes:
            raise InvalidConfiguration("memory_cost", "not_below", other="8 * lanes")
        if self.memory_cost > self.max_memory_cost:
            raise InvalidConfiguration("max_memory_cost", "not_below", other="memory_cost")
        if self.iterations > self.max_iterations:
            raise InvalidConfiguration("max_iterations", "not_below", other="iterations")
        if self.lanes > self.max_lanes:
            raise InvalidConfiguration("max_lanes", "not_below", other="lanes")

    def _within_bounds(self, params: _Params) -> bool:
        return (
            8 * params.lanes <= params.memory_cost <= self.max_memory_cost
            and 1 <= params.iterations <= self.max_iterations
            and 1 <= params.lanes <= self.max_lanes
        )

    def hash(self, password: str) -> str:
        kdf = Argon2id(
            salt=secrets.token_bytes(SALT_BYTES),
            length=HASH_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_cost,
        )
        return kdf.derive_phc_encoded(password.encode("utf-8"))

    def identifies(self, encoded: str) -> bool:
        """Whether ``encoded`` is an Argon2id PHC string within this hasher's bounds."""
        params = _parse(encoded)
        return params is not None and self._within_bounds(params)

    def verify(self, encoded: str, password: str) -> bool:
        if not self.identifies(encoded):
            return False
        try:
            Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
        except (InvalidKey, ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
            return False
        return True

    def needs_rehash(self, encoded: str) -> bool:
        params = _parse(encoded)
        return params is None or (
            params.memory_cost < self.memory_cost
            or params.iterations < self.iterations
            or params.lanes != self.lanes
        )
