"""Rate limits: recovery requests per user, and the sign-in backoff (DESIGN §3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pwrecovery.domain.policy import Policy

_RETRY_CAP = timedelta(hours=1)


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


def lock_remaining(locked_until: datetime | None, now: datetime) -> timedelta | None:
    """How long the sign-in lock still holds; None when there is none."""
    if locked_until is None or now >= locked_until:
        return None
    return locked_until - now


def lock_duration(failures: int, policy: Policy) -> timedelta | None:
    """The lock after ``failures`` failed sign-ins in a row.

    None below ``max_failed_sign_ins``; at it, ``lockout_base``; each further
    failure doubles the lock, up to ``lockout_max``.
    """
    if failures < policy.max_failed_sign_ins:
        return None
    return doubled(policy.lockout_base, failures - policy.max_failed_sign_ins, policy.lockout_max)


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
