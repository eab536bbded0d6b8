"""The ports the service talks through. A host may supply its own implementation
of any of them; the reference adapters live in ``pwrecovery.adapters``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from pwrecovery.domain.model import (
    AuditEvent,
    QueuedMessage,
    SenderAccount,
    SenderRecord,
    SenderSettings,
    UserRecord,
)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@runtime_checkable
class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """A salted, encoded hash of ``password``."""
        ...

    def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches; False (never an exception) for a bad ``encoded``."""
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with weaker parameters than the current ones."""
        ...


@runtime_checkable
class TokenProvider(Protocol):
    """Gives OAuth 2.0 access tokens for XOAUTH2 sender accounts; refreshing is its job.

    ``refresh_token`` is what the host stored through ``configure_sender`` (encrypted
    like an SMTP password), or None if it keeps its own. Any exception it raises is
    reported as ``TokenUnavailable``.
    """

    def access_token(self, account: SenderAccount, refresh_token: str | None) -> str: ...


@runtime_checkable
class Mailer(Protocol):
    """Sends mail through one sender account at a time.

    Raises only ``SenderAuthenticationFailed``, ``SenderUnreachable`` or
    ``DeliveryFailed``, translated from whatever the mail library raised.
    ``password`` is the account's password, or its OAuth 2.0 access token when
    ``settings.authentication`` is ``XOAUTH2``.
    """

    def verify(self, settings: SenderSettings, password: str) -> None:
        """Connect and log in as the sender, then quit; raise if that fails."""
        ...

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        """Deliver ``message`` to its ``To`` address through the sender's server."""
        ...


@runtime_checkable
class Store(Protocol):
    """Where users, sender accounts and the audit trail live.

    Each method is one transaction. ``update_user`` is conditional: it writes
    only when the stored version still equals ``expected_version`` (and then
    stores ``expected_version + 1``), and says whether it did; that is how two
    workstations acting on one user at once never lose an update.
    """

    def get_user(self, key: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]: ...

    def add_user(self, record: UserRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Insert a new user; ``UserExists`` if the key is taken."""
        ...

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        """Write ``record`` if unchanged since read, with ``events`` and the messages to
        ``enqueue`` (stored at version 1), all in one transaction."""
        ...

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        """Queued messages whose ``next_attempt_at`` has come, oldest first."""
        ...

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        """Conditional, like ``update_user``: False if another worker changed it first."""
        ...

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Remove a message (sent, abandoned or dropped); False if it was already gone."""
        ...

    def has_verified_supervisor(self) -> bool:
        """Whether at least one supervisor has a verified recovery address."""
        ...

    def list_senders(self) -> list[SenderRecord]:
        """Every sender, with ``owner_supervisor`` reflecting the owner's current role."""
        ...

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Insert a sender, or replace the one with the same id."""
        ...

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Delete a sender; False if there was none with that id."""
        ...

    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        """Events oldest first; only those whose login has ``key`` when it is given."""
        ...
