"""In-memory adapters: real, shipped implementations of the ports for host tests.

``InMemoryStore`` keeps the same contract as ``SqliteStore`` (the contract test
suite runs over both); ``RecordingMailer`` runs the same checks as
``SmtpMailer`` and keeps what it sends in ``outbox``; ``ManualClock`` moves
only when told to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import attrs

from pwrecovery.adapters.outgoing import check_credentials, recipients_of
from pwrecovery.domain.logins import audit_key, login_key
from pwrecovery.domain.model import (
    AuditEvent,
    QueuedMessage,
    SenderRecord,
    SenderSettings,
    UserRecord,
)
from pwrecovery.errors import (
    DeliveryFailed,
    SenderAuthenticationFailed,
    SenderUnreachable,
    UserExists,
)


class InMemoryStore:
    """A ``Store`` in a dictionary, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, UserRecord] = {}
        self._senders: dict[str, SenderRecord] = {}
        self._audit: list[AuditEvent] = []
        self._outbox: dict[str, QueuedMessage] = {}

    def __repr__(self) -> str:
        return f"InMemoryStore(<{len(self._users)} users, {len(self._senders)} senders>)"

    def get_user(self, key: str) -> UserRecord | None:
        with self._lock:
            return self._users.get(key)

    def list_users(self) -> list[UserRecord]:
        with self._lock:
            return sorted(self._users.values(), key=lambda r: r.key)

    def add_user(self, record: UserRecord, events: Sequence[AuditEvent] = ()) -> None:
        with self._lock:
            if record.key in self._users:
                raise UserExists(record.login)
            self._users[record.key] = attrs.evolve(record, version=1)
            self._audit.extend(events)

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
            for message in enqueue:
                self._outbox[message.id] = attrs.evolve(message, version=1)
            return True

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

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if self._outbox.pop(message_id, None) is None:
                return False
            self._audit.extend(events)
            return True

    def has_verified_supervisor(self) -> bool:
        with self._lock:
            return any(u.supervisor and u.has_verified_address for u in self._users.values())

    def list_senders(self) -> list[SenderRecord]:
        with self._lock:
            return [
                attrs.evolve(s, owner_supervisor=self._is_supervisor(s.account.owner))
                for s in self._senders.values()
            ]

    def _is_supervisor(self, owner: str) -> bool:
        user = self._users.get(login_key(owner))
        return user is not None and user.supervisor

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        with self._lock:
            self._senders[record.account.id] = record
            self._audit.extend(events)

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if self._senders.pop(sender_id, None) is None:
                return False
            self._audit.extend(events)
            return True

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        with self._lock:
            self._audit.extend(events)

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        with self._lock:
            events = list(self._audit)
        if key is None:
            return events
        return [e for e in events if audit_key(e.login) == key]


class RecordingMailer:
    """A ``Mailer`` that keeps every message in ``outbox`` instead of sending it.

    It checks messages and credentials as ``SmtpMailer`` does, and can be told
    to fail, for tests:

    - ``passwords``: username → the only password its server accepts (other
      usernames accept any non-empty password); for XOAUTH2 senders, the only
      access token accepted;
    - ``unreachable_hosts``: hosts that cannot be reached;
    - ``rejecting_hosts``: hosts that accept the login but refuse the message.
    """

    def __init__(
        self,
        *,
        passwords: Mapping[str, str] | None = None,
        unreachable_hosts: Iterable[str] = (),
        rejecting_hosts: Iterable[str] = (),
    ) -> None:
        self._lock = threading.Lock()
        self.outbox: list[EmailMessage] = []
        self.sent_through: list[SenderSettings] = []
        self.passwords: dict[str, str] = dict(passwords or {})
        self.unreachable_hosts: set[str] = set(unreachable_hosts)
        self.rejecting_hosts: set[str] = set(rejecting_hosts)
        self.logins: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"RecordingMailer(<{len(self.outbox)} messages>)"

    def _log_in(self, settings: SenderSettings, password: str) -> None:
        check_credentials(settings, password)
        if settings.host in self.unreachable_hosts:
            raise SenderUnreachable(settings.host, settings.port, "connection")
        self.logins.append((settings.host, settings.username))
        expected = self.passwords.get(settings.username)
        if not password or (expected is not None and password != expected):
            raise SenderAuthenticationFailed(settings.host)

    def verify(self, settings: SenderSettings, password: str) -> None:
        with self._lock:
            self._log_in(settings, password)

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        recipients_of(message)
        with self._lock:
            self._log_in(settings, password)
            if settings.host in self.rejecting_hosts:
                raise DeliveryFailed(attempts=1)
            self.outbox.append(message)
            self.sent_through.append(settings)


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
