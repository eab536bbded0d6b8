"""The legacy hashers against each algorithm's own reference: hashlib's PBKDF2 in Django's
format, and the bcrypt package."""

from __future__ import annotations

import time

import bcrypt
import pytest

import pwrecovery as pr
from tests.legacy_hashes import OLD_PASSWORD, bcrypt_hash, django_pbkdf2


@pytest.mark.parametrize("iterations", [1, 1000, 260_000])
def test_pbkdf2_verifies_hashlibs_django_format(iterations: int) -> None:
    """A ``pbkdf2_sha256$…`` string made with hashlib verifies with its password only."""
    encoded = django_pbkdf2(OLD_PASSWORD, "unaSalCualquiera", iterations)
    hasher = pr.Pbkdf2Hasher()
    assert (True, True, False) == (
        hasher.identifies(encoded),
        hasher.verify(encoded, OLD_PASSWORD),
        hasher.verify(encoded, OLD_PASSWORD + " "),
    )


def test_pbkdf2_writes_what_hashlib_computes() -> None:
    """``Pbkdf2Hasher.hash`` writes Django's format: hashlib, given its salt and
    iterations, computes the same string."""
    encoded = pr.Pbkdf2Hasher(iterations=1000).hash(OLD_PASSWORD)
    _, iterations, salt, _ = encoded.split("$")
    assert django_pbkdf2(OLD_PASSWORD, salt, int(iterations)) == encoded


@pytest.mark.parametrize(
    "encoded",
    [
        "pbkdf2_sha256$2000001$sal$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2_sha256$0$sal$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2_sha1$1000$sal$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2_sha256$1000$$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdA==",
        "pbkdf2_sha256$1000$sal$no-es-base64",
        "",
    ],
)
def test_pbkdf2_refuses_what_it_should_not_compute(encoded: str) -> None:
    """A hash above ``max_iterations`` (planted to stall a sign-in), of another digest, or
    malformed is not identified and verifies nothing, at once."""
    hasher = pr.Pbkdf2Hasher()
    started = time.perf_counter()
    assert (False, False) == (hasher.identifies(encoded), hasher.verify(encoded, OLD_PASSWORD))
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
def test_bcrypt_verifies_the_bcrypt_packages_hashes(prefix: bytes) -> None:
    """A hash made by the bcrypt package verifies with its password only, as does PHP's
    ``$2y$`` name for the same hash."""
    encoded = bcrypt_hash(OLD_PASSWORD, prefix=prefix)
    php = "$2y$" + encoded[4:]
    hasher = pr.BcryptHasher()
    assert (True, True, False, True) == (
        hasher.identifies(encoded),
        hasher.verify(encoded, OLD_PASSWORD),
        hasher.verify(encoded, "Clave de 2020"),
        hasher.verify(php, OLD_PASSWORD),
    )


def test_bcrypt_reads_the_first_72_bytes_as_older_releases_did() -> None:
    """bcrypt reads 72 bytes of a password; older releases of the package (and PHP)
    dropped the rest silently, so a long password hashed by them verifies in full."""
    long = "Mi clave es muy larga y tiene eñes: " + "ñ" * 40
    made_then = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert pr.BcryptHasher().verify(made_then, long)


@pytest.mark.parametrize(
    "encoded",
    ["$2b$15$" + "a" * 53, "$2b$03$" + "a" * 53, "$2x$04$" + "a" * 53, "$2b$04$short"],
)
def test_bcrypt_refuses_what_it_should_not_compute(encoded: str) -> None:
    """A cost above ``max_rounds``, below bcrypt's 4, another variant, or a malformed
    hash is not identified and verifies nothing."""
    hasher = pr.BcryptHasher()
    assert (False, False) == (hasher.identifies(encoded), hasher.verify(encoded, OLD_PASSWORD))


def test_bcrypt_hashes_a_password_over_72_bytes() -> None:
    """``BcryptHasher.hash`` takes any password the policy allows (up to 128 characters,
    far over 72 bytes in UTF-8) and its hash verifies it; the bcrypt package refuses more
    than 72 bytes since release 5, so the hasher gives it the 72 bcrypt reads."""
    long = "ñ" * 128
    hasher = pr.BcryptHasher(rounds=4)
    assert hasher.verify(hasher.hash(long), long)


@pytest.mark.parametrize("rounds", [3, 32])
def test_bcrypt_rounds_outside_what_bcrypt_accepts_are_a_configuration_error(
    rounds: int,
) -> None:
    """bcrypt's cost runs from 4 to 31: anything else is refused when the hasher is
    built, not at the first hash."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.BcryptHasher(rounds=rounds, max_rounds=max(rounds, 14))
    assert ("rounds", "range", {"min": 4, "max": 31}) == (
        caught.value.setting,
        caught.value.rule,
        caught.value.rule_params,
    )
