"""The ports the service talks through. A host may supply its own implementation
of any of them; the reference adapters live in ``pwrecovery.adapters``."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from pwrecovery.models import AuditEvent, SenderAccount, SenderSettings
from pwrecovery.records import QueuedMessage, SenderRecord, Throttle, UserRecord


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@runtime_checkable
class PasswordHasher(Protocol):
    """Hashes and checks passwords. ``identifies`` says whether an encoded hash is this
    hasher's own (its format, within its bounds), so a service with several hashers
    (``legacy_hashers=``) knows which one checks a stored hash."""

    def hash(self, password: str) -> str:
        """A salted, encoded hash of ``password``."""
        ...

    def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches; False (never an exception) for a bad ``encoded``."""
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with weaker parameters than the current ones."""
        ...

    def identifies(self, encoded: str) -> bool:
        """Whether ``encoded`` is in this hasher's format and within its bounds."""
        ...


@runtime_checkable
class TokenProvider(Protocol):
    """Gives OAuth 2.0 access tokens for XOAUTH2 sender accounts.

    ``secret`` is what was stored through ``configure_sender`` (encrypted like an
    SMTP password): a refresh token, a client secret, a credentials bundle of
    ``pwrecovery.oauth``, or None. The answer is the access token, or an
    ``AccessToken`` carrying its expiry (the service reuses it until shortly
    before) and, when the provider rotated it, the new refresh token to store.
    Any exception it raises is reported as ``TokenUnavailable``.
    """

    def access_token(self, account: SenderAccount, secret: str | None, /) -> object: ...


@runtime_checkable
class Mailer(Protocol):
    """Sends mail through one sender account at a time.

    Raises only ``SenderError`` subclasses, translated from whatever the mail
    library raised. ``password`` is the account's password, or its OAuth 2.0
    access token when ``settings.authentication`` is ``XOAUTH2``.
    """

    def verify(self, settings: SenderSettings, password: str) -> None:
        """Connect and log in as the sender, check that the server accepts its From
        address (MAIL FROM, then RSET), and quit; raise if any of that fails."""
        ...

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        """Deliver ``message`` to its ``To`` address through the sender's server.

        A refusal of the message itself raises ``DeliveryRejected`` when it is for good
        (a 5xx reply) and ``DeliveryFailed`` when trying later may work (a 4xx reply),
        with the server's ``reply_code``."""
        ...


@runtime_checkable
class MailSession(Protocol):
    """One logged-in connection to a sender's server, from ``SessionMailer.session``."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` in this session.

        A refusal of this message (``DeliveryFailed``, ``DeliveryRejected``) leaves the
        session usable for the next one; any other ``SenderError`` means the session is
        lost, and the caller sends nothing more through it."""
        ...


@runtime_checkable
class SessionMailer(Mailer, Protocol):
    """A ``Mailer`` that can send several messages through one login.

    Optional: the queue worker (``deliver_pending``) sends each sender's share of
    the due mails through one session when the mailer has ``session``, and calls
    ``send`` once per mail when it has not.
    """

    def session(
        self, settings: SenderSettings, password: str
    ) -> AbstractContextManager[MailSession]:
        """Connect and log in as ``verify`` does (raising the same errors), give a
        session to send through, and quit when the ``with`` block ends."""
        ...


@runtime_checkable
class Store(Protocol):
    """Where users, sender accounts, the outbox and the audit trail live.

    Each method is one transaction. Writes of versioned records are conditional:
    they happen only when the stored version still equals ``expected_version``
    (then ``expected_version + 1`` is stored) and say whether they did; that is
    how two workstations acting on one record at once never lose an update.
    Audit events and queued messages passed along are written in the same
    transaction. ``pwrecovery.testing.contract`` holds the tests every store passes.

    The batch methods (``get_users``, ``update_users``, ``update_messages``,
    ``delete_messages``) let the delivery worker claim, prepare and settle many
    queued mails in a few transactions instead of several per mail. Their writes
    are conditional one by one, each over the version its record carries (the
    version it was read at), and they answer, in order, which were done.
    """

    # -- users -------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]:
        """Every user, by key (code point order)."""
        ...

    def add_users(
        self,
        records: Sequence[UserRecord],
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> None:
        """Insert new users (at version 1), all or none; ``UserExists`` if a key is taken."""
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

    def remove_user(
        self, key: str, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Delete the user and its queued messages if unchanged since read."""
        ...

    def get_users(self, keys: Sequence[str]) -> list[UserRecord]:
        """The users with these keys, in one read; a key without a user is left out."""
        ...

    def update_users(self, records: Sequence[UserRecord]) -> list[bool]:
        """Several conditional writes in one transaction: each record is written only if
        its stored version still equals the record's own ``version`` (then ``version + 1``
        is stored). Says, in order, which were written; at most one record per key."""
        ...

    def has_verified_supervisor(self) -> bool:
        """Whether at least one enabled supervisor has a verified recovery address."""
        ...

    # -- sign-in attempts on logins that do not exist -----------------------

    def fingerprint_key(self) -> bytes:
        """A random key made once per store, for the fingerprints of unknown logins."""
        ...

    def get_throttle(self, fingerprint: str) -> Throttle | None: ...

    def put_throttle(
        self, record: Throttle, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Insert (``expected_version=0``: only if absent) or conditionally update."""
        ...

    def prune_throttles(self, idle_before: datetime, keep: int) -> int:
        """Forget fingerprints untouched since ``idle_before``, and the least recently
        touched beyond ``keep``; say how many went."""
        ...

    # -- senders -----------------------------------------------------------

    def list_senders(self) -> list[SenderRecord]:
        """Every sender, with ``owner_supervisor`` reflecting the owner's current role."""
        ...

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        """Insert a sender, or replace the one with the same id (its version grows)."""
        ...

    def update_sender(
        self, record: SenderRecord, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Conditional, like ``update_user``: its usage, or its secret resealed."""
        ...

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Delete a sender; False if there was none with that id."""
        ...

    # -- outbox ------------------------------------------------------------

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

    def update_messages(self, messages: Sequence[QueuedMessage]) -> list[bool]:
        """``update_users`` for queued messages: each written only over its own ``version``,
        all in one transaction (a worker claims a batch so); which were, in order."""
        ...

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        """Remove a message (sent, abandoned or dropped); False if it was already gone."""
        ...

    def delete_messages(self, deletions: Sequence[tuple[str, Sequence[AuditEvent]]]) -> list[bool]:
        """Remove several messages in one transaction, each given with its own audit events,
        which are written only if it was still there; which were, in order. A store that
        keeps deleted data around (a write-ahead log) clears it once for the batch."""
        ...

    # -- audit -------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None: ...

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        """Events oldest first; only those whose login has ``key`` when it is given."""
        ...
