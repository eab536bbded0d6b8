"""A sender's SMTP budget and its rest after refused credentials.

Before each SMTP login one is taken from the sender's budget
(``Policy.smtp_logins_per_minute``) in a conditional write on the sender's
row, so that every workstation and worker together stay within it; after the
login its result is counted: credentials refused several times in a row
(``Policy.sender_failures_before_cooldown``) make the sender rest for
``Policy.sender_cooldown``, audited as ``sender_cooling_down``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from pwrecovery._domain import throttle
from pwrecovery._service._context import Context
from pwrecovery.models import AuditEvent
from pwrecovery.records import SenderRecord


def budget_wait(
    ctx: Context, candidates: Sequence[SenderRecord], now: datetime
) -> timedelta | None:
    """None when some sender may log in now; else how long until one may."""
    waits = [throttle.login_retry_after(s.usage, now, ctx.policy) for s in candidates]
    if not waits or any(wait is None for wait in waits):
        return None
    return min(wait for wait in waits if wait is not None)


def take_login(ctx: Context, sender_id: str, now: datetime) -> SenderRecord | timedelta | None:
    """Take one SMTP login from the sender's budget: the fresh record, or how long to
    wait, or None if the sender is gone."""
    for attempt in ctx.uow.sender(sender_id):
        with attempt as record:
            if record is None:
                return None
            wait = throttle.login_retry_after(record.usage, now, ctx.policy)
            if wait is not None:
                return wait
            taken = attrs.evolve(record, usage=throttle.with_login(record.usage, now))
            attempt.save(taken)
            return attrs.evolve(taken, version=record.version + 1)
    return None  # pragma: no cover (the loop returns or raises)


def settle_login(
    ctx: Context, sender_id: str, now: datetime, *, refused: bool
) -> tuple[AuditEvent, ...]:
    """Count a refusal of the sender's credentials (or clear the count), with the
    ``sender_cooling_down`` event when that starts a rest; the events are stored with
    the sender and returned."""
    for attempt in ctx.uow.sender(sender_id):
        with attempt as record:
            if record is None:
                return ()
            usage = throttle.after_login(record.usage, now, ctx.policy, refused=refused)
            if usage == record.usage:
                return ()
            events: tuple[AuditEvent, ...] = ()
            if usage.cooldown_until is not None and usage.cooldown_until != (
                record.usage.cooldown_until
            ):
                events = (
                    ctx.event(
                        "sender_cooling_down",
                        None,
                        now,
                        sender=sender_id,
                        until=usage.cooldown_until.isoformat(),
                    ),
                )
            attempt.save(attrs.evolve(record, usage=usage), events=events)
            return events
    return ()  # pragma: no cover
