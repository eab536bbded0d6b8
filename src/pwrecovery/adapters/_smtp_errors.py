"""The translation table of ``SmtpMailer``: smtplib, ssl and socket errors into pwrecovery's.

``TRANSLATIONS`` maps an exception type to a factory; ``translation`` picks the
factory of the most specific type the exception is, and ``translated`` applies it
to whatever a block raises. Some errors mean different things by the ``Step`` the
mailer was at (a refused MAIL FROM while verifying names the From address; while
sending it refuses the mail). A refused login whose enhanced status is one of
``BASIC_AUTH_OFF`` means the server no longer takes a username and password.
"""

from __future__ import annotations

import enum
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import attrs

from pwrecovery.adapters.outgoing import refusal, smtputf8_refused
from pwrecovery.exceptions import (
    BasicAuthDisabled,
    PwRecoveryError,
    SenderAddressRefused,
    SenderAuthenticationFailed,
    SenderUnreachable,
)
from pwrecovery.models import Authentication, SenderSettings

# Enhanced status codes (RFC 3463) with which Microsoft 365 refuses a username and
# password: 535 5.7.139 "SmtpClientAuthentication is disabled for the Tenant" and
# 550 5.7.30 "Basic authentication is not supported for Client Submission".
BASIC_AUTH_OFF: Final = frozenset({"5.7.139", "5.7.30"})
_ENHANCED_STATUS: Final = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})(?!\S)")


def enhanced_status(reply: bytes | str) -> str | None:
    """The enhanced status code (``5.7.139``) at the start of a reply's text, if any."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    found = _ENHANCED_STATUS.match(text)
    return found[1] if found else None


class Step(enum.Enum):
    """What the mailer was doing when an error came: some errors mean different things."""

    CONNECT = "connect"
    LOG_IN = "log_in"
    CHECK_FROM = "check_from"  # verify's MAIL FROM
    SEND = "send"


@attrs.frozen
class Where:
    settings: SenderSettings
    step: Step


Factory = Callable[[Any, Where], PwRecoveryError]


def _unreachable(reason: str) -> Factory:
    def factory(error: BaseException, where: Where) -> PwRecoveryError:
        del error
        return SenderUnreachable(where.settings.host, where.settings.port, reason)

    return factory


def _login_refused(error: smtplib.SMTPAuthenticationError, where: Where) -> PwRecoveryError:
    settings = where.settings
    basic = settings.authentication is not Authentication.XOAUTH2
    if basic and enhanced_status(error.smtp_error) in BASIC_AUTH_OFF:
        return BasicAuthDisabled(settings.host)
    if 400 <= error.smtp_code < 500:  # noqa: PLR2004 (a transient reply: not the password)
        return SenderUnreachable(settings.host, settings.port, "protocol")
    return SenderAuthenticationFailed(settings.host)


def _sender_refused(error: smtplib.SMTPSenderRefused, where: Where) -> PwRecoveryError:
    if where.step is Step.CHECK_FROM:
        settings = where.settings
        return SenderAddressRefused(settings.host, settings.from_address, error.smtp_code)
    return refusal(error.smtp_code)


def _recipients_refused(error: smtplib.SMTPRecipientsRefused, where: Where) -> PwRecoveryError:
    del where
    codes = [code for code, _ in error.recipients.values()]
    return refusal(codes[0] if codes else 0)


def _data_refused(error: smtplib.SMTPDataError, where: Where) -> PwRecoveryError:
    del where
    return refusal(error.smtp_code)


def _not_supported(error: smtplib.SMTPNotSupportedError, where: Where) -> PwRecoveryError:
    del error
    if where.step is Step.SEND:  # smtplib's own check: an address needs SMTPUTF8
        return smtputf8_refused()
    return SenderUnreachable(where.settings.host, where.settings.port, "auth_unsupported")


def _disconnected(error: smtplib.SMTPServerDisconnected, where: Where) -> PwRecoveryError:
    # smtplib reports a read timeout as a disconnection; the cause tells them apart.
    reason = "timeout" if isinstance(error.__context__, TimeoutError) else "connection"
    return SenderUnreachable(where.settings.host, where.settings.port, reason)


TRANSLATIONS: Final[Mapping[type[BaseException], Factory]] = {
    smtplib.SMTPAuthenticationError: _login_refused,
    smtplib.SMTPSenderRefused: _sender_refused,
    smtplib.SMTPRecipientsRefused: _recipients_refused,
    smtplib.SMTPDataError: _data_refused,
    smtplib.SMTPNotSupportedError: _not_supported,
    smtplib.SMTPServerDisconnected: _disconnected,
    smtplib.SMTPException: _unreachable("protocol"),
    ssl.SSLCertVerificationError: _unreachable("certificate"),
    ssl.SSLError: _unreachable("tls"),
    TimeoutError: _unreachable("timeout"),
    OSError: _unreachable("connection"),
    UnicodeError: _unreachable("connection"),
    ValueError: _unreachable("connection"),
}


def translation(error: BaseException) -> Factory | None:
    """The factory of the most specific type in ``TRANSLATIONS`` that ``error`` is."""
    for kind in type(error).__mro__:
        factory = TRANSLATIONS.get(kind)
        if factory is not None:
            return factory
    return None


@contextmanager
def translated(settings: SenderSettings, step: Step) -> Iterator[None]:
    """Whatever smtplib, ssl or socket raise in the block leaves as a pwrecovery error."""
    try:
        yield
    except PwRecoveryError:
        raise
    except Exception as error:
        factory = translation(error)
        if factory is None:
            raise
        raise factory(error, Where(settings, step)) from error
