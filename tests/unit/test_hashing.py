"""Password hashers: Argon2id (the service's own) and the legacy Django PBKDF2 and bcrypt
hashes a host brings along. Each says which stored hashes are its own (``identifies``:
its format, within bounds), verifies them without ever raising, and never computes a
planted hash whose cost is beyond its bounds."""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import time
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import pwrecovery as pr
from tests.helpers import cheap_hasher, half_and_half

PASSWORD = "Caballo azul 77"
PHC = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ENCODED = cheap_hasher().hash(PASSWORD)
# A planted hash is refused "without computing" when it comes back well inside this; the
# hashes planted below would take minutes, or gigabytes, to compute.
FAST = 0.5


def _with_params(encoded: str, m: object, t: object, p: object) -> str:
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


def _timed(function: Callable[[str, str], bool], *args: str) -> tuple[bool, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


# -- Argon2id ------------------------------------------------------------------------


def test_hash_is_a_phc_string_with_the_hasher_parameters() -> None:
    """hash() yields $argon2id$v=19$m=…,t=…,p=…$salt$hash with the configured parameters,
    a 16-byte salt and a 32-byte hash."""
    hasher = pr.Argon2idHasher(memory_cost=16, iterations=2, lanes=2)
    match = PHC.fullmatch(hasher.hash(PASSWORD))
    assert match is not None
    salt = base64.b64decode(match["salt"] + "==")
    digest = base64.b64decode(match["hash"] + "=")
    assert ("16", "2", "2", 16, 32) == (match["m"], match["t"], match["p"], len(salt), len(digest))


def test_verify_accepts_the_right_password_and_refuses_a_wrong_one() -> None:
    """verify() is True for the hashed password and False for any other."""
    hasher = cheap_hasher()
    expected = (True, False)
    assert expected == (hasher.verify(ENCODED, PASSWORD), hasher.verify(ENCODED, "caballo azul 77"))


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    """Every hash has a fresh salt, so one password never hashes to the same string twice."""
    hasher = cheap_hasher()
    first, second = PHC.fullmatch(hasher.hash(PASSWORD)), PHC.fullmatch(hasher.hash(PASSWORD))
    assert first is not None
    assert second is not None
    assert (first["salt"] != second["salt"], first["hash"] != second["hash"]) == (True, True)


@given(encoded=st.text(max_size=200), password=st.text(max_size=50))
def test_verify_never_raises_on_arbitrary_encoded_text(encoded: str, password: str) -> None:
    """verify() returns False, never an exception, for any text given as the encoded hash."""
    assert False is cheap_hasher().verify(encoded, password)


@given(stored=st.text(max_size=30), data=st.data())
@settings(deadline=None)
def test_only_the_hashed_password_matches_its_hash(stored: str, data: st.DataObject) -> None:
    """Against a stored hash, the password hashed matches and every other text is refused,
    without raising."""
    hasher = cheap_hasher()
    encoded = hasher.hash(stored)
    typed = data.draw(half_and_half(st.just(stored), st.text(max_size=60)), label="typed")
    expected = typed == stored
    event("right" if expected else "wrong")
    assert expected == hasher.verify(encoded, typed)


def test_default_bounds_are_four_times_the_hasher_parameters() -> None:
    """By default a hasher identifies hashes up to four times its own memory, passes and
    lanes: for OWASP's 19 MiB, 2 passes, 1 lane that is 76 MiB, 8 passes, 4 lanes."""
    default = pr.Argon2idHasher()
    expected = (19456, 2, 1, 77824, 8, 4)
    actual = (
        default.memory_cost,
        default.iterations,
        default.lanes,
        default.max_memory_cost,
        default.max_iterations,
        default.max_lanes,
    )
    assert expected == actual


@pytest.mark.parametrize(
    ("m", "t", "p", "identified"),
    [
        (8, 1, 1, True),
        (32, 4, 4, True),
        (33, 1, 1, False),
        (32, 5, 1, False),
        (40, 1, 5, False),
        (8, 1, 2, False),
        (7, 1, 1, False),
        (8, 0, 1, False),
        (8, 1, 0, False),
    ],
    ids=[
        "own",
        "at-every-bound",
        "memory-over",
        "passes-over",
        "lanes-over",
        "under-8-kib-per-lane",
        "under-8-kib",
        "no-pass",
        "no-lane",
    ],
)
def test_identifies_hashes_within_four_times_its_parameters(
    m: int, t: int, p: int, identified: bool
) -> None:
    """The cheap hasher (8 KiB, 1 pass, 1 lane) identifies Argon2id hashes up to 32 KiB,
    4 passes and 4 lanes, with at least 8 KiB per lane, and no others."""
    assert identified == cheap_hasher().identifies(_with_params(ENCODED, m, t, p))


def test_a_hash_at_the_bounds_is_verified() -> None:
    """A hash made with four times the cheap hasher's parameters is verified by it."""
    at_bounds = pr.Argon2idHasher(memory_cost=32, iterations=4, lanes=4).hash(PASSWORD)
    assert (True, False) == (
        cheap_hasher().verify(at_bounds, PASSWORD),
        cheap_hasher().verify(at_bounds, "otra"),
    )


def test_explicit_bounds_replace_the_default_ones() -> None:
    """max_* given explicitly are the bounds, tighter or looser than four times."""
    tight = pr.Argon2idHasher(memory_cost=8, iterations=1, max_memory_cost=8)
    loose = pr.Argon2idHasher(memory_cost=8, iterations=1, max_iterations=10)
    expected = (False, True, True)
    actual = (
        tight.identifies(_with_params(ENCODED, 16, 1, 1)),
        loose.identifies(_with_params(ENCODED, 8, 10, 1)),
        tight.identifies(ENCODED),
    )
    assert expected == actual


@pytest.mark.parametrize(
    ("m", "t", "p"),
    [(4194304, 1, 1), (8, 1_000_000, 1), (262144, 16, 255), (9_999_999_999, 1, 1)],
    ids=["m=4GiB", "t=1e6", "p=255", "m=9e9"],
)
def test_a_planted_costly_hash_is_refused_without_computing(m: int, t: int, p: int) -> None:
    """A well-formed Argon2id hash with parameters beyond the bounds is not identified and
    verify() is False at once: computing it would take gigabytes or minutes."""
    planted = _with_params(ENCODED, m, t, p)
    result, elapsed = _timed(cheap_hasher().verify, planted, PASSWORD)
    assert (False, False) == (cheap_hasher().identifies(planted), result)
    assert elapsed < FAST


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


MALFORMED = {
    "empty": "",
    "text": "not a hash",
    "version": ENCODED.replace("$v=19$", "$v=16$"),
    "variant": ENCODED.replace("$argon2id$", "$argon2i$"),
    "trailing": ENCODED + "$",
    "newline": ENCODED + "\n",
    "short-hash": ENCODED[:-22],
    "no-m": ENCODED.replace("$m=8,", "$m=,"),
    "arabic-digits": ENCODED.replace("$m=8,", "$m=\u0668,"),
    "full-width-digits": ENCODED.replace("$v=19$", "$v=\uff11\uff19$"),
}


@pytest.mark.parametrize("encoded", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_hash_is_neither_identified_nor_verified(encoded: str) -> None:
    """A string that is not an ASCII Argon2id v19 PHC string is not the hasher's own and
    never matches."""
    hasher = cheap_hasher()
    assert (False, False) == (hasher.identifies(encoded), hasher.verify(encoded, PASSWORD))


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


@pytest.mark.parametrize("encoded", MALFORMED.values(), ids=MALFORMED.keys())
def test_needs_rehash_is_true_for_a_malformed_hash(encoded: str) -> None:
    """A stored hash that cannot be parsed is always due for a rehash."""
    assert True is REFERENCE.needs_rehash(encoded)


ARGON2_FIELDS = ["memory_cost", "iterations", "lanes", "max_memory_cost", "max_iterations"]


@pytest.mark.parametrize("field", [*ARGON2_FIELDS, "max_lanes"])
@pytest.mark.parametrize("value", [0, -1, True, False, 1.5, "8", None, [8]])
def test_constructor_refuses_non_positive_and_non_integer_parameters(
    field: str, value: object
) -> None:
    """Every parameter and bound must be a positive whole number (booleans are not); the
    error names it, whatever the value (never a TypeError)."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Argon2idHasher(**{field: value})  # type: ignore[arg-type]
    assert (field, "positive_count") == (caught.value.setting, caught.value.rule)


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"memory_cost": 64, "max_memory_cost": 32}, "max_memory_cost"),
        ({"iterations": 3, "max_iterations": 2}, "max_iterations"),
        ({"lanes": 2, "memory_cost": 16, "max_lanes": 1}, "max_lanes"),
        ({"memory_cost": 15, "iterations": 1, "lanes": 2}, "memory_cost"),
    ],
    ids=["memory", "passes", "lanes", "8-kib-per-lane"],
)
def test_constructor_refuses_parameters_it_could_not_verify(
    changes: dict[str, int], setting: str
) -> None:
    """A hasher whose parameters exceed its own bounds, or with less than 8 KiB per lane,
    could not verify its own hashes: refused, naming the setting."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Argon2idHasher(**changes)
    assert (setting, "not_below") == (caught.value.setting, caught.value.rule)


def test_high_parameters_carry_their_bounds_with_them() -> None:
    """Parameters above release 1's fixed bounds are fine: the bounds follow them."""
    hasher = pr.Argon2idHasher(memory_cost=262145, iterations=17, lanes=9)
    expected = (1048580, 68, 36)
    assert expected == (hasher.max_memory_cost, hasher.max_iterations, hasher.max_lanes)


# -- Django's PBKDF2 -----------------------------------------------------------------------


def django_pbkdf2(password: str, salt: str, iterations: int) -> str:
    """What Django's PBKDF2PasswordHasher stores, computed with hashlib, not our code."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode().strip()}"


PBKDF2 = pr.Pbkdf2Hasher(iterations=1000)
DJANGO = django_pbkdf2(PASSWORD, "Q9Oqn3kvDzLsPqFtYwBg2h", 1000)


def test_pbkdf2_verifies_a_django_hash() -> None:
    """A hash as Django makes it verifies for its password and for no other."""
    expected = (True, True, False, False)
    actual = (
        PBKDF2.identifies(DJANGO),
        PBKDF2.verify(DJANGO, PASSWORD),
        PBKDF2.verify(DJANGO, "caballo azul 77"),
        PBKDF2.verify(DJANGO, PASSWORD + " "),
    )
    assert expected == actual


@settings(max_examples=25)
@given(
    password=st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30),
    salt=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789", min_size=1, max_size=22),
    iterations=st.integers(min_value=1, max_value=3000),
)
def test_pbkdf2_verifies_any_django_hash(password: str, salt: str, iterations: int) -> None:
    """For any password (any script), salt and iteration count, a Django hash verifies."""
    assert True is PBKDF2.verify(django_pbkdf2(password, salt, iterations), password)


def test_pbkdf2_hashes_as_django_does() -> None:
    """A hash made by Pbkdf2Hasher is the one Django's algorithm gives for its salt."""
    encoded = PBKDF2.hash(PASSWORD)
    _, iterations, salt, _ = encoded.split("$")
    assert django_pbkdf2(PASSWORD, salt, int(iterations)) == encoded


def test_pbkdf2_iteration_ceiling() -> None:
    """By default hashes of up to 2,000,000 iterations are identified (Django 5.2 makes
    1,000,000); one more is not."""
    default = pr.Pbkdf2Hasher()
    at_ceiling = DJANGO.replace("$1000$", "$2000000$")
    over = DJANGO.replace("$1000$", "$2000001$")
    assert (1_000_000, 2_000_000) == (default.iterations, default.max_iterations)
    assert (True, False) == (default.identifies(at_ceiling), default.identifies(over))


def test_a_planted_costly_pbkdf2_hash_is_refused_without_computing() -> None:
    """A hash claiming 999,999,999 iterations (minutes of work) is False at once."""
    planted = DJANGO.replace("$1000$", "$999999999$")
    result, elapsed = _timed(pr.Pbkdf2Hasher().verify, planted, PASSWORD)
    assert (False, False) == (pr.Pbkdf2Hasher().identifies(planted), result)
    assert elapsed < FAST


PBKDF2_BAD = {
    "other-algorithm": DJANGO.replace("pbkdf2_sha256", "pbkdf2_sha1"),
    "zero-iterations": DJANGO.replace("$1000$", "$0$"),
    "leading-zero": DJANGO.replace("$1000$", "$01000$"),
    "no-salt": "pbkdf2_sha256$1000$$" + DJANGO.rsplit("$", 1)[1],
    "short-hash": DJANGO[:-30],
    "trailing": DJANGO + "$",
}


@pytest.mark.parametrize("encoded", PBKDF2_BAD.values(), ids=PBKDF2_BAD.keys())
def test_pbkdf2_refuses_other_shapes(encoded: str) -> None:
    """Anything but pbkdf2_sha256$<iterations>$<salt>$<hash> is not identified nor verified."""
    assert (False, False) == (PBKDF2.identifies(encoded), PBKDF2.verify(encoded, PASSWORD))


@pytest.mark.parametrize(
    ("encoded", "password"),
    [
        (DJANGO.rsplit("$", 1)[0] + "$!!!!notbase64!!!!", PASSWORD),
        (DJANGO, "clave\ud800"),
        (django_pbkdf2(PASSWORD, "sal", 1000).replace("$sal$", "$s\ud800l$"), PASSWORD),
    ],
    ids=["bad-base64", "surrogate-password", "surrogate-salt"],
)
def test_pbkdf2_never_raises(encoded: str, password: str) -> None:
    """An undecodable hash, or a password or salt that is not valid UTF-8, is False."""
    assert False is PBKDF2.verify(encoded, password)


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"iterations": 0}, "iterations"),
        ({"iterations": None}, "iterations"),
        ({"max_iterations": True}, "max_iterations"),
        ({"iterations": 3000, "max_iterations": 2000}, "max_iterations"),
    ],
)
def test_pbkdf2_constructor_refusals(changes: dict[str, object], setting: str) -> None:
    """Iterations and their ceiling are positive whole numbers, the ceiling not below."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Pbkdf2Hasher(**changes)  # type: ignore[arg-type]
    assert setting == caught.value.setting


# -- bcrypt --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bcrypt_module() -> ModuleType:
    return pytest.importorskip("bcrypt", reason="BcryptHasher needs the bcrypt package")


def bcrypt_hash(bcrypt: ModuleType, password: bytes, prefix: bytes = b"2b") -> str:
    """A hash of cost 4 made by the bcrypt package directly, not by our code."""
    encoded: bytes = bcrypt.hashpw(password, bcrypt.gensalt(rounds=4, prefix=prefix))
    return encoded.decode("ascii")


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
def test_bcrypt_verifies_hashes_made_by_bcrypt(bcrypt_module: ModuleType, prefix: bytes) -> None:
    """$2a$ and $2b$ hashes verify for their password and no other."""
    encoded = bcrypt_hash(bcrypt_module, PASSWORD.encode(), prefix=prefix)
    hasher = pr.BcryptHasher(rounds=4)
    expected = (True, True, False)
    actual = (
        hasher.identifies(encoded),
        hasher.verify(encoded, PASSWORD),
        hasher.verify(encoded, "caballo azul 77"),
    )
    assert expected == actual


def test_bcrypt_accepts_php_2y_hashes(bcrypt_module: ModuleType) -> None:
    """PHP's $2y$ is the same algorithm as $2b$: its hashes verify."""
    encoded = "$2y$" + bcrypt_hash(bcrypt_module, PASSWORD.encode())[4:]
    hasher = pr.BcryptHasher(rounds=4)
    assert (True, True, False) == (
        hasher.identifies(encoded),
        hasher.verify(encoded, PASSWORD),
        hasher.verify(encoded, "otra"),
    )


def test_bcrypt_reads_only_the_first_72_bytes(bcrypt_module: ModuleType) -> None:
    """bcrypt reads 72 bytes of a password: a longer one matches the hash of its first 72
    bytes whatever follows (as in the system the hash came from), and not if those
    differ."""
    long = ("ñ" * 40).encode()  # 80 bytes
    encoded = bcrypt_hash(bcrypt_module, long[:72])
    hasher = pr.BcryptHasher(rounds=4)
    expected = (True, True, False)
    actual = (
        hasher.verify(encoded, "ñ" * 40),
        hasher.verify(encoded, "ñ" * 36 + "something else"),
        hasher.verify(encoded, "ñ" * 35 + "n"),
    )
    assert expected == actual


def test_bcrypt_hash_is_checked_by_bcrypt(bcrypt_module: ModuleType) -> None:
    """A hash made by BcryptHasher has its cost and is accepted by the bcrypt package."""
    encoded = pr.BcryptHasher(rounds=4).hash(PASSWORD)
    assert ("$2b$04$", True) == (
        encoded[:7],
        bcrypt_module.checkpw(PASSWORD.encode(), encoded.encode()),
    )


def test_bcrypt_cost_ceiling(bcrypt_module: ModuleType) -> None:
    """By default costs 4 to 14 are identified; 15 and above, or below 4, are not, and a
    planted cost-31 hash (days of work) is False at once."""
    encoded = bcrypt_hash(bcrypt_module, PASSWORD.encode())
    hasher = pr.BcryptHasher()
    planted = encoded.replace("$04$", "$31$")
    result, elapsed = _timed(hasher.verify, planted, PASSWORD)
    expected = (12, 14, True, False, False, False)
    actual = (
        hasher.rounds,
        hasher.max_rounds,
        hasher.identifies(encoded.replace("$04$", "$14$")),
        hasher.identifies(encoded.replace("$04$", "$15$")),
        hasher.identifies(encoded.replace("$04$", "$03$")),
        result,
    )
    assert expected == actual
    assert elapsed < FAST


@pytest.mark.parametrize(
    ("changes", "setting", "rule"),
    [
        ({"rounds": 0}, "rounds", "positive_count"),
        ({"rounds": 3}, "rounds", "range"),
        ({"rounds": 32, "max_rounds": 40}, "rounds", "range"),
        ({"max_rounds": None}, "max_rounds", "positive_count"),
        ({"rounds": 12, "max_rounds": 11}, "max_rounds", "not_below"),
    ],
)
def test_bcrypt_constructor_refusals(
    bcrypt_module: ModuleType, changes: dict[str, object], setting: str, rule: str
) -> None:
    """The cost is one bcrypt accepts (4 to 31), the ceiling a whole number not below it."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.BcryptHasher(**changes)  # type: ignore[arg-type]
    assert (setting, rule) == (caught.value.setting, caught.value.rule)


def test_bcrypt_without_its_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the bcrypt package the hasher is refused when built, naming the extra to
    install, rather than failing at the first sign-in."""
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # what an absent package imports as
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.BcryptHasher()
    expected = ("BcryptHasher", "extra", {"extra": "legacy"})
    assert expected == (caught.value.setting, caught.value.rule, caught.value.rule_params)


# -- one hasher per stored hash ------------------------------------------------------------


def test_no_hasher_identifies_another_ones_hashes(bcrypt_module: ModuleType) -> None:
    """Each hasher identifies its own format only, so a service with legacy hashers knows
    which one checks a stored hash."""
    hashers = {
        "argon2id": cheap_hasher(),
        "pbkdf2": PBKDF2,
        "bcrypt": pr.BcryptHasher(rounds=4),
    }
    hashes = {
        "argon2id": ENCODED,
        "pbkdf2": DJANGO,
        "bcrypt": bcrypt_hash(bcrypt_module, PASSWORD.encode()),
    }
    expected = {(h, f): h == f for h in hashers for f in hashes}
    actual = {(h, f): hashers[h].identifies(hashes[f]) for h in hashers for f in hashes}
    assert expected == actual


def test_hashers_are_password_hashers(bcrypt_module: ModuleType) -> None:
    """Every hasher implements the PasswordHasher port."""
    hashers = [cheap_hasher(), PBKDF2, pr.BcryptHasher(rounds=4)]
    assert [True] * 3 == [isinstance(h, pr.PasswordHasher) for h in hashers]


@pytest.mark.parametrize("encoded", [ENCODED, DJANGO, ""])
def test_legacy_hashes_always_need_a_rehash(encoded: str) -> None:
    """A legacy hash is always replaced by the service's own at the first sign-in."""
    assert True is PBKDF2.needs_rehash(encoded)
