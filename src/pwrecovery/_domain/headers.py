"""The one rule for values that reach a mail header or an SMTP command.

CR, LF, NUL, U+2028, U+2029 and every other control character are refused
anywhere in the value, and so is any RFC 2047 encoded word that decodes to one
of them: Python's ``email`` package before 3.11.10 lets a trailing newline
through as a new header.
"""

from __future__ import annotations

import email.errors
import functools
import re
from email import policy
from email.header import decode_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Final

from pwrecovery.exceptions import InvalidConfiguration, InvalidHeaderValue

MAX_HEADER_VALUE: Final = 998  # RFC 5322 line limit
MAX_HOST: Final = 253


# U+2028, U+2029, and the whole of Unicode's categories Cc (U+0000-U+001F, U+007F-U+009F:
# CR, LF and NUL among them) and Cs (lone surrogates, which no mail could carry).
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


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


def written_addresses(name: str, value: str) -> list[str]:
    """The addresses a reader finds in the header ``name`` once ``value`` is written (with
    SMTPUTF8, as a server reads it): a display name can turn into addresses once folded.
    A raw value (``set_raw``, as ``compose`` stores it) is read once and remembered."""
    if type(value) is str:
        return list(_read_raw(name, value))
    return _read(name, value)


@functools.lru_cache(maxsize=256)
def _read_raw(name: str, value: str) -> tuple[str, ...]:
    return tuple(_read(name, value))


def _read(name: str, value: str) -> list[str]:
    """None found when the email package cannot read the header back: its parser of
    address lists fails on some encoded display names (an AttributeError on a group it
    finds inside one), and a header no reader can read carries no address."""
    written = policy.SMTPUTF8.fold_binary(name, value) + b"\r\n"
    try:
        read = BytesHeaderParser(policy=policy.default).parsebytes(written)
        values = [str(header) for header in read.get_all(name, [])]
    except (AttributeError, IndexError, TypeError, ValueError, email.errors.MessageError):
        return []
    return [address for _, address in getaddresses(values) if address]
