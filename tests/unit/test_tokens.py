"""Temporary passwords, verification codes and their entropy (DESIGN §3)."""

from __future__ import annotations

import math
import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.tokens import (
    TEMPORARY_PASSWORD_ALPHABET,
    VERIFICATION_CODE_ALPHABET,
    VERIFICATION_CODE_LENGTH,
    entropy_bits,
    generate_temporary_password,
    generate_verification_code,
    normalize_code,
)

LOOK_ALIKES = "0O1lI"


class Cycle:
    """A deterministic ``randbelow`` that returns 0, 1, 2, … modulo its argument."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, n: int) -> int:
        result = len(self.calls) % n
        self.calls.append(n)
        return result


def test_alphabet_has_no_look_alikes() -> None:
    """The temporary-password alphabet leaves out 0, O, 1, l and I."""
    assert set() == set(TEMPORARY_PASSWORD_ALPHABET) & set(LOOK_ALIKES)


def test_alphabet_is_ascii_letters_and_digits_only() -> None:
    """Every symbol of the alphabet is an ASCII letter or digit, and none repeats."""
    allowed = set(string.ascii_letters + string.digits)
    assert set() == set(TEMPORARY_PASSWORD_ALPHABET) - allowed
    assert len(set(TEMPORARY_PASSWORD_ALPHABET)) == len(TEMPORARY_PASSWORD_ALPHABET)


def test_alphabet_is_every_letter_and_digit_but_the_look_alikes() -> None:
    """Nothing else is left out: the alphabet is letters and digits minus 0 O 1 l I."""
    expected = set(string.ascii_letters + string.digits) - set(LOOK_ALIKES)
    assert expected == set(TEMPORARY_PASSWORD_ALPHABET)


@given(length=st.integers(min_value=0, max_value=64), rnd=st.randoms(use_true_random=False))
def test_temporary_password_has_the_length_asked(length: int, rnd: random.Random) -> None:
    """The generator returns exactly ``length`` symbols."""
    assert length == len(generate_temporary_password(rnd.randrange, length))


@given(length=st.integers(min_value=1, max_value=64), rnd=st.randoms(use_true_random=False))
def test_temporary_password_symbols_come_from_the_alphabet(length: int, rnd: random.Random) -> None:
    """Every symbol of a temporary password is in the alphabet."""
    password = generate_temporary_password(rnd.randrange, length)
    assert set() == set(password) - set(TEMPORARY_PASSWORD_ALPHABET)


def test_default_length_gives_at_least_64_bits() -> None:
    """The default 12 symbols of the alphabet carry at least 64 bits."""
    length = pr.Policy().temporary_password_length
    assert 12 == length
    assert entropy_bits(TEMPORARY_PASSWORD_ALPHABET, length) >= 64


def test_entropy_bits_is_length_times_log2_of_alphabet_size() -> None:
    """Entropy of uniform draws is length * log2(|alphabet|)."""
    assert math.isclose(12 * math.log2(57), entropy_bits(TEMPORARY_PASSWORD_ALPHABET, 12))
    assert math.isclose(8 * math.log2(10), entropy_bits(VERIFICATION_CODE_ALPHABET, 8))


def test_every_alphabet_symbol_is_reachable() -> None:
    """Driving randbelow through 0..n-1 yields every symbol, in alphabet order."""
    size = len(TEMPORARY_PASSWORD_ALPHABET)
    assert TEMPORARY_PASSWORD_ALPHABET == generate_temporary_password(Cycle(), size)


def test_randbelow_is_called_with_the_alphabet_size() -> None:
    """One draw per symbol, each over the whole alphabet (no modulo bias from a smaller range)."""
    randbelow = Cycle()
    generate_temporary_password(randbelow, 12)
    assert [len(TEMPORARY_PASSWORD_ALPHABET)] * 12 == randbelow.calls


def test_verification_code_draws_over_ten_digits() -> None:
    """The code asks randbelow for 0..9, once per digit."""
    randbelow = Cycle()
    code = generate_verification_code(randbelow)
    assert [10] * VERIFICATION_CODE_LENGTH == randbelow.calls
    assert "01234567" == code


@given(rnd=st.randoms(use_true_random=False))
def test_verification_code_is_eight_digits(rnd: random.Random) -> None:
    """A verification code is exactly eight ASCII digits."""
    code = generate_verification_code(rnd.randrange)
    assert 8 == len(code)
    assert set() == set(code) - set(string.digits)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12345678", "12345678"),
        ("1234 5678", "12345678"),
        ("1234-5678", "12345678"),
        (" 12 34-56 78 ", "12345678"),
        ("12-34-56-78", "12345678"),
    ],
)
def test_normalize_code_drops_spaces_and_dashes(typed: str, expected: str) -> None:
    """A code typed with spaces or dashes between digits means the same code."""
    assert expected == normalize_code(typed)


@given(
    digits=st.text(alphabet=string.digits, min_size=1, max_size=12),
    separators=st.lists(st.sampled_from([" ", "-"]), max_size=12),
    positions=st.lists(st.integers(min_value=0, max_value=12), max_size=12),
)
def test_normalize_code_ignores_separators_anywhere(
    digits: str, separators: list[str], positions: list[int]
) -> None:
    """Spaces and dashes inserted anywhere are dropped; the digits stay in order."""
    typed = digits
    for separator, position in zip(separators, positions, strict=False):
        index = min(position, len(typed))
        typed = typed[:index] + separator + typed[index:]
    assert digits == normalize_code(typed)


def test_policy_refuses_a_temporary_length_below_64_bits() -> None:
    """A temporary password length that gives fewer than 64 bits is refused."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(temporary_password_length=10)
    assert "temporary_password_length" == caught.value.setting


def test_policy_accepts_the_shortest_length_with_64_bits() -> None:
    """Eleven symbols give just over 64 bits, so they are allowed."""
    assert entropy_bits(TEMPORARY_PASSWORD_ALPHABET, 11) >= 64
    assert 11 == pr.Policy(temporary_password_length=11).temporary_password_length
