"""The rules a new password must pass, and the form a typed password is checked in.

Length is counted after NFKC; any character is allowed and there are no
composition rules (NIST SP 800-63B). The list of common passwords is data the
caller passes in, so that this module does no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container
from typing import Final

from pwrecovery._domain.policy import Policy
from pwrecovery._domain.tokens import temporary_form

# Typed text longer than this many times the policy's maximum is refused before NFKC
# (which can expand a character 18-fold): it cannot be anyone's password.
TYPED_LENGTH_FACTOR: Final = 4


def normalize_password(password: str) -> str:
    """The form every password is hashed and compared in."""
    return unicodedata.normalize("NFKC", password)


def typed_password(password: object, policy: Policy) -> str | None:
    """A password as typed at a window, normalised; None when it cannot be anyone's
    (not text, or far over the longest the policy allows)."""
    if not isinstance(password, str):
        return None
    if len(password) > TYPED_LENGTH_FACTOR * policy.password_max_length:
        return None
    return normalize_password(password)


def _storable(password: str) -> bool:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def password_problems(
    password: str,
    *,
    login: str,
    policy: Policy,
    common: Container[str],
    same_as_current: bool = False,
    same_as_temporary: bool = False,
) -> tuple[str, ...]:
    """The codes of the rules ``password`` breaks; empty when it is acceptable.

    ``same_as_current`` and ``same_as_temporary`` are computed by the caller,
    who holds the hashes; this function only reports them.
    """
    if len(password) > TYPED_LENGTH_FACTOR * policy.password_max_length:
        return ("too_long",)
    normalized = normalize_password(password)
    reasons: list[str] = []
    if not _storable(normalized):
        reasons.append("invalid_characters")
    if len(normalized) < policy.password_min_length:
        reasons.append("too_short")
    if len(normalized) > policy.password_max_length:
        reasons.append("too_long")
    folded = normalized.casefold()
    if folded in common:
        reasons.append("common")
    if folded == normalize_password(login).casefold():
        reasons.append("same_as_login")
    if temporary_form(normalized) is not None:
        reasons.append("temporary_form")
    if same_as_current:
        reasons.append("same_as_current")
    if same_as_temporary:
        reasons.append("same_as_temporary")
    return tuple(reasons)


def confirmation_matches(password: str, confirmation: str) -> bool:
    """The two entries of "Confirmar clave de acceso" agree (after NFKC)."""
    return normalize_password(password) == normalize_password(confirmation)
