"""In-memory adapters: real, shipped implementations of the ports for host tests.

``InMemoryStore`` keeps the same contract as ``SqliteStore`` (the contract test
suite runs over both); ``RecordingMailer`` runs the same checks as
``SmtpMailer`` and keeps what it sends in ``outbox``; ``ManualClock`` moves
only when told to.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Final

import attrs

from pwrecovery._domain.logins import audit_key, login_key
from pwrecovery.adapters.outgoing import (
    check_credentials,
    needs_smtputf8,
    recipients_of,
    refusal,
    smtputf8_refused,
)
from pwrecovery.exceptions import (
    BasicAuthDisabled,
    SenderAddressRefused,
    SenderAuthenticationFailed,
    SenderUnreachable,
    UserExists,
)
from pwrecovery.models import AuditEvent, Authentication, SenderSettings
from pwrecovery.records import QueuedMessage, SenderRecord, Throttle, UserRecord

# The replies RecordingMailer's switches stand for, as real servers give them.
_NOT_OWNED: Final = 553  # Postfix: 5.7.1 Sender address rejected: not owned by user
_REFUSED_FOR_GOOD: Final = 550
_REFUSED_FOR_NOW: Final = 451
_CLOSING: Final = 421


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

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._lock:
            if self._outbox.pop(message_id, None) is None:
                return False
            self._audit.extend(events)
            return True

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


class RecordingMailer:
    """A ``Mailer`` (with sessions: a ``SessionMailer``) that keeps every message in
    ``outbox`` instead of sending it.

    It checks messages and credentials as ``SmtpMailer`` does, records every login
    in ``logins`` and every session in ``sessions``, and can be told to fail as real
    servers do, for tests:

    - ``passwords``: username → the only password its server accepts (other
      usernames accept any non-empty password); for XOAUTH2 senders, the only
      access token accepted;
    - ``unreachable_hosts``: hosts that cannot be reached;
    - ``basic_auth_disabled_hosts``: hosts that refuse every username and password
      (Microsoft 365's ``535 5.7.139``): ``BasicAuthDisabled``; XOAUTH2 still works;
    - ``refused_from_addresses``: From addresses the servers refuse at MAIL FROM
      (Postfix's ``553 5.7.1 … not owned by user``): ``verify`` raises
      ``SenderAddressRefused``, ``send`` ``DeliveryRejected``;
    - ``rejecting_hosts``: hosts that accept the login but refuse every message for
      now (``451``): ``DeliveryFailed``;
    - ``permanently_rejecting_hosts``: the same, for good (``550``): ``DeliveryRejected``;
    - ``hosts_without_smtputf8``: hosts that do not offer SMTPUTF8, so a recipient with a
      non-ASCII local part is refused for good (``DeliveryRejected``, 555);
    - ``messages_per_session``: how many messages one session takes before the server
      answers ``421`` and closes it (None: no limit).
    """

    def __init__(
        self,
        *,
        passwords: Mapping[str, str] | None = None,
        unreachable_hosts: Iterable[str] = (),
        rejecting_hosts: Iterable[str] = (),
        permanently_rejecting_hosts: Iterable[str] = (),
        basic_auth_disabled_hosts: Iterable[str] = (),
        refused_from_addresses: Iterable[str] = (),
        hosts_without_smtputf8: Iterable[str] = (),
        messages_per_session: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.outbox: list[EmailMessage] = []
        self.sent_through: list[SenderSettings] = []
        self.passwords: dict[str, str] = dict(passwords or {})
        self.unreachable_hosts: set[str] = set(unreachable_hosts)
        self.rejecting_hosts: set[str] = set(rejecting_hosts)
        self.permanently_rejecting_hosts: set[str] = set(permanently_rejecting_hosts)
        self.basic_auth_disabled_hosts: set[str] = set(basic_auth_disabled_hosts)
        self.refused_from_addresses: set[str] = set(refused_from_addresses)
        self.hosts_without_smtputf8: set[str] = set(hosts_without_smtputf8)
        self.messages_per_session = messages_per_session
        self.logins: list[tuple[str, str]] = []
        self.sessions: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"RecordingMailer(<{len(self.outbox)} messages>)"

    def _log_in(self, settings: SenderSettings, password: str) -> None:
        check_credentials(settings, password)
        if settings.host in self.unreachable_hosts:
            raise SenderUnreachable(settings.host, settings.port, "connection")
        self.logins.append((settings.host, settings.username))
        basic = settings.authentication is not Authentication.XOAUTH2
        if basic and settings.host in self.basic_auth_disabled_hosts:
            raise BasicAuthDisabled(settings.host)
        expected = self.passwords.get(settings.username)
        if not password or (expected is not None and password != expected):
            raise SenderAuthenticationFailed(settings.host)

    def verify(self, settings: SenderSettings, password: str) -> None:
        with self._lock:
            self._log_in(settings, password)
            if settings.from_address in self.refused_from_addresses:
                raise SenderAddressRefused(settings.host, settings.from_address, _NOT_OWNED)

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        recipients_of(message)
        with self._lock:
            self._log_in(settings, password)
            self._deliver(settings, message)

    @contextmanager
    def session(self, settings: SenderSettings, password: str) -> Iterator[RecordingSession]:
        """Log in once; every message sent through the session lands in ``outbox``."""
        with self._lock:
            self._log_in(settings, password)
            self.sessions.append((settings.host, settings.username))
        yield RecordingSession(self, settings)

    def _deliver(self, settings: SenderSettings, message: EmailMessage) -> None:
        """Under the lock: refuse as the switches say, or keep the message."""
        (recipient,) = recipients_of(message)
        # In the order an SMTP client meets them: its own SMTPUTF8 check, MAIL, RCPT/DATA.
        if settings.host in self.hosts_without_smtputf8 and needs_smtputf8(recipient):
            raise smtputf8_refused()
        if settings.from_address in self.refused_from_addresses:
            raise refusal(_NOT_OWNED)
        if settings.host in self.permanently_rejecting_hosts:
            raise refusal(_REFUSED_FOR_GOOD)
        if settings.host in self.rejecting_hosts:
            raise refusal(_REFUSED_FOR_NOW)
        self.outbox.append(message)
        self.sent_through.append(settings)


class RecordingSession:
    """A ``RecordingMailer`` session: ``send`` keeps the message, or refuses it as its
    mailer's switches say; past ``messages_per_session`` the session is closed."""

    def __init__(self, mailer: RecordingMailer, settings: SenderSettings) -> None:
        self._mailer = mailer
        self._settings = settings
        self._sent = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"RecordingSession({self._settings.host})"

    def send(self, message: EmailMessage) -> None:
        recipients_of(message)
        settings, mailer = self._settings, self._mailer
        with mailer._lock:  # noqa: SLF001 (the session is part of its mailer)
            if self._closed or settings.host in mailer.unreachable_hosts:
                self._closed = True
                raise SenderUnreachable(settings.host, settings.port, "connection")
            limit = mailer.messages_per_session
            if limit is not None and self._sent >= limit:
                self._closed = True  # as a server does: 421 to MAIL FROM, and it hangs up
                raise refusal(_CLOSING)
            self._sent += 1
            mailer._deliver(settings, message)  # noqa: SLF001


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
