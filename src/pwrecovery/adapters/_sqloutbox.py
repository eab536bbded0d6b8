"""The outbox and the audit trail, written once for every SQL store (``SqlStore``).

A worker claims a batch of due messages with ``update_messages`` (each over the
version it read, all in one transaction) and settles what it sent with
``delete_messages`` (each message with its own audit events, in one
transaction); ``SqliteStore`` clears its WAL once after each delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters._schema import AUDIT, OUTBOX
from pwrecovery.adapters._sqlbase import LostRace, Session, SqlBase
from pwrecovery.models import AuditEvent
from pwrecovery.records import QueuedMessage


class SqlOutbox(SqlBase):
    """The outbox and audit methods of the ``Store``."""

    # -- outbox --------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        rows = self._read(
            f"{_schema.select(OUTBOX)} WHERE next_attempt_at <= :now"
            " ORDER BY next_attempt_at, id LIMIT :limit",
            {"now": _rows.sql_time(now), "limit": int(limit)},
        )
        return [_rows.parsed(OUTBOX.name, _rows.message_from_row, row) for row in rows]

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        return self._write_if_unchanged(
            OUTBOX,
            "id",
            _rows.message_row(message, expected_version + 1),
            expected_version=expected_version,
            events=events,
        )

    def update_messages(self, messages: Sequence[QueuedMessage]) -> list[bool]:
        return self._write_each_if_unchanged(
            OUTBOX, "id", [(m.id, _rows.message_row(m, m.version + 1), m.version) for m in messages]
        )

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        try:
            return self._delete_one(OUTBOX, message_id, events)
        except LostRace:
            return False

    def delete_messages(self, deletions: Sequence[tuple[str, Sequence[AuditEvent]]]) -> list[bool]:
        def work(session: Session) -> list[bool]:
            statement = f"DELETE FROM {OUTBOX.name} WHERE id = :id"  # noqa: S608
            gone = [False] * len(deletions)
            for index in sorted(range(len(deletions)), key=lambda i: deletions[i][0]):
                gone[index] = session.execute(statement, {"id": deletions[index][0]}) == 1
            self._append(
                session,
                [e for done, (_, its) in zip(gone, deletions, strict=True) if done for e in its],
            )
            return gone

        if not deletions:
            return []
        try:
            return self._run(work, write=True)
        except LostRace:
            return [False] * len(deletions)

    # -- audit ---------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if events:
            self._run(lambda session: self._append(session, events), write=True)

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        columns = "kind, login, login_key, at, origin, detail"
        if key is None:
            rows = self._read(f"SELECT {columns} FROM {AUDIT.name} ORDER BY id")  # noqa: S608
        else:
            rows = self._read(
                f"SELECT {columns} FROM {AUDIT.name} WHERE login_key = :key ORDER BY id",  # noqa: S608
                {"key": key},
            )
        return [_rows.parsed(AUDIT.name, _rows.event_from_row, row) for row in rows]
