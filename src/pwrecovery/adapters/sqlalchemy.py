"""``SqlAlchemyStore``: the ``Store`` on a database server, through SQLAlchemy.

For many workstations on one database server. Tested against PostgreSQL and
MariaDB (see ``docs/server-store.md`` for exactly which versions and drivers);
it runs the same statements as ``SqliteStore`` (``_sqlstore``, ``_schema``), so
SQLite through SQLAlchemy works as well. Install with
``pip install 'pwrecovery[server]'`` (PostgreSQL) or ``'pwrecovery[mysql]'``.

- The schema is created or migrated on open under a server-side lock
  (``pg_advisory_xact_lock`` on PostgreSQL, ``GET_LOCK`` on MariaDB/MySQL), or,
  where there is none, retried with backoff: any number of workstations may
  open a new database at once. Databases of release 1 are carried forward.
- A deadlock or serialization failure is retried as a whole transaction; a
  duplicate key is a lost race (the conditional write answers False).

Every SQLAlchemy error is translated here into ``StoreUnavailable``.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from pwrecovery.adapters import _migrations
from pwrecovery.adapters._schema import SCHEMA_VERSION
from pwrecovery.adapters._sqlstore import LostRace, Session, SqlStore
from pwrecovery.exceptions import InvalidConfiguration, StoreUnavailable

T = TypeVar("T")

_LOCK: Final = 0x7077_7265_636F  # "pwreco": PostgreSQL's advisory lock while migrating
_LOCK_NAME: Final = "pwrecovery-schema."  # MariaDB/MySQL's GET_LOCK name, + the database
_MYSQL: Final = frozenset({"mysql", "mariadb"})
_LOCK_WAIT_SECONDS: Final = 60
_TRANSACTION_ATTEMPTS: Final = 8
_MIGRATION_ATTEMPTS: Final = 12
# Driver error codes that mean "another transaction won: run this one again".
_RETRYABLE_MYSQL: Final = frozenset({1213, 1205})  # deadlock, lock wait timeout
_RETRYABLE_SQLSTATE: Final = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def _retryable(error: DBAPIError) -> bool:
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATE:
        return True
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL:
        return True
    return "database is locked" in str(original)


@functools.lru_cache(maxsize=512)
def _text(sql: str) -> sa.TextClause:
    """The statement as SQLAlchemy holds it, made once per text: building one parses its
    parameters, about a tenth of a millisecond each time."""
    return sa.text(sql)


class _AlchemySession:
    """``Session`` over one SQLAlchemy connection (statements as ``sa.text``)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> int:
        return int(self._connection.execute(_text(sql), dict(params or {})).rowcount)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, object]]) -> None:
        self._connection.execute(_text(sql), [dict(row) for row in rows])

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        result = self._connection.execute(_text(sql), dict(params or {}))
        return [dict(row) for row in result.mappings()]


class SqlAlchemyStore(SqlStore):
    """A ``Store`` in a server database, e.g. ``SqlAlchemyStore(sa.create_engine(url))``.

    For MariaDB/MySQL give the URL ``?charset=utf8mb4``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._check_charset()
        self._migrate()

    def __repr__(self) -> str:
        return f"SqlAlchemyStore({self._dialect})"

    def close(self) -> None:
        """Close the engine's pooled connections (the engine itself stays usable)."""
        self._engine.dispose()

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[sa.Connection]:
        """A transaction, or for a read on PostgreSQL each statement on its own: psycopg's
        BEGIN and COMMIT are two more round trips for a read whose statements need no common
        snapshot (each reads rows that a conditional write checks again). On MariaDB/MySQL
        switching the connection's autocommit costs the round trips it would save."""
        if write or self._dialect != "postgresql":
            with self._engine.begin() as connection:
                yield connection
            return
        with self._engine.connect() as plain:
            yield plain.execution_options(isolation_level="AUTOCOMMIT")

    def _run(self, work: Callable[[Session], T], *, write: bool, durable: bool = True) -> T:
        del durable  # a server's own settings decide when a commit reaches its disk
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                with self._connection(write=write) as connection:
                    result = work(_AlchemySession(connection))
            except IntegrityError as error:
                raise LostRace from error
            except DBAPIError as error:
                if not _retryable(error) or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise StoreUnavailable from error
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter)
            except (SQLAlchemyError, UnicodeError) as error:
                # UnicodeError: a driver that cannot encode a value for its connection.
                raise StoreUnavailable from error
            else:
                return result
        raise StoreUnavailable  # pragma: no cover (the loop returns or raises)

    def _check_charset(self) -> None:
        """MariaDB/MySQL connections must speak utf8mb4, or an accented login fails deep in
        the driver: say what to add to the URL, once, when the store opens."""
        if self._dialect not in _MYSQL:
            return
        try:
            with self._engine.connect() as connection:
                found = connection.execute(sa.text("SELECT @@character_set_connection")).scalar()
        except SQLAlchemyError as error:
            raise StoreUnavailable from error
        if found != "utf8mb4":
            raise InvalidConfiguration("engine", "mysql_charset")

    # -- schema --------------------------------------------------------------

    def _migrate(self) -> None:
        for attempt in range(_MIGRATION_ATTEMPTS):
            try:
                with self._locked() as connection:
                    self._migrate_on(connection)
            except (OperationalError, IntegrityError, StoreUnavailable) as error:
                # Without a server-side lock (SQLite), another workstation may have created
                # a table in between: wait a moment and look again.
                if attempt == _MIGRATION_ATTEMPTS - 1:
                    if isinstance(error, StoreUnavailable):
                        raise
                    raise StoreUnavailable from error
                time.sleep(random.uniform(0.01, 0.05 * 2 ** min(attempt, 4)))  # noqa: S311
            except SQLAlchemyError as error:
                raise StoreUnavailable from error
            else:
                return

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sa.Connection]:
        """A connection holding the migration lock, in a transaction committed at the end."""
        with self._engine.connect() as connection:
            if self._dialect in _MYSQL:
                # A session lock (DDL commits at once there), named per database: lock
                # names are server-wide.
                got = connection.execute(
                    sa.text("SELECT GET_LOCK(CONCAT(:name, DATABASE()), :wait)"),
                    {"name": _LOCK_NAME, "wait": _LOCK_WAIT_SECONDS},
                ).scalar()
                connection.commit()
                if got != 1:
                    raise StoreUnavailable
                try:
                    yield connection
                    connection.commit()
                finally:
                    connection.rollback()
                    connection.execute(
                        sa.text("SELECT RELEASE_LOCK(CONCAT(:name, DATABASE()))"),
                        {"name": _LOCK_NAME},
                    )
                    connection.commit()
                return
            if self._dialect == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            try:
                yield connection
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def _migrate_on(self, connection: sa.Connection) -> None:
        session = _AlchemySession(connection)
        found = _migrations.found_version(session, self._dialect)
        if found != SCHEMA_VERSION:
            _migrations.migrate(session, self._dialect, found)
