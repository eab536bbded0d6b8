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
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters._schema import SCHEMA_VERSION, TABLES
from pwrecovery.adapters._sqlstore import LostRace, Session, SqlStore
from pwrecovery.exceptions import StoreSchemaTooNew, StoreUnavailable
from pwrecovery.records import Attempts, PendingVerification, TemporaryCredential, UserRecord

T = TypeVar("T")

_LOCK: Final = 0x7077_7265_636F  # "pwreco": PostgreSQL's advisory lock while migrating
_LOCK_NAME: Final = "pwrecovery-schema"  # MariaDB/MySQL's GET_LOCK name
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


class _AlchemySession:
    """``Session`` over one SQLAlchemy connection (statements as ``sa.text``)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> int:
        return int(self._connection.execute(sa.text(sql), dict(params or {})).rowcount)

    def executemany(self, sql: str, rows: Sequence[Mapping[str, object]]) -> None:
        self._connection.execute(sa.text(sql), [dict(row) for row in rows])

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        result = self._connection.execute(sa.text(sql), dict(params or {}))
        return [dict(row) for row in result.mappings()]


class SqlAlchemyStore(SqlStore):
    """A ``Store`` in a server database, e.g. ``SqlAlchemyStore(sa.create_engine(url))``.

    For MariaDB/MySQL give the URL ``?charset=utf8mb4``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._migrate()

    def __repr__(self) -> str:
        return f"SqlAlchemyStore({self._dialect})"

    def close(self) -> None:
        """Close the engine's pooled connections (the engine itself stays usable)."""
        self._engine.dispose()

    def _run(self, work: Callable[[Session], T], *, write: bool) -> T:
        del write  # every call is one transaction either way
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                with self._engine.begin() as connection:
                    return work(_AlchemySession(connection))
            except IntegrityError as error:
                raise LostRace from error
            except DBAPIError as error:
                if not _retryable(error) or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise StoreUnavailable from error
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter)
            except SQLAlchemyError as error:
                raise StoreUnavailable from error
        raise StoreUnavailable  # pragma: no cover (the loop returns or raises)

    # -- schema --------------------------------------------------------------

    def _migrate(self) -> None:
        for attempt in range(_MIGRATION_ATTEMPTS):
            try:
                with self._locked() as connection:
                    self._migrate_on(connection)
                return
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

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sa.Connection]:
        """A connection holding the migration lock, in a transaction committed at the end."""
        with self._engine.connect() as connection:
            if self._dialect in {"mysql", "mariadb"}:
                got = connection.execute(
                    sa.text("SELECT GET_LOCK(:name, :wait)"),
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
                    connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
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
        inspector = sa.inspect(connection)
        found = 0
        if inspector.has_table(_schema.SCHEMA_TABLE.name):
            value = connection.execute(sa.text("SELECT version FROM pwrecovery_schema")).scalar()
            found = int(value) if value is not None else 0
        if found > SCHEMA_VERSION:
            raise StoreSchemaTooNew(found=found, supported=SCHEMA_VERSION)
        if found == SCHEMA_VERSION:
            return
        session = _AlchemySession(connection)
        if found == 1:  # release 1's server layout: move it aside, then copy it over
            _rename_release_1(connection)
        for table in TABLES:
            for statement in _schema.create_statements(self._dialect, table):
                session.execute(statement)
        if found == 1:
            _copy_release_1(session)
        session.execute(
            "INSERT INTO pwrecovery_schema (version) VALUES (:v)", {"v": SCHEMA_VERSION}
        )
        self._create_meta(session)


# -- release 1's server layout ------------------------------------------------------

_RELEASE_1_TABLES: Final = (
    "pwrecovery_users",
    "pwrecovery_senders",
    "pwrecovery_audit",
    "pwrecovery_outbox",
    "pwrecovery_schema",
)


def _rename_release_1(connection: sa.Connection) -> None:
    """Move release 1's tables aside (their indexes dropped: index names are shared)."""
    for name in _RELEASE_1_TABLES:
        table = sa.Table(name, sa.MetaData(), autoload_with=connection)
        for index in table.indexes:
            index.drop(connection)
        connection.execute(sa.text(f"ALTER TABLE {name} RENAME TO r1_{name}"))


def _r1_time(value: object) -> datetime | None:
    return _rows.parse_time(value) if value is not None else None


def _r1_user(row: Mapping[str, Any], now: datetime) -> UserRecord:
    pending_at = _r1_time(row["pending_expires_at"])
    temporary_id = row["temporary_id"]
    failures = int(row["failed_sign_ins"])
    return UserRecord(
        login=str(row["login"]),
        key=str(row["key"]),
        display_name=str(row["display_name"]),
        supervisor=bool(row["supervisor"]),
        password_hash=str(row["password_hash"]),
        recovery_email=row["recovery_email"],
        recovery_email_verified=bool(row["recovery_email_verified"]),
        pending_verification=PendingVerification(
            row["pending_code_hash"], pending_at, int(row["pending_attempts"] or 0), "r1"
        )
        if pending_at is not None
        else None,
        temporary=TemporaryCredential(
            str(temporary_id),
            row["temporary_hash"],
            _rows.parse_time(row["temporary_issued_at"]),
            _rows.parse_time(row["temporary_expires_at"]),
        )
        if temporary_id is not None
        else None,
        sign_in=Attempts(failures, _r1_time(row["locked_until"]), now if failures else None),
        recovery_requests=tuple(_rows.parse_time(t) for t in json.loads(row["recovery_requests"])),
        version=int(row["version"]),
    )


def _copy_release_1(session: Session) -> None:
    now = datetime.now(UTC)
    users = [_r1_user(row, now) for row in session.query("SELECT * FROM r1_pwrecovery_users")]
    if users:
        session.executemany(
            _schema.insert(_schema.USERS), [_rows.user_row(u, u.version) for u in users]
        )
    senders = [
        {
            **{key: row[key] for key in ("id", "owner", "owner_key", "host", "port", "security")},
            **{key: row[key] for key in ("username", "from_address", "display_name")},
            "authentication": row["authentication"],
            "verified_at": _rows.sql_time(_rows.parse_time(row["verified_at"])),
            "secret": bytes(row["secret"]),
            "usage_logins": "[]",
            "usage_auth_failures": 0,
            "usage_cooldown_until": None,
            "version": 1,
        }
        for row in session.query("SELECT * FROM r1_pwrecovery_senders")
    ]
    if senders:
        session.executemany(_schema.insert(_schema.SENDERS), senders)
    events = [
        {
            **{key: row[key] for key in ("kind", "login", "login_key", "origin", "detail")},
            "at": _rows.sql_time(_rows.parse_time(row["at"])),
        }
        for row in session.query("SELECT * FROM r1_pwrecovery_audit ORDER BY id")
    ]
    dropped = [
        {
            "kind": "queued_mail_dropped",
            "login": None,
            "login_key": row["user_key"],
            "origin": None,
            "detail": json.dumps({"message": row["id"], "reason": "schema_upgrade"}),
            "at": _rows.sql_time(now),
        }
        for row in session.query("SELECT id, user_key FROM r1_pwrecovery_outbox")
    ]
    if events or dropped:
        session.executemany(_schema.insert(_schema.AUDIT), [*events, *dropped])
    for name in _RELEASE_1_TABLES:
        session.execute(f"DROP TABLE r1_{name}")
