"""New-password rules: 8..128 after NFKC, not common, not the login, not of the temporary
form; and the form a typed password is checked in."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.passwords import (
    TYPED_LENGTH_FACTOR,
    confirmation_matches,
    normalize_password,
    password_problems,
    typed_password,
)
from pwrecovery._domain.tokens import temporary_form
from pwrecovery._resources import common_passwords
from tests.helpers import half_and_half

POLICY = pr.Policy()
COMMON = common_passwords()
LOGIN = "JuanPerez"


def problems(password: str, login: str = LOGIN, **flags: bool) -> tuple[str, ...]:
    return password_problems(password, login=login, policy=POLICY, common=COMMON, **flags)


def test_a_good_password_breaks_no_rule() -> None:
    """An ordinary passphrase of acceptable length is accepted."""
    assert () == problems("Tortuga verde 2026")


@pytest.mark.parametrize("length", [8, 9, 64, 127, 128])
def test_lengths_from_8_to_128_are_accepted(length: int) -> None:
    """Any length from 8 to 128 characters is allowed."""
    assert () == problems(("x7Qz" * 32)[:length])


def test_seven_characters_are_too_short() -> None:
    """Seven characters break the minimum length."""
    assert ("too_short",) == problems("x7Qz%k#")


def test_129_characters_are_too_long() -> None:
    """129 characters break the maximum length."""
    assert ("too_long",) == problems(("x7Qz" * 33)[:129])


def test_ligature_expands_before_length_is_counted() -> None:
    """NFKC turns "ﬁ" into "fi": four ligatures count as eight characters."""
    assert 4 == len("ﬁ" * 4)
    assert "fi" * 4 == normalize_password("ﬁ" * 4)
    assert "too_short" not in problems("ﬁ" * 4)


def test_seven_code_points_that_expand_to_eight_are_long_enough() -> None:
    """Length is counted after NFKC, not on the code points typed."""
    assert () == problems("ﬁ" + "q7w#zp")


def test_ligatures_expanding_beyond_128_are_too_long() -> None:
    """65 ligatures are 130 characters after NFKC, so they are too long."""
    assert ("too_long",) == problems("ﬁ" * 65)


def test_full_width_digits_fold_to_ascii() -> None:
    """Full-width digits fold to ASCII, so "１２３４５６７８" is the common "12345678"."""
    assert "12345678" == normalize_password("１２３４５６７８")
    assert ("common",) == problems("１２３４５６７８")


def test_shipped_common_list_has_at_least_ten_thousand_entries() -> None:
    """The shipped list of common passwords is substantial."""
    assert len(COMMON) >= 10_000


def test_shipped_common_list_is_casefolded() -> None:
    """The list holds case-folded entries, the form passwords are compared in."""
    assert set() == {entry for entry in COMMON if entry != entry.casefold()}


@pytest.mark.parametrize(
    "password", ["password1", "PASSWORD1", "Password1", "qwertyuiop", "QwErTyUiOp", "12345678"]
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    """A password on the shipped list is refused case-insensitively."""
    assert ("common",) == problems(password)


@pytest.mark.parametrize("password", ["juanperez", "JUANPEREZ", "JuanPerez", "ＪｕａｎＰｅｒｅｚ"])
def test_the_login_is_refused_as_password(password: str) -> None:
    """The login, in any case or width, is not an acceptable password."""
    assert ("same_as_login",) == problems(password, login="JuanPerez")


def test_same_as_current_is_reported() -> None:
    """When the caller says the password is the current one, the rule is reported."""
    assert ("same_as_current",) == problems("Tortuga verde 2026", same_as_current=True)


def test_same_as_temporary_is_reported() -> None:
    """When the caller says the password is the temporary one, the rule is reported."""
    assert ("same_as_temporary",) == problems("Tortuga verde 2026", same_as_temporary=True)


def test_lone_surrogate_is_invalid() -> None:
    """A lone surrogate cannot be stored as UTF-8 and is refused."""
    assert ("invalid_characters",) == problems("Tortuga verde \ud800")


def test_several_reasons_are_reported_together() -> None:
    """A password that breaks several rules gets every reason, not just the first."""
    expected = ("invalid_characters", "too_short", "same_as_current", "same_as_temporary")
    assert expected == problems("ab\udc00", same_as_current=True, same_as_temporary=True)


def test_every_reason_is_reported_in_a_fixed_order() -> None:
    """Reasons come in the order of the rules: length, common, login, form, then the
    caller's current and temporary flags."""
    expected = (
        ("common", "same_as_login", "same_as_current", "same_as_temporary"),
        ("too_short", "temporary_form"),
    )
    actual = (
        problems("Password1", login="PASSWORD1", same_as_current=True, same_as_temporary=True),
        problems("Kx7P-m"),
    )
    assert expected == actual


def test_short_login_as_password_reports_length_and_login() -> None:
    """The login used as a short password is both too short and the login."""
    assert {"too_short", "same_as_login"} <= set(problems("Juan", login="juan"))


def test_a_composition_free_password_is_accepted() -> None:
    """No composition rules: lower-case letters and spaces only are fine."""
    assert () == problems("correct horse battery staple")


@given(password=st.text(min_size=8, max_size=140))
def test_any_nfkc_length_in_range_is_accepted(password: str) -> None:
    """Any storable string of NFKC length 8..128, not common, not the login and not of the
    temporary form, is accepted."""
    normalized = unicodedata.normalize("NFKC", password)
    assume(8 <= len(normalized) <= 128)
    assume(not any(0xD800 <= ord(ch) <= 0xDFFF for ch in normalized))
    assume(normalized.casefold() not in COMMON)
    assume(normalized.casefold() != LOGIN.casefold())
    assume(temporary_form(normalized) is None)
    assert () == problems(password)


@given(
    password=st.one_of(
        st.text(max_size=12),
        st.text(min_size=120, max_size=140),
        st.text(alphabet="ﬁﬃ㎒x", min_size=1, max_size=70),
    )
)
def test_length_reasons_follow_the_nfkc_length(password: str) -> None:
    """too_short exactly when NFKC length < 8; too_long exactly when > 128."""
    length = len(unicodedata.normalize("NFKC", password))
    reasons = problems(password)
    event("too short" if length < 8 else "too long" if length > 128 else "in range")
    assert ((length < 8), (length > 128)) == ("too_short" in reasons, "too_long" in reasons)


def test_far_over_long_text_is_only_too_long() -> None:
    """Text over four times the maximum is refused as too long before NFKC, with no other
    reason looked for (a lone surrogate, a common password)."""
    assert ("too_long",) == problems("\ud800" * (TYPED_LENGTH_FACTOR * 128 + 1))


def test_text_of_exactly_four_times_the_maximum_is_still_read() -> None:
    """At exactly four times the maximum the text is read: every rule it breaks is
    reported (here a lone surrogate besides the length); one character more, only
    too_long."""
    at_limit = "\ud800" * (TYPED_LENGTH_FACTOR * 128)
    assert (("invalid_characters", "too_long"), ("too_long",)) == (
        problems(at_limit),
        problems(at_limit + "\ud800"),
    )


@pytest.mark.parametrize(
    "password",
    [
        "Kx7P-mQ2z-H9aB",
        "Kx7P mQ2z H9aB",
        " Kx7P-mQ2z-H9aB ",
        "Kx7P-mQ2z",
        "Ｋｘ７Ｐ－ｍＱ２ｚ－Ｈ９ａＢ",
        "Kx7P\u00a0mQ2z\u00a0H9aB",
    ],
    ids=["canonical", "spaces", "surrounded", "two-groups", "full-width", "no-break-spaces"],
)
def test_a_password_of_the_temporary_form_is_refused(password: str) -> None:
    """A new password that looks like a temporary one (after NFKC) is refused: a typed
    text is checked against the hash its form picks, and this one would pick the
    temporary password's."""
    assert ("temporary_form",) == problems(password)


@pytest.mark.parametrize(
    "password", ["Kx7PmQ2zH9aB", "Kx7P-mQ2z-H9a0", "Kx7P_mQ2z_H9aB", "Kx7P--mQ2z-H9aB"]
)
def test_a_password_near_the_temporary_form_is_allowed(password: str) -> None:
    """Unseparated, with a look-alike, another separator or an empty group: not the form."""
    assert () == problems(password)


# -- a password as typed at a window --------------------------------------------------


@pytest.mark.parametrize("value", [None, 42, b"Caballo azul 77", ["Caballo"], 3.5])
def test_typed_password_refuses_what_is_not_text(value: object) -> None:
    """Only text can be a password: anything else is no one's."""
    assert typed_password(value, POLICY) is None


def test_typed_password_is_the_nfkc_form() -> None:
    """What is typed is checked in its NFKC form, as it was hashed."""
    assert "fiesta 12" == typed_password("ﬁesta １２", POLICY)


@pytest.mark.parametrize(
    ("length", "accepted"),
    [(0, True), (512, True), (513, False)],
)
def test_typed_password_refuses_four_times_the_maximum_before_nfkc(
    length: int, accepted: bool
) -> None:
    """Up to four times password_max_length (128) code points are normalised; one more is
    refused before NFKC, whatever it would normalise to."""
    typed = "ﬁ" * length
    expected = "fi" * length if accepted else None
    assert expected == typed_password(typed, POLICY)


def test_typed_password_limit_follows_the_policy() -> None:
    """With a maximum of 10, 40 code points are read and 41 are not."""
    policy = pr.Policy(password_min_length=8, password_max_length=10)
    assert ("x" * 40, None) == (typed_password("x" * 40, policy), typed_password("x" * 41, policy))


def test_a_huge_expanding_text_is_refused_unread() -> None:
    """Three megabytes of U+FDFA (NFKC expands each to 18 characters) are refused as no
    one's password instead of being normalised into 54 million characters."""
    assert typed_password("\ufdfa" * 3_000_000, POLICY) is None


@given(
    password=half_and_half(
        st.one_of(st.text(max_size=40), st.text(min_size=508, max_size=512)),
        st.text(min_size=513, max_size=516),
    )
)
def test_typed_password_is_nfkc_or_nothing(password: str) -> None:
    """For any text: its NFKC form when at most 512 code points, None beyond."""
    expected = unicodedata.normalize("NFKC", password) if len(password) <= 512 else None
    event("read" if expected is not None else "refused")
    assert expected == typed_password(password, POLICY)


def test_confirmation_matches_identical_entries() -> None:
    """The same password typed twice matches."""
    assert confirmation_matches("Tortuga verde 2026", "Tortuga verde 2026") is True


def test_confirmation_ignores_nfkc_differences() -> None:
    """A ligature and its letters, or full-width and ASCII digits, match."""
    assert confirmation_matches("ﬁesta 2026", "fiesta 2026") is True
    assert confirmation_matches("clave１２３", "clave123") is True


@pytest.mark.parametrize(
    ("password", "confirmation"),
    [
        ("Tortuga verde 2026", "tortuga verde 2026"),
        ("Tortuga verde 2026", "Tortuga verde 2026 "),
        ("Tortuga verde 2026", " Tortuga verde 2026"),
        ("Tortuga verde 2026", "Tortuga verde 2027"),
    ],
)
def test_confirmation_is_otherwise_exact(password: str, confirmation: str) -> None:
    """Case and spaces count: entries that differ after NFKC do not match."""
    assert confirmation_matches(password, confirmation) is False


@given(password=st.text(min_size=1, max_size=40), data=st.data())
def test_confirmation_matches_iff_nfkc_forms_are_equal(password: str, data: st.DataObject) -> None:
    """For any two entries, they match exactly when their NFKC forms are equal."""
    spellings = [unicodedata.normalize(form, password) for form in ("NFC", "NFD", "NFKC", "NFKD")]
    confirmation = data.draw(
        half_and_half(st.text(max_size=40), st.sampled_from(spellings)), label="confirmation"
    )
    expected = unicodedata.normalize("NFKC", password) == unicodedata.normalize(
        "NFKC", confirmation
    )
    event("match" if expected else "differ")
    assert expected == confirmation_matches(password, confirmation)


@given(password=st.text(max_size=40))
def test_confirmation_matches_itself(password: str) -> None:
    """Any entry matches itself."""
    assert confirmation_matches(password, password) is True
