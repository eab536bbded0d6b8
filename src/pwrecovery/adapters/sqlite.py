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

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from os import PathLike
from typing import Any, Final, Self, TypeVar

from pwrecovery.domain.logins import audit_key, login_key
from pwrecovery.domain.model import (
    AuditEvent,
    Authentication,
    PendingVerification,
    Purpose,
    QueuedMessage,
    Security,
    SenderAccount,
    SenderRecord,
    SenderSettings,
    TemporaryCredential,
    UserRecord,
)
from pwrecovery.errors import (
    PwRecoveryError,
    StoreDamaged,
    StoreSchemaTooNew,
    StoreUnavailable,
    UserExists,
)

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

_USER_COLUMNS: Final = (
    "key",
    "login",
    "display_name",
    "supervisor",
    "password_hash",
    "recovery_email",
    "recovery_email_verified",
    "pending_code_hash",
    "pending_expires_at",
    "pending_attempts",
    "temporary_id",
    "temporary_hash",
    "temporary_issued_at",
    "temporary_expires_at",
    "failed_sign_ins",
    "locked_until",
    "recovery_requests",
    "version",
)
_SELECT_USER: Final = f"SELECT {', '.join(_USER_COLUMNS)} FROM users"  # noqa: S608 (constant)
_HAS_VERIFIED_SUPERVISOR: Final = """SELECT EXISTS (SELECT 1 FROM users
    WHERE supervisor = 1 AND recovery_email_verified = 1 AND recovery_email IS NOT NULL)"""
_SELECT_AUDIT: Final = "SELECT kind, login, at, origin, detail FROM audit"
_SELECT_SENDER: Final = """SELECT s.id, s.owner, s.host, s.port, s.security, s.username,
    s.from_address, s.display_name, s.verified_at, s.secret, COALESCE(u.supervisor, 0),
    s.authentication
    FROM senders AS s LEFT JOIN users AS u ON u.key = s.owner_key"""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _sortable_time(value: datetime) -> str:
    """Fixed width, so that text order is time order (the outbox is queried by it)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _required_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _user_row(record: UserRecord, version: int) -> tuple[object, ...]:
    pending, temporary = record.pending_verification, record.temporary
    return (
        record.key,
        record.login,
        record.display_name,
        int(record.supervisor),
        record.password_hash,
        record.recovery_email,
        int(record.recovery_email_verified),
        pending.code_hash if pending else None,
        _time(pending.expires_at) if pending else None,
        pending.attempts if pending else None,
        temporary.id if temporary else None,
        temporary.hash if temporary else None,
        _time(temporary.issued_at) if temporary else None,
        _time(temporary.expires_at) if temporary else None,
        record.failed_sign_ins,
        _time(record.locked_until),
        json.dumps([_time(t) for t in record.recovery_requests]),
        version,
    )


def _parsed(table: str, parse: Callable[[sqlite3.Row], T], row: sqlite3.Row) -> T:
    """A row turned back into a value, or StoreDamaged naming the table: a value edited by
    hand or damaged on disk is a clear error, never a crash deep in the service."""
    try:
        return parse(row)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, PwRecoveryError) as error:
        raise StoreDamaged(table) from error


def _user_from_row(row: sqlite3.Row) -> UserRecord:
    pending = (
        PendingVerification(
            code_hash=row["pending_code_hash"],
            expires_at=_required_time(row["pending_expires_at"]),
            attempts=row["pending_attempts"],
        )
        if row["pending_code_hash"] is not None
        else None
    )
    temporary = (
        TemporaryCredential(
            id=row["temporary_id"],
            hash=row["temporary_hash"],
            issued_at=_required_time(row["temporary_issued_at"]),
            expires_at=_required_time(row["temporary_expires_at"]),
        )
        if row["temporary_id"] is not None
        else None
    )
    return UserRecord(
        key=row["key"],
        login=row["login"],
        display_name=row["display_name"],
        supervisor=bool(row["supervisor"]),
        password_hash=row["password_hash"],
        recovery_email=row["recovery_email"],
        recovery_email_verified=bool(row["recovery_email_verified"]),
        pending_verification=pending,
        temporary=temporary,
        failed_sign_ins=row["failed_sign_ins"],
        locked_until=_parse_time(row["locked_until"]),
        recovery_requests=tuple(_required_time(t) for t in json.loads(row["recovery_requests"])),
        version=row["version"],
    )


def _sender_from_row(row: sqlite3.Row) -> SenderRecord:
    settings = SenderSettings(
        host=row[2],
        port=row[3],
        security=Security(row[4]),
        username=row[5],
        from_address=row[6],
        display_name=row[7],
        authentication=Authentication(row[11]),
    )
    account = SenderAccount(
        id=row[0], owner=row[1], settings=settings, verified_at=_required_time(row[8])
    )
    return SenderRecord(account=account, secret=bytes(row[9]), owner_supervisor=bool(row[10]))


_MESSAGE_COLUMNS: Final = (
    "id",
    "user_key",
    "purpose",
    "credential_id",
    "payload",
    "created_at",
    "next_attempt_at",
    "attempts",
    "last_error",
    "version",
)


def _message_row(message: QueuedMessage, version: int) -> tuple[object, ...]:
    return (
        message.id,
        message.user_key,
        message.purpose.value,
        message.credential_id,
        message.payload,
        _sortable_time(message.created_at),
        _sortable_time(message.next_attempt_at),
        message.attempts,
        message.last_error,
        version,
    )


def _message_from_row(row: sqlite3.Row) -> QueuedMessage:
    return QueuedMessage(
        id=row["id"],
        user_key=row["user_key"],
        purpose=Purpose(row["purpose"]),
        credential_id=row["credential_id"],
        payload=bytes(row["payload"]),
        created_at=_required_time(row["created_at"]),
        next_attempt_at=_required_time(row["next_attempt_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        version=row["version"],
    )


def _event_row(event: AuditEvent) -> tuple[object, ...]:
    return (
        event.kind,
        event.login,
        audit_key(event.login),
        _time(event.at),
        event.origin,
        json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    )


def _event_from_row(row: sqlite3.Row) -> AuditEvent:
    return AuditEvent(
        kind=row["kind"],
        login=row["login"],
        at=_required_time(row["at"]),
        origin=row["origin"],
        detail=json.loads(row["detail"]),
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
            "INSERT INTO audit (kind, login, login_key, at, origin, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [_event_row(event) for event in events],
        )

    # -- users -------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None:
        row = self._read(lambda c: c.execute(f"{_SELECT_USER} WHERE key = ?", (key,)).fetchone())
        return None if row is None else _parsed("users", _user_from_row, row)

    def list_users(self) -> list[UserRecord]:
        rows = self._read(lambda c: c.execute(f"{_SELECT_USER} ORDER BY key").fetchall())
        return [_parsed("users", _user_from_row, row) for row in rows]

    def add_user(self, record: UserRecord, events: Sequence[AuditEvent] = ()) -> None:
        placeholders = ", ".join("?" for _ in _USER_COLUMNS)
        with self._write() as connection:
            cursor = connection.execute(
                f"INSERT OR IGNORE INTO users ({', '.join(_USER_COLUMNS)})"  # noqa: S608
                f" VALUES ({placeholders})",
                _user_row(record, 1),
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
        assignments = ", ".join(f"{column} = ?" for column in _USER_COLUMNS[1:])
        values = _user_row(record, expected_version + 1)
        with self._write() as connection:
            cursor = connection.execute(
                f"UPDATE users SET {assignments} WHERE key = ? AND version = ?",  # noqa: S608
                (*values[1:], record.key, expected_version),
            )
            if cursor.rowcount != 1:
                return False
            self._append(connection, events)
            placeholders = ", ".join("?" for _ in _MESSAGE_COLUMNS)
            connection.executemany(
                f"INSERT INTO outbox ({', '.join(_MESSAGE_COLUMNS)})"  # noqa: S608
                f" VALUES ({placeholders})",
                [_message_row(message, 1) for message in enqueue],
            )
            return True

    # -- outbox ------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        rows = self._read(
            lambda c: c.execute(
                f"SELECT {', '.join(_MESSAGE_COLUMNS)} FROM outbox"  # noqa: S608
                " WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (_sortable_time(now), limit),
            ).fetchall()
        )
        return [_parsed("outbox", _message_from_row, row) for row in rows]

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        assignments = ", ".join(f"{column} = ?" for column in _MESSAGE_COLUMNS[1:])
        values = _message_row(message, expected_version + 1)
        with self._write() as connection:
            cursor = connection.execute(
                f"UPDATE outbox SET {assignments} WHERE id = ? AND version = ?",  # noqa: S608
                (*values[1:], message.id, expected_version),
            )
            if cursor.rowcount != 1:
                return False
            self._append(connection, events)
            return True

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
        return [_parsed("senders", _sender_from_row, row) for row in rows]

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        account, settings = record.account, record.account.settings
        with self._write() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO senders (id, owner, owner_key, host, port, security,"
                " username, from_address, display_name, verified_at, secret, authentication)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account.id,
                    account.owner,
                    login_key(account.owner),
                    settings.host,
                    settings.port,
                    settings.security.value,
                    settings.username,
                    settings.from_address,
                    settings.display_name,
                    _time(account.verified_at),
                    record.secret,
                    settings.authentication.value,
                ),
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

        return [_parsed("audit", _event_from_row, row) for row in self._read(query)]
