"""Hashers for password hashes brought from a host's old system (``legacy_hashers=``).

They verify imported hashes until each user's first sign-in, which stores a
new hash made by the service's own hasher (Argon2id) in the same transaction.
Both refuse, without computing, a stored hash whose cost is far above what
their format's usual software makes (a planted hash cannot stall a sign-in).

- ``Pbkdf2Hasher``: Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``,
  on ``cryptography``'s PBKDF2-HMAC-SHA256.
- ``BcryptHasher``: ``$2a$``/``$2b$``/``$2y$`` hashes, on the ``bcrypt`` package
  (``pip install 'pwrecovery[legacy]'``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from typing import Final

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from pwrecovery.exceptions import InvalidConfiguration

_DJANGO: Final = re.compile(
    r"pbkdf2_sha256\$(?P<iterations>[1-9][0-9]{0,8})\$(?P<salt>[^$]{1,128})\$(?P<hash>[A-Za-z0-9+/=]{16,128})"
)
_BCRYPT: Final = re.compile(r"\$2[aby]\$(?P<cost>[0-9]{2})\$[./A-Za-z0-9]{53}")
_BCRYPT_BYTES: Final = 72
_SALT_CHARS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_BCRYPT_MIN_COST: Final = 4  # the costs bcrypt accepts
_BCRYPT_MAX_COST: Final = 31


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfiguration(name, "positive_count")


@attrs.frozen
class Pbkdf2Hasher:
    """Django's ``pbkdf2_sha256`` hashes, verified with ``cryptography``.

    >>> hasher = Pbkdf2Hasher(iterations=1000)
    >>> encoded = hasher.hash("correct horse")
    >>> encoded.startswith("pbkdf2_sha256$1000$"), hasher.verify(encoded, "correct horse")
    (True, True)
    """

    iterations: int = 1_000_000  # what Django 5.2 makes
    max_iterations: int = attrs.field(default=2_000_000, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _positive("iterations", self.iterations)
        _positive("max_iterations", self.max_iterations)
        if self.max_iterations < self.iterations:
            raise InvalidConfiguration("max_iterations", "not_below", other="iterations")

    def _derive(self, password: str, salt: str, iterations: int) -> bytes:
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=salt.encode("utf-8"), iterations=iterations
        )
        return kdf.derive(password.encode("utf-8"))

    def hash(self, password: str) -> str:
        salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(22))
        digest = base64.b64encode(self._derive(password, salt, self.iterations)).decode("ascii")
        return f"pbkdf2_sha256${self.iterations}${salt}${digest}"

    def identifies(self, encoded: str) -> bool:
        match = _DJANGO.fullmatch(encoded) if isinstance(encoded, str) else None
        return match is not None and int(match["iterations"]) <= self.max_iterations

    def verify(self, encoded: str, password: str) -> bool:
        match = _DJANGO.fullmatch(encoded) if isinstance(encoded, str) else None
        if match is None or int(match["iterations"]) > self.max_iterations:
            return False
        try:
            expected = base64.b64decode(match["hash"], validate=True)
            derived = self._derive(password, match["salt"], int(match["iterations"]))
        except (binascii.Error, ValueError, UnicodeError):
            return False
        return hmac.compare_digest(expected, derived)

    def needs_rehash(self, encoded: str) -> bool:
        del encoded
        return True  # a legacy hash is always replaced by the service's own


def _bcrypt_bytes(password: str) -> bytes:
    """The bytes bcrypt reads: the first 72 of the UTF-8 text. Older releases of the
    package (and PHP) dropped the rest silently; release 5 refuses more, for hashing and
    checking alike, so both are given these 72."""
    return password.encode("utf-8")[:_BCRYPT_BYTES]


@attrs.frozen
class BcryptHasher:
    """bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``), on the ``bcrypt`` package."""

    rounds: int = 12
    max_rounds: int = attrs.field(default=14, kw_only=True)

    def __attrs_post_init__(self) -> None:
        _positive("rounds", self.rounds)
        if not _BCRYPT_MIN_COST <= self.rounds <= _BCRYPT_MAX_COST:
            raise InvalidConfiguration(
                "rounds", "range", min=_BCRYPT_MIN_COST, max=_BCRYPT_MAX_COST
            )
        _positive("max_rounds", self.max_rounds)
        if self.max_rounds < self.rounds:
            raise InvalidConfiguration("max_rounds", "not_below", other="rounds")
        try:
            import bcrypt  # noqa: F401, PLC0415 (an optional extra, checked when built)
        except ImportError as error:
            raise InvalidConfiguration("BcryptHasher", "extra", extra="legacy") from error

    def hash(self, password: str) -> str:
        import bcrypt  # noqa: PLC0415

        salt = bcrypt.gensalt(rounds=self.rounds)
        return bcrypt.hashpw(_bcrypt_bytes(password), salt).decode("ascii")

    def identifies(self, encoded: str) -> bool:
        match = _BCRYPT.fullmatch(encoded) if isinstance(encoded, str) else None
        return match is not None and _BCRYPT_MIN_COST <= int(match["cost"]) <= self.max_rounds

    def verify(self, encoded: str, password: str) -> bool:
        import bcrypt  # noqa: PLC0415

        if not self.identifies(encoded):
            return False
        data = _bcrypt_bytes(password)
        stored = encoded.encode("ascii")
        if stored.startswith(b"$2y$"):  # PHP's name for the same algorithm as $2b$
            stored = b"$2b$" + stored[4:]
        try:
            return bool(bcrypt.checkpw(data, stored))
        except ValueError:
            return False

    def needs_rehash(self, encoded: str) -> bool:
        del encoded
        return True
