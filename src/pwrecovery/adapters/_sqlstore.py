"""Every ``Store`` method, written once for every SQL store.

``SqliteStore`` (the standard library's ``sqlite3``) and ``SqlAlchemyStore``
(a database server) differ only in how they open a transaction, translate
their driver's errors and lock a migration; they run the same statements from
``_schema`` through this class. Versioned rows are written by one conditional
write (``_sqlbase.SqlBase._write_if_unchanged``): ``UPDATE … WHERE key = :key
AND version = :expected_version`` and a row count of one, with the audit events
and queued messages in the same transaction. The users, unknown logins and
senders are here; the outbox and the audit trail in ``_sqloutbox``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters._schema import AUDIT, META, OUTBOX, SENDERS, THROTTLES, USERS
from pwrecovery.adapters._sqlbase import CHUNK, LostRace, Session
from pwrecovery.adapters._sqloutbox import SqlOutbox
from pwrecovery.exceptions import UserExists
from pwrecovery.models import AuditEvent
from pwrecovery.records import QueuedMessage, SenderRecord, Throttle, UserRecord

__all__ = ["FINGERPRINT_KEY", "LostRace", "Session", "SqlStore"]

FINGERPRINT_KEY: Final = "fingerprint_key"

_SELECT_SENDERS: Final = (
    "SELECT s.id, s.owner, s.owner_key, s.host, s.port, s.security, s.username,"  # noqa: S608
    " s.from_address, s.display_name, s.authentication, s.verified_at, s.secret,"
    " s.usage_logins, s.usage_auth_failures, s.usage_cooldown_until, s.version,"
    " u.supervisor AS owner_supervisor, u.disabled AS owner_disabled"
    f" FROM {SENDERS.name} s LEFT JOIN {USERS.name} u"
    " ON u.login_key = s.owner_key"
)


def _batch_event_rows(
    events: Sequence[AuditEvent], keys: Mapping[str, str]
) -> list[dict[str, object]]:
    """The audit rows of a batch of new users' events, exactly as ``_rows.event_row``
    writes them, with what repeats paid once instead of per event (an import writes two
    events for each of thousands of users at one instant, most with the same detail):
    the login's key, which each new user's record carries, the instant's text, and
    each distinct detail's JSON."""
    times: dict[datetime, str] = {}
    details: dict[tuple[tuple[str, str], ...], str] = {}
    rows: list[dict[str, object]] = []
    for event in events:
        key = keys.get(event.login) if event.login is not None else None
        if key is None:
            rows.append(_rows.event_row(event))
            continue
        at = times.get(event.at)
        if at is None:
            at = times[event.at] = _rows.sql_time(event.at)
        items = tuple(sorted(event.detail.items()))
        detail = details.get(items)
        if detail is None:
            detail = details[items] = json.dumps(dict(items), ensure_ascii=False, sort_keys=True)
        rows.append(
            {
                "kind": event.kind,
                "login": event.login,
                "login_key": key,
                "at": at,
                "origin": event.origin,
                "detail": detail,
            }
        )
    return rows


class SqlStore(SqlOutbox):
    """The ``Store`` over any SQL session; subclasses give transactions (``_run``)."""

    # -- users ---------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None:
        rows = self._read(f"{_schema.select(USERS)} WHERE login_key = :key", {"key": key})
        return _rows.parsed(USERS.name, _rows.user_from_row, rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
        rows = self._read(f"{_schema.select(USERS)} ORDER BY login_key")
        users = [_rows.parsed(USERS.name, _rows.user_from_row, row) for row in rows]
        return sorted(users, key=lambda user: user.key)

    def add_users(
        self,
        records: Sequence[UserRecord],
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> None:
        by_key = {record.key: record for record in records}
        audit = _batch_event_rows(events, {record.login: record.key for record in records})

        def work(session: Session) -> None:
            keys = list(by_key)
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                names = ", ".join(f":k{i}" for i in range(len(chunk)))
                taken = session.query(
                    f"SELECT login_key FROM {USERS.name} WHERE login_key IN ({names})",  # noqa: S608
                    {f"k{i}": key for i, key in enumerate(chunk)},
                )
                if taken:
                    raise UserExists(by_key[str(taken[0]["login_key"])].login)
            session.executemany(
                _schema.insert(USERS), [_rows.user_row(record, 1) for record in records]
            )
            if audit:
                session.executemany(_schema.insert(AUDIT), audit)
            self._enqueue(session, enqueue)

        try:
            self._run(work, write=True)
        except LostRace:  # another workstation inserted one of them first
            raise UserExists(records[0].login) from None

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        return self._write_if_unchanged(
            USERS,
            "login_key",
            _rows.user_row(record, expected_version + 1),
            expected_version=expected_version,
            events=events,
            enqueue=enqueue,
        )

    def remove_user(
        self, key: str, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        def work(session: Session) -> bool:
            removed = session.execute(
                f"DELETE FROM {USERS.name} WHERE login_key = :key AND version = :version",  # noqa: S608
                {"key": key, "version": expected_version},
            )
            if removed != 1:
                return False
            session.execute(f"DELETE FROM {OUTBOX.name} WHERE user_key = :key", {"key": key})  # noqa: S608
            self._append(session, events)
            return True

        try:
            return self._run(work, write=True)
        except LostRace:
            return False

    def get_users(self, keys: Sequence[str]) -> list[UserRecord]:
        unique = sorted(set(keys))

        def work(session: Session) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start : start + CHUNK]
                names = ", ".join(f":k{i}" for i in range(len(chunk)))
                rows += session.query(
                    f"{_schema.select(USERS)} WHERE login_key IN ({names})",
                    {f"k{i}": key for i, key in enumerate(chunk)},
                )
            return rows

        if not unique:
            return []
        rows = self._run(work, write=False)
        users = [_rows.parsed(USERS.name, _rows.user_from_row, row) for row in rows]
        return sorted(users, key=lambda user: user.key)

    def update_users(self, records: Sequence[UserRecord]) -> list[bool]:
        return self._write_each_if_unchanged(
            USERS,
            "login_key",
            [(r.key, _rows.user_row(r, r.version + 1), r.version) for r in records],
        )

    def has_verified_supervisor(self) -> bool:
        rows = self._read(
            f"SELECT login_key FROM {USERS.name} WHERE supervisor = :yes"  # noqa: S608
            " AND recovery_email_verified = :yes AND recovery_email IS NOT NULL"
            " AND disabled = :no LIMIT 1",
            {"yes": True, "no": False},
        )
        return bool(rows)

    # -- unknown logins ------------------------------------------------------

    def fingerprint_key(self) -> bytes:
        rows = self._read(
            f"SELECT value FROM {META.name} WHERE name = :name",  # noqa: S608
            {"name": FINGERPRINT_KEY},
        )
        return bytes(rows[0]["value"])

    def get_throttle(self, fingerprint: str) -> Throttle | None:
        rows = self._read(
            f"{_schema.select(THROTTLES)} WHERE fingerprint = :fingerprint",
            {"fingerprint": fingerprint},
        )
        return _rows.parsed(THROTTLES.name, _rows.throttle_from_row, rows[0]) if rows else None

    def put_throttle(
        self, record: Throttle, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        row = _rows.throttle_row(record, expected_version + 1)
        if expected_version != 0:
            return self._write_if_unchanged(
                THROTTLES, "fingerprint", row, expected_version=expected_version, events=events
            )

        def insert(session: Session) -> bool:
            session.execute(_schema.insert(THROTTLES), row)
            self._append(session, events)
            return True

        try:
            return self._run(insert, write=True, durable=bool(events))
        except LostRace:  # another workstation counted this login first
            return False

    def prune_throttles(self, idle_before: datetime, keep: int) -> int:
        def work(session: Session) -> int:
            gone = session.execute(
                f"DELETE FROM {THROTTLES.name} WHERE touched_at < :before",  # noqa: S608
                {"before": _rows.sql_time(idle_before)},
            )
            cutoff = session.query(
                f"SELECT touched_at FROM {THROTTLES.name}"  # noqa: S608
                " ORDER BY touched_at DESC LIMIT 1 OFFSET :keep",
                {"keep": keep},
            )
            if cutoff:
                gone += session.execute(
                    f"DELETE FROM {THROTTLES.name} WHERE touched_at <= :cutoff",  # noqa: S608
                    {"cutoff": cutoff[0]["touched_at"]},
                )
            return gone

        try:
            return self._run(work, write=True)
        except LostRace:
            return 0

    # -- senders -------------------------------------------------------------

    def list_senders(self) -> list[SenderRecord]:
        rows = self._read(f"{_SELECT_SENDERS} ORDER BY s.id")
        return [_rows.parsed(SENDERS.name, _rows.sender_from_row, row) for row in rows]

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        def work(session: Session) -> None:
            found = session.query(
                f"SELECT version FROM {SENDERS.name} WHERE id = :id",  # noqa: S608
                {"id": record.account.id},
            )
            if found:
                version = int(found[0]["version"])
                row = _rows.sender_row(record, version + 1)
                statement = _schema.update_if_unchanged(SENDERS, "id")
                if session.execute(statement, {**row, "expected_version": version}) != 1:
                    raise LostRace
            else:
                session.execute(_schema.insert(SENDERS), _rows.sender_row(record, 1))
            self._append(session, events)

        for _ in range(8):  # a lost race here is another save of the same sender: save again
            try:
                self._run(work, write=True)
            except LostRace:
                continue
            return
        self._run(work, write=True)

    def update_sender(
        self, record: SenderRecord, *, expected_version: int, events: Sequence[AuditEvent] = ()
    ) -> bool:
        return self._write_if_unchanged(
            SENDERS,
            "id",
            _rows.sender_row(record, expected_version + 1),
            expected_version=expected_version,
            events=events,
        )

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        return self._delete_one(SENDERS, sender_id, events)
