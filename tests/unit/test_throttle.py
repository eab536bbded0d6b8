"""Rate limits: recovery requests per rolling hour, and the sign-in lock (DESIGN §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.throttle import (
    lock_duration,
    lock_remaining,
    recent_requests,
    recovery_retry_after,
    with_request,
)

POLICY = pr.Policy()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def requests_at(*minutes: float) -> tuple[datetime, ...]:
    return tuple(NOW + timedelta(minutes=m) for m in minutes)


def test_first_three_requests_in_an_hour_are_allowed() -> None:
    """Up to three requests fit in a rolling hour."""
    history: tuple[datetime, ...] = ()
    for minute in (0, 10, 20):
        now = NOW + timedelta(minutes=minute)
        assert recovery_retry_after(history, now, POLICY) is None
        history = with_request(history, now, POLICY)
    assert 3 == len(history)


def test_fourth_request_waits_until_the_oldest_leaves_the_window() -> None:
    """After three requests, retry_after is the time until the oldest is an hour old."""
    history = requests_at(0, 10, 20)
    now = NOW + timedelta(minutes=25)
    assert timedelta(minutes=35) == recovery_retry_after(history, now, POLICY)


def test_request_is_allowed_after_waiting_retry_after() -> None:
    """Waiting exactly retry_after makes room for one more request."""
    history = requests_at(0, 10, 20)
    now = NOW + timedelta(minutes=25)
    wait = recovery_retry_after(history, now, POLICY)
    assert wait is not None
    assert recovery_retry_after(history, now + wait, POLICY) is None


def test_request_is_refused_one_microsecond_before_retry_after() -> None:
    """Just before retry_after has passed the limit still holds."""
    history = requests_at(0, 10, 20)
    now = NOW + timedelta(minutes=25)
    wait = recovery_retry_after(history, now, POLICY)
    assert wait is not None
    later = now + wait - timedelta(microseconds=1)
    assert timedelta(microseconds=1) == recovery_retry_after(history, later, POLICY)


def test_requests_an_hour_old_no_longer_count() -> None:
    """A request exactly one window old has left the window."""
    history = requests_at(0, 10, 20)
    assert requests_at(10, 20) == recent_requests(history, NOW + HOUR, POLICY)


def test_with_request_drops_old_entries_and_appends_now() -> None:
    """Only requests still in the window are remembered, plus the new one."""
    history = requests_at(-120, -61, -60, -59, -1)
    assert requests_at(-59, -1, 0) == with_request(history, NOW, POLICY)


def test_unordered_history_is_handled() -> None:
    """The order the requests were stored in does not matter."""
    history = requests_at(20, 0, 10)
    now = NOW + timedelta(minutes=25)
    assert timedelta(minutes=35) == recovery_retry_after(history, now, POLICY)


@given(
    gaps=st.lists(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=90)),
        min_size=1,
        max_size=20,
    )
)
def test_rolling_window_never_holds_more_than_the_limit(gaps: list[timedelta]) -> None:
    """Whatever the arrival times, accepted requests never exceed 3 in any hour,
    and a refused request is allowed again exactly after retry_after."""
    history: tuple[datetime, ...] = ()
    accepted: list[datetime] = []
    now = NOW
    for gap in gaps:
        now += gap
        wait = recovery_retry_after(history, now, POLICY)
        if wait is None:
            history = with_request(history, now, POLICY)
            accepted.append(now)
        else:
            assert wait > timedelta(0)
            counting = recent_requests(history, now, POLICY)
            assert counting[0] + POLICY.recovery_window - now == wait
            assert recovery_retry_after(history, now + wait, POLICY) is None
    for instant in accepted:
        in_window = [t for t in accepted if timedelta(0) <= instant - t < HOUR]
        assert len(in_window) <= POLICY.recovery_requests_per_window


@pytest.mark.parametrize("failures", [0, 1, 2, 3, 4])
def test_no_lock_below_five_failures(failures: int) -> None:
    """Fewer than five failed sign-ins in a row lock nothing."""
    assert lock_duration(failures, POLICY) is None


def test_lock_doubles_from_one_minute_up_to_one_hour() -> None:
    """From the fifth failure: 1, 2, 4, 8, 16, 32 minutes, then capped at 60."""
    expected = [MINUTE * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert expected == [lock_duration(f, POLICY) for f in range(5, 14)]


@pytest.mark.parametrize("failures", [100, 10**6, 10**30, 2**200])
def test_huge_failure_counts_stay_at_the_cap(failures: int) -> None:
    """Any number of failures gives at most the one-hour cap, without overflowing."""
    assert HOUR == lock_duration(failures, POLICY)


def test_day_long_base_does_not_overflow() -> None:
    """A policy with a one-day base and a one-week cap reaches the cap without overflow."""
    policy = pr.Policy(lockout_base=timedelta(days=1), lockout_max=timedelta(days=7))
    assert timedelta(days=7) == lock_duration(10**6, policy)


def test_tiny_base_still_reaches_the_cap() -> None:
    """Doubling continues until lockout_max, however small the base (1 µs up to 1 day)."""
    policy = pr.Policy(lockout_base=timedelta(microseconds=1), lockout_max=timedelta(days=1))
    assert timedelta(days=1) == lock_duration(10**6, policy)


@given(failures=st.integers(min_value=0, max_value=200))
def test_lock_is_non_decreasing_and_capped(failures: int) -> None:
    """One more failure never shortens the lock, and no lock exceeds lockout_max."""
    current = lock_duration(failures, POLICY) or timedelta(0)
    following = lock_duration(failures + 1, POLICY) or timedelta(0)
    assert current <= following
    assert following <= POLICY.lockout_max


@settings(max_examples=200)
@given(
    base=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    factor=st.integers(min_value=1, max_value=1000),
    threshold=st.integers(min_value=1, max_value=20),
    extra=st.integers(min_value=0, max_value=10**9),
)
def test_lock_never_exceeds_the_cap_for_any_policy(
    base: timedelta, factor: int, threshold: int, extra: int
) -> None:
    """For any valid policy and failure count the lock is computed and never above the cap."""
    policy = pr.Policy(max_failed_sign_ins=threshold, lockout_base=base, lockout_max=base * factor)
    duration = lock_duration(threshold + extra, policy)
    assert duration is not None
    assert base <= duration <= policy.lockout_max


def test_lock_remaining_counts_down() -> None:
    """While locked, the remaining time is locked_until - now."""
    assert timedelta(seconds=30) == lock_remaining(NOW + timedelta(seconds=30), NOW)


@pytest.mark.parametrize("locked_until", [None, NOW, NOW - timedelta(seconds=1)])
def test_lock_remaining_is_none_when_past_or_absent(locked_until: datetime | None) -> None:
    """No lock, or one whose end has come, leaves nothing to wait."""
    assert lock_remaining(locked_until, NOW) is None
