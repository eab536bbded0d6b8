"""Every limit: recovery requests per user, failed sign-ins, SMTP logins per sender.

Each limit is *taken* before the action it allows (``reserve_*`` and ``with_*``
give the state to write in the same conditional write that allows it), so that
concurrent workstations can never let more through than the limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from pwrecovery._domain.policy import Policy
from pwrecovery.records import Attempts, SenderUsage

_RETRY_CAP = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)


# -- recovery requests ---------------------------------------------------------


def recent_requests(
    requests: tuple[datetime, ...], now: datetime, policy: Policy
) -> tuple[datetime, ...]:
    """The requests that still count: those less than one window old."""
    return tuple(sorted(t for t in requests if now - t < policy.recovery_window))


def recovery_retry_after(
    requests: tuple[datetime, ...], now: datetime, policy: Policy
) -> timedelta | None:
    """How long until another recovery request is allowed; None when it is allowed now."""
    recent = recent_requests(requests, now, policy)
    if len(recent) < policy.recovery_requests_per_window:
        return None
    # The request that must leave the window before one more fits in it.
    blocking = recent[len(recent) - policy.recovery_requests_per_window]
    return blocking + policy.recovery_window - now


def with_request(
    requests: tuple[datetime, ...], now: datetime, policy: Policy
) -> tuple[datetime, ...]:
    """The requests to remember after one more at ``now``."""
    return (*recent_requests(requests, now, policy), now)


# -- failed sign-ins -------------------------------------------------------------


def current(attempts: Attempts, now: datetime, policy: Policy) -> Attempts:
    """The attempts that still count: all of them, unless the last failure is older than
    ``failure_memory`` and no lock holds, in which case they are forgotten."""
    if attempts.failures == 0:
        return attempts
    locked = attempts.locked_until is not None and now < attempts.locked_until
    last = attempts.last_failure_at
    if not locked and (last is None or now - last >= policy.failure_memory):
        return Attempts()
    return attempts


def lock_remaining(attempts: Attempts, now: datetime) -> timedelta | None:
    """How long the sign-in lock still holds; None when there is none."""
    if attempts.locked_until is None or now >= attempts.locked_until:
        return None
    return attempts.locked_until - now


def reserve_attempt(attempts: Attempts, now: datetime, policy: Policy) -> Attempts:
    """Take one attempt before its password is checked: it counts as a failure until it
    is settled as a success. The attempt that reaches ``max_failed_sign_ins`` takes the
    lock with it, so no attempt beyond the limit is ever checked."""
    counted = current(attempts, now, policy)
    failures = counted.failures + 1
    duration = lock_duration(failures, policy)
    locked_until = now + duration if duration is not None else counted.locked_until
    return Attempts(failures=failures, locked_until=locked_until, last_failure_at=now)


def lock_duration(failures: int, policy: Policy) -> timedelta | None:
    """The lock after ``failures`` failed sign-ins in a row.

    None below ``max_failed_sign_ins``; at it, ``lockout_base``; each further
    failure doubles the lock, up to ``lockout_max``.
    """
    if failures < policy.max_failed_sign_ins:
        return None
    return doubled(policy.lockout_base, failures - policy.max_failed_sign_ins, policy.lockout_max)


# -- SMTP logins per sender ----------------------------------------------------------


def recent_logins(usage: SenderUsage, now: datetime) -> tuple[datetime, ...]:
    return tuple(sorted(t for t in usage.logins if now - t < _MINUTE))


def login_retry_after(usage: SenderUsage, now: datetime, policy: Policy) -> timedelta | None:
    """How long until the sender may log in again (budget or rest); None when it may now."""
    if usage.cooldown_until is not None and now < usage.cooldown_until:
        return usage.cooldown_until - now
    recent = recent_logins(usage, now)
    if len(recent) < policy.smtp_logins_per_minute:
        return None
    return recent[len(recent) - policy.smtp_logins_per_minute] + _MINUTE - now


def with_login(usage: SenderUsage, now: datetime) -> SenderUsage:
    """The usage after taking one SMTP login at ``now``."""
    return attrs.evolve(usage, logins=(*recent_logins(usage, now), now))


def after_login(usage: SenderUsage, now: datetime, policy: Policy, *, refused: bool) -> SenderUsage:
    """The usage once a login is known to have worked or been refused for its credentials:
    refusals in a row past ``sender_failures_before_cooldown`` start a rest."""
    if not refused:
        return attrs.evolve(usage, auth_failures=0, cooldown_until=None)
    failures = usage.auth_failures + 1
    if failures >= policy.sender_failures_before_cooldown:
        return attrs.evolve(usage, auth_failures=0, cooldown_until=now + policy.sender_cooldown)
    return attrs.evolve(usage, auth_failures=failures)


# -- the queue -------------------------------------------------------------------


def retry_delay(attempts: int, policy: Policy) -> timedelta:
    """The wait before a queued mail is tried again after ``attempts`` tries:
    ``delivery_retry_base``, doubling with each try, at most an hour."""
    return doubled(policy.delivery_retry_base, max(0, attempts - 1), _RETRY_CAP)


def doubled(base: timedelta, times: int, cap: timedelta) -> timedelta:
    """``base`` doubled ``times`` times, but never above ``cap``."""
    duration = base
    # Doubling stops at the cap, so the loop ends after at most ~70 turns and never overflows.
    for _ in range(times):
        if duration > cap / 2:
            return cap
        duration *= 2
    return min(duration, cap)
