"""The tunable rules of password recovery, with their defaults (docs/design.md)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Final, Literal

import attrs

from pwrecovery._domain.tokens import TEMPORARY_PASSWORD_ALPHABET
from pwrecovery.exceptions import InvalidConfiguration

MIN_SECRET_BITS: Final = 64
DISCLOSURES: Final = ("detailed", "uniform")


def _positive_duration(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidConfiguration(attribute.name, "positive_duration")


def _non_negative_duration(
    _instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidConfiguration(attribute.name, "non_negative_duration")


def _positive_count(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidConfiguration(attribute.name, "positive_count")


def _temporary_length(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    _positive_count(_instance, attribute, value)
    if value * math.log2(len(TEMPORARY_PASSWORD_ALPHABET)) < MIN_SECRET_BITS:
        raise InvalidConfiguration(attribute.name, "min_bits", bits=MIN_SECRET_BITS)
    if value > 64:  # noqa: PLR2004 (the longest form tokens.temporary_form recognises)
        raise InvalidConfiguration(attribute.name, "range", min=11, max=64)


def _disclosure(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in DISCLOSURES:
        raise InvalidConfiguration(attribute.name, "one_of", choices="'detailed', 'uniform'")


def _flag(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidConfiguration(attribute.name, "type", kind="bool")


@attrs.frozen(kw_only=True)
class Policy:
    """The rules of password recovery. The defaults are the vendor's (7 days, the
    SUPERVISOR first) and OWASP's or NIST's where the vendor says nothing.

    >>> Policy().temporary_password_ttl
    datetime.timedelta(days=7)
    """

    temporary_password_ttl: timedelta = attrs.field(
        default=timedelta(days=7), validator=_positive_duration
    )
    temporary_password_length: int = attrs.field(default=12, validator=_temporary_length)
    verification_code_ttl: timedelta = attrs.field(
        default=timedelta(hours=24), validator=_positive_duration
    )
    verification_code_attempts: int = attrs.field(default=5, validator=_positive_count)
    recovery_requests_per_window: int = attrs.field(default=3, validator=_positive_count)
    recovery_window: timedelta = attrs.field(
        default=timedelta(hours=1), validator=_positive_duration
    )
    max_failed_sign_ins: int = attrs.field(default=5, validator=_positive_count)
    lockout_base: timedelta = attrs.field(
        default=timedelta(minutes=1), validator=_positive_duration
    )
    lockout_max: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive_duration)
    # Failed sign-ins are forgotten after this long without another (known and unknown
    # logins alike), so that the table of unknown logins can be pruned.
    failure_memory: timedelta = attrs.field(
        default=timedelta(hours=24), validator=_positive_duration
    )
    password_min_length: int = attrs.field(default=8, validator=_positive_count)
    password_max_length: int = attrs.field(default=128, validator=_positive_count)
    disclosure: Literal["detailed", "uniform"] = attrs.field(
        default="detailed", validator=_disclosure
    )
    # In uniform mode, request_recovery takes at least this long, so that what the work
    # cannot make equal (a mail sent or not, its server's pace) does not show in the time.
    uniform_response_time: timedelta = attrs.field(
        default=timedelta(seconds=1), validator=_non_negative_duration
    )
    # SMTP logins per sender account and rolling minute, whatever the mix of logins asking;
    # beyond it requests are RateLimited, so that the provider never locks the account.
    smtp_logins_per_minute: int = attrs.field(default=20, validator=_positive_count)
    # A sender whose credentials were refused this many times in a row rests this long.
    sender_failures_before_cooldown: int = attrs.field(default=3, validator=_positive_count)
    sender_cooldown: timedelta = attrs.field(
        default=timedelta(minutes=15), validator=_positive_duration
    )
    # Queued delivery: tries per message, the wait after the first failure (doubling up
    # to an hour), and how long a worker holds a message it is sending.
    delivery_attempts: int = attrs.field(default=8, validator=_positive_count)
    delivery_retry_base: timedelta = attrs.field(
        default=timedelta(minutes=1), validator=_positive_duration
    )
    delivery_lease: timedelta = attrs.field(
        default=timedelta(minutes=5), validator=_positive_duration
    )
    # Addresses on office domains (empresa.local, empresa.lan, a single label).
    allow_private_domains: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        if self.password_max_length < self.password_min_length:
            raise InvalidConfiguration(
                "password_max_length", "not_below", other="password_min_length"
            )
        if self.lockout_max < self.lockout_base:
            raise InvalidConfiguration("lockout_max", "not_below", other="lockout_base")
