"""Expiry: valid strictly before issued_at + ttl, expired from that instant on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from pwrecovery._domain.expiry import expiry, is_expired

ISSUED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TTL = timedelta(days=7)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)


def test_expiry_is_issued_at_plus_ttl() -> None:
    """The expiry instant is the issue instant plus the time to live."""
    assert datetime(2026, 3, 9, 9, 30, tzinfo=UTC) == expiry(ISSUED, TTL)


def test_valid_one_second_before_expiry() -> None:
    """At T - 1 s the secret still works."""
    assert is_expired(expiry(ISSUED, TTL), ISSUED + TTL - SECOND) is False


def test_valid_one_microsecond_before_expiry() -> None:
    """At the last representable instant before T the secret still works."""
    assert is_expired(expiry(ISSUED, TTL), ISSUED + TTL - MICROSECOND) is False


def test_expired_at_the_expiry_instant() -> None:
    """At exactly T the secret no longer works."""
    assert is_expired(expiry(ISSUED, TTL), ISSUED + TTL) is True


def test_expired_one_second_after_expiry() -> None:
    """At T + 1 s the secret no longer works."""
    assert is_expired(expiry(ISSUED, TTL), ISSUED + TTL + SECOND) is True


def test_valid_at_issue_instant() -> None:
    """A secret works at the instant it is issued."""
    assert is_expired(expiry(ISSUED, TTL), ISSUED) is False


@given(
    issued_at=st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001 (bounds of an aware strategy are naive)
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    ttl=st.timedeltas(min_value=MICROSECOND, max_value=timedelta(days=3650)),
    offset=st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=7300)),
)
def test_expired_exactly_when_offset_reaches_ttl(
    issued_at: datetime, ttl: timedelta, offset: timedelta
) -> None:
    """For any issue instant, ttl and offset: expired iff offset >= ttl."""
    event("expired" if offset >= ttl else "valid")
    assert (offset >= ttl) == is_expired(expiry(issued_at, ttl), issued_at + offset)
