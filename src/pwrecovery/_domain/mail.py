"""The mails: a temporary password, a verification code, and two notices.

Composed without sending anything. The content of a mail (``MailContent``)
never holds its secret: the secret is given to ``compose`` only, so that a
queued mail can be stored as it is.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import html
import json
import re
from datetime import datetime
from email.charset import Charset
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from pwrecovery import _i18n
from pwrecovery._domain.addresses import ascii_domain_address
from pwrecovery._domain.headers import check_header_value, written_addresses
from pwrecovery._secret import Secret
from pwrecovery.models import Purpose, SenderSettings

PURPOSE_HEADER: Final = "X-PwRecovery-Purpose"
_UTF8: Final = Charset("utf-8")


@attrs.frozen
class MailContent:
    """What a mail says, apart from who sends it and its secret."""

    purpose: Purpose
    to_address: str
    to_name: str
    login: str
    expires_at: datetime | None = None
    locale: str = _i18n.DEFAULT_LOCALE
    new_address: str = ""  # masked; for the recovery-address-changed notice


def content_to_json(content: MailContent, message_token: str) -> bytes:
    """A queued mail's content and Message-ID token, as UTF-8 JSON (it holds no secret)."""
    return json.dumps(
        {
            "purpose": content.purpose.value,
            "to_address": content.to_address,
            "to_name": content.to_name,
            "login": content.login,
            "expires_at": content.expires_at.isoformat() if content.expires_at else None,
            "locale": content.locale,
            "new_address": content.new_address,
            "message_token": message_token,
        },
        ensure_ascii=False,
    ).encode("utf-8")


def content_from_json(payload: bytes) -> tuple[MailContent, str]:
    """The inverse of ``content_to_json``; ValueError, KeyError or TypeError if it is not one."""
    data = json.loads(payload.decode("utf-8"))
    expires = data["expires_at"]
    content = MailContent(
        purpose=Purpose(data["purpose"]),
        to_address=str(data["to_address"]),
        to_name=str(data["to_name"]),
        login=str(data["login"]),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        locale=str(data["locale"]),
        new_address=str(data["new_address"]),
    )
    return content, str(data["message_token"])


@attrs.frozen
class MailStyle:
    """How the host's mails read: its texts, the company's time zone and product name."""

    texts: _i18n.Texts = attrs.field(default=_i18n.DEFAULT_TEXTS)
    zone: ZoneInfo | None = None
    product: str = ""


@functools.lru_cache(maxsize=256)  # the sender's From, the same in every mail
def _address(display_name: str, addr_spec: str, field: str) -> str:
    """The header value for the address with its display name (quoted, or in an RFC 2047
    encoded word when it is not plain ASCII), or the address alone when the name, once
    written and read back, would not leave exactly this address: the name only
    decorates; the mail goes to the address alone."""
    check_header_value(display_name, field)
    check_header_value(addr_spec, field)
    address = ascii_domain_address(addr_spec)
    if display_name:
        named = f"{_phrase(display_name)} <{address}>"
        if written_addresses(field.title(), named) == [address]:
            return named
    return address


_SPECIALS: Final = re.compile(r'[][\\()<>@,:;".]')


def _phrase(name: str) -> str:
    """A display name as it is written: as it is, quoted, or encoded."""
    if not name.isascii() or "=?" in name:
        return _UTF8.header_encode(name)
    if _SPECIALS.search(name) or name != name.strip():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def _text(value: str) -> str:
    """An unstructured header value (the subject) as it is written."""
    return value if value.isascii() and "=?" not in value else _UTF8.header_encode(value)


def _message_id(token: str, from_address: str) -> str:
    return f"<{token}@{ascii_domain_address(from_address).rpartition('@')[2]}>"


def _paragraphs(content: MailContent, secret: str, now: datetime, style: MailStyle) -> list[str]:
    texts, locale = style.texts, content.locale
    values = {
        "name": content.to_name or content.login,
        "login": content.login,
        "secret": secret,
        "expires": texts.moment(locale, content.expires_at, style.zone)
        if content.expires_at
        else "",
        "when": texts.moment(locale, now, style.zone),
        "address": content.new_address,
        "product": style.product or texts.text(locale, "mail.default_product"),
    }
    body = texts.text(locale, f"mail.{content.purpose.value}.body", **values)
    return [paragraph.strip() for paragraph in body.split("\n\n") if paragraph.strip()]


_PAGE: Final = (
    '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"></head>\n'
    '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;'
    'color:#222;max-width:36em">\n{body}\n</body></html>\n'
)


def _html(paragraphs: list[str], secret: str, locale: str) -> str:
    body = []
    for paragraph in paragraphs:
        if secret and paragraph == secret:
            body.append(
                '<p style="font-family:monospace;font-size:1.5em;letter-spacing:0.1em">'
                f"<strong>{html.escape(paragraph)}</strong></p>"
            )
        else:
            body.append(f"<p>{html.escape(paragraph)}</p>")
    return _PAGE.format(lang=html.escape(locale.replace("_", "-")), body="\n".join(body))


def compose(
    content: MailContent,
    sender: SenderSettings,
    *,
    now: datetime,
    message_token: str,
    secret: Secret | None = None,
    style: MailStyle | None = None,
) -> EmailMessage:
    """A ``multipart/alternative`` mail (text and HTML) ready for a ``Mailer``.

    Every header value is checked by ``check_header_value``; the secret, when
    there is one, stands alone on its own line of the text part.
    """
    if content.purpose.carries_secret != (secret is not None):
        msg = f"the {content.purpose.value} mail needs a secret exactly when it carries one"
        raise ValueError(msg)
    style = style if style is not None else MailStyle()
    product = style.product or style.texts.text(content.locale, "mail.default_product")
    subject = style.texts.text(
        content.locale, f"mail.{content.purpose.value}.subject", product=product
    ).strip()
    check_header_value(subject, "subject")
    text = secret.reveal() if secret is not None else ""
    paragraphs = _paragraphs(content, text, now, style)
    token = message_token.encode("utf-8", "surrogatepass")
    boundary = "=_" + hashlib.sha256(token).hexdigest()[:22]  # its header fits on one line
    message = EmailMessage()
    # Written here as they go on the wire (set_raw: the email package keeps each value as
    # it is and folds only a line over 78 characters); composing through its header
    # registry and content manager cost more than the rest of a queued mail's delivery.
    for name, value in (
        ("Subject", _text(subject)),
        ("From", _address(sender.display_name, sender.from_address, "from")),
        ("To", _address(content.to_name, content.to_address, "to")),
        ("Date", format_datetime(now)),
        ("Message-ID", _message_id(message_token, sender.from_address)),
        ("Auto-Submitted", "auto-generated"),
        (PURPOSE_HEADER, content.purpose.value),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ):
        message.set_raw(name, value)
    message.attach(_part("plain", "\n\n".join(paragraphs) + "\n"))
    message.attach(_part("html", _html(paragraphs, text, content.locale)))
    return message


def _part(subtype: str, text: str) -> EmailMessage:
    """A UTF-8 text part in quoted-printable (whose lines never hold "=_", so never the
    boundary)."""
    part = EmailMessage()
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", "quoted-printable")
    encoded = binascii.b2a_qp(text.encode("utf-8", "surrogatepass"), istext=True)
    part.set_payload(encoded.decode("ascii"))
    return part
