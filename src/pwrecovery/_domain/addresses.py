"""Recovery and sender addresses: validation, normalisation, masking."""

from __future__ import annotations

from typing import Final

import email_validator

from pwrecovery._domain.headers import is_header_safe
from pwrecovery.exceptions import InvalidEmailAddress

GENERIC_MASK: Final = "***@***"
_MDNS_LABEL: Final = "local"
# As long as "local", so that the address is checked against the length limits as it is.
_STAND_IN: Final = "lokal"


def normalize_address(address: object, *, allow_private: bool = False) -> str:
    """The normalised form of an e-mail address, or ``InvalidEmailAddress``.

    Uses ``email-validator`` without DNS lookups: no domain literals, no quoted
    local parts, no display names, RFC 5321 length limits, no ``=?`` (encoded-word
    syntax); internationalised addresses are accepted. ``allow_private`` also
    accepts office domains: a single label (``servidor``) and ``.local`` names.
    """
    # "=?" is legal in a local part, but the email package would decode it as an encoded
    # word when writing the header: the header's recipient would differ from the envelope's.
    if not isinstance(address, str) or not is_header_safe(address) or "=?" in address:
        raise InvalidEmailAddress
    local, _, domain = address.rpartition("@")
    # ".local" is reserved for multicast DNS, yet many offices name their domain with it;
    # email-validator refuses it outright, so its last label is checked as a neutral one.
    stand_in = allow_private and domain.rpartition(".")[2].lower() == _MDNS_LABEL
    try:
        result = email_validator.validate_email(
            f"{local}@{domain[: -len(_MDNS_LABEL)]}{_STAND_IN}" if stand_in else address,
            check_deliverability=False,
            globally_deliverable=not allow_private,
            allow_smtputf8=True,
            allow_domain_literal=False,
            allow_quoted_local=False,
            allow_display_name=False,
            strict=True,  # RFC 5321 limits: 64 octets before the @
        )
    except (email_validator.EmailNotValidError, UnicodeError, ValueError) as exc:
        raise InvalidEmailAddress from exc
    normalized: str = result.normalized
    return normalized[: -len(_STAND_IN)] + _MDNS_LABEL if stand_in else normalized


def ascii_domain_address(address: str) -> str:
    """The address with its domain in IDNA (``xn--``) form, as headers and SMTP need it.

    A non-ASCII local part stays as it is (it needs SMTPUTF8 either way).
    """
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        result = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except (email_validator.EmailNotValidError, UnicodeError, ValueError) as exc:
        raise InvalidEmailAddress from exc
    return f"{local}@{result.ascii_domain}"


def mask_address(address: str) -> str:
    """Show enough of an address for its owner to recognise it: ``j***@empresa.mx``."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
