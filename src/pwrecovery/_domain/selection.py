"""Which sender account to try first (docs/design.md, §1)."""

from __future__ import annotations

from collections.abc import Iterable

from pwrecovery._domain.logins import login_key
from pwrecovery.records import SenderRecord

_SUPERVISOR, _REQUESTER, _OTHER = 0, 1, 2


def order_senders(records: Iterable[SenderRecord], requester: str | None) -> list[SenderRecord]:
    """Senders in the order delivery tries them.

    Accounts configured by a supervisor first, then the requesting user's own,
    then the rest; within a group the most recently verified first (ties by id,
    so the order is always the same).
    """
    requester_key = login_key(requester) if requester is not None else None

    def group(record: SenderRecord) -> int:
        if record.owner_supervisor:
            return _SUPERVISOR
        if requester_key is not None and login_key(record.account.owner) == requester_key:
            return _REQUESTER
        return _OTHER

    by_id = sorted(records, key=lambda r: r.account.id)
    by_recency = sorted(by_id, key=lambda r: r.account.verified_at, reverse=True)
    return sorted(by_recency, key=group)
