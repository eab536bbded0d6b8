"""Every limit: recovery requests per rolling window, failed sign-ins and their lock, the
SMTP logins of a sender account and its rest, and the queue's retry delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.throttle import (
    after_login,
    current,
    lock_duration,
    lock_remaining,
    login_retry_after,
    recent_logins,
    recent_requests,
    recovery_retry_after,
    reserve_attempt,
    retry_delay,
    with_login,
    with_request,
)
from pwrecovery.records import Attempts, SenderUsage

POLICY = pr.Policy()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)


def at(*minutes: float) -> tuple[datetime, ...]:
    return tuple(NOW + timedelta(minutes=m) for m in minutes)


# -- recovery requests -------------------------------------------------------------


def test_first_three_requests_in_an_hour_are_allowed() -> None:
    """Up to three requests fit in a rolling hour; each is remembered."""
    history: tuple[datetime, ...] = ()
    waits = []
    for minute in (0, 10, 20):
        now = NOW + timedelta(minutes=minute)
        waits.append(recovery_retry_after(history, now, POLICY))
        history = with_request(history, now, POLICY)
    assert ([None, None, None], at(0, 10, 20)) == (waits, history)


def test_fourth_request_waits_until_the_oldest_leaves_the_window() -> None:
    """After three requests, the wait is the time until the oldest is an hour old."""
    assert timedelta(minutes=35) == recovery_retry_after(at(0, 10, 20), at(25)[0], POLICY)


def test_the_wait_is_exact_to_the_microsecond() -> None:
    """One microsecond before the wait has passed the limit still holds; at it, it is
    lifted."""
    history, now = at(0, 10, 20), at(25)[0]
    wait = recovery_retry_after(history, now, POLICY)
    assert wait is not None
    expected = (MICROSECOND, None)
    actual = (
        recovery_retry_after(history, now + wait - MICROSECOND, POLICY),
        recovery_retry_after(history, now + wait, POLICY),
    )
    assert expected == actual


def test_the_blocking_request_depends_on_the_limit() -> None:
    """With a limit of two, the request that must leave is the second newest, not the
    oldest."""
    policy = pr.Policy(recovery_requests_per_window=2)
    assert timedelta(minutes=45) == recovery_retry_after(at(0, 10, 20), at(25)[0], policy)


def test_requests_one_window_old_no_longer_count() -> None:
    """A request exactly one window old has left the window; one a microsecond younger
    has not."""
    history = (NOW, NOW + MICROSECOND, *at(20))
    assert (NOW + MICROSECOND, *at(20)) == recent_requests(history, NOW + HOUR, POLICY)


def test_with_request_drops_old_entries_and_appends_now() -> None:
    """Only requests still in the window are remembered, in order, plus the new one."""
    history = at(-1, -120, -59, -61, -60)
    assert at(-59, -1, 0) == with_request(history, NOW, POLICY)


def test_unordered_history_is_handled() -> None:
    """The order the requests were stored in does not matter."""
    assert timedelta(minutes=35) == recovery_retry_after(at(20, 0, 10), at(25)[0], POLICY)


@given(
    gaps=st.lists(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=50)),
        min_size=1,
        max_size=20,
    )
)
def test_rolling_window_never_holds_more_than_the_limit(gaps: list[timedelta]) -> None:
    """Whatever the arrival times, accepted requests never exceed three in any hour, and a
    refused request is allowed again exactly after its wait, not a microsecond before."""
    history: tuple[datetime, ...] = ()
    accepted: list[datetime] = []
    now = NOW
    for gap in gaps:
        now += gap
        wait = recovery_retry_after(history, now, POLICY)
        if wait is None:
            history = with_request(history, now, POLICY)
            accepted.append(now)
            continue
        event("refused")
        assert wait > timedelta(0)
        assert recovery_retry_after(history, now + wait - MICROSECOND, POLICY) is not None
        assert recovery_retry_after(history, now + wait, POLICY) is None
    for instant in accepted:
        in_window = [t for t in accepted if timedelta(0) <= instant - t < HOUR]
        assert len(in_window) <= POLICY.recovery_requests_per_window


# -- failed sign-ins: what still counts -----------------------------------------------

MEMORY = POLICY.failure_memory


@pytest.mark.parametrize(
    ("attempts", "expected_forgotten"),
    [
        (Attempts(), False),
        (Attempts(3, None, NOW - MEMORY + MICROSECOND), False),
        (Attempts(3, None, NOW - MEMORY), True),
        (Attempts(3, None, NOW - MEMORY - HOUR), True),
        (Attempts(3, None, None), True),
        (Attempts(7, NOW - MINUTE, NOW - MEMORY), True),
        (Attempts(7, NOW, NOW - MEMORY), True),
        (Attempts(7, NOW + MICROSECOND, NOW - MEMORY - HOUR), False),
    ],
    ids=[
        "none",
        "just-remembered",
        "exactly-forgotten",
        "long-ago",
        "no-instant",
        "lock-ended",
        "lock-ends-now",
        "lock-holds",
    ],
)
def test_current_forgets_old_failures_unless_a_lock_holds(
    attempts: Attempts, expected_forgotten: bool
) -> None:
    """Failures are forgotten once the last one is failure_memory old (or has no instant),
    unless a lock still holds; otherwise they all still count."""
    expected = Attempts() if expected_forgotten else attempts
    assert expected == current(attempts, NOW, POLICY)


def test_a_lock_longer_than_the_memory_keeps_the_failures() -> None:
    """With a lock cap beyond failure_memory, failures older than the memory still count
    while their lock holds, so the next lock keeps doubling."""
    policy = pr.Policy(failure_memory=timedelta(minutes=30), lockout_max=timedelta(hours=2))
    held = Attempts(failures=11, locked_until=NOW + MINUTE, last_failure_at=NOW - HOUR)
    assert held == current(held, NOW, policy)


AGES = st.one_of(
    st.sampled_from([timedelta(0), MEMORY - MICROSECOND, MEMORY, MEMORY + MICROSECOND]),
    st.timedeltas(min_value=timedelta(0), max_value=MEMORY * 2),
)
LOCK_ENDS = st.one_of(
    st.none(),
    st.sampled_from([-MICROSECOND, timedelta(0), MICROSECOND]),
    st.timedeltas(min_value=-HOUR, max_value=HOUR),
)


@given(
    failures=st.integers(min_value=1, max_value=30),
    age=st.none() | AGES,
    lock_end=LOCK_ENDS,
)
def test_current_is_all_or_nothing(
    failures: int, age: timedelta | None, lock_end: timedelta | None
) -> None:
    """For any attempts: all of them count, or none; none exactly when no lock holds and
    the last failure is failure_memory old or unknown."""
    attempts = Attempts(
        failures=failures,
        locked_until=None if lock_end is None else NOW + lock_end,
        last_failure_at=None if age is None else NOW - age,
    )
    holds = lock_end is not None and lock_end > timedelta(0)
    forgotten = not holds and (age is None or age >= MEMORY)
    event("forgotten" if forgotten else "kept")
    assert (Attempts() if forgotten else attempts) == current(attempts, NOW, POLICY)


# -- failed sign-ins: taking an attempt -----------------------------------------------


def test_an_attempt_is_counted_before_it_is_checked() -> None:
    """The first attempt counts as a failure at once, with its instant, and locks nothing."""
    assert Attempts(1, None, NOW) == reserve_attempt(Attempts(), NOW, POLICY)


def test_the_attempt_reaching_the_limit_takes_the_lock() -> None:
    """The fifth attempt in a row carries the one-minute lock with it, so no sixth can be
    checked before the minute is over."""
    fourth = Attempts(4, None, NOW - MINUTE)
    assert Attempts(5, NOW + MINUTE, NOW) == reserve_attempt(fourth, NOW, POLICY)


def test_five_attempts_in_a_row_lock_only_at_the_fifth() -> None:
    """Attempts one to four lock nothing; the fifth locks; the lock holds for a minute."""
    attempts = Attempts()
    locks = []
    for second in range(5):
        now = NOW + second * SECOND
        attempts = reserve_attempt(current(attempts, now, POLICY), now, POLICY)
        locks.append(lock_remaining(attempts, now))
    assert [None, None, None, None, MINUTE] == locks


def test_an_attempt_after_the_lock_doubles_it() -> None:
    """Once a lock ends, the next attempt (failures still remembered) locks twice as long."""
    after_lock = Attempts(5, NOW - SECOND, NOW - MINUTE)
    assert Attempts(6, NOW + 2 * MINUTE, NOW) == reserve_attempt(after_lock, NOW, POLICY)


def test_an_attempt_after_the_memory_starts_over() -> None:
    """Failures forgotten for their age are not added to: the attempt is the first again."""
    old = Attempts(4, None, NOW - MEMORY)
    assert Attempts(1, None, NOW) == reserve_attempt(old, NOW, POLICY)


@settings(max_examples=300)
@given(
    gaps=st.lists(
        st.one_of(
            st.just(timedelta(0)),
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=3)),
            st.timedeltas(min_value=timedelta(minutes=30), max_value=timedelta(hours=30)),
        ),
        min_size=1,
        max_size=40,
    ),
    limit=st.integers(min_value=1, max_value=6),
)
def test_no_attempt_beyond_the_limit_is_ever_taken_unlocked(
    gaps: list[timedelta], limit: int
) -> None:
    """Whatever the pace of attempts, as a sign-in takes them (refused while locked): an
    attempt is locked exactly when it reaches the limit, for lock_duration of its count."""
    policy = pr.Policy(max_failed_sign_ins=limit)
    attempts, now = Attempts(), NOW
    for gap in gaps:
        now += gap
        counted = current(attempts, now, policy)
        if lock_remaining(counted, now) is not None:
            event("refused while locked")
            continue
        attempts = reserve_attempt(counted, now, policy)
        duration = lock_duration(attempts.failures, policy)
        assert attempts.failures == counted.failures + 1
        if duration is None:
            assert lock_remaining(attempts, now) is None
        else:
            event("locked")
            assert attempts.locked_until == now + duration


# -- the lock's length -----------------------------------------------------------------


@pytest.mark.parametrize("failures", [0, 1, 2, 3, 4])
def test_no_lock_below_five_failures(failures: int) -> None:
    """Fewer than five failed sign-ins in a row lock nothing."""
    assert lock_duration(failures, POLICY) is None


def test_lock_doubles_from_one_minute_up_to_one_hour() -> None:
    """From the fifth failure: 1, 2, 4, 8, 16, 32 minutes, then exactly the 60-minute cap."""
    expected = [MINUTE * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert expected == [lock_duration(f, POLICY) for f in range(5, 14)]


def test_a_doubling_between_a_third_and_half_the_cap_is_still_taken() -> None:
    """With a 1-minute base and a 5-minute cap the locks are 1, 2, 4 and then 5 minutes:
    2 minutes lies between a third and a half of the cap, and is doubled, not capped."""
    policy = pr.Policy(lockout_base=MINUTE, lockout_max=5 * MINUTE)
    expected = [MINUTE * m for m in (1, 2, 4, 5, 5)]
    assert expected == [lock_duration(f, policy) for f in range(5, 10)]


def test_a_doubling_that_lands_on_the_cap_is_the_cap() -> None:
    """A lock that doubles exactly to the cap is the cap, not capped early."""
    policy = pr.Policy(lockout_base=MINUTE, lockout_max=4 * MINUTE)
    expected = [MINUTE * m for m in (1, 2, 4, 4)]
    assert expected == [lock_duration(f, policy) for f in range(5, 9)]


@pytest.mark.parametrize("failures", [100, 10**6, 10**30, 2**200])
def test_huge_failure_counts_stay_at_the_cap(failures: int) -> None:
    """Any number of failures gives exactly the one-hour cap, without overflowing."""
    assert HOUR == lock_duration(failures, POLICY)


@pytest.mark.parametrize(
    ("base", "cap"),
    [
        (timedelta(days=1), timedelta(days=7)),
        (MICROSECOND, timedelta(days=1)),
        (MICROSECOND, timedelta(days=10**6)),
        (MICROSECOND, timedelta(days=999_999_999)),
        (HOUR, HOUR),
    ],
    ids=[
        "day-to-week",
        "microsecond-to-day",
        "microsecond-to-million-days",
        "microsecond-to-longest-timedelta",
        "base-is-cap",
    ],
)
def test_extreme_policies_reach_the_cap_without_overflow(base: timedelta, cap: timedelta) -> None:
    """However small the base or large the cap (up to the longest a timedelta holds), a huge
    count gives exactly the cap, never an overflow."""
    policy = pr.Policy(lockout_base=base, lockout_max=cap)
    assert cap == lock_duration(10**18, policy)


LONGEST = 10**16  # microseconds: over 300 years, well inside what a timedelta holds


@st.composite
def lock_policies(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """(threshold, base, cap, extra failures) in microseconds. Half the draws put the
    previous lock strictly between a third and half of the cap, where a wrong test for
    "would doubling pass the cap" shows."""
    threshold = draw(st.integers(min_value=1, max_value=20))
    base = draw(st.integers(min_value=2, max_value=10**11))
    extra = draw(st.integers(min_value=0, max_value=45))
    previous = base * 2 ** (extra - 1) if extra else 0
    if previous and 3 * previous <= LONGEST and draw(st.booleans()):
        cap = draw(st.integers(min_value=2 * previous + 1, max_value=3 * previous - 1))
    else:
        cap = draw(st.integers(min_value=base, max_value=min(base * 2**20, LONGEST)))
    return threshold, base, cap, extra


@settings(max_examples=400)
@given(drawn=lock_policies())
def test_lock_is_the_base_doubled_per_extra_failure_capped(
    drawn: tuple[int, int, int, int],
) -> None:
    """For any valid policy: the lock after threshold + n failures is exactly
    min(base · 2ⁿ, cap), computed here in whole microseconds."""
    threshold, base_us, cap_us, extra = drawn
    policy = pr.Policy(
        max_failed_sign_ins=threshold,
        lockout_base=timedelta(microseconds=base_us),
        lockout_max=timedelta(microseconds=cap_us),
    )
    expected_us = min(base_us * 2**extra, cap_us)
    event("capped" if expected_us == cap_us else "doubling")
    if extra and cap_us / 3 < base_us * 2 ** (extra - 1) < cap_us / 2:
        event("previous lock between a third and half the cap")
    assert timedelta(microseconds=expected_us) == lock_duration(threshold + extra, policy)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (Attempts(5, NOW + 30 * SECOND, NOW), 30 * SECOND),
        (Attempts(5, NOW + MICROSECOND, NOW), MICROSECOND),
        (Attempts(5, NOW, NOW), None),
        (Attempts(5, NOW - SECOND, NOW), None),
        (Attempts(2, None, NOW), None),
    ],
    ids=["counting-down", "last-microsecond", "ends-now", "ended", "none"],
)
def test_lock_remaining(attempts: Attempts, expected: timedelta | None) -> None:
    """While locked, the wait is locked_until - now; from locked_until on, or with no lock,
    there is nothing to wait."""
    assert expected == lock_remaining(attempts, NOW)


# -- SMTP logins per sender account ------------------------------------------------------


def usage(*seconds: float, **changes: object) -> SenderUsage:
    logins = tuple(NOW + timedelta(seconds=s) for s in seconds)
    return SenderUsage(logins=logins, **changes)  # type: ignore[arg-type]


def test_recent_logins_are_those_of_the_rolling_minute() -> None:
    """A login exactly a minute old no longer counts; one a microsecond younger does; the
    result is in time order."""
    logins = SenderUsage(logins=(NOW + 30 * SECOND, NOW, NOW + MICROSECOND))
    expected = (NOW + MICROSECOND, NOW + 30 * SECOND)
    assert expected == recent_logins(logins, NOW + MINUTE)


def test_logins_below_the_budget_need_no_wait() -> None:
    """Fewer logins in the last minute than smtp_logins_per_minute: log in now."""
    policy = pr.Policy(smtp_logins_per_minute=3)
    assert login_retry_after(usage(0, 10), NOW + 20 * SECOND, policy) is None


def test_a_full_budget_waits_for_the_oldest_login_to_leave_the_minute() -> None:
    """At the budget, the wait is until the login that must leave is a minute old, and at
    that instant a login is allowed again."""
    policy = pr.Policy(smtp_logins_per_minute=3)
    full = usage(50, 0, 10)
    expected = (10 * SECOND, MICROSECOND, None)
    actual = (
        login_retry_after(full, NOW + 50 * SECOND, policy),
        login_retry_after(full, NOW + MINUTE - MICROSECOND, policy),
        login_retry_after(full, NOW + MINUTE, policy),
    )
    assert expected == actual


def test_the_default_budget_is_twenty_logins_a_minute() -> None:
    """Twenty logins in a minute fill the default budget; nineteen leave room."""
    nineteen = usage(*range(19))
    twenty = usage(*range(20))
    later = NOW + 30 * SECOND
    expected = (None, 30 * SECOND)
    assert expected == (
        login_retry_after(nineteen, later, POLICY),
        login_retry_after(twenty, later, POLICY),
    )


def test_with_login_forgets_old_logins_and_takes_one_now() -> None:
    """Taking a login keeps the logins of the last minute and adds this one; the refusal
    count and rest stay."""
    before = usage(-90, -60, -59, cooldown_until=None, auth_failures=2)
    expected = SenderUsage(logins=(NOW - 59 * SECOND, NOW), auth_failures=2)
    assert expected == with_login(before, NOW)


@given(
    gaps=st.lists(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(seconds=20)),
        min_size=1,
        max_size=30,
    ),
    budget=st.integers(min_value=1, max_value=5),
)
def test_logins_never_exceed_the_budget_in_any_minute(gaps: list[timedelta], budget: int) -> None:
    """Whatever the pace, logins taken when allowed never exceed the budget in any rolling
    minute, and a refused login is allowed exactly after its wait."""
    policy = pr.Policy(smtp_logins_per_minute=budget)
    state, taken, now = SenderUsage(), [], NOW
    for gap in gaps:
        now += gap
        wait = login_retry_after(state, now, policy)
        if wait is None:
            state = with_login(state, now)
            taken.append(now)
            continue
        event("waited")
        assert login_retry_after(state, now + wait - MICROSECOND, policy) is not None
        assert login_retry_after(state, now + wait, policy) is None
    for instant in taken:
        assert len([t for t in taken if timedelta(0) <= instant - t < MINUTE]) <= budget


# -- a sender's refused credentials and its rest ------------------------------------------


def test_refusals_below_the_threshold_are_counted() -> None:
    """A refused login is counted; below sender_failures_before_cooldown no rest begins."""
    after = after_login(SenderUsage(auth_failures=1), NOW, POLICY, refused=True)
    assert SenderUsage(auth_failures=2) == after


def test_the_refusal_reaching_the_threshold_starts_the_rest() -> None:
    """The third refusal in a row starts a 15-minute rest and the count starts over."""
    before = usage(0, auth_failures=2)
    expected = usage(0, auth_failures=0, cooldown_until=NOW + timedelta(minutes=15))
    assert expected == after_login(before, NOW, POLICY, refused=True)


def test_a_login_that_works_resets_the_refusals() -> None:
    """A working login clears the refusals in a row and any rest; the logins stay."""
    before = usage(0, auth_failures=2, cooldown_until=NOW - SECOND)
    assert usage(0) == after_login(before, NOW, POLICY, refused=False)


def test_only_refusals_in_a_row_start_a_rest() -> None:
    """Two refusals, a success and two refusals more start no rest."""
    state = SenderUsage()
    for refused in (True, True, False, True, True):
        state = after_login(state, NOW, POLICY, refused=refused)
    assert SenderUsage(auth_failures=2) == state


@given(
    threshold=st.integers(min_value=1, max_value=6),
    # Three refusals in four logins: runs reach the threshold in about half the examples.
    outcomes=st.lists(st.sampled_from([True, True, True, False]), max_size=20),
)
def test_a_rest_starts_exactly_after_threshold_refusals_in_a_row(
    threshold: int, outcomes: list[bool]
) -> None:
    """For any threshold and outcomes: a rest starts exactly at the login that makes the
    run of refusals since the last success or rest reach the threshold; a success ends it.
    (Here every login is at one instant: a rest, once started, is not cleared by a refusal.)"""
    policy = pr.Policy(sender_failures_before_cooldown=threshold)
    state, run, rest = SenderUsage(), 0, None
    for refused in outcomes:
        state = after_login(state, NOW, policy, refused=refused)
        run = run + 1 if refused else 0
        if not refused:
            rest = None
        if run == threshold:
            event("rest")
            run, rest = 0, NOW + policy.sender_cooldown
        assert (run, rest) == (state.auth_failures, state.cooldown_until)


def test_a_resting_sender_waits_the_rest_of_the_cooldown() -> None:
    """While resting the sender waits until the rest is over, even with its budget free;
    from then on the budget alone decides."""
    resting = SenderUsage(cooldown_until=NOW + 10 * MINUTE)
    expected = (10 * MINUTE, MICROSECOND, None)
    actual = (
        login_retry_after(resting, NOW, POLICY),
        login_retry_after(resting, NOW + 10 * MINUTE - MICROSECOND, POLICY),
        login_retry_after(resting, NOW + 10 * MINUTE, POLICY),
    )
    assert expected == actual


# -- the queue ---------------------------------------------------------------------------


def test_retry_delay_doubles_from_the_base_up_to_an_hour() -> None:
    """After 1, 2, 3… tries: 1, 2, 4, 8, 16, 32 minutes, then an hour (0 tries: the base)."""
    expected = [MINUTE * m for m in (1, 1, 2, 4, 8, 16, 32, 60, 60)]
    assert expected == [retry_delay(n, POLICY) for n in range(9)]


def test_retry_delay_follows_the_policy_base() -> None:
    """The base is the policy's: 10 seconds doubles to 20, 40…"""
    policy = pr.Policy(delivery_retry_base=10 * SECOND)
    expected = [10 * SECOND, 20 * SECOND, 40 * SECOND]
    assert expected == [retry_delay(n, policy) for n in (1, 2, 3)]


@pytest.mark.parametrize("tries", [50, 10**9, 2**100])
def test_retry_delay_never_exceeds_an_hour(tries: int) -> None:
    """However many tries, the wait is an hour at most, without overflowing."""
    assert HOUR == retry_delay(tries, POLICY)
