"""In-memory adapters: real, shipped implementations of the ports for host tests.

``InMemoryStore`` keeps the same contract as ``SqliteStore`` (the contract test
suite runs over both); ``RecordingMailer`` (in ``_recording``) runs the same
checks as ``SmtpMailer`` and keeps what it sends in ``outbox``; ``ManualClock``
moves only when told to.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import attrs

from pwrecovery._domain.logins import audit_key, login_key
from pwrecovery.adapters._recording import RecordingMailer, RecordingSession
from pwrecovery.exceptions import UserExists
from pwrecovery.models import AuditEvent
from pwrecovery.records import QueuedMessage, SenderRecord, Throttle, UserRecord

__all__ = ["InMemoryStore", "ManualClock", "RecordingMailer", "RecordingSession"]


class InMemoryStore:
    """A ``Store`` in dictionaries, safe to share between threads; the same contract as
    the SQL stores (``pwrecovery.testing.contract`` runs over all of them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, UserRecord] = {}
        self._senders: dict[str, SenderRecord] = {}
        self._throttles: dict[str, Throttle] = {}
        self._audit: list[AuditEvent] = []
        self._outbox: dict[str, QueuedMessage] = {}
        self._fingerprint_key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"InMemoryStore(<{len(self._users)} users, {len(self._senders)} senders>)"

    def _enqueue(self, messages: Sequence[QueuedMessage]) -> None:
        for message in messages:
            self._outbox[message.id] = attrs.evolve(message, version=1)

    # -- users -------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None:
        with self._lock:
            return self._users.get(key)

    def list_users(self) -> list[UserRecord]:
        with self._lock:
            return sorted(self._users.values(), key=lambda r: r.key)

    def add_users(
        self,
        records: Sequence[UserRecord],
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> None:
        with self._lock:
            for record in records:
                if record.key in self._users:
                    raise UserExists(record.login)
            for record in records:
                self._users[record.key] = attrs.evolve(record, version=1)
            self._audit.extend(events)
            self._enqueue(enqueue)

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        with self._lock:
            current = self._users.get(record.key)
            if current is None or current.version != expected_version:
                return False
            self._users[record.key] = attrs.evolve(record, version=expected_version + 1)
            self._audit.extend(events)
            self._enqueue(enqueue)
            return True

    def remove_user(
        self, key: str, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        with self._lock:
            current = self._users.get(key)
            if current is None or current.version != expected_version:
                return False
            del self._users[key]
            self._outbox = {i: m for i, m in self._outbox.items() if m.user_key != key}
            self._audit.extend(events)
            return True

    def get_users(self, keys: Sequence[str]) -> list[UserRecord]:
        with self._lock:
            found = [self._users[key] for key in set(keys) if key in self._users]
        return sorted(found, key=lambda r: r.key)

    def update_users(self, records: Sequence[UserRecord]) -> list[bool]:
        with self._lock:
            return _write_each(self._users, [(record.key, record) for record in records])

    def has_verified_supervisor(self) -> bool:
        with self._lock:
            return any(
                u.supervisor and u.has_verified_address and not u.disabled
                for u in self._users.values()
            )

    # -- unknown logins ----------------------------------------------------

    def fingerprint_key(self) -> bytes:
        return self._fingerprint_key

    def get_throttle(self, fingerprint: str) -> Throttle | None:
        with self._lock:
            return self._throttles.get(fingerprint)

    def put_throttle(
        self, record: Throttle, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        with self._lock:
            current = self._throttles.get(record.fingerprint)
            found = current.version if current is not None else 0
            if found != expected_version:
                return False
            self._throttles[record.fingerprint] = attrs.evolve(record, version=expected_version + 1)
            self._audit.extend(events)
            return True

    def prune_throttles(self, idle_before: datetime, keep: int) -> int:
        with self._lock:
            before = len(self._throttles)
            fresh = [t for t in self._throttles.values() if t.touched_at >= idle_before]
            fresh.sort(key=lambda t: t.touched_at, reverse=True)
            if len(fresh) > keep:
                cutoff = fresh[keep].touched_at
                fresh = [t for t in fresh if t.touched_at > cutoff]
            self._throttles = {t.fingerprint: t for t in fresh}
            return before - len(self._throttles)

    # -- senders -----------------------------------------------------------

    def list_senders(self) -> list[SenderRecord]:
        with self._lock:
            return [
                attrs.evolve(s, owner_supervisor=self._is_supervisor(s.account.owner))
                for s in sorted(self._senders.values(), key=lambda s: s.account.id)
            ]

    def _is_supervisor(self, owner: str) -> bool:
        user = self._users.get(login_key(owner))
        return user is not None and user.supervisor and not user.disabled

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        with self._lock:
            current = self._senders.get(record.account.id)
            version = current.version + 1 if current is not None else 1
            self._senders[record.account.id] = attrs.evolve(
                record, owner_supervisor=False, version=version
            )
            self._audit.extend(events)

    def update_sender(
        self, record: SenderRecord, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        with self._lock:
            current = self._senders.get(record.account.id)
            if current is None or current.version != expected_version:
                return False
            self._senders[record.account.id] = attrs.evolve(
                record, owner_supervisor=False, version=expected_version + 1
            )
            self._audit.extend(events)
            return True

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if self._senders.pop(sender_id, None) is None:
                return False
            self._audit.extend(events)
            return True

    # -- outbox ------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        with self._lock:
            due = [m for m in self._outbox.values() if m.next_attempt_at <= now]
        return sorted(due, key=lambda m: (m.next_attempt_at, m.id))[:limit]

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        with self._lock:
            current = self._outbox.get(message.id)
            if current is None or current.version != expected_version:
                return False
            self._outbox[message.id] = attrs.evolve(message, version=expected_version + 1)
            self._audit.extend(events)
            return True

    def update_messages(self, messages: Sequence[QueuedMessage]) -> list[bool]:
        with self._lock:
            return _write_each(self._outbox, [(message.id, message) for message in messages])

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if self._outbox.pop(message_id, None) is None:
                return False
            self._audit.extend(events)
            return True

    def delete_messages(self, deletions: Sequence[tuple[str, Sequence[AuditEvent]]]) -> list[bool]:
        with self._lock:
            gone = []
            for message_id, events in deletions:
                deleted = self._outbox.pop(message_id, None) is not None
                if deleted:
                    self._audit.extend(events)
                gone.append(deleted)
            return gone

    # -- audit -------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        with self._lock:
            self._audit.extend(events)

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        with self._lock:
            events = list(self._audit)
        if key is None:
            return events
        return [e for e in events if audit_key(e.login) == key]


_Versioned = TypeVar("_Versioned", UserRecord, QueuedMessage)


def _write_each(rows: dict[str, _Versioned], records: list[tuple[str, _Versioned]]) -> list[bool]:
    """Each record written over the version it carries, if that is still the stored one
    (the caller holds the lock); which were written."""
    written = []
    for key, record in records:
        current = rows.get(key)
        fresh = current is not None and current.version == record.version
        if fresh:
            rows[key] = attrs.evolve(record, version=record.version + 1)
        written.append(fresh)
    return written


class ManualClock:
    """A ``Clock`` that stands still until moved; starts at 2026-01-01 00:00 UTC."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def sleep(self, seconds: float) -> None:
        """Waiting on a manual clock moves it forward instead of blocking."""
        self._now += timedelta(seconds=seconds)
