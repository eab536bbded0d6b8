"""User names: how they are written, the key they are matched by, and the keyed
fingerprint under which a login that does not exist is counted and audited."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Final

from pwrecovery._domain.headers import check_header_value
from pwrecovery.exceptions import InvalidHeaderValue, InvalidLogin

MAX_LOGIN_LENGTH: Final = 64
MAX_DISPLAY_NAME_LENGTH: Final = 128
# Typed text longer than this is refused before NFKC, which can expand a character 18-fold.
MAX_TYPED_LOGIN: Final = 4 * MAX_LOGIN_LENGTH
MAX_ORIGIN_LENGTH: Final = 128
FINGERPRINT_PREFIX: Final = "#"
_FINGERPRINT_HEX: Final = 16
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def normalize_login(login: object) -> str:
    """The login as stored and shown: NFKC, without surrounding spaces."""
    if not isinstance(login, str) or len(login) > MAX_TYPED_LOGIN:
        raise InvalidLogin(MAX_LOGIN_LENGTH)
    text = unicodedata.normalize("NFKC", login).strip()
    if not text:
        raise InvalidLogin(MAX_LOGIN_LENGTH, empty=True)
    if len(text) > MAX_LOGIN_LENGTH or any(unicodedata.category(ch) in _UNPRINTABLE for ch in text):
        raise InvalidLogin(MAX_LOGIN_LENGTH)
    return text


def login_key(login: object) -> str:
    """The case-insensitive key a login is matched by: ``"Juan"`` and ``"JUAN"`` meet."""
    return normalize_login(login).casefold()


def key_or_none(login: object) -> str | None:
    """The login's key, or None when it is malformed."""
    try:
        return login_key(login)
    except InvalidLogin:
        return None


def printable_identifier(login: object) -> str:
    """A login or id as typed, safe for a message or the audit trail even when invalid.

    Control and line-break characters become U+FFFD, and it is cut to a sane length.
    """
    if not isinstance(login, str):
        return ""
    text = unicodedata.normalize("NFKC", login[:MAX_TYPED_LOGIN]).strip()[: MAX_LOGIN_LENGTH * 2]
    return "".join("\ufffd" if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)


def bounded_origin(origin: object) -> str | None:
    """The host's ``origin`` (a workstation name) as the audit trail keeps it: printable,
    at most 128 characters (longer ones are cut), None when empty or not text."""
    if not isinstance(origin, str):
        return None
    text = printable_identifier(origin[: MAX_ORIGIN_LENGTH * 4])[:MAX_ORIGIN_LENGTH]
    return text or None


def fingerprint(key: bytes, login: object) -> str:
    """A keyed fingerprint of a login (``#`` and 16 hexadecimal digits): what the audit
    trail and the attempt counters keep for a login that does not exist, since it is
    often a password typed into the wrong field."""
    found = key_or_none(login)
    text = found if found is not None else "\x00" + printable_identifier(login).casefold()
    digest = hmac.new(key, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:_FINGERPRINT_HEX]


def audit_key(login: str | None) -> str | None:
    """The key an audit event is filed under: the login's key, or its casefold if malformed
    (a fingerprint is its own key)."""
    if login is None:
        return None
    found = key_or_none(login)
    return found if found is not None else login.casefold()


def normalize_display_name(name: object) -> str:
    """A display name for a From or To header: NFKC, trimmed, at most 128 characters, and
    no "=?" (the email package would decode an encoded word into addresses on the wire)."""
    if isinstance(name, str) and len(name) > 4 * MAX_DISPLAY_NAME_LENGTH:
        raise InvalidHeaderValue("display_name")
    check_header_value(name, "display_name")  # before trimming: a line break is refused
    text = unicodedata.normalize("NFKC", str(name)).strip()
    if len(text) > MAX_DISPLAY_NAME_LENGTH or "=?" in text:
        raise InvalidHeaderValue("display_name")
    check_header_value(text, "display_name")
    return text
