"""The mails: structure, headers, the secret on its own line, escaping, the host's words,
the company's clock."""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import _i18n
from pwrecovery._domain.headers import is_header_safe
from pwrecovery._domain.mail import (
    MailContent,
    MailStyle,
    compose,
    content_from_json,
    content_to_json,
)
from pwrecovery._secret import Secret
from tests.helpers import html_of, sender_settings, text_of

NOW = datetime(2026, 3, 14, 10, 30, 15, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=7)
TEXTS = _i18n.DEFAULT_TEXTS
TOKEN = "k3Jd9sQ2xPz"
SECRETS = {
    pr.Purpose.TEMPORARY_PASSWORD: "Abc234defGHJ",
    pr.Purpose.EMAIL_VERIFICATION: "48215937",
    pr.Purpose.PASSWORD_CHANGED: None,
    pr.Purpose.ADDRESS_CHANGED: None,
}
LOCALES = list(_i18n.SHIPPED_LOCALES)
RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")


def _content(purpose: pr.Purpose, locale: str = "es_MX", **changes: object) -> MailContent:
    values: dict[str, object] = {
        "purpose": purpose,
        "to_address": "juan@empresa.mx",
        "to_name": "Juan Pérez",
        "login": "juan",
        "expires_at": EXPIRES if SECRETS[purpose] is not None else None,
        "locale": locale,
    }
    values.update(changes)
    return MailContent(**values)  # type: ignore[arg-type]


def _compose(
    content: MailContent,
    sender: pr.SenderSettings | None = None,
    *,
    secret: str | None = "",
    style: MailStyle | None = None,
) -> EmailMessage:
    """Compose with the purpose's sample secret (``secret=""``), another, or none."""
    text = SECRETS[content.purpose] if secret == "" else secret
    return compose(
        content,
        sender or sender_settings(),
        now=NOW,
        message_token=TOKEN,
        secret=Secret(text) if text is not None else None,
        style=style,
    )


def _recipients(message: EmailMessage) -> list[str]:
    values = [str(v) for field in RECIPIENT_FIELDS for v in message.get_all(field, [])]
    return [address for _, address in getaddresses(values)]


purposes = pytest.mark.parametrize("purpose", list(pr.Purpose), ids=str)
locales = pytest.mark.parametrize("locale", LOCALES)
with_secret = pytest.mark.parametrize(
    "purpose", [p for p in pr.Purpose if SECRETS[p] is not None], ids=str
)


@purposes
@locales
def test_mail_is_multipart_alternative_with_text_then_html(
    purpose: pr.Purpose, locale: str
) -> None:
    """Every mail is multipart/alternative holding a text/plain and a text/html part."""
    message = _compose(_content(purpose, locale))
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert ("multipart/alternative", ["text/plain", "text/html"]) == (
        message.get_content_type(),
        parts,
    )


@purposes
@locales
def test_headers_of_every_mail(purpose: pr.Purpose, locale: str) -> None:
    """Subject, From, To, Date, Message-ID, Auto-Submitted and the purpose header are set."""
    message = _compose(_content(purpose, locale))
    sender = message["From"].addresses
    recipient = message["To"].addresses
    product = TEXTS.text(locale, "mail.default_product")
    assert (
        TEXTS.text(locale, f"mail.{purpose.value}.subject", product=product) == (message["Subject"])
    )
    assert [("Contabilidad", "envios@empresa.mx")] == [
        (a.display_name, a.addr_spec) for a in sender
    ]
    assert [("Juan Pérez", "juan@empresa.mx")] == [(a.display_name, a.addr_spec) for a in recipient]
    assert NOW == parsedate_to_datetime(message["Date"])
    assert f"<{TOKEN}@empresa.mx>" == message["Message-ID"]
    assert "auto-generated" == message["Auto-Submitted"]
    assert purpose.value == message["X-PwRecovery-Purpose"]


@purposes
def test_subject_is_localised(purpose: pr.Purpose) -> None:
    """The subject of each mail differs between es_MX and en."""
    subjects = {locale: _compose(_content(purpose, locale))["Subject"] for locale in LOCALES}
    assert len(LOCALES) == len(set(subjects.values()))


@purposes
def test_body_is_localised(purpose: pr.Purpose) -> None:
    """The text part of each mail differs between es_MX and en."""
    bodies = {text_of(_compose(_content(purpose, locale))) for locale in LOCALES}
    assert len(LOCALES) == len(bodies)


@with_secret
@locales
def test_secret_stands_alone_once_in_the_text_part(purpose: pr.Purpose, locale: str) -> None:
    """The secret appears exactly once in the text part, on a line of its own."""
    secret = SECRETS[purpose]
    assert secret is not None
    text = text_of(_compose(_content(purpose, locale)))
    assert (1, [secret]) == (text.count(secret), [ln for ln in text.splitlines() if secret in ln])


@with_secret
@locales
def test_secret_is_in_the_html_part(purpose: pr.Purpose, locale: str) -> None:
    """The secret appears in the html part too."""
    secret = SECRETS[purpose]
    assert secret is not None
    assert 1 == html_of(_compose(_content(purpose, locale))).count(html.escape(secret))


@with_secret
def test_secret_is_html_escaped(purpose: pr.Purpose) -> None:
    """A secret with markup characters is escaped in the html part and raw in the text part."""
    secret = "a<b>&c\"d'e"
    message = _compose(_content(purpose), secret=secret)
    assert (True, True, False) == (
        secret in text_of(message).splitlines(),
        html.escape(secret) in html_of(message),
        secret in html_of(message),
    )


@with_secret
@locales
def test_body_says_until_when_the_secret_is_valid(purpose: pr.Purpose, locale: str) -> None:
    """The expiry appears as the service's local time with its zone, in both parts."""
    message = _compose(_content(purpose, locale))
    expires = TEXTS.moment(locale, EXPIRES)
    assert (True, True) == (expires in text_of(message), expires in html_of(message))


@with_secret
def test_expiry_is_the_companys_local_time(purpose: pr.Purpose) -> None:
    """With the company's zone, a clerk in Mexico City reads her own clock, zone named."""
    style = MailStyle(zone=ZoneInfo("America/Mexico_City"))
    when = datetime(2026, 12, 4, 6, 11, tzinfo=UTC)
    message = _compose(_content(purpose, expires_at=when), style=style)
    assert "4 de diciembre de 2026, 00:11 (CST)" in text_of(message)
    assert "06:11" not in text_of(message)


@purposes
@locales
def test_mails_carry_the_hosts_product_name(purpose: pr.Purpose, locale: str) -> None:
    """branding= names the product in the subject and the body."""
    message = _compose(_content(purpose, locale), style=MailStyle(product="Contabilidad Plus"))
    assert "Contabilidad Plus" in message["Subject"]
    assert "Contabilidad Plus" in text_of(message)


@locales
def test_password_changed_notice_carries_no_secret_and_says_when(locale: str) -> None:
    """The password-changed notice names the moment of the change and holds no secret line."""
    text = text_of(_compose(_content(pr.Purpose.PASSWORD_CHANGED, locale)))
    assert TEXTS.moment(locale, NOW) in text
    for secret in SECRETS.values():
        if secret is not None:
            assert secret not in text


def test_password_changed_notice_refuses_a_secret() -> None:
    """compose refuses to put a secret into the password-changed notice."""
    with pytest.raises(ValueError, match="needs a secret exactly when"):
        _compose(_content(pr.Purpose.PASSWORD_CHANGED), secret="Abc234defGHJ")


@with_secret
def test_a_mail_that_carries_a_secret_needs_one(purpose: pr.Purpose) -> None:
    """A temporary-password or verification mail without its secret is never composed."""
    with pytest.raises(ValueError, match="needs a secret exactly when"):
        _compose(_content(purpose), secret=None)


@purposes
@pytest.mark.parametrize("field", ["to_name", "login"])
def test_user_controlled_values_are_escaped_in_html(purpose: pr.Purpose, field: str) -> None:
    """A display name or login holding markup appears escaped, never as markup."""
    hostile = '<script>alert("x")</script>'
    body = html_of(_compose(_content(purpose, **{field: hostile})))
    assert (False, True) == ("<script>" in body, html.escape(hostile) in body)


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_to_name_with_a_line_break_is_refused(bad: str, where: str) -> None:
    """A recipient name holding CR, LF, NUL or a line separator never reaches a header."""
    name = {"start": bad + "Juan", "middle": "Juan" + bad + "Bcc: x@y.mx", "end": "Juan" + bad}
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, to_name=name[where]))
    assert "to" == caught.value.field


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\x00", "\u2028"])
def test_to_address_with_a_line_break_is_refused(bad: str) -> None:
    """A recipient address holding a line break never reaches a header; the error names
    the To field."""
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        _compose(_content(pr.Purpose.EMAIL_VERIFICATION, to_address=f"juan@empresa.mx{bad}"))
    assert "to" == caught.value.field


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\nBcc: x@y.mx", "\x00", "\u2028"])
def test_sender_display_name_with_a_line_break_is_refused(bad: str) -> None:
    """A sender display name holding a line break is refused before any mail is composed."""
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        sender_settings(display_name=f"Contabilidad{bad}")
    assert "display_name" == caught.value.field


def test_non_ascii_sender_domain_is_written_in_idna_form() -> None:
    """An internationalised domain is written in xn-- form in From and Message-ID."""
    sender = sender_settings(from_address="envios@contabilidad-ñandú.mx")
    message = _compose(_content(pr.Purpose.TEMPORARY_PASSWORD), sender)
    assert f"<{TOKEN}@xn--contabilidad-and-jub9n.mx>" == message["Message-ID"]
    assert "<envios@xn--contabilidad-and-jub9n.mx>" in message["From"]
    from_line = next(line for line in message.as_string().splitlines() if line.startswith("From:"))
    assert "<envios@xn--contabilidad-and-jub9n.mx>" == from_line[from_line.index("<") :]


@purposes
@locales
def test_serialised_mail_has_exactly_one_recipient(purpose: pr.Purpose, locale: str) -> None:
    """Once written out and parsed back, the mail is addressed to the user alone."""
    raw = _compose(_content(purpose, locale)).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert ["juan@empresa.mx"] == _recipients(parsed)
    assert purpose.value == parsed["X-PwRecovery-Purpose"]


# Names as a user or a sender account holds them: NFKC, trimmed, at most 128 characters,
# safe in a header and without "=?" (normalize_display_name refuses the others). Checking
# the text before NFKC let "＝?" through, which NFKC makes "=?": the sender's name was
# refused and the property failed now and then.
NAMES = (
    st.text(alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=60)
    .map(lambda name: unicodedata.normalize("NFKC", name).strip())
    .filter(lambda name: len(name) <= 128 and is_header_safe(name) and "=?" not in name)
)


@given(to_name=NAMES, display_name=NAMES)
def test_any_safe_names_leave_exactly_one_recipient(to_name: str, display_name: str) -> None:
    """Whatever quotes, commas or brackets the names hold, the parsed mail has one recipient."""
    sender = sender_settings(display_name=display_name)
    raw = _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, to_name=to_name), sender).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert ["juan@empresa.mx"] == _recipients(parsed)


@pytest.mark.parametrize(
    "to_name",
    [
        "Pérez, Juan",
        "Juan <otro@intruso.mx>",
        '"Juan" otro@intruso.mx, x@y.mx',
        "a@b.mx; c@d.mx",
        "Juan (comentario) <x@y.mx>",
    ],
)
def test_tricky_names_do_not_add_recipients(to_name: str) -> None:
    """A display name that looks like addresses stays a display name."""
    raw = _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, to_name=to_name)).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert ["juan@empresa.mx"] == _recipients(parsed)


def test_name_falls_back_to_login_in_the_greeting() -> None:
    """Without a display name, the greeting uses the login."""
    text = text_of(_compose(_content(pr.Purpose.TEMPORARY_PASSWORD, "en", to_name="")))
    assert "Hello juan," == text.splitlines()[0]


@pytest.mark.parametrize("purpose", [p for p in pr.Purpose if not p.carries_secret], ids=str)
def test_notices_refuse_a_secret(purpose: pr.Purpose) -> None:
    """No notice (password changed, address changed) can carry a secret."""
    with pytest.raises(ValueError, match="needs a secret exactly when"):
        _compose(_content(purpose), secret="Abc234defGHJ")


SET_APART = '<p style="font-family:monospace;font-size:1.5em;letter-spacing:0.1em">'


def _html_lines(message: EmailMessage) -> list[str]:
    """The lines between <body ...> and </body> of the html part."""
    lines = html_of(message).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("<body"))
    return lines[start + 1 : lines.index("</body></html>")]


@purposes
@locales
def test_html_part_is_the_text_parts_paragraphs_with_the_secret_set_apart(
    purpose: pr.Purpose, locale: str
) -> None:
    """The html part has one paragraph per paragraph of the text part, one a line, in the
    same order; only the secret's is set apart (large, monospaced, bold)."""
    message = _compose(_content(purpose, locale))
    secret = SECRETS[purpose]
    paragraphs = text_of(message).strip().split("\n\n")
    expected = [
        f"{SET_APART}<strong>{html.escape(p)}</strong></p>"
        if p == secret
        else f"<p>{html.escape(p)}</p>"
        for p in paragraphs
    ]
    assert expected == _html_lines(message)
    assert (secret is not None) == any(line.startswith(SET_APART) for line in expected)


@pytest.mark.parametrize(("locale", "lang"), [("es_MX", "es-MX"), ("en", "en")])
def test_html_part_names_the_mails_language(locale: str, lang: str) -> None:
    """The html element carries the mail's locale as a language tag (es_MX → es-MX)."""
    page = html_of(_compose(_content(pr.Purpose.TEMPORARY_PASSWORD, locale)))
    assert f'<html lang="{lang}">' in page


@pytest.mark.parametrize("purpose", [p for p in pr.Purpose if not p.carries_secret], ids=str)
def test_a_notice_says_when_in_the_companys_zone(purpose: pr.Purpose) -> None:
    """A notice names the moment of the change on the company's clock, zone named."""
    zone = ZoneInfo("America/Mexico_City")
    message = _compose(_content(purpose), style=MailStyle(zone=zone))
    assert (True, False) == (
        TEXTS.moment("es_MX", NOW, zone) in text_of(message),
        TEXTS.moment("es_MX", NOW) in text_of(message),
    )


@purposes
@locales
def test_without_branding_the_body_names_the_default_product(
    purpose: pr.Purpose, locale: str
) -> None:
    """Without branding=, the body says the catalog's word for the product, in the mail's
    language."""
    assert TEXTS.text(locale, "mail.default_product") in text_of(
        _compose(_content(purpose, locale))
    )


QUEUED = [
    MailContent(
        purpose=pr.Purpose.TEMPORARY_PASSWORD,
        to_address="josé@ñandú.mx",
        to_name="José Pérez",
        login="José",
        expires_at=datetime(2026, 3, 21, 10, 30, 15, 250, tzinfo=UTC),
        locale="en",
    ),
    MailContent(
        purpose=pr.Purpose.ADDRESS_CHANGED,
        to_address="juan@empresa.mx",
        to_name="",
        login="juan",
        new_address="j***@ñandú.mx",
    ),
]


@pytest.mark.parametrize("content", QUEUED, ids=["with-expiry", "notice"])
def test_a_queued_mails_content_reads_back_as_it_was_written(content: MailContent) -> None:
    """What a queued mail stores (every field, the expiry to the microsecond, and its
    Message-ID token) is read back unchanged."""
    assert (content, "k3Jd9sQ2") == content_from_json(content_to_json(content, "k3Jd9sQ2"))


def test_a_queued_mails_content_is_utf8_json_that_keeps_its_letters() -> None:
    """The payload is UTF-8 JSON with the letters as they are, not \\u escapes."""
    payload = content_to_json(QUEUED[0], "k3Jd9sQ2")
    assert (True, "José Pérez") == (
        "José Pérez".encode() in payload,
        json.loads(payload.decode("utf-8"))["to_name"],
    )


@purposes
def test_a_mail_has_exactly_these_headers_in_this_order(purpose: pr.Purpose) -> None:
    """A mail carries these headers and no other, spelled as RFC 5322 spells them."""
    assert [
        "Subject",
        "From",
        "To",
        "Date",
        "Message-ID",
        "Auto-Submitted",
        "X-PwRecovery-Purpose",
        "MIME-Version",
        "Content-Type",
    ] == _compose(_content(purpose)).keys()


def test_a_hosts_subject_with_a_line_break_is_refused() -> None:
    """A subject the host's own translation breaks over lines never reaches a header; the
    error names the subject."""
    texts = _i18n.Texts(
        _i18n.Translations({"en": {"mail.temporary-password.subject": "Clave\r\nBcc: x@y.mx"}})
    )
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, "en"), style=MailStyle(texts=texts))
    assert "subject" == caught.value.field


def test_a_planted_sender_name_with_a_line_break_is_refused() -> None:
    """compose checks the From header itself, whatever SenderSettings let through (here a
    value planted past its validators): the error names the From field."""
    sender = sender_settings()
    object.__setattr__(sender, "display_name", "Contabilidad\r\nBcc: x@y.mx")
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        _compose(_content(pr.Purpose.TEMPORARY_PASSWORD), sender)
    assert "from" == caught.value.field


LONG_FOLDED_NAME = unicodedata.normalize("NFKC", "x@y.mx, " + "\ufdfa" * 4)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Pérez, Juan", "Pérez, Juan"),
        ("Juan <juan@otra.mx>", "Juan <juan@otra.mx>"),
        (LONG_FOLDED_NAME, ""),
    ],
    ids=["accented-with-comma", "address-like", "folded-into-two"],
)
def test_a_name_that_would_read_back_as_two_addresses_is_left_out(name: str, shown: str) -> None:
    """A display name stays when the To header, written and read back, holds one address;
    one that the folding of its encoded words would split in two (a long name holding an
    address and a comma) is left out, and the mail goes to the address alone."""
    message = _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, to_name=name))
    wire = email.message_from_bytes(
        message.as_bytes(policy=email.policy.SMTPUTF8), policy=email.policy.default
    )
    assert (["juan@empresa.mx"], shown) == (
        [address for _, address in getaddresses([str(v) for v in wire.get_all("To")])],
        message["To"].addresses[0].display_name,
    )


def _written_headers(message: EmailMessage) -> dict[str, str]:
    """The message's own headers as compose stored them (the values as they are written)."""
    return dict(message.raw_items())


def test_a_mails_headers_are_written_as_they_go_on_the_wire() -> None:
    """compose stores each header as it is written: a plain subject and sender name as
    they are, a recipient name with a quote and a backslash quoted with both escaped,
    MIME-Version 1.0, and the boundary taken from the Message-ID token."""
    name = 'Ana "la" \\ Ruiz'
    message = _compose(_content(pr.Purpose.TEMPORARY_PASSWORD, "en", to_name=name))
    boundary = "=_" + hashlib.sha256(TOKEN.encode()).hexdigest()[:22]
    assert [
        ("Subject", "Your temporary password for the application"),
        ("From", "Contabilidad <envios@empresa.mx>"),
        ("To", '"Ana \\"la\\" \\\\ Ruiz" <juan@empresa.mx>'),
        ("Date", "Sat, 14 Mar 2026 10:30:15 +0000"),
        ("Message-ID", f"<{TOKEN}@empresa.mx>"),
        ("Auto-Submitted", "auto-generated"),
        ("X-PwRecovery-Purpose", "temporary-password"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ] == list(message.raw_items())
    assert [(name, "juan@empresa.mx")] == [
        (a.display_name, a.addr_spec) for a in message["To"].addresses
    ]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Juan", "Juan"),
        (" Juan", '" Juan"'),
        ("Juan ", '"Juan "'),
        ("Perez, Juan", '"Perez, Juan"'),
        ("Ana (la) Ruiz", '"Ana (la) Ruiz"'),
        ("J. Ruiz", '"J. Ruiz"'),
        ("Ana =? Ruiz", "=?utf-8?q?Ana_=3D=3F_Ruiz?="),
        ("Juan Pérez", "=?utf-8?q?Juan_P=C3=A9rez?="),
    ],
    ids=[
        "plain",
        "leading-space",
        "trailing-space",
        "comma",
        "parentheses",
        "dot",
        "ascii-with-encoded-word-start",
        "non-ascii",
    ],
)
def test_a_display_name_is_written_as_it_is_quoted_or_encoded(name: str, written: str) -> None:
    """A plain ASCII name is written as it is; one with a special character or with
    surrounding spaces is quoted; one that is not ASCII, or that holds "=?", is written as
    an RFC 2047 encoded word; and it reads back as the same name."""
    message = _compose(_content(pr.Purpose.PASSWORD_CHANGED, to_name=name))
    assert (f"{written} <juan@empresa.mx>", [(name, "juan@empresa.mx")]) == (
        _written_headers(message)["To"],
        [(a.display_name, a.addr_spec) for a in message["To"].addresses],
    )


@pytest.mark.parametrize(
    ("product", "written"),
    [
        ("Cuentas", "Your password for Cuentas was changed"),
        ("Cuentas =? Plus", "=?utf-8?q?Your_password_for_Cuentas_=3D=3F_Plus_was_changed?="),
        ("Cuentas Ñ", "=?utf-8?q?Your_password_for_Cuentas_=C3=91_was_changed?="),
    ],
    ids=["ascii", "ascii-with-encoded-word-start", "non-ascii"],
)
def test_a_subject_is_written_as_it_is_unless_it_must_be_encoded(
    product: str, written: str
) -> None:
    """A plain ASCII subject is written as it is; one that is not ASCII, or that holds
    "=?", is written as an RFC 2047 encoded word that reads back as the subject."""
    message = _compose(
        _content(pr.Purpose.PASSWORD_CHANGED, "en"), style=MailStyle(product=product)
    )
    assert (written, f"Your password for {product} was changed") == (
        _written_headers(message)["Subject"],
        message["Subject"],
    )


def test_each_part_is_utf8_text_in_quoted_printable_with_its_line_ends_kept() -> None:
    """Each part carries exactly its Content-Type (with charset "utf-8") and
    Content-Transfer-Encoding headers, spelled so in the bytes; its body is
    quoted-printable with the text's line ends kept as line ends and non-ASCII (and
    "=") escaped."""
    message = _compose(_content(pr.Purpose.PASSWORD_CHANGED, "en", to_name=""))
    parts = list(message.iter_parts())
    assert [
        [
            ("Content-Type", f'text/{subtype}; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ]
        for subtype in ("plain", "html")
    ] == [list(part.raw_items()) for part in parts]
    raw = message.as_bytes()
    for subtype in ("plain", "html"):
        assert (
            f'\nContent-Type: text/{subtype}; charset="utf-8"\n'
            "Content-Transfer-Encoding: quoted-printable\n\n"
        ).encode() in raw
    plain, page = (str(part.get_payload()) for part in parts)
    assert [
        "Hello juan,",
        "",
        "The password of the user =E2=80=9Cjuan=E2=80=9D in the application was chan=",
    ] == plain.splitlines()[:3]
    assert ["<!DOCTYPE html>", '<html lang=3D"en"><head><meta charset=3D"utf-8"></head>'] == (
        page.splitlines()[:2]
    )


def test_a_queued_mail_with_a_lone_surrogate_is_still_composed() -> None:
    """A queued mail read back from JSON with \\ud800-style escapes (a lone surrogate in the
    login and in the Message-ID token) is composed all the same: the text is written with
    the surrogate's UTF-8 bytes escaped, and the boundary comes from the token's bytes."""
    payload = (
        b'{"purpose": "password-changed", "to_address": "juan@empresa.mx", "to_name": "",'
        b' "login": "ju\\udc80an", "expires_at": null, "locale": "en", "new_address": "",'
        b' "message_token": "t\\ud800"}'
    )
    content, token = content_from_json(payload)
    message = compose(content, sender_settings(), now=NOW, message_token=token)
    boundary = "=_" + hashlib.sha256(b"t\xed\xa0\x80").hexdigest()[:22]
    plain = str(next(message.iter_parts()).get_payload())
    assert (f'multipart/alternative; boundary="{boundary}"', "Hello ju=ED=B2=80an,") == (
        _written_headers(message)["Content-Type"],
        plain.splitlines()[0],
    )
