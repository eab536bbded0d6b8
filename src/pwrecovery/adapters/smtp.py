"""``SmtpMailer``: the reference ``Mailer`` on the standard library's ``smtplib``.

What it guarantees, whatever smtplib's defaults:

- certificates are always verified (``ssl.create_default_context()`` unless
  the host gives its own context); smtplib verifies nothing by default;
- ``Security.STARTTLS`` requires the server to offer STARTTLS and never falls
  back to plaintext; ``Security.SSL`` is TLS from the first byte;
- a port that expects the other kind of TLS is named within seconds, not after
  the timeout: when no greeting comes in ``GREETING_WAIT`` seconds, a second
  connection tries a TLS handshake (``expects_ssl``: STARTTLS or NONE pointed at
  an implicit-TLS port such as 465); when the TLS handshake meets plaintext, a
  second connection listens for an SMTP greeting (``expects_starttls``: SSL
  pointed at a port such as 587). The probes send no credentials and no mail;
- ``Security.NONE`` sends credentials only to a loopback address: the host
  name is checked before connecting and the peer address after;
- a timeout is always set;
- AUTH PLAIN and LOGIN are done here in UTF-8 (smtplib encodes them as ASCII
  and would fail on a non-ASCII password), and SASL XOAUTH2 for OAuth 2.0
  senders (the "password" is then the access token);
- ``verify`` logs in, then proves the From address: ``MAIL FROM`` and ``RSET``;
- ``session`` logs in once for several messages; with a server that offers
  PIPELINING, a message's MAIL FROM, RCPT TO and DATA go in one round trip
  (``_smtp_send``);
- every smtplib, socket and ssl error is translated at this border by one
  table, ``TRANSLATIONS`` (exception type → error factory; the most specific
  type of the exception's class wins). No smtplib exception reaches the service.

The table lives in ``_smtp_errors`` and the greeting wait with its TLS probes in
``_smtp_tls``; their public names are importable from here as well.
"""

from __future__ import annotations

import base64
import ipaddress
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Final

from pwrecovery._domain.addresses import ascii_domain_address
from pwrecovery.adapters._smtp_errors import (
    BASIC_AUTH_OFF,
    TRANSLATIONS,
    Factory,
    Step,
    Where,
    enhanced_status,
    translated,
    translation,
)
from pwrecovery.adapters._smtp_send import as_sent, transmit
from pwrecovery.adapters._smtp_tls import (
    GREETING_WAIT,
    _Client,
    greets_in_plaintext,
    speaks_tls,
)
from pwrecovery.adapters.outgoing import (
    SMTPUTF8_REFUSED,
    check_credentials,
    needs_smtputf8,
    recipients_of,
    smtputf8_refused,
)
from pwrecovery.exceptions import (
    DeliveryFailed,
    InvalidConfiguration,
    PwRecoveryError,
    SenderAddressRefused,
    SenderUnreachable,
)
from pwrecovery.models import Authentication, Security, SenderSettings

__all__ = [
    "BASIC_AUTH_OFF",
    "GREETING_WAIT",
    "TRANSLATIONS",
    "Factory",
    "SmtpMailer",
    "SmtpSession",
    "Step",
    "Where",
    "enhanced_status",
    "greets_in_plaintext",
    "speaks_tls",
    "translated",
    "translation",
]

_AUTH_OK: Final = 235
_AUTH_CONTINUE: Final = 334
_MAIL_OK: Final = 250


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _peer_is_loopback(smtp: smtplib.SMTP) -> bool:
    sock = smtp.sock
    if sock is None:
        return False
    host = sock.getpeername()[0]
    return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback


class SmtpSession:
    """One logged-in SMTP session (``SmtpMailer.session``): ``send`` sends one message.

    A refusal of a message leaves the session usable (the transaction is reset);
    a lost connection does not, and every later ``send`` says so at once.
    """

    def __init__(self, smtp: smtplib.SMTP, settings: SenderSettings) -> None:
        self._smtp = smtp
        self._settings = settings
        self._lost = False

    def __repr__(self) -> str:
        return f"SmtpSession({self._settings.host}:{self._settings.port})"

    def send(self, message: EmailMessage) -> None:
        self.send_checked(message, recipients_of(message))

    def send_checked(self, message: EmailMessage, recipients: list[str]) -> None:
        """``send`` for a message ``recipients_of`` has checked already."""
        settings = self._settings
        if self._lost:
            raise SenderUnreachable(settings.host, settings.port, "connection")
        sender = ascii_domain_address(settings.from_address)
        international = needs_smtputf8(sender, *recipients)
        if international and not self._smtp.has_extn("smtputf8"):
            raise smtputf8_refused()
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        try:
            with translated(settings, Step.SEND):
                data = as_sent(message, utf8=international)
                transmit(self._smtp, sender, recipients, data, options)
        except DeliveryFailed:
            self._reset()
            raise
        except PwRecoveryError:
            self._lost = True
            raise

    def _reset(self) -> None:
        """End a refused transaction (smtplib leaves one open when DATA itself is
        refused); a server that closed the connection (421) ends the session."""
        if self._smtp.sock is None:
            self._lost = True
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._lost = True


class SmtpMailer:
    """Sends through a sender account's SMTP server.

    ``timeout`` bounds every network wait, in seconds; ``ssl_context`` replaces
    the default (system trust store, hostname checked) — give one to trust a
    private CA, never to switch verification off.
    """

    def __init__(
        self,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        *,
        local_hostname: str | None = None,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidConfiguration("timeout", "it must be a positive number of seconds")
        self._timeout = float(timeout)
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpMailer(timeout={self._timeout})"

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Built on first use, not at import or in a default argument.
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def verify(self, settings: SenderSettings, password: str) -> None:
        """Connect, secure the connection, log in, offer the From address (MAIL FROM,
        then RSET) and quit."""
        with self._logged_in(settings, password) as smtp, translated(settings, Step.CHECK_FROM):
            self._check_from(smtp, settings)

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        recipients = recipients_of(message)  # a bad message is refused before connecting
        with self.session(settings, password) as session:
            session.send_checked(message, recipients)

    @contextmanager
    def session(self, settings: SenderSettings, password: str) -> Iterator[SmtpSession]:
        """Log in once; send any number of messages through the session; quit."""
        with self._logged_in(settings, password) as smtp:
            yield SmtpSession(smtp, settings)

    # -- steps ---------------------------------------------------------------------

    @contextmanager
    def _logged_in(self, settings: SenderSettings, password: str) -> Iterator[smtplib.SMTP]:
        check_credentials(settings, password)
        with translated(settings, Step.CONNECT):
            smtp = self._connect(settings)
        try:
            with translated(settings, Step.LOG_IN):
                self._secure_and_log_in(smtp, settings, password)
            yield smtp  # the caller's errors are not translated: this yield is outside
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self, settings: SenderSettings) -> smtplib.SMTP:
        probe_wait = min(self._timeout, GREETING_WAIT)
        if settings.security is not Security.SSL:
            return _Client(
                settings,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._context(),
            )
        try:
            return smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._context(),
            )
        except ssl.SSLCertVerificationError:
            raise
        except ssl.SSLError as error:
            if greets_in_plaintext(settings.host, settings.port, probe_wait):
                raise SenderUnreachable(settings.host, settings.port, "expects_starttls") from error
            raise

    def _secure_and_log_in(
        self, smtp: smtplib.SMTP, settings: SenderSettings, password: str
    ) -> None:
        smtp.ehlo()
        if settings.security is Security.STARTTLS:
            if not smtp.has_extn("starttls"):
                raise SenderUnreachable(settings.host, settings.port, "starttls_unsupported")
            smtp.starttls(context=self._context())
            smtp.ehlo()
        elif settings.security is Security.NONE and not _peer_is_loopback(smtp):
            raise SenderUnreachable(settings.host, settings.port, "plaintext_refused")
        if not smtp.has_extn("auth"):
            raise SenderUnreachable(settings.host, settings.port, "auth_unsupported")
        self._authenticate(smtp, settings, password)

    @staticmethod
    def _authenticate(smtp: smtplib.SMTP, settings: SenderSettings, password: str) -> None:
        """AUTH; a refusal leaves as ``SMTPAuthenticationError`` for the table, as the
        fallback ``smtplib.login`` (CRAM-MD5…) raises it."""
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        if settings.authentication is Authentication.XOAUTH2:
            if "XOAUTH2" not in mechanisms:
                raise SenderUnreachable(settings.host, settings.port, "auth_unsupported")
            bearer = f"user={settings.username}\x01auth=Bearer {password}\x01\x01"
            code, reply = smtp.docmd("AUTH", "XOAUTH2 " + _b64(bearer))
            if code == _AUTH_CONTINUE:  # an error challenge: answer empty, then the verdict
                code, reply = smtp.docmd("")
        elif "PLAIN" in mechanisms:
            code, reply = smtp.docmd("AUTH", "PLAIN " + _b64(f"\0{settings.username}\0{password}"))
        elif "LOGIN" in mechanisms:
            code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(settings.username))
            if code == _AUTH_CONTINUE:
                code, reply = smtp.docmd(_b64(password))
        else:
            smtp.login(settings.username, password)  # other mechanisms, e.g. CRAM-MD5
            return
        if code != _AUTH_OK:
            raise smtplib.SMTPAuthenticationError(code, reply)

    @staticmethod
    def _check_from(smtp: smtplib.SMTP, settings: SenderSettings) -> None:
        """MAIL FROM with the sender's address, then RSET: a server that would refuse
        every mail from this login (Postfix's ``reject_sender_login_mismatch``) says so
        now. Nothing is sent."""
        address = ascii_domain_address(settings.from_address)
        options: list[str] = []
        if needs_smtputf8(address):
            if not smtp.has_extn("smtputf8"):
                raise SenderAddressRefused(settings.host, settings.from_address, SMTPUTF8_REFUSED)
            smtp.command_encoding = "utf-8"
            options.append("SMTPUTF8")
        code, reply = smtp.mail(address, options)
        if code != _MAIL_OK:
            raise smtplib.SMTPSenderRefused(code, reply, address)
        smtp.rset()
