"""Argon2idHasher (DESIGN §1.8, §2 ports): PHC strings, bounds, rehash decisions."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pwrecovery as pr
from tests.helpers import cheap_hasher

PHC = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
PASSWORD = "Caballo azul 77"
ENCODED = cheap_hasher().hash(PASSWORD)


def _with_params(encoded: str, m: int, t: int, p: int) -> str:
    """The same salt and hash, with other parameters written in front of them."""
    match = PHC.fullmatch(encoded)
    assert match is not None
    return f"$argon2id$v=19$m={m},t={t},p={p}${match['salt']}${match['hash']}"


def _replace_char(text: str, index: int) -> str:
    """``text`` with the character at ``index`` changed in its most significant bit.

    The top bit of every base64 character is a data bit (the padding bits of
    the last character are its low ones), so the decoded bytes always change.
    """
    value = B64.index(text[index])
    return text[:index] + B64[value ^ 32] + text[index + 1 :]


def test_hash_is_a_phc_string_with_the_hasher_parameters() -> None:
    """hash() yields $argon2id$v=19$m=…,t=…,p=…$salt$hash with the configured parameters."""
    hasher = pr.Argon2idHasher(memory_cost=16, iterations=2, lanes=2)
    match = PHC.fullmatch(hasher.hash(PASSWORD))
    assert match is not None
    assert ("16", "2", "2") == (match["m"], match["t"], match["p"])


def test_verify_accepts_the_right_password_and_refuses_a_wrong_one() -> None:
    """verify() is True for the hashed password and False for any other."""
    hasher = cheap_hasher()
    assert (True, False) == (
        hasher.verify(ENCODED, PASSWORD),
        hasher.verify(ENCODED, "caballo azul 77"),
    )


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    """Every hash has a fresh salt, so one password never hashes to the same string twice."""
    hasher = cheap_hasher()
    first, second = PHC.fullmatch(hasher.hash(PASSWORD)), PHC.fullmatch(hasher.hash(PASSWORD))
    assert first is not None
    assert second is not None
    assert first["salt"] != second["salt"]
    assert first["hash"] != second["hash"]


@given(encoded=st.text(max_size=200), password=st.text(max_size=50))
def test_verify_never_raises_on_arbitrary_encoded_text(encoded: str, password: str) -> None:
    """verify() returns False, never an exception, for any text given as the encoded hash."""
    assert False is cheap_hasher().verify(encoded, password)


@given(password=st.text(max_size=60))
@settings(deadline=None)
def test_only_the_right_password_matches_a_fixed_hash(password: str) -> None:
    """Against one stored hash, every password but the hashed one is refused, without raising."""
    assert (password == PASSWORD) == cheap_hasher().verify(ENCODED, password)


@pytest.mark.parametrize(
    ("m", "t", "p"),
    [(4194304, 1, 1), (19456, 1000, 1), (262144, 16, 255)],
    ids=["m=4GiB", "t=1000", "p=255"],
)
def test_out_of_bounds_parameters_are_refused_without_computing(m: int, t: int, p: int) -> None:
    """A well-formed PHC string with parameters beyond the max_* bounds is False, at once."""
    planted = _with_params(ENCODED, m, t, p)
    started = time.perf_counter()
    result = cheap_hasher().verify(planted, PASSWORD)
    elapsed = time.perf_counter() - started
    assert False is result
    assert elapsed < 1.0


@pytest.mark.parametrize("part", ["salt", "hash"])
def test_tampering_with_any_character_of_salt_or_hash_breaks_verification(part: str) -> None:
    """Changing any one character of the salt or the hash makes the right password fail."""
    hasher = cheap_hasher()
    match = PHC.fullmatch(ENCODED)
    assert match is not None
    start, end = match.span(part)
    results = {
        index: hasher.verify(
            ENCODED[:start] + _replace_char(ENCODED[start:end], index - start) + ENCODED[end:],
            PASSWORD,
        )
        for index in range(start, end)
    }
    assert dict.fromkeys(range(start, end), False) == results


@pytest.mark.parametrize("password", ["\ud800", "clave\udfff", "\udc80\ud800"])
def test_lone_surrogate_password_is_refused_without_an_exception(password: str) -> None:
    """A password that cannot be encoded as UTF-8 simply does not match."""
    assert False is cheap_hasher().verify(ENCODED, password)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "not a hash",
        ENCODED.replace("$v=19$", "$v=16$"),
        ENCODED.replace("$argon2id$", "$argon2i$"),
        ENCODED + "$",
        ENCODED[:-5],
        ENCODED.replace("$m=8,", "$m=,"),
    ],
    ids=["empty", "text", "version", "variant", "trailing", "short-hash", "no-m"],
)
def test_malformed_hash_is_refused(encoded: str) -> None:
    """A string that is not an Argon2id v19 PHC string never matches."""
    assert False is cheap_hasher().verify(encoded, PASSWORD)


REFERENCE = pr.Argon2idHasher(memory_cost=32, iterations=2, lanes=2)


@pytest.mark.parametrize(
    ("m", "t", "p", "expected"),
    [
        (16, 2, 2, True),
        (32, 1, 2, True),
        (32, 2, 1, True),
        (64, 2, 4, True),
        (32, 2, 2, False),
        (64, 2, 2, False),
        (32, 3, 2, False),
        (64, 4, 2, False),
    ],
    ids=[
        "lower-m",
        "lower-t",
        "fewer-lanes",
        "more-lanes",
        "equal",
        "higher-m",
        "higher-t",
        "higher-m-and-t",
    ],
)
def test_needs_rehash_compares_parameters(m: int, t: int, p: int, expected: bool) -> None:
    """A rehash is due for lower memory or passes or other lanes; not for equal or higher."""
    encoded = pr.Argon2idHasher(memory_cost=m, iterations=t, lanes=p).hash(PASSWORD)
    assert expected == REFERENCE.needs_rehash(encoded)


@pytest.mark.parametrize(
    "encoded", ["", "not a hash", ENCODED[:-5], ENCODED.replace("v=19", "v=1")]
)
def test_needs_rehash_is_true_for_a_malformed_hash(encoded: str) -> None:
    """A stored hash that cannot be parsed is always due for a rehash."""
    assert True is REFERENCE.needs_rehash(encoded)


@pytest.mark.parametrize(
    "field",
    ["memory_cost", "iterations", "lanes", "max_memory_cost", "max_iterations", "max_lanes"],
)
@pytest.mark.parametrize("value", [0, -1, True, False, 1.5, "8", None])
def test_constructor_refuses_non_positive_and_non_integer_parameters(
    field: str, value: object
) -> None:
    """Every parameter and bound must be a positive whole number; booleans are not numbers."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Argon2idHasher(**{field: value})  # type: ignore[arg-type]
    assert field == caught.value.setting


@pytest.mark.parametrize(
    "changes",
    [
        {"memory_cost": 262145},
        {"iterations": 17},
        {"lanes": 9},
        {"memory_cost": 64, "max_memory_cost": 32},
        {"iterations": 3, "max_iterations": 2},
        {"lanes": 2, "max_lanes": 1},
    ],
)
def test_constructor_refuses_parameters_above_its_own_bounds(changes: dict[str, int]) -> None:
    """A hasher whose parameters exceed its max_* bounds could not verify its own hashes."""
    with pytest.raises(pr.InvalidConfiguration):
        pr.Argon2idHasher(**changes)


def test_constructor_refuses_less_than_8_kib_per_lane() -> None:
    """Argon2 needs at least 8 KiB of memory per lane."""
    with pytest.raises(pr.InvalidConfiguration):
        pr.Argon2idHasher(memory_cost=15, iterations=1, lanes=2)


def test_hasher_is_a_password_hasher() -> None:
    """Argon2idHasher implements the PasswordHasher port."""
    assert isinstance(cheap_hasher(), pr.PasswordHasher)
