"""One message through a logged-in ``smtplib.SMTP``: its bytes, then its envelope and
data, in one round trip for the envelope when the server offers PIPELINING (RFC 2920).

``as_sent`` gives the bytes ``smtplib.SMTP.send_message`` would send. A mail as
``compose`` writes it (raw header values, two quoted-printable text parts) is written
here directly, byte for byte what the email package's generator writes for it
(tests/unit/test_smtp_send.py compares them); anything else goes through the
generator, as before.

``transmit`` sends MAIL FROM, RCPT TO and DATA together and reads their replies in
order, then the message. The replies become the exceptions smtplib's ``sendmail``
raises for the same replies, so that the one table in ``_smtp_errors`` translates
them. Without PIPELINING it is smtplib's ``sendmail``.
"""

from __future__ import annotations

import copy
import io
import re
import smtplib
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import Policy
from typing import Final

_CRLF: Final = b"\r\n"
_NEWLINES: Final = re.compile(r"\r\n|\r|\n")
_DOTS: Final = re.compile(rb"(?m)^\.")
# The headers that make a mail "as compose writes it" (see _domain/mail.py).
_ALTERNATIVE: Final = re.compile(r'multipart/alternative; boundary="(=_[0-9a-f]{22})"\Z')
_TEXT: Final = re.compile(r'text/(?:plain|html); charset="utf-8"\Z')
_BLIND: Final = frozenset({"bcc", "resent-bcc"})  # send_message leaves them out
_MAIL_OK: Final = 250
_RCPT_OK: Final = frozenset({250, 251})
_GO_AHEAD: Final = 354
_CLOSING: Final = 421


def as_sent(message: EmailMessage, *, utf8: bool) -> bytes:
    """The bytes of ``message`` as ``send_message`` writes them (CRLF line ends; with
    ``utf8``, SMTPUTF8's raw UTF-8 headers), without its blind-copy headers."""
    policy = message.policy
    if utf8:  # as send_message does; only the email package's EmailPolicy knows it
        policy = policy.clone(linesep="\r\n", utf8=True)  # type: ignore[call-arg]
    composed = _as_composed(message, policy.clone(linesep="\r\n"))
    if composed is not None:
        return composed
    blind = copy.copy(message)
    for name in ("Bcc", "Resent-Bcc"):
        del blind[name]
    with io.BytesIO() as written:
        BytesGenerator(written, policy=policy).flatten(blind, linesep="\r\n")
        return written.getvalue()


def _raw(message: Message, name: str) -> str | None:
    """The one raw (``set_raw``) value of header ``name``; None if absent, repeated, or
    stored through the header registry."""
    values = [value for key, value in message.raw_items() if key.lower() == name]
    return values[0] if len(values) == 1 and type(values[0]) is str else None


def _as_composed(message: EmailMessage, policy: Policy) -> bytes | None:
    """The generator's bytes for a mail of the shape ``compose`` makes; None otherwise."""
    if policy.mangle_from_ or message.preamble is not None or message.epilogue is not None:
        return None
    if any(name.lower() in _BLIND for name, _ in message.raw_items()):
        return None
    found = _ALTERNATIVE.match(_raw(message, "content-type") or "")
    parts = message.get_payload()
    if found is None or not isinstance(parts, list) or not parts:
        return None
    written = []
    for part in parts:
        if not isinstance(part, Message):
            return None
        payload = part.get_payload()
        if (
            not isinstance(payload, str)
            or not payload.isascii()
            or not _TEXT.match(_raw(part, "content-type") or "")
            or _raw(part, "content-transfer-encoding") != "quoted-printable"
        ):
            return None
        lines = "\r\n".join(_NEWLINES.split(payload)).encode("ascii")
        written.append(_headers(part, policy) + lines)
    boundary = found.group(1).encode("ascii")
    between = _CRLF + b"--" + boundary + _CRLF
    return b"".join(
        (
            _headers(message, policy),
            b"--" + boundary + _CRLF,
            between.join(written),
            _CRLF + b"--" + boundary + b"--" + _CRLF,
        )
    )


def _headers(message: Message, policy: Policy) -> bytes:
    return b"".join(policy.fold_binary(name, value) for name, value in message.raw_items()) + (
        _CRLF
    )


def transmit(
    smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes, options: list[str]
) -> None:
    """Send ``data`` from ``sender`` to ``recipients``; a refusal raises what
    ``smtplib.SMTP.sendmail`` raises for it (and a 421 closes the connection, as there)."""
    if not smtp.has_extn("pipelining"):
        smtp.sendmail(sender, recipients, data, options)  # it adds SIZE itself
        return
    if smtp.has_extn("size"):
        options = [f"SIZE={len(data)}", *options]
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    commands = [
        f"MAIL FROM:<{sender}>{''.join(' ' + option for option in options)}",
        *(f"RCPT TO:<{recipient}>" for recipient in recipients),
        "DATA",
    ]
    smtp.send("".join(command + "\r\n" for command in commands).encode(encoding))
    replies = [smtp.getreply() for _ in commands]
    (mail_code, mail_text), *to_replies, (data_code, data_text) = replies
    refused = {
        recipient: reply
        for recipient, reply in zip(recipients, to_replies, strict=True)
        if reply[0] not in _RCPT_OK
    }
    if mail_code != _MAIL_OK or len(refused) == len(recipients) or data_code != _GO_AHEAD:
        if data_code == _GO_AHEAD:  # a server that took DATA anyway: end an empty message
            smtp.send(b".\r\n")
            smtp.getreply()
        if any(code == _CLOSING for code, _ in replies):
            smtp.close()
        if mail_code != _MAIL_OK:
            raise smtplib.SMTPSenderRefused(mail_code, mail_text, sender)
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        raise smtplib.SMTPDataError(data_code, data_text)
    stuffed = _DOTS.sub(b"..", data)
    smtp.send(stuffed + (b"" if stuffed.endswith(_CRLF) else _CRLF) + b".\r\n")
    code, text = smtp.getreply()
    if code != _MAIL_OK:
        if code == _CLOSING:
            smtp.close()
        raise smtplib.SMTPDataError(code, text)
