"""The one rule for values that reach a mail header or an SMTP command.

CR, LF, NUL, U+2028 and U+2029 are refused anywhere in the value, and so is
any RFC 2047 encoded word that decodes to one of them: Python's ``email``
package before 3.11.10 lets a trailing newline through as a new header.
"""

from __future__ import annotations

import email.errors
import unicodedata
from collections.abc import Sequence
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Final

from pwrecovery.exceptions import InvalidConfiguration, InvalidHeaderValue

FORBIDDEN: Final = frozenset("\r\n\x00\u2028\u2029")
MAX_HEADER_VALUE: Final = 998  # RFC 5322 line limit
MAX_HOST: Final = 253


def _has_control(text: str) -> bool:
    # Cs: a lone surrogate cannot be encoded, so no mail could carry it.
    return any(ch in FORBIDDEN or unicodedata.category(ch) in {"Cc", "Cs"} for ch in text)


def _encoded_words_hide_control(value: str) -> bool:
    if "=?" not in value:
        return False
    try:
        parts = decode_header(value)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return True
    for part, charset in parts:
        if isinstance(part, str):
            text = part
        elif charset is None:
            continue  # text outside the encoded words: the value itself, checked as it is
        else:
            try:
                text = part.decode(charset or "ascii")
            except (LookupError, UnicodeDecodeError):
                return True
        if _has_control(text):
            return True
    return False


def is_header_safe(value: object) -> bool:
    """True when ``value`` is a string that may go into a header as is."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_HEADER_VALUE
        and not _has_control(value)
        and not _encoded_words_hide_control(value)
    )


def check_header_value(value: object, field: str) -> None:
    """Raise ``InvalidHeaderValue`` unless ``value`` is safe for a mail header."""
    if not is_header_safe(value):
        raise InvalidHeaderValue(field)


def check_host(value: object) -> None:
    """A mail server name or address: non-empty, no spaces or control characters."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_HOST
        or any(ch.isspace() for ch in value)
        or not is_header_safe(value)
    ):
        raise InvalidConfiguration("host", "hostname")


def as_read(message: Message) -> Message:
    """The headers of ``message`` as a server reads them once they are written (with
    SMTPUTF8): a display name can turn into addresses once serialised. Only the headers
    are written; the body plays no part in them."""
    written = b"".join(
        policy.SMTPUTF8.fold_binary(name, value) for name, value in message.raw_items()
    )
    return BytesHeaderParser(policy=policy.default).parsebytes(written + b"\r\n")


def addresses_in(message: Message, fields: Sequence[str]) -> list[str]:
    """Every address in ``fields`` of ``message``."""
    values = [str(value) for field in fields for value in message.get_all(field, [])]
    return [address for _, address in getaddresses(values) if address]


def reads_back_as(name: str, value: str) -> list[str]:
    """The addresses a reader finds in the header ``name`` written as ``value``."""
    header = Message(policy=policy.default)
    header.set_raw(name, value)
    return addresses_in(as_read(header), (name,))
