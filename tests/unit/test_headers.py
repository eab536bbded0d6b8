"""Header-injection refusal: CR, LF, NUL, U+2028, U+2029, also encoded."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain import headers as headers_module
from pwrecovery._domain.headers import (
    MAX_HEADER_VALUE,
    _read_raw,
    check_header_value,
    check_host,
    is_header_safe,
    written_addresses,
)
from pwrecovery._domain.mail import MailContent, compose
from tests.helpers import sender_settings

# A display name whose encoded word the email package's address parser cannot read back
# (it raises AttributeError on a group it finds inside the decoded name); found by
# hypothesis in tests/unit/test_mail.py.
UNREADABLE = "=?utf-8?b?J37EvXnEp/CrlLbDm8SgZVA6LsSg4bi7T+y+u/CsvIsgzIHEqA==?="

FORBIDDEN = ["\r", "\n", "\x00", "\u2028", "\u2029"]
ORDINARY = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=200
).filter(lambda s: "=?" not in s)


@given(value=st.text(max_size=100), bad=st.sampled_from(FORBIDDEN), data=st.data())
def test_any_value_with_a_forbidden_character_is_refused(
    value: str, bad: str, data: st.DataObject
) -> None:
    """A CR, LF, NUL, U+2028 or U+2029 anywhere in the value makes it refused."""
    index = data.draw(st.integers(min_value=0, max_value=len(value)))
    tainted = value[:index] + bad + value[index:]
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        check_header_value(tainted, "subject")
    assert "subject" == caught.value.field


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?a=0Ab?=",
        "=?utf-8?q?a=0Db?=",
        "=?UTF-8?Q?a=0D=0ABcc:_x@y.mx?=",
        "=?utf-8?b?YQpi?=",
        "=?UTF-8?B?YQ0KYg==?=",
        "=?utf-8?q?a=00b?=",
        "=?utf-8?q?a=E2=80=A8b?=",
        "=?utf-8?q?a=E2=80=A9b?=",
        "Hola =?utf-8?q?a=0Ab?= mundo",
        "x=?utf-8?q?a=0Ab?=y",
    ],
)
def test_encoded_words_that_decode_to_a_line_break_are_refused(value: str) -> None:
    """An RFC 2047 encoded word hiding CR, LF, NUL or a line separator is refused."""
    assert is_header_safe(value) is False
    with pytest.raises(pr.InvalidHeaderValue):
        check_header_value(value, "display_name")


@pytest.mark.parametrize(
    "value",
    [
        "=?x-no-such-charset?q?a?=",
        "=?utf-8*es?q?a?=",
        "=?rot13?q?a?=",
        "=?utf-8?q?=FF?=",
        "=?utf-8?b?/w==?=",
        "=?us-ascii?q?=E9?=",
        "=?utf-8?b?A?=",
        "Hola =?utf-8?b?A?=",
    ],
    ids=[
        "unknown-charset",
        "charset-with-language",
        "not-a-text-codec",
        "undecodable-q",
        "undecodable-b",
        "not-ascii",
        "broken-base64",
        "broken-base64-after-text",
    ],
)
def test_an_encoded_word_that_cannot_be_decoded_is_refused(value: str) -> None:
    """Fail closed: an encoded word we cannot decode (unknown charset, bytes its charset
    cannot read, broken base64) cannot be checked, so it is refused."""
    assert False is is_header_safe(value)


@pytest.mark.parametrize(
    "value", ["=?utf-16-be?b?AAo=?=", "=?utf-7?q?+AAo-?=", "=?iso-8859-1?q?a=85b?="]
)
def test_a_line_break_hidden_in_another_charset_is_refused(value: str) -> None:
    """The encoded word is decoded in its own charset (UTF-16, UTF-7, Latin-1's NEL)
    before it is checked."""
    assert False is is_header_safe(value)


def test_harmless_encoded_word_is_accepted() -> None:
    """An encoded word that decodes to ordinary text is fine."""
    assert is_header_safe("=?utf-8?q?Jos=C3=A9?=") is True


def test_an_encoded_word_without_a_charset_is_read_as_ascii() -> None:
    """An encoded word with an empty charset ("=??q?...?=") is decoded as ASCII: plain
    text passes, a line break or a byte outside ASCII hidden in it is refused."""
    assert (True, False, False) == (
        is_header_safe("=??q?Jose?="),
        is_header_safe("=??q?Jose=0ABcc:_x@y.mx?="),
        is_header_safe("=??q?Jos=C3=A9?="),
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Contabilidad",
        "Juan Pérez Núñez",
        "Contabilidad “Pérez” — Facturación",
        "‘Recuperar clave’ «Empresa» ¿Qué? ¡Sí!",
        "Clave recuperada con éxito",
        "envios@empresa.mx",
        "a = b? no",
    ],
)
def test_ordinary_text_is_accepted(value: str) -> None:
    """Accents, typographic quotes and punctuation are ordinary header text."""
    assert is_header_safe(value) is True
    check_header_value(value, "subject")


@given(value=ORDINARY)
def test_any_printable_text_is_accepted(value: str) -> None:
    """Letters, marks, digits, punctuation, symbols and spaces are all accepted."""
    assert is_header_safe(value) is True


def test_value_at_the_line_limit_is_accepted() -> None:
    """998 characters, the RFC 5322 line limit, is allowed."""
    assert 998 == MAX_HEADER_VALUE
    assert is_header_safe("a" * 998) is True


def test_value_over_the_line_limit_is_refused() -> None:
    """999 characters exceed the RFC 5322 line limit."""
    with pytest.raises(pr.InvalidHeaderValue):
        check_header_value("a" * 999, "subject")


@pytest.mark.parametrize("value", [None, 42, b"Contabilidad"])
def test_non_strings_are_refused(value: object) -> None:
    """Only text can be a header value."""
    assert is_header_safe(value) is False


@pytest.mark.parametrize("host", ["smtp.empresa.mx", "127.0.0.1", "::1", "localhost", "a" * 253])
def test_check_host_accepts_names_and_addresses(host: str) -> None:
    """Host names and IP addresses pass the host check, up to 253 characters."""
    assert check_host(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "",
        " ",
        "\t",
        "smtp empresa.mx",
        " smtp.empresa.mx",
        "smtp.empresa.mx\n",
        "smtp\r.empresa.mx",
        "smtp\x00.empresa.mx",
        "smtp\x7f.empresa.mx",
        "smtp\u2028.empresa.mx",
        "a" * 254,
        None,
        25,
    ],
    ids=[
        "empty",
        "space",
        "tab",
        "inner-space",
        "leading-space",
        "lf",
        "cr",
        "nul",
        "del",
        "u2028",
        "too-long",
        "none",
        "int",
    ],
)
def test_check_host_refuses_empty_whitespace_and_control(host: object) -> None:
    """An empty host, or one with whitespace or control characters, is refused: the error
    names the setting and the rule (a host name)."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        check_host(host)
    assert ("host", "hostname") == (caught.value.setting, caught.value.rule)


def test_written_addresses_of_raw_values_and_header_objects() -> None:
    """A raw value is read as written: a named address as its address, a list as its addresses."""
    assert ["a@b.mx"] == written_addresses("To", "Ana <a@b.mx>")
    assert ["a@b.mx", "c@d.mx"] == written_addresses("To", "a@b.mx, Carlos <c@d.mx>")


def test_written_addresses_of_a_parsed_header_are_the_addresses_it_writes() -> None:
    """A header object (as a parsed or composed message holds it) is read as it writes
    itself: its addresses, in order."""
    message = EmailMessage(policy=policy.default)
    message["To"] = "Ana <a@b.mx>, c@d.mx"
    header = message["To"]
    assert (False, ["a@b.mx", "c@d.mx"]) == (
        type(header) is str,
        written_addresses("To", header),
    )


def test_a_raw_value_is_read_once_and_remembered() -> None:
    """The same raw value is read back once: the second look is answered from the
    cache, as a new list each time."""
    _read_raw.cache_clear()
    first = written_addresses("From", "Contabilidad <envios@empresa.mx>")
    first.append("x@y.mx")
    second = written_addresses("From", "Contabilidad <envios@empresa.mx>")
    info = _read_raw.cache_info()
    assert (["envios@empresa.mx"], 1, 1) == (second, info.hits, info.misses)


def test_a_header_the_email_package_cannot_read_back_holds_no_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fail closed: a header the email package's reader crashes on (before Python 3.13 it
    raises AttributeError on some encoded names) gives no address, so the composer
    leaves the name out and the mailer would refuse such a header."""

    class Crashing:
        def __init__(self, **_: object) -> None:
            pass

        def parsebytes(self, _: bytes) -> None:
            raise AttributeError("'Group' object has no attribute 'local_part'")

    monkeypatch.setattr(headers_module, "BytesHeaderParser", Crashing)
    assert [] == written_addresses("From", "Ana Crash <ana.crash@empresa.mx>")
    content = MailContent(pr.Purpose.PASSWORD_CHANGED, "juan@empresa.mx", "", "juan")
    sender = sender_settings("smtp.crash.mx", "crash@empresa.mx", display_name="Ana Crash")
    message = compose(content, sender, now=datetime(2026, 3, 14, tzinfo=UTC), message_token="t")
    assert [("From", "crash@empresa.mx")] == [i for i in message.raw_items() if i[0] == "From"]


def test_the_name_that_crashed_the_reader_still_leaves_one_sender() -> None:
    """The name hypothesis found (an encoded word the reader crashed on before Python
    3.13): whatever the version, the mail has exactly the sender's address as From."""
    name = base64.b64decode(UNREADABLE.split("?")[3]).decode("utf-8")
    content = MailContent(pr.Purpose.PASSWORD_CHANGED, "juan@empresa.mx", "", "juan")
    sender = sender_settings(display_name=name)
    message = compose(content, sender, now=datetime(2026, 3, 14, tzinfo=UTC), message_token="t")
    (written,) = [value for key, value in message.raw_items() if key == "From"]
    assert ["envios@empresa.mx"] == written_addresses("From", written)
