"""``SqliteStore``: the reference ``Store`` on one SQLite file, shared by workstations.

Only the standard library: no extra dependency on the desktop.

- The shared schema (``_schema``) is created or migrated on open; files of
  release 1 (schema 1 to 3) are carried forward, a file written by a newer
  pwrecovery is refused (``StoreSchemaTooNew``).
- WAL journal, a busy timeout, and one ``BEGIN IMMEDIATE`` transaction per
  write, so several processes and threads can share the file; every store
  method is one transaction and versioned rows are written conditionally.
- The file (and SQLite's ``-wal`` and ``-shm`` beside it, which take its mode)
  is created readable by its owner only on POSIX; ``secure_delete`` overwrites
  what is deleted, and the WAL is checkpointed after an outbox message goes.

Every ``sqlite3`` error is translated here, at the border, into
``StoreUnavailable`` (a duplicate key into a lost race).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Final, Self, TypeVar

from pwrecovery.adapters import _schema
from pwrecovery.adapters._schema import SCHEMA_VERSION, TABLES
from pwrecovery.adapters._sqlstore import LostRace, Session, SqlStore
from pwrecovery.exceptions import StoreSchemaTooNew, StoreUnavailable
from pwrecovery.models import AuditEvent

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 30.0
FILE_MODE: Final = 0o600

# Release 1's own migrations (unprefixed tables), kept to carry its files forward.
RELEASE_1_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE users (
            key TEXT PRIMARY KEY, login TEXT NOT NULL, display_name TEXT NOT NULL,
            supervisor INTEGER NOT NULL, password_hash TEXT NOT NULL, recovery_email TEXT,
            recovery_email_verified INTEGER NOT NULL, pending_code_hash TEXT,
            pending_expires_at TEXT, pending_attempts INTEGER, temporary_id TEXT,
            temporary_hash TEXT, temporary_issued_at TEXT, temporary_expires_at TEXT,
            failed_sign_ins INTEGER NOT NULL, locked_until TEXT, recovery_requests TEXT NOT NULL,
            version INTEGER NOT NULL)""",
        """CREATE TABLE senders (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, owner_key TEXT NOT NULL, host TEXT NOT NULL,
            port INTEGER NOT NULL, security TEXT NOT NULL, username TEXT NOT NULL,
            from_address TEXT NOT NULL, display_name TEXT NOT NULL, verified_at TEXT NOT NULL,
            secret BLOB NOT NULL)""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, login TEXT, login_key TEXT,
            at TEXT NOT NULL, origin TEXT, detail TEXT NOT NULL)""",
    ),
    ("ALTER TABLE senders ADD COLUMN authentication TEXT NOT NULL DEFAULT 'password'",),
    (
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY, user_key TEXT NOT NULL, purpose TEXT NOT NULL,
            credential_id TEXT, payload BLOB NOT NULL, created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,
            version INTEGER NOT NULL)""",
    ),
)

# Release 1 (schema 3) to the shared layout (schema 4): the same values, new tables.
_FROM_RELEASE_1: Final = (
    """INSERT INTO pwrecovery_users (login_key, login, display_name, supervisor, password_hash,
        recovery_email, recovery_email_verified, pending_id, pending_code_hash,
        pending_expires_at, pending_attempts, temporary_id, temporary_hash, temporary_issued_at,
        temporary_expires_at, sign_in_failures, sign_in_locked_until, sign_in_last_failure_at,
        temporary_failures, temporary_locked_until, temporary_last_failure_at,
        recovery_requests, disabled, locale, created_at, version)
    SELECT key, login, display_name, supervisor, password_hash, recovery_email,
        recovery_email_verified, CASE WHEN pending_expires_at IS NULL THEN NULL ELSE 'r1' END,
        pending_code_hash, pending_expires_at, pending_attempts, temporary_id, temporary_hash,
        temporary_issued_at, temporary_expires_at, failed_sign_ins, locked_until,
        CASE WHEN failed_sign_ins > 0 THEN :now END, 0, NULL, NULL, recovery_requests, 0,
        NULL, NULL, version
    FROM users""",
    """INSERT INTO pwrecovery_senders (id, owner, owner_key, host, port, security, username,
        from_address, display_name, authentication, verified_at, secret, usage_logins,
        usage_auth_failures, usage_cooldown_until, version)
    SELECT id, owner, owner_key, host, port, security, username, from_address, display_name,
        authentication, verified_at, secret, '[]', 0, NULL, 1
    FROM senders""",
    """INSERT INTO pwrecovery_audit (kind, login, login_key, at, origin, detail)
    SELECT kind, login, login_key, at, origin, detail FROM audit ORDER BY id""",
    # Release 1 queued mails held their secret sealed under the key; the shared layout
    # queues none, so they are dropped (audited) and their users ask again.
    """INSERT INTO pwrecovery_audit (kind, login, login_key, at, origin, detail)
    SELECT 'queued_mail_dropped', u.login, o.user_key, :now, NULL,
        '{"message": "' || o.id || '", "reason": "schema_upgrade"}'
    FROM outbox o LEFT JOIN users u ON u.key = o.user_key""",
    "DROP TABLE outbox",
    "DROP TABLE audit",
    "DROP TABLE senders",
    "DROP TABLE users",
)


class _SqliteSession:
    """``Session`` over one ``sqlite3`` connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> int:
        return self._connection.execute(sql, params or {}).rowcount

    def executemany(self, sql: str, rows: Sequence[Mapping[str, object]]) -> None:
        self._connection.executemany(sql, rows)

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        cursor = self._connection.execute(sql, params or {})
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _create_private(path: str) -> None:
    """Create the file readable by its owner only, before SQLite does it with 0644."""
    if path == ":memory:" or path.startswith("file:") or Path(path).exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


class SqliteStore(SqlStore):
    """A ``Store`` in one SQLite file; open the same path from every workstation.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with SqliteStore(pathlib.Path(folder) / "empresa.db") as store:
    ...         store.list_users()
    []
    """

    def __init__(self, path: str | PathLike[str], *, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            _create_private(self._path)
            self._connection = sqlite3.connect(
                self._path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable from error
        try:
            with self._lock:
                self._guarded(lambda c: c.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}"))
                self._guarded(lambda c: c.execute("PRAGMA journal_mode = WAL"))
                self._guarded(lambda c: c.execute("PRAGMA synchronous = FULL"))
                self._guarded(lambda c: c.execute("PRAGMA secure_delete = ON"))
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

    def _guarded(self, action: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return action(self._connection)
        except sqlite3.IntegrityError as error:
            raise LostRace from error
        except sqlite3.Error as error:
            raise StoreUnavailable from error

    def _run(self, work: Callable[[Session], T], *, write: bool) -> T:
        session = _SqliteSession(self._connection)
        with self._lock:
            if not write:
                return self._guarded(lambda _c: work(session))
            self._guarded(lambda c: c.execute("BEGIN IMMEDIATE"))
            try:
                result = self._guarded(lambda _c: work(session))
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._connection.execute("ROLLBACK")
                raise
            self._guarded(lambda c: c.execute("COMMIT"))
            return result

    # -- schema --------------------------------------------------------------

    def _migrate(self) -> None:
        def work(session: Session) -> None:
            rows = session.query("PRAGMA user_version")
            found = int(next(iter(rows[0].values())))
            if found > SCHEMA_VERSION:
                raise StoreSchemaTooNew(found=found, supported=SCHEMA_VERSION)
            if found == SCHEMA_VERSION:
                return
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            for statements in RELEASE_1_MIGRATIONS[found:] if found else ():
                for statement in statements:
                    session.execute(statement)
            for table in TABLES:
                for statement in _schema.create_statements("sqlite", table):
                    session.execute(statement)
            if found:
                for statement in _FROM_RELEASE_1:
                    session.execute(statement, {"now": now} if ":now" in statement else None)
            session.execute(
                "INSERT INTO pwrecovery_schema (version) VALUES (:v)", {"v": SCHEMA_VERSION}
            )
            self._create_meta(session)
            session.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        self._run(work, write=True)

    # -- what only a file needs ----------------------------------------------

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        deleted = super().delete_message(message_id, events)
        if deleted:
            # The message's row leaves the WAL too, as soon as no reader needs it.
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted
