"""One change to one stored record, retried when another workstation wrote first.

Every use case that changes a record reads like a unit of work::

    for attempt in uow.user(key):
        with attempt as user:                  # the record as stored now
            ...decide, with the pure rules...
            attempt.save(changed, events=...)  # the conditional write
            return answer

``save`` writes only over the version read. If another workstation wrote in
between, it raises ``LostRace``, which the ``with`` block swallows: the loop
reads the record again and the block decides again, after a short random
wait that grows with each lost race. Errors the block raises after saving
leave as they are. Hashing and verifying happen *before* the loop, once: a
block only compares what was computed with what it reads.

A use case that has just saved the record may hand what it saved to the next loop
(``uow.user(key, known=attempt.saved)``): the first attempt then starts from it
without reading, and its write, conditional like any other, tells whether it was
still the stored version (else the loop reads, as after any lost race).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Final, Generic, TypeVar

import attrs

from pwrecovery.exceptions import ConcurrentModification
from pwrecovery.models import AuditEvent
from pwrecovery.ports import Store
from pwrecovery.records import QueuedMessage, SenderRecord, Throttle, UserRecord

R = TypeVar("R")

MAX_ATTEMPTS: Final = 24
_BACKOFF_SECONDS: Final = 0.002  # doubled per lost race, at most 0.1 s, with jitter
_BACKOFF_CAP: Final = 0.1

Writer = Callable[[R, "R | None", Sequence[AuditEvent], Sequence[QueuedMessage]], bool]


class LostRace(Exception):
    """The conditional write found a newer version: decide again on a fresh read."""


class Attempt(Generic[R]):
    """One try at a change: the record as read, and the conditional write."""

    def __init__(
        self, current: R | None, writer: Writer[R], store: Store, *, read: bool = True
    ) -> None:
        self.current = current
        self._writer = writer
        self._store = store
        self._read = read  # False: ``current`` was handed over, not read just now
        self.lost = False
        self.saved: R | None = None  # what the store holds after a write, version included

    def __enter__(self) -> R | None:
        return self.current

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if isinstance(error, LostRace):
            self.lost = True
            return True
        return False

    def save(
        self,
        record: R,
        *,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> None:
        """Store ``record`` over the version read, with its events and queued mails in the
        same transaction; ``LostRace`` if another workstation wrote first. A record equal
        to the one read only appends the events."""
        if record == self.current and not enqueue and self._read:
            if events:
                self._store.append_audit(events)
            self.saved = record
            return
        if not self._writer(record, self.current, events, enqueue):
            raise LostRace
        current = self.current
        version = getattr(current, "version", 0) if current is not None else 0
        self.saved = attrs.evolve(record, version=version + 1)  # type: ignore[misc]

    def audit(self, events: Sequence[AuditEvent]) -> None:
        """Record events without changing the record."""
        if events:
            self._store.append_audit(events)


class UnitOfWork:
    """Retry-on-conflict loops over the store's versioned records."""

    def __init__(
        self, store: Store, sleep: Callable[[float], None], randbelow: Callable[[int], int]
    ) -> None:
        self._store = store
        self._sleep = sleep
        self._randbelow = randbelow

    def _attempts(
        self, read: Callable[[], R | None], writer: Writer[R], known: R | None = None
    ) -> Iterator[Attempt[R]]:
        if known is not None:
            attempt = Attempt(known, writer, self._store, read=False)
            yield attempt
            if not attempt.lost:
                return
            # Not a collision with a workstation writing now: the record changed since this
            # service saved it. Read it and decide again at once.
        for number in range(MAX_ATTEMPTS):
            attempt = Attempt(read(), writer, self._store)
            yield attempt
            if not attempt.lost:
                return
            # Step aside a random moment, longer each time, so that workstations hammering
            # one record take turns instead of colliding again.
            ceiling = min(_BACKOFF_CAP, _BACKOFF_SECONDS * 2**number)
            self._sleep(ceiling * self._randbelow(1000) / 1000)
        raise ConcurrentModification

    def user(
        self, key: str | None, *, known: UserRecord | None = None
    ) -> Iterator[Attempt[UserRecord]]:
        """Attempts at changing the user with ``key`` (None: a login that cannot exist);
        the first starts from ``known`` when given (what this service saved just before)."""
        store = self._store

        def read() -> UserRecord | None:
            return store.get_user(key) if key is not None else None

        def write(
            record: UserRecord,
            current: UserRecord | None,
            events: Sequence[AuditEvent],
            enqueue: Sequence[QueuedMessage],
        ) -> bool:
            if current is None:
                msg = "a user that was not read cannot be saved"
                raise ValueError(msg)
            return store.update_user(
                record, expected_version=current.version, events=events, enqueue=enqueue
            )

        return self._attempts(read, write, known)

    def throttle(self, fingerprint: str) -> Iterator[Attempt[Throttle]]:
        """Attempts at changing the counters of a login that does not exist."""
        store = self._store

        def write(
            record: Throttle,
            current: Throttle | None,
            events: Sequence[AuditEvent],
            enqueue: Sequence[QueuedMessage],
        ) -> bool:
            del enqueue
            version = current.version if current is not None else 0
            return store.put_throttle(record, expected_version=version, events=events)

        return self._attempts(lambda: store.get_throttle(fingerprint), write)

    def sender(self, sender_id: str) -> Iterator[Attempt[SenderRecord]]:
        """Attempts at changing one sender's usage or sealed secret."""
        store = self._store

        def read() -> SenderRecord | None:
            return next((s for s in store.list_senders() if s.account.id == sender_id), None)

        def write(
            record: SenderRecord,
            current: SenderRecord | None,
            events: Sequence[AuditEvent],
            enqueue: Sequence[QueuedMessage],
        ) -> bool:
            del enqueue
            if current is None:
                return False
            return store.update_sender(record, expected_version=current.version, events=events)

        return self._attempts(read, write)
