"""What every SQL store is built on: a session, a lost race, and the conditional writes.

``SqlBase`` asks its subclass for one thing, ``_run`` (one transaction over a
``Session``), and gives the helpers every store method uses: reads, audit
rows, queued messages, and the conditional write of a versioned row (one, or
several in one transaction).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol, TypeVar

from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters._schema import AUDIT, OUTBOX, Table
from pwrecovery.models import AuditEvent
from pwrecovery.records import QueuedMessage

T = TypeVar("T")

CHUNK: Final = 500  # keys per IN (...) list, well under every database's parameter limit


class Session(Protocol):
    """One transaction's connection, as the shared code sees it."""

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> int:
        """Run one statement; return its row count."""
        ...

    def executemany(self, sql: str, rows: Sequence[Mapping[str, object]]) -> None: ...

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; return its rows as dictionaries."""
        ...


class LostRace(Exception):
    """A write lost to another transaction (a deadlock, a duplicate key): the
    conditional write answers False, as if the version had changed."""


class SqlBase(abc.ABC):
    """The transaction a subclass gives, and the helpers over it."""

    @abc.abstractmethod
    def _run(self, work: Callable[[Session], T], *, write: bool, durable: bool = True) -> T:
        """Run ``work`` in one transaction (committed whole, or rolled back whole); the
        driver's errors leave as ``StoreUnavailable``, a lost race as ``LostRace``.

        ``durable=False``: a write that records no audit event. Those are the counts taken
        before an action (a sign-in's attempt, a try at a code, a recovery request, an
        SMTP login) and a queued mail's hash stored alone after its batch's write lost;
        every change a person is told of carries its event. A store may commit such a
        write without waiting for the disk when a later commit that does wait makes it
        durable too, as SQLite's write-ahead log does: the action's event is recorded,
        and synced, before its answer is given."""

    # -- helpers -------------------------------------------------------------

    def _read(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        return self._run(lambda session: session.query(sql, params), write=False)

    @staticmethod
    def _append(session: Session, events: Iterable[AuditEvent]) -> None:
        rows = [_rows.event_row(event) for event in events]
        if rows:
            session.executemany(_schema.insert(AUDIT), rows)

    @staticmethod
    def _enqueue(session: Session, messages: Iterable[QueuedMessage]) -> None:
        rows = [_rows.message_row(message, 1) for message in messages]
        if rows:
            session.executemany(_schema.insert(OUTBOX), rows)

    def _write_if_unchanged(
        self,
        table: Table,
        key: str,
        row: Mapping[str, object],
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        """The conditional write of every versioned row: only over ``expected_version``,
        with its audit events and queued messages in the same transaction; False if it lost."""

        def work(session: Session) -> bool:
            statement = _schema.update_if_unchanged(table, key)
            if session.execute(statement, {**row, "expected_version": expected_version}) != 1:
                return False
            self._append(session, events)
            self._enqueue(session, enqueue)
            return True

        try:
            return self._run(work, write=True, durable=bool(events) or bool(enqueue))
        except LostRace:
            return False

    def _delete_one(self, table: Table, row_id: str, events: Sequence[AuditEvent]) -> bool:
        """Delete the row whose ``id`` is ``row_id``, with its audit events in the same
        transaction; False (and no event) if there was none."""

        def work(session: Session) -> bool:
            removed = session.execute(
                f"DELETE FROM {table.name} WHERE id = :id",  # noqa: S608
                {"id": row_id},
            )
            if removed != 1:
                return False
            self._append(session, events)
            return True

        return self._run(work, write=True)

    def _write_each_if_unchanged(
        self, table: Table, key: str, writes: Sequence[tuple[str, Mapping[str, object], int]]
    ) -> list[bool]:
        """Several conditional writes (key, row, expected version) in one transaction; which
        were done. Rows are written in key order, so that two batches over the same rows
        lock them in the same order and never deadlock each other."""

        def work(session: Session) -> list[bool]:
            statement = _schema.update_if_unchanged(table, key)
            written = [False] * len(writes)
            for index in sorted(range(len(writes)), key=lambda i: writes[i][0]):
                _, row, expected = writes[index]
                changed = session.execute(statement, {**row, "expected_version": expected})
                written[index] = changed == 1
            return written

        if not writes:
            return []
        try:
            return self._run(work, write=True)
        except LostRace:
            return [False] * len(writes)
