"""Temporary passwords (grouped by four with hyphens), verification codes, entropy."""

from __future__ import annotations

import math
import random
import re
import string

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.passwords import password_problems
from pwrecovery._domain.tokens import (
    TEMPORARY_PASSWORD_ALPHABET,
    VERIFICATION_CODE_ALPHABET,
    VERIFICATION_CODE_LENGTH,
    entropy_bits,
    generate_temporary_password,
    generate_verification_code,
    group,
    normalize_code,
    temporary_form,
)
from tests.helpers import half_and_half

LOOK_ALIKES = "0O1lI"
ALPHABET = TEMPORARY_PASSWORD_ALPHABET
POLICY = pr.Policy()


class Cycle:
    """A deterministic ``randbelow`` that returns 0, 1, 2, … modulo its argument."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, n: int) -> int:
        result = len(self.calls) % n
        self.calls.append(n)
        return result


def symbols(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=ALPHABET, min_size=length, max_size=length)


# -- the alphabet --------------------------------------------------------------------


def test_alphabet_is_every_letter_and_digit_but_the_look_alikes() -> None:
    """The alphabet is ASCII letters and digits without 0 O 1 l I, each once."""
    expected = set(string.ascii_letters + string.digits) - set(LOOK_ALIKES)
    assert (expected, len(expected)) == (set(ALPHABET), len(ALPHABET))


# -- grouping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "grouped"),
    [
        ("", ""),
        ("Kx7", "Kx7"),
        ("Kx7P", "Kx7P"),
        ("Kx7Pm", "Kx7P-m"),
        ("Kx7PmQ2", "Kx7P-mQ2"),
        ("Kx7PmQ2zH9a", "Kx7P-mQ2z-H9a"),
        ("Kx7PmQ2zH9aB", "Kx7P-mQ2z-H9aB"),
        ("Kx7PmQ2zH9aBc", "Kx7P-mQ2z-H9aB-c"),
    ],
)
def test_group_writes_symbols_in_fours(raw: str, grouped: str) -> None:
    """Symbols are written in groups of four joined by hyphens; the last group holds
    what is left (one to four)."""
    assert grouped == group(raw)


@given(length=st.integers(min_value=1, max_value=64), rnd=st.randoms(use_true_random=False))
def test_a_temporary_password_is_its_symbols_grouped(length: int, rnd: random.Random) -> None:
    """A temporary password is ``length`` symbols of the alphabet plus one hyphen between
    groups of four: length + (length - 1) // 4 characters."""
    password = generate_temporary_password(rnd.randrange, length)
    drawn = password.replace("-", "")
    assert length + (length - 1) // 4 == len(password)
    assert (length, set()) == (len(drawn), set(drawn) - set(ALPHABET))
    assert group(drawn) == password


def test_the_default_temporary_password_has_three_groups() -> None:
    """With the default 12 symbols: three groups of four, like Kx7P-mQ2z-H9aB."""
    length = POLICY.temporary_password_length
    assert "2345-6789-ABCD" == generate_temporary_password(Cycle(), length)


def test_every_alphabet_symbol_is_reachable_in_order() -> None:
    """Driving randbelow through 0..n-1 yields every symbol, in alphabet order, grouped."""
    assert group(ALPHABET) == generate_temporary_password(Cycle(), len(ALPHABET))


def test_randbelow_is_asked_over_the_whole_alphabet_once_per_symbol() -> None:
    """One draw per symbol, each over all 57 symbols (no modulo bias from a smaller range),
    and none for the separators."""
    randbelow = Cycle()
    generate_temporary_password(randbelow, 12)
    assert [57] * 12 == randbelow.calls


# -- recognising a typed temporary password ---------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Kx7P-mQ2z-H9aB", "Kx7P-mQ2z-H9aB"),
        ("Kx7P mQ2z H9aB", "Kx7P-mQ2z-H9aB"),
        ("Kx7P-mQ2z H9aB", "Kx7P-mQ2z-H9aB"),
        ("  Kx7P-mQ2z-H9aB \t", "Kx7P-mQ2z-H9aB"),
        ("Kx7P-mQ2z-H9a", "Kx7P-mQ2z-H9a"),
        ("Kx7P-m", "Kx7P-m"),
        ("Kx7P-mQ2z", "Kx7P-mQ2z"),
    ],
    ids=["canonical", "spaces", "mixed", "surrounded", "short-last", "one-symbol-last", "two"],
)
def test_temporary_form_accepts_the_ways_people_type_it(typed: str, canonical: str) -> None:
    """The canonical form, single spaces instead of hyphens and surrounding spaces are
    recognised, and give the canonical form."""
    assert canonical == temporary_form(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "Kx7P",
        "Kx7PmQ2zH9aB",
        "Kx7Pm-Q2zH-9aBc",
        "Kx7P-mQ2zH-9aB",
        "Kx7P-mQ2-zH9a",
        "Kx7P-mQ2z-H9aBc",
        "Kx7P--mQ2z-H9aB",
        "Kx7P  mQ2z H9aB",
        "-Kx7P-mQ2z-H9aB",
        "Kx7P-mQ2z-H9aB-",
        "Kx7P-mQ2z-H9a0",
        "Kx7P-mOQ2-H9aB",
        "1x7P-mQ2z-H9aB",
        "Kx7P-mQ2z-H9lB",
        "Kx7P-mQ2z-I9aB",
        "Kx7P_mQ2z_H9aB",
        "Kx7P.mQ2z.H9aB",
        "Kx7P–mQ2z–H9aB",
        "Kx7P\tmQ2z\tH9aB",
        "Kx7P-mQ2z-H9aB\nx",
        "Kx7P-mQ2z-Ñ9aB",
        group("a" * 65),
    ],
    ids=[
        "empty",
        "one-group",
        "unseparated",
        "five-symbol-group",
        "eight-symbol-group",
        "three-symbol-middle",
        "five-symbol-last",
        "empty-group",
        "double-space",
        "leading-hyphen",
        "trailing-hyphen",
        "zero",
        "capital-o",
        "one",
        "small-l",
        "capital-i",
        "underscore",
        "dot",
        "en-dash",
        "tab",
        "line-break",
        "accented",
        "sixty-five-symbols",
    ],
)
def test_temporary_form_refuses_anything_else(typed: str) -> None:
    """One group, a group of five, an empty group, a look-alike, another separator or more
    than 64 symbols: not a temporary password."""
    assert temporary_form(typed) is None


def test_the_longest_temporary_password_is_recognised() -> None:
    """64 symbols, the longest a policy allows, are recognised; 65 are not."""
    longest = group("a" * 64)
    assert (longest, None) == (temporary_form(longest), temporary_form(group("a" * 65)))


@given(length=st.integers(min_value=5, max_value=64), rnd=st.randoms(use_true_random=False))
def test_every_temporary_password_made_is_recognised(length: int, rnd: random.Random) -> None:
    """Whatever its length (five symbols or more: two groups), a temporary password made
    is recognised as itself, also typed with spaces and surrounded by them."""
    password = generate_temporary_password(rnd.randrange, length)
    spaced = " " + password.replace("-", " ") + "  "
    assert (password, password) == (temporary_form(password), temporary_form(spaced))


@given(
    password=st.integers(min_value=5, max_value=64).flatmap(symbols).map(group),
    data=st.data(),
)
def test_a_look_alike_anywhere_is_refused(password: str, data: st.DataObject) -> None:
    """Putting 0, O, 1, l or I in place of any symbol makes the text not a temporary
    password."""
    positions = [i for i, ch in enumerate(password) if ch != "-"]
    index = data.draw(st.sampled_from(positions))
    bad = data.draw(st.sampled_from(LOOK_ALIKES))
    assert temporary_form(password[:index] + bad + password[index + 1 :]) is None


def has_the_form(typed: str) -> bool:
    """The rule, written independently: two groups or more split by single hyphens or
    spaces, every symbol from the alphabet, all groups of four but the last (one to four),
    at most 64 symbols; surrounding whitespace is ignored."""
    groups = re.split(r"[- ]", typed.strip())
    return (
        len(groups) >= 2
        and all(set(g) <= set(ALPHABET) for g in groups)
        and all(len(g) == 4 for g in groups[:-1])
        and 1 <= len(groups[-1]) <= 4
        and len("".join(groups)) <= 64
    )


@st.composite
def near_forms(draw: st.DrawFn, *, spoilt: bool | None = None) -> str:
    """A temporary password of 1 to 66 symbols, typed with hyphens or spaces, and slightly
    spoilt (a character replaced, removed or added): always, never, or (None) half the
    time."""
    text = group(draw(st.integers(min_value=1, max_value=66).flatmap(symbols)))
    text = "".join(draw(st.sampled_from("- ")) if ch == "-" else ch for ch in text)
    if draw(st.booleans()) if spoilt is None else spoilt:
        index = draw(st.integers(min_value=0, max_value=len(text)))
        spoiler = draw(st.sampled_from([*LOOK_ALIKES, "-", " ", "_", "x", "ñ", "\n"]))
        how = draw(st.sampled_from(["replace", "remove", "add"]))
        if how == "add":
            text = text[:index] + spoiler + text[index:]
        elif how == "remove":
            text = text[:index] + text[index + 1 :]
        else:
            text = text[:index] + spoiler + text[index + 1 :]
    return text


NEAR_FORMS = near_forms()


@given(typed=st.one_of(NEAR_FORMS, st.text(max_size=30)), padding=st.sampled_from(["", " ", "\t"]))
def test_temporary_form_follows_the_rule_for_any_text(typed: str, padding: str) -> None:
    """For any text, mostly texts close to the form: it is recognised exactly when the
    rule (written independently here) says so, and then as its canonical form."""
    expected = has_the_form(typed + padding)
    event("has the form" if expected else "has not")
    result = temporary_form(padding + typed + padding)
    assert expected == (result is not None)
    if result is not None:
        assert typed.strip().replace(" ", "-") == result


@given(
    password=half_and_half(
        st.integers(min_value=5, max_value=64)
        .flatmap(symbols)
        .map(group)
        .flatmap(lambda p: st.sampled_from([p, p.replace("-", " "), f" {p} "])),
        near_forms(spoilt=True),
    )
)
def test_no_text_of_the_form_can_become_an_ordinary_password(password: str) -> None:
    """A new password that has the temporary form is refused for it, so that a typed
    text is only ever checked against the one hash its form picks."""
    reasons = password_problems(password, login="juan", policy=POLICY, common=frozenset())
    expected = temporary_form(password) is not None
    event("has the form" if expected else "has not")
    assert expected == ("temporary_form" in reasons)


def test_full_width_text_of_the_form_is_refused_as_a_password() -> None:
    """NFKC comes first: full-width symbols and hyphens of the form are the form."""
    reasons = password_problems(
        "Ｋｘ７Ｐ－ｍＱ２ｚ－Ｈ９ａＢ", login="juan", policy=POLICY, common=frozenset()
    )
    assert ("temporary_form",) == reasons


# -- verification codes ------------------------------------------------------------------


def test_verification_code_draws_over_ten_digits() -> None:
    """The code asks randbelow for 0..9, once per digit, and uses the digits in order."""
    randbelow = Cycle()
    code = generate_verification_code(randbelow)
    assert ([10] * VERIFICATION_CODE_LENGTH, "01234567") == (randbelow.calls, code)


@given(rnd=st.randoms(use_true_random=False))
def test_verification_code_is_eight_digits(rnd: random.Random) -> None:
    """A verification code is exactly eight ASCII digits."""
    assert re.fullmatch("[0-9]{8}", generate_verification_code(rnd.randrange))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12345678", "12345678"),
        ("1234 5678", "12345678"),
        ("1234-5678", "12345678"),
        (" 12 34-56 78 ", "12345678"),
        ("12-34-56-78", "12345678"),
        ("1234\t5678", "12345678"),
        ("1234.5678", "1234.5678"),
        ("1234X5678", "1234X5678"),
        ("l2345678", "l2345678"),
    ],
)
def test_normalize_code_drops_spaces_tabs_and_dashes(typed: str, expected: str) -> None:
    """A code typed with spaces, tabs or dashes between digits means the same code; other
    characters stay (and so do not match)."""
    assert expected == normalize_code(typed)


@given(
    digits=st.text(alphabet=string.digits, min_size=1, max_size=12),
    separators=st.lists(st.sampled_from([" ", "-", "\t"]), max_size=12),
    positions=st.lists(st.integers(min_value=0, max_value=12), max_size=12),
)
def test_normalize_code_ignores_separators_anywhere(
    digits: str, separators: list[str], positions: list[int]
) -> None:
    """Spaces, tabs and dashes inserted anywhere are dropped; the digits stay in order."""
    typed = digits
    for separator, position in zip(separators, positions, strict=False):
        index = min(position, len(typed))
        typed = typed[:index] + separator + typed[index:]
    assert digits == normalize_code(typed)


def test_normalize_code_reads_only_the_first_64_characters() -> None:
    """A huge input is cut before it is read: only its first 64 characters count."""
    assert "1" * 64 == normalize_code("1" * 1_000_000)


# -- entropy -----------------------------------------------------------------------------


def test_entropy_bits_is_length_times_log2_of_alphabet_size() -> None:
    """Entropy of uniform draws is length · log2(|alphabet|)."""
    expected = (12 * math.log2(57), 8 * math.log2(10))
    actual = (entropy_bits(ALPHABET, 12), entropy_bits(VERIFICATION_CODE_ALPHABET, 8))
    assert all(math.isclose(e, a) for e, a in zip(expected, actual, strict=True))


@pytest.mark.parametrize(
    ("length", "rule"),
    [(10, "min_bits"), (11, None), (12, None), (64, None), (65, "range")],
)
def test_policy_temporary_length_needs_64_bits_and_at_most_64_symbols(
    length: int, rule: str | None
) -> None:
    """Eleven symbols are the fewest with 64 bits; 64 the most the form recognises."""
    assert (rule, "temporary_password_length") == refusal(temporary_password_length=length)


def refusal(**settings: object) -> tuple[str | None, str | None]:
    """The rule and setting a Policy is refused for, or (None, the setting) if accepted."""
    try:
        pr.Policy(**settings)  # type: ignore[arg-type]
    except pr.InvalidConfiguration as error:
        return error.rule, error.setting
    return None, next(iter(settings))
