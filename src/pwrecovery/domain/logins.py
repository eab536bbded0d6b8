"""User names: how they are written, and the key they are matched by."""

from __future__ import annotations

import unicodedata
from typing import Final

from pwrecovery.domain.headers import check_header_value
from pwrecovery.errors import InvalidHeaderValue, InvalidLogin

MAX_LOGIN_LENGTH: Final = 64
MAX_DISPLAY_NAME_LENGTH: Final = 128
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def normalize_login(login: object) -> str:
    """The login as stored and shown: NFKC, without surrounding spaces."""
    if not isinstance(login, str):
        raise InvalidLogin(MAX_LOGIN_LENGTH)
    text = unicodedata.normalize("NFKC", login).strip()
    if not 1 <= len(text) <= MAX_LOGIN_LENGTH or any(
        unicodedata.category(ch) in _UNPRINTABLE for ch in text
    ):
        raise InvalidLogin(MAX_LOGIN_LENGTH)
    return text


def login_key(login: object) -> str:
    """The case-insensitive key a login is matched by: ``"Juan"`` and ``"JUAN"`` meet."""
    return normalize_login(login).casefold()


def printable_identifier(login: object) -> str:
    """A login or id as typed, safe for a message or the audit trail even when invalid.

    Control and line-break characters become U+FFFD, and it is cut to a sane length.
    """
    if not isinstance(login, str):
        return ""
    text = unicodedata.normalize("NFKC", login).strip()[: MAX_LOGIN_LENGTH * 2]
    return "".join("\ufffd" if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)


def audit_key(login: str | None) -> str | None:
    """The key an audit event is filed under: the login's key, or its casefold if malformed."""
    if login is None:
        return None
    try:
        return login_key(login)
    except InvalidLogin:
        return login.casefold()


def normalize_display_name(name: object) -> str:
    """A display name for a From or To header: NFKC, trimmed, at most 128 characters, and
    no "=?" (the email package would decode an encoded word into addresses on the wire)."""
    check_header_value(name, "display_name")  # before trimming: a line break is refused
    text = unicodedata.normalize("NFKC", str(name)).strip()
    if len(text) > MAX_DISPLAY_NAME_LENGTH or "=?" in text:
        raise InvalidHeaderValue("display_name")
    check_header_value(text, "display_name")
    return text
