"""Recovery and sender addresses: validation, normalisation, masking."""

from __future__ import annotations

import email_validator
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.addresses import ascii_domain_address, mask_address, normalize_address

LOCAL_PARTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,30}", fullmatch=True)
# "ab--" opening a label is reserved for IDNA (RFC 5891 4.2.3.1); email-validator refuses it.
LABELS = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
SUFFIXES = st.sampled_from(["mx", "MX", "com", "com.mx", "Org", "net", "gob.mx"])


@st.composite
def addresses(draw: st.DrawFn) -> str:
    return f"{draw(LOCAL_PARTS)}@{draw(LABELS)}.{draw(SUFFIXES)}"


def test_domain_is_lower_cased() -> None:
    """The domain is lower-cased; the local part keeps its case."""
    assert "Juan.Perez@empresa.mx" == normalize_address("Juan.Perez@EMPRESA.MX")


def test_internationalised_address_is_accepted() -> None:
    """An address that needs SMTPUTF8 is accepted and kept."""
    assert "josé@empresa.mx" == normalize_address("josé@empresa.mx")
    assert "用户@例子.广告" == normalize_address("用户@例子.广告")


@given(address=addresses())
def test_well_formed_addresses_normalise_with_a_lower_case_domain(address: str) -> None:
    """For generated ordinary addresses: local part kept, domain lower-cased."""
    local, _, domain = address.rpartition("@")
    assert f"{local}@{domain.lower()}" == normalize_address(address)


@given(address=addresses())
def test_normalisation_is_idempotent_on_ordinary_addresses(address: str) -> None:
    """Normalising a normalised address changes nothing."""
    once = normalize_address(address)
    assert once == normalize_address(once)


@given(address=st.emails())
def test_normalisation_is_idempotent_on_any_accepted_address(address: str) -> None:
    """Whatever RFC 5322 address is accepted, its normal form is a fixed point."""
    try:
        once = normalize_address(address)
    except pr.InvalidEmailAddress:
        event("refused")
        return
    event("accepted")
    assert once == normalize_address(once)


@pytest.mark.parametrize(
    "address",
    [
        "juan.empresa.mx",
        "",
        "@empresa.mx",
        "juan@",
        "ju\ran@empresa.mx",
        "ju\nan@empresa.mx",
        "juan@empresa.mx\n",
        "juan@empresa.mx\r\nBcc: otro@x.mx",
        "ju\x00an@empresa.mx",
        "ju\u2028an@empresa.mx",
        "juan@empre\u2028sa.mx",
        "juan@empre\u2029sa.mx",
        "Juan <j@x.mx>",
        "j@[127.0.0.1]",
        '"juan perez"@empresa.mx',
        "a@x.mx, b@y.mx",
        "a@x.mx b@y.mx",
        "a" * 65 + "@empresa.mx",
        "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".mx",
    ],
    ids=[
        "missing-at",
        "empty",
        "empty-local",
        "empty-domain",
        "cr",
        "lf",
        "trailing-lf",
        "crlf-injection",
        "nul",
        "u2028-local",
        "u2028-domain",
        "u2029-domain",
        "display-name",
        "domain-literal",
        "quoted-local",
        "two-addresses-comma",
        "two-addresses-space",
        "local-over-64",
        "total-over-254",
    ],
)
def test_refused_addresses(address: str) -> None:
    """Malformed, injected, display-name, literal, too long or multiple: refused."""
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address(address)


def test_local_part_of_64_is_accepted() -> None:
    """64 characters before the @ is the RFC 5321 limit, still allowed."""
    address = "a" * 64 + "@empresa.mx"
    assert address == normalize_address(address)


@pytest.mark.parametrize("value", [None, 42, b"juan@empresa.mx"])
def test_non_strings_are_refused(value: object) -> None:
    """Only text can be an address."""
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address(value)


def test_mask_shows_first_character_and_domain() -> None:
    """The mask keeps the first character of the local part and the whole domain."""
    assert "j***@empresa.mx" == mask_address("juan.perez@empresa.mx")


def test_mask_of_one_character_local_part() -> None:
    """A one-character local part is shown as is, followed by the stars."""
    assert "j***@empresa.mx" == mask_address("j@empresa.mx")


def test_mask_of_internationalised_address() -> None:
    """The first character of a non-ASCII local part is kept whole."""
    assert "j***@empresa.mx" == mask_address("josé@empresa.mx")
    assert "用***@例子.广告" == mask_address("用户@例子.广告")


@given(
    local=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{1,30}", fullmatch=True),
    label=LABELS,
    suffix=SUFFIXES,
)
def test_mask_never_reveals_more_than_the_first_character(
    local: str, label: str, suffix: str
) -> None:
    """Before the @ the mask holds only the first character and three stars."""
    normalized = normalize_address(f"{local}@{label}.{suffix}")
    local, _, domain = normalized.rpartition("@")
    masked = mask_address(normalized)
    assert f"{local[0]}***" == masked.rpartition("@")[0]
    assert f"{local[0]}***@{domain}" == masked


def test_encoded_word_syntax_is_refused() -> None:
    """An address shaped like an encoded word would be written as another address: refused."""
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address("=?utf-8?q?Jos=C3=A9?=@x.mx")


# -- office domains (allow_private) --------------------------------------------------------


def validator_refuses(address: str) -> bool:
    """Whether email-validator itself, as the library calls it by default, refuses."""
    try:
        email_validator.validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except email_validator.EmailNotValidError:
        return True
    return False


OFFICE = {
    "mdns": ("x@empresa.local", "x@empresa.local"),
    "mdns-capitals": ("Juan.Perez@EMPRESA.LOCAL", "Juan.Perez@empresa.local"),
    "mdns-subdomain": ("x@conta.empresa.local", "x@conta.empresa.local"),
    "mdns-accented": ("josé@compañía.local", "josé@compañía.local"),
    "single-label": ("x@servidor", "x@servidor"),
    "single-label-capitals": ("x@SERVIDOR", "x@servidor"),
    "lan": ("x@empresa.lan", "x@empresa.lan"),
    "internal": ("x@empresa.internal", "x@empresa.internal"),
}


@pytest.mark.parametrize(("address", "expected"), OFFICE.values(), ids=OFFICE.keys())
def test_office_domains_are_accepted_with_allow_private(address: str, expected: str) -> None:
    """With allow_private, office domains (.local, a single label, .lan) are accepted and
    normalised with their own domain (lower-cased), never a stand-in."""
    assert expected == normalize_address(address, allow_private=True)


@pytest.mark.parametrize(("address", "expected"), OFFICE.values(), ids=OFFICE.keys())
def test_without_allow_private_office_domains_fare_as_email_validator_says(
    address: str, expected: str
) -> None:
    """Without allow_private an office domain is refused exactly where email-validator
    refuses it (.local and single labels), and accepted as it is otherwise (.lan)."""
    try:
        outcome = normalize_address(address)
    except pr.InvalidEmailAddress:
        outcome = "refused"
    assert ("refused" if validator_refuses(address) else expected) == outcome


def test_the_office_domains_the_design_names_are_refused_by_default() -> None:
    """.local and single labels are refused unless allow_private is set; .lan is not a
    reserved name and is accepted either way."""
    expected = {"x@empresa.local": True, "x@servidor": True, "x@empresa.lan": False}
    actual = {address: validator_refuses(address) for address in expected}
    assert expected == actual


@pytest.mark.parametrize(
    "address",
    [
        "x@localhost",
        "x@empresa.test",
        "x@empresa.invalid",
        "x@empresa.local.",
        "x@.local",
        "x@empresa.local\r\nBcc: y@z.mx",
        "x@empre\u2028sa.local",
        "=?utf-8?q?x?=@empresa.local",
        "Juan <x@empresa.local>",
        "x@[10.0.0.1]",
    ],
    ids=[
        "localhost",
        "test",
        "invalid",
        "trailing-dot",
        "empty-label",
        "crlf",
        "u2028",
        "encoded-word",
        "display-name",
        "literal",
    ],
)
def test_allow_private_still_refuses_what_is_not_an_office_address(address: str) -> None:
    """allow_private opens office names only: other reserved names, malformed domains,
    header injection, encoded words, display names and literals are still refused."""
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address(address, allow_private=True)


@given(local=LOCAL_PARTS, labels=st.lists(LABELS, min_size=1, max_size=3))
def test_a_local_domain_normalises_to_itself(local: str, labels: list[str]) -> None:
    """For any ordinary local part and labels under .local (any case): the local part is
    kept, the domain lower-cased, and the result is a fixed point."""
    domain = ".".join(labels) + ".LoCaL"
    once = normalize_address(f"{local}@{domain}", allow_private=True)
    assert (f"{local}@{domain.lower()}", once) == (
        once,
        normalize_address(once, allow_private=True),
    )


@st.composite
def long_addresses(draw: st.DrawFn) -> tuple[str, str]:
    """(local part, domain without its last label) for an address of 246 to 262
    characters once a five-letter last label is added: around the 254 limit."""
    over = draw(st.booleans())  # over the limit in about half the examples
    total = draw(st.integers(min_value=255, max_value=262) if over else st.integers(246, 254))
    local = "a" * draw(st.integers(min_value=1, max_value=64))
    room = total - len(local) - len("@.local")
    labels = []
    while room > 0:
        size = min(room, draw(st.integers(min_value=1, max_value=63)))
        labels.append("b" * size)
        room -= size + 1
    return local, ".".join(labels) or "b"


@given(drawn=long_addresses())
def test_a_local_domain_has_the_length_limits_of_any_other(drawn: tuple[str, str]) -> None:
    """Near the 254-character limit a .local address is accepted exactly when the same
    address under a five-letter public domain is: checking it adds no characters."""
    local, domain = drawn
    try:
        normalize_address(f"{local}@{domain}.email")
    except pr.InvalidEmailAddress:
        expected = "refused"
    else:
        expected = f"{local}@{domain}.local"
    event(expected if expected == "refused" else "accepted")
    try:
        actual = normalize_address(f"{local}@{domain}.local", allow_private=True)
    except pr.InvalidEmailAddress:
        actual = "refused"
    assert expected == actual


def test_an_address_of_254_characters_on_local_is_accepted() -> None:
    """254 characters, the RFC 5321 limit, are allowed on a .local domain too."""
    address = "a" * 64 + "@" + ".".join(["b" * 61, "b" * 61, "b" * 59]) + ".local"
    assert (254, address) == (len(address), normalize_address(address, allow_private=True))


def test_an_internationalised_address_keeps_its_local_part() -> None:
    """A non-ASCII local part is kept as typed (it needs SMTPUTF8 either way); for headers
    and SMTP only the domain goes to its xn-- form."""
    assert ("josé@ñandú.mx", "josé@xn--and-6ma2c.mx") == (
        normalize_address("josé@ñandú.mx"),
        ascii_domain_address("josé@ñandú.mx"),
    )


@pytest.mark.parametrize("address", ['"a b"@empresa.mx', "a@[127.0.0.1]", "Juan <juan@empresa.mx>"])
def test_the_rules_do_not_follow_email_validators_module_defaults(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """email-validator's module-wide defaults may be changed by anything in the host's
    process; pwrecovery's rules stay its own: internationalised addresses accepted, quoted
    local parts, domain literals and display names refused."""
    monkeypatch.setattr(email_validator, "ALLOW_SMTPUTF8", False)
    monkeypatch.setattr(email_validator, "ALLOW_QUOTED_LOCAL", True)
    monkeypatch.setattr(email_validator, "ALLOW_DOMAIN_LITERAL", True)
    monkeypatch.setattr(email_validator, "ALLOW_DISPLAY_NAME", True)
    assert ("josé@ñandú.mx", "josé@xn--and-6ma2c.mx") == (
        normalize_address("josé@ñandú.mx"),
        ascii_domain_address("josé@ñandú.mx"),
    )
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address(address)
