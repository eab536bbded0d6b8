"""The three mails of DESIGN §4, composed without sending anything."""

from __future__ import annotations

import html
import json
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

import attrs

from pwrecovery import messages
from pwrecovery.domain.addresses import ascii_domain_address
from pwrecovery.domain.headers import check_header_value
from pwrecovery.domain.model import Purpose, SenderSettings

PURPOSE_HEADER: Final = "X-PwRecovery-Purpose"


@attrs.frozen
class MailContent:
    """What a mail says, apart from who sends it."""

    purpose: Purpose
    to_address: str
    to_name: str
    login: str
    secret: str | None = attrs.field(default=None, repr=False)
    expires_at: datetime | None = None
    locale: str = messages.DEFAULT_LOCALE
    new_address: str = ""  # masked; for the recovery-address-changed notice


def content_to_json(content: MailContent, message_token: str) -> str:
    """A queued mail's content (its secret included) and Message-ID token, as JSON text
    to be encrypted before it is stored."""
    return json.dumps(
        {
            "purpose": content.purpose.value,
            "to_address": content.to_address,
            "to_name": content.to_name,
            "login": content.login,
            "secret": content.secret,
            "expires_at": content.expires_at.isoformat() if content.expires_at else None,
            "locale": content.locale,
            "new_address": content.new_address,
            "message_token": message_token,
        },
        ensure_ascii=False,
    )


def content_from_json(text: str) -> tuple[MailContent, str]:
    """The inverse of ``content_to_json``; ValueError or KeyError if it is not one."""
    data = json.loads(text)
    expires = data["expires_at"]
    content = MailContent(
        purpose=Purpose(data["purpose"]),
        to_address=str(data["to_address"]),
        to_name=str(data["to_name"]),
        login=str(data["login"]),
        secret=data["secret"],
        expires_at=datetime.fromisoformat(expires) if expires else None,
        locale=str(data["locale"]),
        new_address=str(data["new_address"]),
    )
    return content, str(data["message_token"])


def _address(display_name: str, addr_spec: str, field: str) -> Address:
    check_header_value(display_name, field)
    check_header_value(addr_spec, field)
    local, _, domain = ascii_domain_address(addr_spec).rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def _message_id(token: str, from_address: str) -> str:
    return f"<{token}@{ascii_domain_address(from_address).rpartition('@')[2]}>"


def _paragraphs(content: MailContent, now: datetime) -> list[str]:
    texts = messages.MAILS[content.locale][content.purpose.value]["paragraphs"]
    values = {
        "name": content.to_name or content.login,
        "login": content.login,
        "secret": content.secret or "",
        "expires": messages.format_utc(content.expires_at) if content.expires_at else "",
        "when": messages.format_utc(now),
        "address": content.new_address,
    }
    return [text.format(**values) for text in texts]


def _html(paragraphs: list[str], secret: str | None) -> str:
    body = []
    for paragraph in paragraphs:
        if secret is not None and paragraph == secret:
            body.append(
                '<p style="font-family:monospace;font-size:1.5em;letter-spacing:0.1em">'
                f"<strong>{html.escape(paragraph)}</strong></p>"
            )
        else:
            body.append(f"<p>{html.escape(paragraph)}</p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(body) + "\n</body></html>\n"


def compose(
    content: MailContent, sender: SenderSettings, *, now: datetime, message_token: str
) -> EmailMessage:
    """A ``multipart/alternative`` mail (text and HTML) ready for a ``Mailer``.

    Every header value is checked by ``check_header_value``; the secret, when
    there is one, stands alone on its own line of the text part.
    """
    if not content.purpose.carries_secret and content.secret is not None:
        msg = f"the {content.purpose.value} notice carries no secret"
        raise ValueError(msg)
    mail_texts = messages.MAILS[content.locale][content.purpose.value]
    subject = str(mail_texts["subject"])
    check_header_value(subject, "subject")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = _address(sender.display_name, sender.from_address, "from")
    message["To"] = _address(content.to_name, content.to_address, "to")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = _message_id(message_token, sender.from_address)
    message["Auto-Submitted"] = "auto-generated"
    message[PURPOSE_HEADER] = content.purpose.value
    paragraphs = _paragraphs(content, now)
    message.set_content("\n\n".join(paragraphs) + "\n", subtype="plain", charset="utf-8")
    message.add_alternative(_html(paragraphs, content.secret), subtype="html", charset="utf-8")
    return message
