"""``SqliteStore``: the reference ``Store`` on one SQLite file, shared by the processes of
one machine (several machines share a server store: ``SqlAlchemyStore``).

Only the standard library: no extra dependency on the desktop.

- The shared schema (``_schema``) is created or migrated on open; files of
  release 1 (schema 1 to 3) are carried forward, a file written by a newer
  pwrecovery is refused (``StoreSchemaTooNew``).
- WAL journal, a busy timeout, and one ``BEGIN IMMEDIATE`` transaction per
  write, so several processes and threads can share the file; every store
  method is one transaction and versioned rows are written conditionally.
- The file (and SQLite's ``-wal`` and ``-shm`` beside it, which take its mode)
  is readable by its owner only on POSIX: created so, or narrowed when opened
  (a file release 1 made 0644, or one named by a ``file:`` URI); ``secure_delete``
  overwrites what is deleted, and the WAL is checkpointed (``TRUNCATE``) after an
  outbox message goes, once per call (``delete_messages`` settles a worker's batch).

Every ``sqlite3`` error is translated here, at the border, into
``StoreUnavailable`` (a duplicate key into a lost race).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Final, Self, TypeVar

from pwrecovery.adapters import _migrations
from pwrecovery.adapters._schema import SCHEMA_VERSION
from pwrecovery.adapters._sqlstore import LostRace, Session, SqlStore
from pwrecovery.exceptions import StoreUnavailable
from pwrecovery.models import AuditEvent

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 30.0
FILE_MODE: Final = 0o600


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


def _narrow(connection: sqlite3.Connection) -> None:
    """Make the file SQLite opened (whatever name led to it: a ``file:`` URI, or a file
    release 1 made 0644) and any ``-wal`` or ``-shm`` beside it readable by their owner
    only, before anything is written; SQLite gives the ones it makes later the same mode.
    A file this user does not own is left alone (its owner decides)."""
    if os.name != "posix":
        return
    rows = connection.execute("PRAGMA database_list").fetchall()
    main = next((str(file) for _, name, file in rows if name == "main" and file), "")
    if not main:
        return  # in memory
    for name in (main, f"{main}-wal", f"{main}-shm", f"{main}-journal"):
        file = Path(name)
        with contextlib.suppress(OSError):
            status = file.stat()
            if status.st_uid == os.geteuid() and stat.S_IMODE(status.st_mode) & ~FILE_MODE:
                file.chmod(FILE_MODE)


class SqliteStore(SqlStore):
    """A ``Store`` in one SQLite file; every process of the machine opens the same path.

    SQLite's WAL needs a local disk: workstations on several machines share a server
    store (``SqlAlchemyStore``) instead of a file on a network drive.

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
                self._guarded(_narrow)
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

    def _run(self, work: Callable[[Session], T], *, write: bool, durable: bool = True) -> T:
        session = _SqliteSession(self._connection)
        with self._lock:
            if not write:
                return self._guarded(lambda _c: work(session))
            if durable:
                return self._transaction(work, session)
            # A count taken before an action, not synced on its own: the log is one file
            # written in order, so the next synced commit (the action's event, recorded
            # before its answer is given) syncs this one too. Only a power cut in between
            # can lose it (see SqlBase._run).
            self._guarded(lambda c: c.execute("PRAGMA synchronous = NORMAL"))
            try:
                return self._transaction(work, session)
            finally:
                self._guarded(lambda c: c.execute("PRAGMA synchronous = FULL"))

    def _transaction(self, work: Callable[[Session], T], session: Session) -> T:
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
            found = _migrations.found_version(session, "sqlite")
            if found == SCHEMA_VERSION:
                return
            _migrations.migrate(session, "sqlite", found)
            session.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        self._run(work, write=True)

    # -- what only a file needs ----------------------------------------------

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        deleted = super().delete_message(message_id, events)
        if deleted:
            self._clear_wal()
        return deleted

    def delete_messages(self, deletions: Sequence[tuple[str, Sequence[AuditEvent]]]) -> list[bool]:
        deleted = super().delete_messages(deletions)
        if any(deleted):
            self._clear_wal()  # once for the whole batch
        return deleted

    def _clear_wal(self) -> None:
        """Deleted messages' rows leave the WAL too, as soon as no reader needs them:
        ``secure_delete`` has overwritten them in the database, and the checkpoint
        truncates the log that still held their pages."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
