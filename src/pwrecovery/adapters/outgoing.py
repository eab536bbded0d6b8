"""Checks every mailer makes before a message or a credential leaves the process, and
how a refusal of a message is told apart: for good, or for now.

Shared by ``RecordingMailer`` and ``SmtpMailer`` so the fake refuses exactly
what the real one does.
"""

from __future__ import annotations

import ipaddress
from email.message import EmailMessage
from typing import Final

from pwrecovery._domain.headers import check_header_value, written_addresses
from pwrecovery.exceptions import (
    DeliveryFailed,
    DeliveryRejected,
    InvalidHeaderValue,
    SenderUnreachable,
)
from pwrecovery.models import Security, SenderSettings

_RECIPIENT_FIELDS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
_ADDRESS_FIELDS = frozenset({*_RECIPIENT_FIELDS, "from"})

# RFC 5321's "parameters not recognised or not implemented": what a server without
# SMTPUTF8 answers to MAIL FROM:<...> SMTPUTF8 (Postfix: 555 5.5.4).
SMTPUTF8_REFUSED: Final = 555


def is_loopback_host(host: str) -> bool:
    """A host name or address that cannot leave this machine."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_credentials(settings: SenderSettings, password: str) -> None:
    """Before connecting: the password can go into AUTH (UTF-8, no NUL, which separates
    AUTH PLAIN's fields), and credentials go unencrypted only to a loopback address."""
    if not isinstance(password, str) or "\x00" in password:
        raise InvalidHeaderValue("password")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidHeaderValue("password") from error
    if settings.security is Security.NONE and not is_loopback_host(settings.host):
        raise SenderUnreachable(settings.host, settings.port, "plaintext_refused")


def recipients_of(message: EmailMessage) -> list[str]:
    """The single recipient of a pwrecovery message, after checking every header.

    A message with a header value that could inject a header, or with more or
    fewer than one recipient, is refused before it reaches a server.
    """
    # Check each header as it will be written, not its parsed form: str() of an
    # address header drops a trailing newline that the serialised message keeps. A value
    # stored as written (``set_raw``, as ``compose`` does) is checked as it is. Then count
    # the addresses of the header as it will be written and read back: a display name can
    # turn into addresses once serialised, and a server reads what was written.
    unfolded = message.policy.clone(max_line_length=None, linesep="\n")
    fields: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        check_header_value(name, "header")
        written = unfolded.fold(name, value).removeprefix(f"{name}:").strip(" ")
        check_header_value(written.removesuffix("\n"), name.lower())
        if name.lower() in _ADDRESS_FIELDS:
            fields.setdefault(name.lower(), []).extend(written_addresses(name, value))
    recipients = [address for field in _RECIPIENT_FIELDS for address in fields.get(field, [])]
    if len(recipients) != 1 or len(fields.get("from", [])) != 1:
        raise DeliveryFailed(attempts=0)
    return recipients


def refusal(reply_code: int, reason: str = "") -> DeliveryFailed:
    """The error for a server's refusal of one message (at MAIL, RCPT or DATA): a 5xx
    reply is for good (``DeliveryRejected``), anything else may pass later."""
    if 500 <= reply_code < 600:  # noqa: PLR2004 (SMTP's reply classes)
        return DeliveryRejected(attempts=1, reply_code=reply_code, reason=reason)
    return DeliveryFailed(attempts=1, reply_code=reply_code, reason=reason)


def needs_smtputf8(*addresses: str) -> bool:
    """Whether an envelope with these addresses can only go with SMTPUTF8 (a non-ASCII
    local part; domains go in their ASCII form)."""
    return not all(address.isascii() for address in addresses)


def smtputf8_refused() -> DeliveryFailed:
    """A recipient that needs SMTPUTF8 on a server that does not offer it: no retry will
    change that server's answer, so the refusal is for good."""
    return refusal(SMTPUTF8_REFUSED, "smtputf8_unsupported")
