"""The default Argon2idHasher: OWASP's minimum parameters (design §3), and rehash on upgrade."""

from __future__ import annotations

import re

import pwrecovery as pr
from tests.helpers import cheap_hasher

PHC = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
PASSWORD = "Tortuga verde 2026"


def test_default_hasher_uses_19_mib_two_passes_one_lane() -> None:
    """Argon2idHasher() writes m=19456, t=2, p=1 into its hashes."""
    match = PHC.fullmatch(pr.Argon2idHasher().hash(PASSWORD))
    assert match is not None
    assert (19456, 2, 1) == (int(match["m"]), int(match["t"]), int(match["p"]))


def test_default_hasher_verifies_its_own_hash() -> None:
    """A default hash verifies with its password, not with another, and needs no rehash."""
    hasher = pr.Argon2idHasher()
    encoded = hasher.hash(PASSWORD)
    assert (True, False, False) == (
        hasher.verify(encoded, PASSWORD),
        hasher.verify(encoded, PASSWORD + "!"),
        hasher.needs_rehash(encoded),
    )


def test_cheap_hash_verifies_under_the_default_hasher_and_needs_a_rehash() -> None:
    """A hash from weaker parameters still signs the user in, and is due for an upgrade."""
    encoded = cheap_hasher().hash(PASSWORD)
    default = pr.Argon2idHasher()
    assert (True, True) == (default.verify(encoded, PASSWORD), default.needs_rehash(encoded))
