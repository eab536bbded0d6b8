"""Logins: how they are written (NFKC, stripped), matched (case-folded) and, when they do
not exist, fingerprinted; origins and display names as the audit trail and mails keep
them."""

from __future__ import annotations

import hashlib
import hmac
import re
import string
import unicodedata

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.logins import (
    MAX_LOGIN_LENGTH,
    MAX_TYPED_LOGIN,
    audit_key,
    bounded_origin,
    fingerprint,
    key_or_none,
    login_key,
    normalize_display_name,
    normalize_login,
    printable_identifier,
)
from tests.helpers import half_and_half

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
FINGERPRINT = re.compile("#[0-9a-f]{16}")
UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


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


# Logins as people type them: letters, digits, marks, punctuation and spaces, short.
TYPED = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "Zs"]), min_size=1, max_size=20
).filter(lambda login: bool(login.strip()))


# Text a login cannot be half the time: over 64 characters, blank, or unprintable.
UNTYPABLE = st.one_of(
    st.text(min_size=65, max_size=80),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl"]), max_size=8),
    st.text(max_size=80),
)


@given(login=half_and_half(TYPED, UNTYPABLE))
def test_normalisation_is_idempotent(login: str) -> None:
    """A stored login normalises to itself and keeps its key, for any accepted login."""
    try:
        stored = normalize_login(login)
    except pr.InvalidLogin:
        event("refused")
        return
    event("accepted")
    assert stored == normalize_login(stored)
    assert login_key(login) == login_key(stored)


def test_login_of_64_characters_is_accepted() -> None:
    """64 characters is the longest login; 65 are too many."""
    assert 64 == MAX_LOGIN_LENGTH
    assert "a" * 64 == normalize_login("a" * 64)
    with pytest.raises(pr.InvalidLogin) as caught:
        normalize_login("a" * 65)
    assert False is caught.value.empty


@pytest.mark.parametrize("login", ["", "   ", "\t\n", "\u3000", "\u00a0"])
def test_an_empty_login_says_it_is_empty(login: str) -> None:
    """A login that is nothing but spaces (after NFKC) is refused as empty, so the message
    can say so."""
    with pytest.raises(pr.InvalidLogin) as caught:
        normalize_login(login)
    assert True is caught.value.empty


def test_typed_length_is_bounded_before_nfkc() -> None:
    """Up to 256 code points are read (here spaces around a short login); one more is
    refused before NFKC, whatever it would normalise to."""
    assert 256 == MAX_TYPED_LOGIN
    padded = " " * 100 + "juan" + " " * 152
    assert "juan" == normalize_login(padded)
    with pytest.raises(pr.InvalidLogin) as caught:
        normalize_login(padded + " ")
    assert False is caught.value.empty


def test_a_huge_expanding_login_is_refused_unread() -> None:
    """A megabyte of U+FDFA is refused before NFKC (which would make 18 MB of it)."""
    with pytest.raises(pr.InvalidLogin):
        normalize_login("\ufdfa" * 1_000_000)


@pytest.mark.parametrize(
    ("login", "expected"),
    [(" Juan ", "juan"), ("ＪＵＡＮ", "juan"), ("", None), ("ju\nan", None), (None, None)],
)
def test_key_or_none(login: object, expected: str | None) -> None:
    """A login's key, or None when it is malformed (never an exception)."""
    assert expected == key_or_none(login)


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


def test_login_length_boundary_after_nfkc() -> None:
    """32 ligatures are 64 characters after NFKC (accepted); 33 are 66 (refused)."""
    assert "fi" * 32 == normalize_login("ﬁ" * 32)
    with pytest.raises(pr.InvalidLogin):
        normalize_login("ﬁ" * 32 + "x")


# -- fingerprints of logins that do not exist ----------------------------------------


def test_fingerprint_is_a_keyed_hash_of_the_login_key() -> None:
    """A fingerprint is "#" and the first 16 hex digits of HMAC-SHA256 under the service's
    key of the login's key: stable across releases, since stores keep counters under it."""
    expected = "#" + hmac.new(KEY, b"juan", hashlib.sha256).hexdigest()[:16]
    assert expected == fingerprint(KEY, "juan")


def test_logins_that_match_share_a_fingerprint() -> None:
    """Spellings of one login (case, width, spaces) are counted under one fingerprint."""
    spellings = ["juan", "Juan", "JUAN", "ＪＵＡＮ", "  juan "]
    assert {fingerprint(KEY, "juan")} == {fingerprint(KEY, s) for s in spellings}


def test_another_key_gives_another_fingerprint() -> None:
    """Without the key the fingerprint of a login cannot be computed or matched."""
    assert fingerprint(KEY, "juan") != fingerprint(OTHER_KEY, "juan")


@pytest.mark.parametrize("login", ["ju\nan", "", "   ", "x" * 300, "\x00", None, 42])
def test_a_malformed_logins_fingerprint_is_the_keyed_hash_of_its_printable_form(
    login: object,
) -> None:
    """A login that cannot be one is fingerprinted as the keyed HMAC-SHA256 of NUL and the
    casefold of its printable form: a fixed derivation, apart from every valid key (none
    starts with NUL)."""
    text = "\x00" + printable_identifier(login).casefold()
    expected = "#" + hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()[:16]
    assert expected == fingerprint(KEY, login)


def test_two_malformed_logins_have_two_fingerprints() -> None:
    """Malformed logins that print differently are counted apart."""
    assert fingerprint(KEY, "ju\nan") != fingerprint(KEY, "pe\ndro")


def test_a_malformed_login_never_meets_a_valid_one() -> None:
    """A malformed login is fingerprinted apart from any valid login, even one that prints
    the same ("ju\\nan" shows as "ju\ufffdan", itself a valid login)."""
    assert "ju\ufffdan" == printable_identifier("ju\nan")
    assert "ju\ufffdan" == normalize_login("ju\ufffdan")
    assert fingerprint(KEY, "ju\nan") != fingerprint(KEY, "ju\ufffdan")


@given(login=half_and_half(TYPED, st.one_of(st.text(max_size=80), st.none(), st.integers())))
def test_any_login_has_a_fingerprint_of_the_form(login: object) -> None:
    """Whatever is typed as a login (text of any kind, even not text), it has a fingerprint
    of the form #xxxxxxxxxxxxxxxx, and a valid one is the keyed hash of its key."""
    found = key_or_none(login)
    event("valid" if found is not None else "malformed")
    result = fingerprint(KEY, login)
    assert FINGERPRINT.fullmatch(result)
    if found is not None:
        assert "#" + hmac.new(KEY, found.encode(), hashlib.sha256).hexdigest()[:16] == result


def test_audit_key() -> None:
    """An audit event is filed under the login's key, or the casefold of a malformed login
    (a fingerprint is its own key)."""
    expected = ("juan", "#0123abcd0123abcd", "ju\nan", None)
    actual = (
        audit_key(" JUAN "),
        audit_key("#0123ABCD0123ABCD"),
        audit_key("JU\nAN"),
        audit_key(None),
    )
    assert expected == actual


# -- what the audit trail keeps -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (None, ""),
        (42, ""),
        ("  Juan  ", "Juan"),
        ("ＪＵＡＮ", "JUAN"),
        ("ju\nan\x00\u2028\u200b\ud800", "ju\ufffdan\ufffd\ufffd\ufffd\ufffd"),
        ("x" * 129, "x" * 128),
        (" " * 256 + "juan", ""),
    ],
    ids=["none", "int", "stripped", "nfkc", "unprintable", "cut-at-128", "read-256"],
)
def test_printable_identifier(typed: object, expected: str) -> None:
    """A login as typed, safe for a message or the audit trail: NFKC and stripped,
    unprintable characters as U+FFFD, at most 128 characters, of at most 256 read."""
    assert expected == printable_identifier(typed)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        (None, None),
        (42, None),
        (b"PC-CONTA-01", None),
        ("", None),
        ("   ", None),
        ("PC-CONTA-01", "PC-CONTA-01"),
        ("PC\r\nCONTA", "PC\ufffd\ufffdCONTA"),
        ("p" * 128, "p" * 128),
        ("p" * 129, "p" * 128),
        ("p" * 100_000, "p" * 128),
    ],
    ids=["none", "int", "bytes", "empty", "spaces", "name", "line-break", "128", "129", "huge"],
)
def test_bounded_origin(origin: object, expected: str | None) -> None:
    """The host's origin as the audit trail keeps it: printable, at most 128 characters
    (longer ones are cut), None when empty or not text."""
    assert expected == bounded_origin(origin)


@given(
    origin=half_and_half(
        st.one_of(st.text(max_size=40), st.text(min_size=120, max_size=300)),
        st.text(alphabet=" \t\u3000\u00a0", max_size=5),  # spaces only: nothing kept
    )
)
def test_a_kept_origin_is_printable_and_short(origin: str) -> None:
    """For any text: None, or 1 to 128 characters with nothing unprintable."""
    kept = bounded_origin(origin)
    event("none" if kept is None else "kept")
    if kept is not None:
        assert 1 <= len(kept) <= 128
        assert set() == {unicodedata.category(ch) for ch in kept} & UNPRINTABLE


# -- display names -------------------------------------------------------------------


@pytest.mark.parametrize("login", ["x" * 65, "x" * 300, "ju\nan"], ids=["65", "300", "control"])
def test_a_refused_login_says_how_long_a_login_may_be(login: str) -> None:
    """A login too long (read or typed) or holding a control character is refused with
    the sentence that names the 64-character limit."""
    with pytest.raises(pr.InvalidLogin) as caught:
        normalize_login(login)
    assert pr.InvalidLogin(64).message("en") == caught.value.message("en")
    assert "64" in caught.value.message("en")


def test_a_display_name_of_512_typed_characters_is_still_read() -> None:
    """Up to four times 128 characters are read before NFKC: 512 spaces are an empty name,
    513 are refused unread."""
    assert "" == normalize_display_name(" " * 512)
    with pytest.raises(pr.InvalidHeaderValue):
        normalize_display_name(" " * 513)


def test_display_name_boundary_is_128_characters() -> None:
    """128 characters is the longest display name, counted after trimming."""
    assert "x" * 128 == normalize_display_name("  " + "x" * 128 + "  ")
    with pytest.raises(pr.InvalidHeaderValue):
        normalize_display_name("x" * 129)


@pytest.mark.parametrize(
    "name",
    [" " * 600, "=?utf-8?q?Juan?=", "Juan =?x", "ﬁ" * 65, "＝？", "Juan ﹦﹖utf-8"],
    ids=[
        "over-512-typed",
        "encoded-word",
        "encoded-word-start",
        "over-128-after-nfkc",
        "full-width-encoded-word-start",
        "small-form-encoded-word-start",
    ],
)
def test_display_names_refused_for_length_or_encoded_words(name: str) -> None:
    """Over 512 typed characters (before NFKC), over 128 after it, or holding "=?" (the
    email package would decode it into other addresses), also once NFKC has made it from
    full-width or small forms: refused."""
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        normalize_display_name(name)
    assert "display_name" == caught.value.field


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
