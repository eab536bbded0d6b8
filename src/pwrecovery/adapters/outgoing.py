"""Checks every mailer makes before a message or a credential leaves the process.

Shared by ``RecordingMailer`` and ``SmtpMailer`` so the fake refuses exactly
what the real one does.
"""

from __future__ import annotations

import ipaddress
from email.message import EmailMessage
from email.utils import getaddresses

from pwrecovery.domain.headers import check_header_value
from pwrecovery.domain.model import Security, SenderSettings
from pwrecovery.errors import DeliveryFailed, SenderUnreachable

_RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")


def is_loopback_host(host: str) -> bool:
    """A host name or address that cannot leave this machine."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_plaintext_credentials(settings: SenderSettings) -> None:
    """Credentials go unencrypted only to a loopback address."""
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
    addresses = [
        addr
        for _, addr in getaddresses(
            [str(v) for f in _RECIPIENT_FIELDS for v in message.get_all(f, [])]
        )
    ]
    if len(addresses) != 1 or not addresses[0] or message["From"] is None:
        raise DeliveryFailed(attempts=0)
    return addresses
