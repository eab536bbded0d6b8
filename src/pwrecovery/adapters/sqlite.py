"""``SqliteStore``: the reference ``Store`` on one SQLite file, shared by workstations.

- The schema is created or migrated on open, by ``PRAGMA user_version``; a
  file written by a newer pwrecovery is refused (``StoreSchemaTooNew``).
- WAL journal, a busy timeout, and one ``BEGIN IMMEDIATE`` transaction per
  write, so several processes and threads can share the file.
- ``update_user`` is conditional (``WHERE key = ? AND version = ?``) and
  checks ``rowcount``: two workstations acting on one user never lose an
  update, and a temporary password is consumed by exactly one of them.
- Lookups go through primary keys and indexes; no operation reads every user.
- Only hashes and AES-GCM blobs are written: no secret is in the file in
  plain text.

Every ``sqlite3`` error is translated here, at the border, into
``StoreUnavailable``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Final, Self, TypeVar

from pwrecovery.adapters.records import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    SENDER_COLUMNS,
    TIME_COLUMNS,
    USER_COLUMNS,
    Row,
    event_from_row,
    event_row,
    message_from_row,
    message_row,
    parsed,
    sender_from_row,
    sender_row,
    user_from_row,
    user_row,
)
from pwrecovery.domain.model import (
    AuditEvent,
    QueuedMessage,
    SenderRecord,
    UserRecord,
)
from pwrecovery.errors import StoreSchemaTooNew, StoreUnavailable, UserExists

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 30.0

# Each entry moves the schema from version i to i + 1. Never edit a released
# entry; append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE users (
            key TEXT PRIMARY KEY,
            login TEXT NOT NULL,
            display_name TEXT NOT NULL,
            supervisor INTEGER NOT NULL,
            password_hash TEXT NOT NULL,
            recovery_email TEXT,
            recovery_email_verified INTEGER NOT NULL,
            pending_code_hash TEXT,
            pending_expires_at TEXT,
            pending_attempts INTEGER,
            temporary_id TEXT,
            temporary_hash TEXT,
            temporary_issued_at TEXT,
            temporary_expires_at TEXT,
            failed_sign_ins INTEGER NOT NULL,
            locked_until TEXT,
            recovery_requests TEXT NOT NULL,
            version INTEGER NOT NULL
        )""",
        """CREATE INDEX users_verified_supervisors ON users (key)
            WHERE supervisor = 1 AND recovery_email_verified = 1
                AND recovery_email IS NOT NULL""",
        """CREATE TABLE senders (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            owner_key TEXT NOT NULL,
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            security TEXT NOT NULL,
            username TEXT NOT NULL,
            from_address TEXT NOT NULL,
            display_name TEXT NOT NULL,
            verified_at TEXT NOT NULL,
            secret BLOB NOT NULL
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            login TEXT,
            login_key TEXT,
            at TEXT NOT NULL,
            origin TEXT,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_login ON audit (login_key, id)",
    ),
    (  # 2: OAuth 2.0 (XOAUTH2) sender accounts
        "ALTER TABLE senders ADD COLUMN authentication TEXT NOT NULL DEFAULT 'password'",
    ),
    (  # 3: queued delivery (a transactional outbox)
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            user_key TEXT NOT NULL,
            purpose TEXT NOT NULL,
            credential_id TEXT,
            payload BLOB NOT NULL,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT,
            version INTEGER NOT NULL
        )""",
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, id)",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_SELECT_USER: Final = f"SELECT {', '.join(USER_COLUMNS)} FROM users"  # noqa: S608 (constant)
_HAS_VERIFIED_SUPERVISOR: Final = """SELECT EXISTS (SELECT 1 FROM users
    WHERE supervisor = 1 AND recovery_email_verified = 1 AND recovery_email IS NOT NULL)"""
_SELECT_AUDIT: Final = "SELECT kind, login, login_key, at, origin, detail FROM audit"
_SELECT_SENDER: Final = """SELECT s.id, s.owner, s.owner_key, s.host, s.port, s.security,
    s.username, s.from_address, s.display_name, s.verified_at, s.secret, s.authentication,
    COALESCE(u.supervisor, 0) AS owner_supervisor
    FROM senders AS s LEFT JOIN users AS u ON u.key = s.owner_key"""


def _sql_time(value: datetime) -> str:
    """Fixed width, so that text order is time order (the outbox is queried by it)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _to_sql(row: Mapping[str, object]) -> dict[str, object]:
    return {k: _sql_time(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _from_sql(row: sqlite3.Row) -> dict[str, object]:
    values: dict[str, object] = dict(zip(row.keys(), row, strict=True))
    for column in TIME_COLUMNS & values.keys():
        text = values[column]
        values[column] = datetime.fromisoformat(text) if isinstance(text, str) else text
    return values


def _reader(table: str, parse: Callable[[Row], T]) -> Callable[[sqlite3.Row], T]:
    return lambda row: parsed(table, lambda r: parse(_from_sql(r)), row)


_read_user = _reader("users", user_from_row)
_read_sender = _reader("senders", sender_from_row)
_read_message = _reader("outbox", message_from_row)
_read_event = _reader("audit", event_from_row)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608 (constant names)


def _update(table: str, columns: tuple[str, ...], key: str) -> str:
    assignments = ", ".join(f"{c} = :{c}" for c in columns if c != key)
    return (
        f"UPDATE {table} SET {assignments}"  # noqa: S608 (constant names)
        f" WHERE {key} = :{key} AND version = :expected_version"
    )


class SqliteStore:
    """A ``Store`` in one SQLite file; open the same path from every workstation.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with SqliteStore(pathlib.Path(folder) / "empresa.db") as store:
    ...         store.list_users()
    []
    """

    def __init__(self, path: str | PathLike[str], *, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        try:
            self._connection = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StoreUnavailable from error
        try:
            self._connection.row_factory = sqlite3.Row
            with self._guard():
                self._connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                self._connection.execute("PRAGMA journal_mode = WAL")
                self._connection.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except BaseException:
            self._connection.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """One caller at a time on this connection; sqlite3 errors become StoreUnavailable."""
        with self._lock:
            try:
                yield self._connection
            except sqlite3.Error as error:
                raise StoreUnavailable from error

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (IMMEDIATE), committed or rolled back whole."""
        with self._guard() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _read(self, action: Callable[[sqlite3.Connection], T]) -> T:
        with self._guard() as connection:
            return action(connection)

    def _migrate(self) -> None:
        with self._write() as connection:
            found = connection.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise StoreSchemaTooNew(found=found, supported=SCHEMA_VERSION)
            for statements in MIGRATIONS[found:]:
                for statement in statements:
                    connection.execute(statement)
            if found != SCHEMA_VERSION:
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _append(connection: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
        connection.executemany(
            _insert("audit", EVENT_COLUMNS), [_to_sql(event_row(event)) for event in events]
        )

    # -- users -------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None:
        row = self._read(lambda c: c.execute(f"{_SELECT_USER} WHERE key = ?", (key,)).fetchone())
        return None if row is None else _read_user(row)

    def list_users(self) -> list[UserRecord]:
        rows = self._read(lambda c: c.execute(f"{_SELECT_USER} ORDER BY key").fetchall())
        return [_read_user(row) for row in rows]

    def add_user(self, record: UserRecord, events: Sequence[AuditEvent] = ()) -> None:
        with self._write() as connection:
            cursor = connection.execute(
                _insert("users", USER_COLUMNS).replace("INSERT", "INSERT OR IGNORE", 1),
                _to_sql(user_row(record, 1)),
            )
            if cursor.rowcount != 1:
                raise UserExists(record.login)
            self._append(connection, events)

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        def insert_messages(connection: sqlite3.Connection) -> None:
            connection.executemany(
                _insert("outbox", MESSAGE_COLUMNS),
                [_to_sql(message_row(message, 1)) for message in enqueue],
            )

        row = user_row(record, expected_version + 1)
        return self._write_if_unchanged(
            "users",
            USER_COLUMNS,
            "key",
            row,
            expected_version=expected_version,
            events=events,
            also=insert_messages,
        )

    def _write_if_unchanged(
        self,
        table: str,
        columns: tuple[str, ...],
        key: str,
        row: Mapping[str, object],
        *,
        expected_version: int,
        events: Sequence[AuditEvent],
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> bool:
        """The conditional write of every versioned row: only over ``expected_version``,
        with its audit events (and ``also``) in the same transaction; False if it lost."""
        with self._write() as connection:
            cursor = connection.execute(
                _update(table, columns, key), {**_to_sql(row), "expected_version": expected_version}
            )
            if cursor.rowcount != 1:
                return False
            self._append(connection, events)
            if also is not None:
                also(connection)
            return True

    # -- outbox ------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        rows = self._read(
            lambda c: c.execute(
                f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM outbox"  # noqa: S608
                " WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (_sql_time(now), limit),
            ).fetchall()
        )
        return [_read_message(row) for row in rows]

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        row = message_row(message, expected_version + 1)
        return self._write_if_unchanged(
            "outbox", MESSAGE_COLUMNS, "id", row, expected_version=expected_version, events=events
        )

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._write() as connection:
            cursor = connection.execute("DELETE FROM outbox WHERE id = ?", (message_id,))
            if cursor.rowcount != 1:
                return False
            self._append(connection, events)
            return True

    def has_verified_supervisor(self) -> bool:
        row = self._read(lambda c: c.execute(_HAS_VERIFIED_SUPERVISOR).fetchone())
        return bool(row[0])

    # -- senders -----------------------------------------------------------

    def list_senders(self) -> list[SenderRecord]:
        rows = self._read(lambda c: c.execute(f"{_SELECT_SENDER} ORDER BY s.id").fetchall())
        return [_read_sender(row) for row in rows]

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        with self._write() as connection:
            connection.execute(
                _insert("senders", SENDER_COLUMNS).replace("INSERT", "INSERT OR REPLACE", 1),
                _to_sql(sender_row(record)),
            )
            self._append(connection, events)

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._write() as connection:
            cursor = connection.execute("DELETE FROM senders WHERE id = ?", (sender_id,))
            if cursor.rowcount != 1:
                return False
            self._append(connection, events)
            return True

    # -- audit -------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        with self._write() as connection:
            self._append(connection, events)

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        def query(connection: sqlite3.Connection) -> list[Any]:
            if key is None:
                return connection.execute(f"{_SELECT_AUDIT} ORDER BY id").fetchall()
            return connection.execute(
                f"{_SELECT_AUDIT} WHERE login_key = ? ORDER BY id", (key,)
            ).fetchall()

        return [_read_event(row) for row in self._read(query)]
