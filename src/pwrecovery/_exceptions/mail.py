"""Errors of the sender accounts and of delivery.

``SenderError``: no sender, empty credentials, a refused login (basic
authentication switched off included), a server out of reach, a refused From
address, no OAuth 2.0 token, and a mail no sender could deliver (for now, or
for good).
"""

from __future__ import annotations

from pwrecovery import _i18n
from pwrecovery._exceptions.base import PwRecoveryError


class SenderError(PwRecoveryError):
    """A sender account could not be used, or no mail could be delivered."""


class NoSenderConfigured(SenderError):
    code = "no_sender_configured"


class SenderCredentialsEmpty(SenderError):
    code = "sender_credentials_empty"


class SenderAuthenticationFailed(SenderError):
    code = "sender_auth_failed"

    def __init__(self, host: str) -> None:
        super().__init__(host=host)
        self.host = host


class BasicAuthDisabled(SenderAuthenticationFailed):
    """The server no longer accepts a username and password (Microsoft 365's
    ``535 5.7.139`` / ``550 5.7.30``): switch the sender to OAuth 2.0."""

    code = "basic_auth_disabled"


class SenderUnreachable(SenderError):
    """``reason`` says why: connection, timeout, certificate, tls, expects_ssl, …"""

    code = "sender_unreachable"

    def __init__(self, host: str, port: int, reason: str = "connection") -> None:
        super().__init__(host=host, port=port, reason=reason)
        self.host = host
        self.port = port
        self.reason = reason

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        msgid = f"unreachable.{self.reason}"
        if msgid not in texts.msgids():
            msgid = "unreachable.connection"
        reason = texts.text(locale, msgid, port=self.port, host=self.host)
        return {"host": self.host, "port": self.port, "reason": reason}


class SenderAddressRefused(SenderError):
    """The server refused the sender's From address at MAIL FROM."""

    code = "sender_address_refused"

    def __init__(self, host: str, address: str, reply_code: int = 0) -> None:
        super().__init__(host=host, address=address, reply_code=reply_code)
        self.host = host
        self.address = address
        self.reply_code = reply_code

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        del texts, locale
        return {"host": self.host, "address": self.address, "reply": self.reply_code or "-"}


class TokenUnavailable(SenderError):
    """No OAuth 2.0 access token could be had for an XOAUTH2 sender."""

    code = "token_unavailable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class DeliveryFailed(SenderError):
    """No sender could deliver the mail now; trying later may work.

    ``reply_code`` is the server's reply code when one refused the mail; ``reason``
    names a refusal the client made itself (``smtputf8_unsupported``: the recipient
    needs SMTPUTF8 and the server does not offer it), else it is empty.
    """

    code = "delivery_failed"

    def __init__(self, attempts: int = 0, reply_code: int = 0, reason: str = "") -> None:
        super().__init__(attempts=attempts, reply_code=reply_code, reason=reason)
        self.attempts = attempts
        self.reply_code = reply_code
        self.reason = reason

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        reply = str(self.reply_code or "-")
        msgid = f"unreachable.{self.reason}"
        if self.reason and msgid in texts.msgids():
            reply = f"{reply}, {texts.text(locale, msgid)}"
        return {"attempts": self.attempts, "reply": reply}


class DeliveryRejected(DeliveryFailed):
    """A server refused the mail for good (a 5xx reply): trying later will not help."""

    code = "delivery_rejected"
