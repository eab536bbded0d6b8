"""Checks every mailer makes before a message or a credential leaves the process.

Shared by ``RecordingMailer`` and ``SmtpMailer`` so the fake refuses exactly
what the real one does.
"""

from __future__ import annotations

import ipaddress
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from pwrecovery._domain.headers import check_header_value
from pwrecovery.exceptions import DeliveryFailed, InvalidHeaderValue, SenderUnreachable
from pwrecovery.models import Security, SenderSettings

_RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")


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
    # address header drops a trailing newline that the serialised message keeps.
    unfolded = message.policy.clone(max_line_length=None, linesep="\n")
    for name, value in message.items():
        check_header_value(name, "header")
        written = unfolded.fold(name, value).removeprefix(f"{name}:").strip(" ")
        check_header_value(written.removesuffix("\n"), name.lower())
    # Count addresses in the message as it will be written and read back: a display name
    # can turn into addresses once serialised, and a server reads what was written.
    wire = BytesHeaderParser(policy=policy.default).parsebytes(
        message.as_bytes(policy=policy.SMTPUTF8)
    )
    recipients = _addresses(wire, _RECIPIENT_FIELDS)
    if len(recipients) != 1 or len(_addresses(wire, ("From",))) != 1:
        raise DeliveryFailed(attempts=0)
    return recipients


def _addresses(message: Message, fields: tuple[str, ...]) -> list[str]:
    values = [str(value) for field in fields for value in message.get_all(field, [])]
    return [address for _, address in getaddresses(values) if address]
