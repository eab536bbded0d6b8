"""``SmtpMailer``: the reference ``Mailer`` on the standard library's ``smtplib``.

What it guarantees, whatever smtplib's defaults:

- certificates are always verified (``ssl.create_default_context()`` unless
  the host gives its own context); smtplib verifies nothing by default;
- ``Security.STARTTLS`` requires the server to offer STARTTLS and never falls
  back to plaintext; ``Security.SSL`` is TLS from the first byte;
- ``Security.NONE`` sends credentials only to a loopback address: the host
  name is checked before connecting and the peer address after;
- a timeout is always set;
- AUTH PLAIN and LOGIN are done here in UTF-8 (smtplib encodes them as ASCII
  and would fail on a non-ASCII password), and SASL XOAUTH2 for OAuth 2.0
  senders (the "password" is then the access token);
- every smtplib, socket and ssl error is translated at this border:
  a refused login → ``SenderAuthenticationFailed``; connection, TLS and
  timeouts → ``SenderUnreachable``; a refusal while sending →
  ``DeliveryFailed``. No smtplib exception reaches the service.
"""

from __future__ import annotations

import base64
import ipaddress
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Final, TypeVar

from pwrecovery._domain.addresses import ascii_domain_address
from pwrecovery.adapters.outgoing import check_credentials, recipients_of
from pwrecovery.exceptions import (
    DeliveryFailed,
    InvalidConfiguration,
    PwRecoveryError,
    SenderAuthenticationFailed,
    SenderUnreachable,
)
from pwrecovery.models import Authentication, Security, SenderSettings

T = TypeVar("T")

_AUTH_OK: Final = 235
_AUTH_CONTINUE: Final = 334
_TRANSIENT: Final = range(400, 500)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _peer_is_loopback(smtp: smtplib.SMTP) -> bool:
    sock = smtp.sock
    if sock is None:
        return False
    host = sock.getpeername()[0]
    return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback


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
        """Connect, secure the connection, log in and quit."""
        with self._session(settings, password):
            pass

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        recipients = recipients_of(message)
        with self._session(settings, password) as smtp:
            self._translated(
                settings,
                lambda: smtp.send_message(
                    message,
                    from_addr=ascii_domain_address(settings.from_address),
                    to_addrs=recipients,
                ),
                sending=True,
            )

    def _connect(self, settings: SenderSettings) -> smtplib.SMTP:
        if settings.security is Security.SSL:
            return smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            settings.host, settings.port, local_hostname=self._local_hostname, timeout=self._timeout
        )

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
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        if settings.authentication is Authentication.XOAUTH2:
            if "XOAUTH2" not in mechanisms:
                raise SenderUnreachable(settings.host, settings.port, "auth_unsupported")
            bearer = f"user={settings.username}\x01auth=Bearer {password}\x01\x01"
            code, _ = smtp.docmd("AUTH", "XOAUTH2 " + _b64(bearer))
            if code == _AUTH_CONTINUE:  # an error challenge: answer empty, then the verdict
                code, _ = smtp.docmd("")
        elif "PLAIN" in mechanisms:
            code, _ = smtp.docmd("AUTH", "PLAIN " + _b64(f"\0{settings.username}\0{password}"))
        elif "LOGIN" in mechanisms:
            code, _ = smtp.docmd("AUTH", "LOGIN " + _b64(settings.username))
            if code == _AUTH_CONTINUE:
                code, _ = smtp.docmd(_b64(password))
        else:
            smtp.login(settings.username, password)  # other mechanisms, e.g. CRAM-MD5
            return
        if code == _AUTH_OK:
            return
        if code in _TRANSIENT:
            raise SenderUnreachable(settings.host, settings.port, "protocol")
        raise SenderAuthenticationFailed(settings.host)

    @contextmanager
    def _session(self, settings: SenderSettings, password: str) -> Iterator[smtplib.SMTP]:
        check_credentials(settings, password)
        smtp = self._translated(settings, lambda: self._connect(settings))
        try:
            self._translated(settings, lambda: self._secure_and_log_in(smtp, settings, password))
            yield smtp
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    @staticmethod
    def _translated(  # noqa: C901 (one flat table of translations, read top to bottom)
        settings: SenderSettings, action: Callable[[], T], *, sending: bool = False
    ) -> T:
        """Run ``action``; whatever smtplib, ssl or socket raise leaves as a pwrecovery error."""
        host, port = settings.host, settings.port
        try:
            return action()
        except PwRecoveryError:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise SenderAuthenticationFailed(host) from error
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
        ) as error:
            raise DeliveryFailed(attempts=1) from error
        except smtplib.SMTPNotSupportedError as error:
            if sending:
                raise DeliveryFailed(attempts=1) from error
            raise SenderUnreachable(host, port, "auth_unsupported") from error
        except smtplib.SMTPServerDisconnected as error:
            # smtplib reports a read timeout as a disconnection; the cause tells them apart.
            reason = "timeout" if isinstance(error.__context__, TimeoutError) else "connection"
            raise SenderUnreachable(host, port, reason) from error
        except smtplib.SMTPException as error:
            raise SenderUnreachable(host, port, "protocol") from error
        except ssl.SSLCertVerificationError as error:
            raise SenderUnreachable(host, port, "certificate") from error
        except ssl.SSLError as error:
            raise SenderUnreachable(host, port, "tls") from error
        except TimeoutError as error:
            raise SenderUnreachable(host, port, "timeout") from error
        except (OSError, UnicodeError, ValueError) as error:
            raise SenderUnreachable(host, port, "connection") from error
