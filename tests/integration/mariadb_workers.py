"""Work for the processes of tests/integration/test_mariadb_findings.py (top-level functions,
so that the spawn start method can import them), and the SQL forms those tests compare.

Each worker opens its own engine (NullPool: one connection per use, none left at exit),
waits at a barrier shared with the parent for every round, does its work, and reports
one line per round: "ok" or the MariaDB error code that stopped it.
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import sqlalchemy as sa

from pwrecovery.adapters import sqlalchemy as server_store

# Named locks are per server, not per database: the name carries the database's name so
# that two databases on one server do not wait for each other. (At most 64 characters.)
SCHEMA_LOCK = "CONCAT('pwrecovery-schema.', DATABASE())"
LOST_RACE: frozenset[int] = frozenset({1213, 1205, 1062})  # deadlock, lock wait, duplicate


def error_code(error: BaseException) -> int | None:
    """The server's error number behind a SQLAlchemy error (PyMySQL and mysqlclient alike)."""
    original = getattr(error, "orig", None)
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


# -- schema creation -------------------------------------------------------------------------


def migrate_as_the_store_does(engine: sa.Engine) -> None:
    """Today's SqlAlchemyStore: its own open (migration, retried once)."""
    server_store.SqlAlchemyStore(engine)


def migrate_under_get_lock(engine: sa.Engine) -> None:
    """The store's migration steps, on one connection holding GET_LOCK for their duration.

    GET_LOCK belongs to the session, not to a transaction: it outlives the implicit commit
    of every CREATE TABLE, and is released by RELEASE_LOCK (or when the session ends).
    """
    with engine.connect() as connection:
        got = connection.execute(sa.text(f"SELECT GET_LOCK({SCHEMA_LOCK}, 30)")).scalar()
        connection.commit()
        if got != 1:
            msg = f"GET_LOCK returned {got!r}"
            raise TimeoutError(msg)
        try:
            with connection.begin():
                server_store.schema_table.create(connection, checkfirst=True)
                found = connection.execute(sa.select(server_store.schema_table.c.version)).scalar()
                current = int(found) if found is not None else 0
                for step in server_store.MIGRATIONS[current:]:
                    step(connection)
                if found is None:
                    connection.execute(
                        sa.insert(server_store.schema_table).values(
                            version=server_store.SCHEMA_VERSION
                        )
                    )
        finally:
            connection.execute(sa.text(f"SELECT RELEASE_LOCK({SCHEMA_LOCK})"))
            connection.commit()


MIGRATIONS: dict[str, Callable[[sa.Engine], None]] = {
    "store": migrate_as_the_store_does,
    "get_lock": migrate_under_get_lock,
}


def migrate_rounds(url: str, how: str, rounds: int, barrier: Barrier, results: Queue[str]) -> None:
    """Each round: wait for the parent's go (it has dropped the tables), migrate, report."""
    engine = _engine(url)
    for _ in range(rounds):
        barrier.wait()
        try:
            MIGRATIONS[how](engine)
        except Exception as error:  # noqa: BLE001 (reported to the parent)
            cause = error.__cause__ if error.__cause__ is not None else error
            results.put(f"{type(error).__name__} {error_code(cause)}")
        else:
            results.put("ok")
    engine.dispose()


# -- replacing a row by id (put_sender) --------------------------------------------------------

CREATE_SENDERS = (
    "CREATE TABLE finding_senders ("
    " id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,"
    " owner VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,"
    " host VARCHAR(253) NOT NULL,"
    " secret LONGBLOB NOT NULL,"
    " KEY finding_senders_owner (owner))"
)
_DELETE = "DELETE FROM finding_senders WHERE id = :id"
_INSERT = (
    "INSERT INTO finding_senders (id, owner, host, secret) VALUES (:id, :owner, :host, :secret)"
)
_UPDATE = "UPDATE finding_senders SET owner = :owner, host = :host, secret = :secret WHERE id = :id"
_UPSERT = (
    _INSERT + " ON DUPLICATE KEY UPDATE owner = VALUES(owner), host = VALUES(host),"
    " secret = VALUES(secret)"
)


def put_delete_insert(connection: sa.Connection, row: dict[str, object]) -> None:
    """Today's put_sender: DELETE by id, then INSERT, in one transaction."""
    connection.execute(sa.text(_DELETE), row)
    connection.execute(sa.text(_INSERT), row)


def put_upsert(connection: sa.Connection, row: dict[str, object]) -> None:
    """One statement: INSERT ... ON DUPLICATE KEY UPDATE."""
    connection.execute(sa.text(_UPSERT), row)


def put_update_then_insert(connection: sa.Connection, row: dict[str, object]) -> None:
    """UPDATE; INSERT only if it matched no row (the caller retries a lost race)."""
    if connection.execute(sa.text(_UPDATE), row).rowcount == 0:
        connection.execute(sa.text(_INSERT), row)


PUTS: dict[str, Callable[[sa.Connection, dict[str, object]], None]] = {
    "delete_insert": put_delete_insert,
    "upsert": put_upsert,
    "update_then_insert": put_update_then_insert,
}


def put_rounds(
    url: str,
    how: str,
    number: int,
    same_id: bool,
    retries: int,
    rounds: int,
    barrier: Barrier,
    results: Queue[str],
) -> None:
    """Each round: wait for the parent's go (it has emptied the table), put one sender with
    an audit row in the same transaction, report "ok" or the error code; a lost race (1213,
    1205, 1062) is tried again on a new transaction up to ``retries`` times."""
    engine = _engine(url)
    for round_number in range(rounds):
        row = {
            "id": "s-1" if same_id else f"s-{number}",
            "owner": f"Dueño {number}",
            "host": f"smtp{round_number}.empresa.mx",
            "secret": bytes([number]) * 32,
        }
        barrier.wait()
        outcome = "ok"
        for attempt in range(retries + 1):
            try:
                with engine.begin() as connection:
                    PUTS[how](connection, row)
                    connection.execute(
                        sa.text("INSERT INTO finding_audit (kind) VALUES ('sender_configured')")
                    )
            except sa.exc.DBAPIError as error:
                outcome = str(error_code(error))
                if error_code(error) in LOST_RACE and attempt < retries:
                    continue
            else:
                outcome = "ok" if attempt == 0 else f"ok after {attempt}"
            break
        results.put(outcome)
    engine.dispose()
