"""Logins: how they are written (NFKC, stripped) and matched (case-folded)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.logins import (
    MAX_LOGIN_LENGTH,
    login_key,
    normalize_display_name,
    normalize_login,
)


def test_login_is_stripped() -> None:
    """Surrounding spaces are not part of a login."""
    assert "Juan" == normalize_login("  Juan \t")


def test_login_is_nfkc_normalised_but_keeps_case() -> None:
    """Full-width letters fold to ASCII; the case is kept for display."""
    assert "JUAN" == normalize_login("ＪＵＡＮ")
    assert "Juan" == normalize_login("Juan")


def test_spellings_of_one_login_share_a_key() -> None:
    """ "Juan", "JUAN" and "ＪＵＡＮ" all meet at the key "juan"."""
    assert {"juan"} == {login_key(x) for x in ["Juan", "JUAN", "ＪＵＡＮ", " juan "]}


def test_key_uses_casefold_not_lower() -> None:
    """Case-folding matches "straße" with "STRASSE", which lower() would not."""
    assert login_key("STRASSE") == login_key("straße")


def test_different_logins_have_different_keys() -> None:
    """Folding does not merge logins that differ in more than case."""
    assert login_key("juan") != login_key("juana")


@given(login=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=64))
def test_key_ignores_ascii_case(login: str) -> None:
    """For any ASCII login, upper- and lower-case spellings have the same key."""
    assert login_key(login.lower()) == login_key(login.upper())


@given(login=st.text(min_size=1, max_size=64))
def test_normalisation_is_idempotent(login: str) -> None:
    """A stored login normalises to itself and keeps its key, for any accepted login."""
    try:
        stored = normalize_login(login)
    except pr.InvalidLogin:
        return
    assert stored == normalize_login(stored)
    assert login_key(login) == login_key(stored)


def test_login_of_64_characters_is_accepted() -> None:
    """64 characters is the longest login."""
    assert 64 == MAX_LOGIN_LENGTH
    assert "a" * 64 == normalize_login("a" * 64)


@pytest.mark.parametrize(
    "login",
    [
        "",
        "   ",
        "a" * 65,
        "ju\nan",
        "ju\ran",
        "ju\x00an",
        "ju\tan",
        "ju\u200ban",
        "ju\u2028an",
        "ju\u2029an",
        "ju\ud800an",
        None,
        42,
    ],
    ids=[
        "empty",
        "spaces",
        "too-long",
        "lf",
        "cr",
        "nul",
        "inner-tab",
        "zero-width-space",
        "u2028",
        "u2029",
        "surrogate",
        "none",
        "int",
    ],
)
def test_invalid_logins_are_refused(login: object) -> None:
    """Empty, over 64 characters, control or format characters, or not text: refused."""
    with pytest.raises(pr.InvalidLogin):
        normalize_login(login)


def test_login_length_is_counted_after_nfkc() -> None:
    """Ligatures that expand past 64 characters make the login too long."""
    assert 32 == len(normalize_login("ﬁ" * 16))
    with pytest.raises(pr.InvalidLogin):
        normalize_login("ﬁ" * 33)


def test_display_name_is_normalised_and_stripped() -> None:
    """Display names are NFKC and stripped, accents kept."""
    assert "Juan Pérez" == normalize_display_name("  Juan Pérez ")


def test_empty_display_name_is_allowed() -> None:
    """A user need not have a display name."""
    assert "" == normalize_display_name("")


@pytest.mark.parametrize(
    "name", ["Juan\rPérez", "Juan\nPérez", "Juan\x00", "Juan\u2028Pérez", "x" * 129, None]
)
def test_display_names_that_could_break_a_header_are_refused(name: object) -> None:
    """A display name with CR, LF, NUL or a line separator, too long or not text, is refused."""
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        normalize_display_name(name)
    assert "display_name" == caught.value.field
