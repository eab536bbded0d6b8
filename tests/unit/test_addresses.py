"""Recovery and sender addresses: validation, normalisation, masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.addresses import mask_address, normalize_address

LOCAL_PARTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,30}", fullmatch=True)
LABELS = st.from_regex(r"[A-Za-z]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True)
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
        return
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


@given(address=addresses().filter(lambda a: len(a.partition("@")[0]) > 1))
def test_mask_never_reveals_more_than_the_first_character(address: str) -> None:
    """Before the @ the mask holds only the first character and three stars."""
    normalized = normalize_address(address)
    local, _, domain = normalized.rpartition("@")
    masked = mask_address(normalized)
    assert f"{local[0]}***" == masked.rpartition("@")[0]
    assert f"{local[0]}***@{domain}" == masked


def test_encoded_word_syntax_is_refused() -> None:
    """An address shaped like an encoded word would be written as another address: refused."""
    with pytest.raises(pr.InvalidEmailAddress):
        normalize_address("=?utf-8?q?Jos=C3=A9?=@x.mx")
