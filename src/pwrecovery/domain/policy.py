"""The tunable rules of DESIGN §3, with their defaults."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Final, Literal

import attrs

from pwrecovery.domain.tokens import TEMPORARY_PASSWORD_ALPHABET
from pwrecovery.errors import InvalidConfiguration

MIN_SECRET_BITS: Final = 64
DISCLOSURES: Final = ("detailed", "uniform")


def _positive_duration(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidConfiguration(attribute.name, "it must be a positive timedelta")


def _non_negative_duration(
    _instance: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidConfiguration(attribute.name, "it must be a timedelta of zero or more")


def _positive_count(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidConfiguration(attribute.name, "it must be a positive whole number")


def _temporary_length(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    _positive_count(_instance, attribute, value)
    if value * math.log2(len(TEMPORARY_PASSWORD_ALPHABET)) < MIN_SECRET_BITS:
        raise InvalidConfiguration(attribute.name, f"it must give at least {MIN_SECRET_BITS} bits")


def _disclosure(_instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in DISCLOSURES:
        raise InvalidConfiguration(attribute.name, "it must be 'detailed' or 'uniform'")


@attrs.frozen(kw_only=True)
class Policy:
    """The rules of password recovery; the defaults follow DESIGN §3.

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
    # Queued delivery: tries per message, the wait after the first failure (doubling up
    # to an hour), and how long a worker holds a message it is sending.
    delivery_attempts: int = attrs.field(default=8, validator=_positive_count)
    delivery_retry_base: timedelta = attrs.field(
        default=timedelta(minutes=1), validator=_positive_duration
    )
    delivery_lease: timedelta = attrs.field(
        default=timedelta(minutes=5), validator=_positive_duration
    )

    def __attrs_post_init__(self) -> None:
        if self.password_max_length < self.password_min_length:
            raise InvalidConfiguration(
                "password_max_length", "it must not be below password_min_length"
            )
        if self.lockout_max < self.lockout_base:
            raise InvalidConfiguration("lockout_max", "it must not be below lockout_base")
