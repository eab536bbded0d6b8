"""Which TLS a port speaks: ``SmtpMailer``'s greeting wait and its two probes.

``_Client`` is ``smtplib.SMTP`` that waits ``GREETING_WAIT`` seconds for the
server's first byte; when none comes, ``speaks_tls`` asks a second connection
for a TLS handshake (the port expects implicit TLS: ``expects_ssl``). When an
implicit-TLS handshake meets plaintext, ``greets_in_plaintext`` listens on a
second connection for an SMTP greeting (``expects_starttls``). The probes send
no credentials and no mail.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from typing import Final

from pwrecovery.exceptions import SenderUnreachable
from pwrecovery.models import SenderSettings

GREETING_WAIT: Final = 5.0  # seconds without a greeting before the port is asked about TLS
_SMTP_GREETING: Final = re.compile(rb"[2-5]\d\d[ -]")


def _first_byte_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer says something (or closes) within ``seconds``; nothing is read."""
    sock.settimeout(max(seconds, 0.001))
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return False
    return True


def speaks_tls(host: str, port: int, context: ssl.SSLContext, timeout: float) -> bool:
    """Whether a new connection to the port gets through a TLS handshake (or a TLS
    answer to it: a certificate we would not trust, an alert). Nothing else is sent."""
    try:
        with (
            socket.create_connection((host, port), timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except ssl.SSLCertVerificationError:
        return True
    except ssl.SSLError as error:
        return "ALERT" in str(error.reason or "")
    except (OSError, ValueError):
        return False


def greets_in_plaintext(host: str, port: int, timeout: float) -> bool:
    """Whether a new connection to the port is greeted by an SMTP reply in plaintext."""
    try:
        with socket.create_connection((host, port), timeout) as raw:
            head = b""
            while len(head) < 4:  # noqa: PLR2004 (three digits and a separator)
                chunk = raw.recv(4 - len(head))
                if not chunk:
                    break
                head += chunk
    except OSError:
        return False
    return _SMTP_GREETING.match(head) is not None


class _Client(smtplib.SMTP):
    """``smtplib.SMTP`` that waits ``GREETING_WAIT`` for the first byte of the greeting;
    then, if the port speaks TLS from the first byte, says so instead of waiting on."""

    def __init__(
        self,
        settings: SenderSettings,
        *,
        local_hostname: str | None,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        self._tls_context = context
        super().__init__(
            settings.host, settings.port, local_hostname=local_hostname, timeout=timeout
        )

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        try:
            self._await_greeting(sock, host, port, timeout)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(timeout)
        return sock

    def _await_greeting(self, sock: socket.socket, host: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        wait = min(timeout, GREETING_WAIT)
        if _first_byte_within(sock, wait):
            return
        if speaks_tls(host, port, self._tls_context, wait):
            raise SenderUnreachable(host, port, "expects_ssl")
        # Not TLS either: a slow server, or a silent one. Wait out the rest of the timeout.
        if not _first_byte_within(sock, deadline - time.monotonic()):
            raise TimeoutError
