"""What the server store's SQL must do on MariaDB: each finding proven on a real server.

Every test here asserts what MariaDB 10.11 (Debian's package, server defaults: utf8mb4
with utf8mb4_general_ci, REPEATABLE READ, strict sql_mode) does *today*, through both
drivers (PyMySQL and mysqlclient), so that the store's SQL can be written from them. Where
a statement is meant to serve PostgreSQL and SQLite as well, it runs on all three.
The letters (a)-(i) match the findings in the report that came with these tests.

None of this tests SqlAlchemyStore itself, but for its migration racing (d); its
contract tests on MariaDB are in tests/contract.
"""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.schema import CreateTable

from pwrecovery.adapters import sqlalchemy as server_store
from pwrecovery.adapters.records import utc
from tests.integration import mariadb_workers
from tests.integration.mariadb_workers import error_code
from tests.mariadb import MariaDb

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
MEXICO = timezone(timedelta(hours=-6))  # America/Mexico_City in January
DRIVERS = ["pymysql", "mysqldb"]
STORE_TABLES = (
    "DROP TABLE IF EXISTS pwrecovery_outbox, pwrecovery_audit, pwrecovery_senders,"
    " pwrecovery_users, pwrecovery_schema"
)


def _drop_finding_tables(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        names = connection.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name LIKE 'finding!_%' ESCAPE '!'"
            )
        ).scalars()
        for name in names:
            connection.execute(sa.text(f"DROP TABLE `{name}`"))


@pytest.fixture(params=DRIVERS)
def maria(request: pytest.FixtureRequest, mariadb_server: MariaDb) -> Iterator[sa.Engine]:
    """An engine on the test database through each driver, with no finding_ tables."""
    engine = sa.create_engine(mariadb_server.url(request.param, query="charset=utf8mb4"))
    _drop_finding_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def maria_pymysql(mariadb_server: MariaDb) -> Iterator[sa.Engine]:
    """The same through PyMySQL only: for the process tests, whose workers use PyMySQL."""
    engine = sa.create_engine(mariadb_server.pymysql_url)
    _drop_finding_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def admin(mariadb_server: MariaDb) -> Iterator[sa.Engine]:
    """Root on the server (reads information_schema.innodb_trx, which needs PROCESS)."""
    engine = sa.create_engine(mariadb_server.admin_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["mariadb", "postgresql", "sqlite"])
def any_db(
    request: pytest.FixtureRequest, mariadb_server: MariaDb, tmp_path: Path
) -> Iterator[sa.Engine]:
    """The same test on MariaDB (PyMySQL), PostgreSQL (psycopg) and SQLite (pysqlite)."""
    if request.param == "mariadb":
        engine = sa.create_engine(mariadb_server.pymysql_url)
        _drop_finding_tables(engine)
    elif request.param == "postgresql":
        engine = sa.create_engine(request.getfixturevalue("postgres_url"))
        with engine.begin() as connection:
            connection.execute(
                sa.text("DROP TABLE IF EXISTS finding_users, finding_audit, finding_senders")
            )
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'findings.db'}")
    yield engine
    engine.dispose()


def _run(connection: sa.Connection, sql: str, **params: object) -> list[tuple[object, ...]]:
    """The rows of one plain SQL statement with :name parameters ([] if it returns none)."""
    result = connection.execute(sa.text(sql), params)
    return [tuple(row) for row in result] if result.returns_rows else []


def _count(connection: sa.Connection, sql: str, **params: object) -> int:
    """The rowcount of one plain SQL statement with :name parameters."""
    return connection.execute(sa.text(sql), params).rowcount


def _failure(action: Callable[[], object]) -> sa.exc.DBAPIError:
    with pytest.raises(sa.exc.DBAPIError) as caught:
        action()
    return caught.value


# -- (a) microseconds -----------------------------------------------------------------------

TIMES = sa.MetaData()
finding_times = sa.Table(
    "finding_times",
    TIMES,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("plain", sa.DateTime(timezone=True)),
    sa.Column(
        "fsp6", sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    ),
)


def _ddl(table: sa.Table, dialect: sa.Dialect) -> str:
    return " ".join(str(CreateTable(table).compile(dialect=dialect)).split())


def test_a_datetime_with_timezone_is_plain_datetime_on_mysql() -> None:
    """DateTime(timezone=True) emits DATETIME (0 fractional digits) for MySQL/MariaDB; the
    variant emits DATETIME(6); PostgreSQL gets TIMESTAMP WITH TIME ZONE either way."""
    assert (
        "CREATE TABLE finding_times ( id INTEGER NOT NULL, plain DATETIME, fsp6 DATETIME(6),"
        " PRIMARY KEY (id) )"
    ) == _ddl(finding_times, mysql.dialect())
    assert (
        "CREATE TABLE finding_times ( id INTEGER NOT NULL, plain TIMESTAMP WITH TIME ZONE,"
        " fsp6 TIMESTAMP WITH TIME ZONE, PRIMARY KEY (id) )"
    ) == _ddl(finding_times, postgresql.dialect())
    assert (
        "CREATE TABLE finding_times ( id INTEGER NOT NULL, plain DATETIME, fsp6 DATETIME,"
        " PRIMARY KEY (id) )"
    ) == _ddl(finding_times, sqlite.dialect())


def test_a_datetime_drops_the_microseconds_and_datetime6_keeps_them(maria: sa.Engine) -> None:
    """DATETIME truncates (not rounds) .678901 away, silently, even in strict mode;
    DATETIME(6) keeps it. Both come back naive."""
    TIMES.create_all(maria)
    with maria.begin() as connection:
        created = _run(connection, "SHOW CREATE TABLE finding_times")[0][1]
        connection.execute(sa.insert(finding_times).values(id=1, plain=AT, fsp6=AT))
        stored = _run(connection, "SELECT plain, fsp6 FROM finding_times")
        as_text = _run(
            connection, "SELECT CAST(plain AS CHAR), CAST(fsp6 AS CHAR) FROM finding_times"
        )
    assert "`plain` datetime DEFAULT NULL" in created
    assert "`fsp6` datetime(6) DEFAULT NULL" in created
    naive = AT.replace(tzinfo=None)  # MySQL drivers give DATETIME back naive
    assert [(naive.replace(microsecond=0), naive)] == stored
    assert [("2026-01-02 03:04:05", "2026-01-02 03:04:05.678901")] == as_text


# -- (b) collation --------------------------------------------------------------------------

PAIRS = "'jose' = 'josé', 'i' = 'ı', '😀' = '🙈', 'Juan' = 'juan', 'juan' = 'juan  '"
WORDS = ["zeta", "Beto", "ana", "ñandú", "carla", "nube", "Zorro", "jose", "josé", "i", "ı"]
WORDS += ["😀", "🙈", "Juan", "juan"]


def test_b_general_ci_matches_strings_that_differ(maria: sa.Engine) -> None:
    """The server's default collation ignores accents, case and dotless i, treats every emoji
    (every character beyond U+FFFF) as the same, and pads: all five pairs are equal.
    utf8mb4_bin tells them apart but for the trailing spaces (it is a PAD SPACE collation);
    utf8mb4_nopad_bin does not pad."""
    with maria.connect() as connection:
        collation = _run(connection, "SELECT @@collation_connection, @@collation_database")
        general = _run(connection, f"SELECT {PAIRS}")
        binary = _run(connection, f"SELECT {PAIRS.replace(',', ' COLLATE utf8mb4_bin,')}")
        nopad = _run(connection, "SELECT 'juan' = 'juan  ' COLLATE utf8mb4_nopad_bin")
    assert [("utf8mb4_general_ci", "utf8mb4_general_ci")] == collation
    assert [(1, 1, 1, 1, 1)] == general
    assert [(0, 0, 0, 0, 1)] == binary
    assert [(0,)] == nopad


def test_b_general_ci_key_column_refuses_other_users_and_finds_the_wrong_one(
    maria: sa.Engine,
) -> None:
    """A VARCHAR(255) key in the default collation: 'josé' is a duplicate of 'jose', a lookup
    of 'JOSÉ' finds 'jose', any emoji finds another, and ORDER BY is not code-point order."""
    with maria.begin() as connection:
        _run(connection, "CREATE TABLE finding_keys (k VARCHAR(255) NOT NULL PRIMARY KEY)")
        _run(connection, "INSERT INTO finding_keys (k) VALUES ('jose'), ('😀'), ('i')")
    with maria.connect() as connection:
        duplicates = [
            error_code(
                _failure(lambda v=v: _run(connection, "INSERT INTO finding_keys VALUES (:v)", v=v))
            )
            for v in ("josé", "🙈", "ı", "JOSE")
        ]
        found = [
            _run(connection, "SELECT k FROM finding_keys WHERE k = :v", v=v)
            for v in ("JOSÉ", "🙈", "ı")
        ]
    assert [1062, 1062, 1062, 1062] == duplicates
    assert [[("jose",)], [("😀",)], [("i",)]] == found
    with maria.begin() as connection:
        _run(connection, "DELETE FROM finding_keys")
        for word in ("zeta", "ana", "ñandú", "carla", "nube", "Zorro"):
            _run(connection, "INSERT INTO finding_keys (k) VALUES (:v)", v=word)
        ordered = [k for (k,) in _run(connection, "SELECT k FROM finding_keys ORDER BY k")]
    assert ["ana", "carla", "ñandú", "nube", "zeta", "Zorro"] == ordered
    assert ["Zorro", "ana", "carla", "nube", "zeta", "ñandú"] == sorted(ordered)


def test_b_utf8mb4_bin_primary_key_is_exact_and_indexed(maria: sa.Engine) -> None:
    """The fix: the key column declared CHARACTER SET utf8mb4 COLLATE utf8mb4_bin. Every
    string is its own key, a lookup finds exactly it (by the primary key: EXPLAIN says
    const), ORDER BY is Python's sorted() order, and a VARCHAR(255) key (1020 bytes) and a
    (VARCHAR(255), BIGINT) index are well inside InnoDB's 3072-byte limit."""
    with maria.begin() as connection:
        _run(
            connection,
            "CREATE TABLE finding_keys ("
            " k VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,"
            " login_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,"
            " id BIGINT NOT NULL,"
            " KEY finding_keys_by_login (login_key, id))",
        )
        for number, word in enumerate(WORDS):
            _run(
                connection,
                "INSERT INTO finding_keys (k, login_key, id) VALUES (:k, :k, :id)",
                k=word,
                id=number,
            )
        found = {
            word: _run(connection, "SELECT k FROM finding_keys WHERE k = :k", k=word)
            for word in WORDS
        }
        by_login = _run(
            connection, "SELECT id FROM finding_keys WHERE login_key = :k ORDER BY id", k="josé"
        )
        missing = _run(connection, "SELECT k FROM finding_keys WHERE k = 'JUAN'")
        ordered = [k for (k,) in _run(connection, "SELECT k FROM finding_keys ORDER BY k")]
        plan = _run(connection, "EXPLAIN SELECT k FROM finding_keys WHERE k = 'josé'")
        row_format = _run(connection, "SELECT @@innodb_default_row_format")
    assert {word: [(word,)] for word in WORDS} == found
    assert ([(8,)], []) == (by_login, missing)
    assert sorted(WORDS) == ordered
    assert ("const", "PRIMARY", "1022") == (plan[0][3], plan[0][5], plan[0][6])
    assert [("dynamic",)] == row_format


def test_b_index_length_limit(maria: sa.Engine) -> None:
    """3072 bytes = 768 utf8mb4 characters: a VARCHAR(769) primary key is refused (1071); a
    plain index on a longer column silently becomes a 768-character prefix index."""
    with maria.begin() as connection:
        too_long = _failure(
            lambda: _run(
                connection,
                "CREATE TABLE finding_long (k VARCHAR(769) CHARACTER SET utf8mb4"
                " COLLATE utf8mb4_bin PRIMARY KEY)",
            )
        )
        _run(
            connection,
            "CREATE TABLE finding_fits (k VARCHAR(768) CHARACTER SET utf8mb4"
            " COLLATE utf8mb4_bin PRIMARY KEY)",
        )
        _run(connection, "CREATE TABLE finding_prefix (k VARCHAR(1000), KEY (k))")
        notes = _run(connection, "SHOW WARNINGS")
        created = _run(connection, "SHOW CREATE TABLE finding_prefix")[0][1]
    assert 1071 == error_code(too_long)
    assert "max key length is 3072 bytes" in str(too_long.orig)
    assert [("Note", 1071, "Specified key was too long; max key length is 3072 bytes")] == notes
    assert "KEY `k` (`k`(768))" in created


def test_b_sqlalchemy_spellings_of_the_fix() -> None:
    """Table options mysql_charset / mysql_collate give the table default (and are ignored by
    PostgreSQL and SQLite); a column variant gives the column its own collation."""
    meta = sa.MetaData()
    binary_key = sa.String(255).with_variant(
        mysql.VARCHAR(255, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )
    table = sa.Table(
        "finding_users",
        meta,
        sa.Column("login_key", binary_key, primary_key=True),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    assert (
        "CREATE TABLE finding_users ( login_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE"
        " utf8mb4_bin NOT NULL, PRIMARY KEY (login_key) )CHARSET=utf8mb4 COLLATE utf8mb4_bin"
    ) == _ddl(table, mysql.dialect())
    plain = (
        "CREATE TABLE finding_users ( login_key VARCHAR(255) NOT NULL, PRIMARY KEY (login_key) )"
    )
    assert (plain, plain) == (_ddl(table, postgresql.dialect()), _ddl(table, sqlite.dialect()))


def test_b_sqlalchemy_table_options_make_exact_keys(maria: sa.Engine) -> None:
    """That table, created on the server: every column is utf8mb4_bin."""
    meta = sa.MetaData()
    table = sa.Table(
        "finding_users",
        meta,
        sa.Column("login_key", sa.String(255), primary_key=True),
        sa.Column("notes", sa.Text),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    meta.create_all(maria)
    with maria.begin() as connection:
        created = _run(connection, "SHOW CREATE TABLE finding_users")[0][1]
        connection.execute(sa.insert(table), [{"login_key": w, "notes": w} for w in WORDS])
        found = connection.execute(sa.select(table.c.login_key).where(table.c.login_key == "josé"))
        by_notes = _run(connection, "SELECT login_key FROM finding_users WHERE notes = 'Juan'")
    assert created.endswith("DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
    assert [("josé",)] == [tuple(r) for r in found]
    assert [("Juan",)] == by_notes


# -- (c) a database whose default character set is latin1 or utf8mb3 ---------------------------


@pytest.mark.parametrize(
    ("charset", "collation", "refused"),
    [("latin1", "latin1_swedish_ci", ["Łukasz", "😀"]), ("utf8mb3", "utf8mb3_general_ci", ["😀"])],
)
def test_c_older_database_charset_breaks_lookups_unless_tables_declare_utf8mb4(
    mariadb_server: MariaDb, driver: str, charset: str, collation: str, refused: list[str]
) -> None:
    """Tables that take the database's default charset: looking up a key the charset cannot
    hold is error 1267 (not "no row"), inserting it 1366. Tables declaring
    DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin work in the same database."""
    database = f"pwrecovery_{charset}"
    with sa.create_engine(mariadb_server.pymysql_url).begin() as connection:
        _run(connection, f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET {charset}")
    engine = sa.create_engine(
        mariadb_server.url(driver, database=database, query="charset=utf8mb4")
    )
    try:
        with engine.begin() as connection:
            _run(connection, "DROP TABLE IF EXISTS finding_plain, finding_declared")
            _run(connection, "CREATE TABLE finding_plain (k VARCHAR(255) PRIMARY KEY)")
            _run(
                connection,
                "CREATE TABLE finding_declared (k VARCHAR(255) PRIMARY KEY)"
                " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            )
        with engine.connect() as connection:
            lookups = [
                _failure(
                    lambda v=v: _run(connection, "SELECT k FROM finding_plain WHERE k = :v", v=v)
                )
                for v in refused
            ]
            inserts = [
                _failure(lambda v=v: _run(connection, "INSERT INTO finding_plain VALUES (:v)", v=v))
                for v in refused
            ]
        with engine.begin() as connection:
            for value in refused:
                _run(connection, "INSERT INTO finding_declared VALUES (:v)", v=value)
            found = [
                _run(connection, "SELECT k FROM finding_declared WHERE k = :v", v=v)
                for v in refused
            ]
    finally:
        engine.dispose()
    mix = (
        f"Illegal mix of collations ({collation},IMPLICIT) and (utf8mb4_general_ci,COERCIBLE)"
        " for operation '='"
    )
    assert [(1267, mix)] * len(refused) == [e.orig.args for e in lookups]
    assert [1366] * len(refused) == [error_code(e) for e in inserts]
    # The same server error arrives as a different class per driver: classify by code.
    expected_class = {"pymysql": "DataError", "mysqldb": "OperationalError"}[driver]
    assert {expected_class} == {type(e).__name__ for e in inserts}
    assert [[(v,)] for v in refused] == found


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    ("query", "connection_charset"),
    [("", "utf8mb4"), ("charset=utf8mb4", "utf8mb4"), ("charset=utf8", "utf8mb3")],
)
def test_c_connection_charset(
    mariadb_server: MariaDb, driver: str, query: str, connection_charset: str
) -> None:
    """Today both drivers default to utf8mb4; ?charset=utf8mb4 makes it explicit (older
    PyMySQL defaulted to latin1). With utf8 (= utf8mb3) an emoji is refused even by a utf8mb4
    column: 1366 on insert, 1267 on lookup."""
    engine = sa.create_engine(mariadb_server.url(driver, query=query))
    try:
        with engine.begin() as connection:
            names = _run(
                connection,
                "SELECT @@character_set_client, @@character_set_connection,"
                " @@character_set_results",
            )
            _run(connection, "DROP TABLE IF EXISTS finding_names")
            _run(
                connection,
                "CREATE TABLE finding_names (k VARCHAR(255) PRIMARY KEY)"
                " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            )
            _run(connection, "INSERT INTO finding_names VALUES (:v)", v="Łukasz")
            polish = _run(connection, "SELECT HEX(k) FROM finding_names WHERE k = :v", v="Łukasz")
        with engine.connect() as connection:
            if connection_charset == "utf8mb4":
                _run(connection, "INSERT INTO finding_names VALUES (:v)", v="😀")
                emoji: object = _run(connection, "SELECT HEX(k) FROM finding_names WHERE k = '😀'")
            else:
                emoji = [
                    error_code(
                        _failure(
                            lambda: _run(connection, "INSERT INTO finding_names VALUES ('😀')")
                        )
                    ),
                    error_code(
                        _failure(
                            lambda: _run(connection, "SELECT k FROM finding_names WHERE k = '😀'")
                        )
                    ),
                ]
    finally:
        engine.dispose()
    assert [(connection_charset,) * 3] == names
    assert [("C581756B61737A",)] == polish
    assert ([("F09F9880",)] if connection_charset == "utf8mb4" else [1366, 1267]) == emoji


def test_c_latin1_connection_fails_in_the_driver_not_the_server(
    mariadb_server: MariaDb, driver: str
) -> None:
    """With charset=latin1 the driver itself cannot encode 'Ł': a UnicodeEncodeError, which is
    no SQLAlchemyError (it would escape a store's translation into StoreUnavailable)."""
    engine = sa.create_engine(mariadb_server.url(driver, query="charset=latin1"))
    try:
        with engine.connect() as connection, pytest.raises(UnicodeEncodeError) as caught:
            _run(connection, "SELECT :v", v="Łukasz")
    finally:
        engine.dispose()
    assert not isinstance(caught.value, sa.exc.SQLAlchemyError)


# -- (d) two workstations creating the schema at once -----------------------------------------


def _rounds(
    target: Callable[..., None],
    args_for: list[tuple[object, ...]],
    rounds: int,
    reset: Callable[[], None],
) -> list[list[str]]:
    """Spawned processes that do ``rounds`` rounds; before each the parent calls ``reset`` and
    then releases them together (it is one more party of their barrier). Their reports."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(len(args_for) + 1)
    processes = [
        context.Process(target=target, args=(*args, rounds, barrier, results)) for args in args_for
    ]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in range(rounds):
            reset()
            barrier.wait(timeout=120)
            outcomes.append(sorted(results.get(timeout=120) for _ in processes))
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.exitcode is None:
                process.kill()
    assert [0] * len(processes) == [p.exitcode for p in processes]
    return outcomes


def test_d_interleaved_schema_creation_fails_with_1050(maria: sa.Engine) -> None:
    """The store's migration on two connections, step by step: both find no version (the
    first has not inserted it yet, and its CREATE TABLEs have committed on their own), so
    the second creates the version-1 tables again: 1050 "Table ... already exists"."""
    with maria.begin() as connection:
        _run(connection, STORE_TABLES)
    with maria.connect() as first, maria.connect() as second:
        for connection in (first, second):
            server_store.schema_table.create(connection, checkfirst=True)
        versions = [
            c.execute(sa.select(server_store.schema_table.c.version)).scalar()
            for c in (first, second)
        ]
        server_store.MIGRATIONS[0](first)
        again = _failure(lambda: server_store.MIGRATIONS[0](second))
    assert [None, None] == versions
    assert isinstance(again, sa.exc.OperationalError)
    assert (1050, "Table 'pwrecovery_users' already exists") == again.orig.args


def test_d_store_open_races_today(mariadb_server: MariaDb, maria_pymysql: sa.Engine) -> None:
    """Four processes opening a new database with today's SqlAlchemyStore, 10 rounds: some
    open fails with StoreUnavailable from 1050, its retry-once notwithstanding (measured:
    15 of 40 opens failed)."""

    def reset() -> None:
        with maria_pymysql.begin() as connection:
            _run(connection, STORE_TABLES)

    url = mariadb_server.pymysql_url
    outcomes = _rounds(mariadb_workers.migrate_rounds, [(url, "store")] * 4, 10, reset)
    counted = collections.Counter(o for round_outcomes in outcomes for o in round_outcomes)
    assert counted["StoreUnavailable 1050"] > 0, counted
    assert {"ok", "StoreUnavailable 1050"} >= set(counted), counted


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_d_get_lock_around_the_migration_makes_it_once(
    mariadb_server: MariaDb, maria_pymysql: sa.Engine, processes: int
) -> None:
    """The fix: GET_LOCK(CONCAT('pwrecovery-schema.', DATABASE()), 30) on the migrating
    connection, RELEASE_LOCK after. 10 rounds: every open works, one version row."""
    versions: list[object] = []
    resets = iter(range(11))

    def reset() -> None:
        with maria_pymysql.begin() as connection:
            if next(resets) > 0:  # after a round: how many version rows it left
                versions.append(_run(connection, "SELECT count(*) FROM pwrecovery_schema")[0][0])
            _run(connection, STORE_TABLES)

    url = mariadb_server.pymysql_url
    outcomes = _rounds(mariadb_workers.migrate_rounds, [(url, "get_lock")] * processes, 10, reset)
    reset()
    assert [["ok"] * processes] * 10 == outcomes
    assert [1] * 10 == versions


def test_d_get_lock_is_held_by_the_session_across_commits(maria: sa.Engine) -> None:
    """GET_LOCK is not transactional: the implicit commit of CREATE TABLE (which a ROLLBACK
    does not undo) and the ROLLBACK keep it; another session cannot take it (0 after the
    timeout) until RELEASE_LOCK."""
    name = "CONCAT('pwrecovery-schema.', DATABASE())"
    with maria.connect() as first, maria.connect() as second:
        took = _run(first, f"SELECT GET_LOCK({name}, 30), CONCAT('pwrecovery-schema.', DATABASE())")
        _run(first, "CREATE TABLE finding_ddl (id INTEGER)")
        first.rollback()
        refused = _run(second, f"SELECT GET_LOCK({name}, 0)")
        holder = _run(second, f"SELECT IS_USED_LOCK({name}) = CONNECTION_ID()")
        released = _run(first, f"SELECT RELEASE_LOCK({name})")
        then = _run(second, f"SELECT GET_LOCK({name}, 0)")
        _run(second, f"SELECT RELEASE_LOCK({name})")
        table_kept = sa.inspect(second).has_table("finding_ddl")  # the ROLLBACK undid no DDL
    assert [(1, "pwrecovery-schema.pwrecovery")] == took
    assert ([(0,)], [(0,)], [(1,)], [(1,)]) == (refused, holder, released, then)
    assert table_kept


# -- (e) replacing a row by id under REPEATABLE READ: deadlocks -------------------------------

AUDIT_DDL = "CREATE TABLE finding_audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(64))"


def _sender(number: int, sender_id: str) -> dict[str, object]:
    return {"id": sender_id, "owner": f"Dueño {number}", "host": "smtp", "secret": b"\x01"}


def _wait_for_lock_wait(admin: sa.Engine, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    with admin.connect() as connection:
        while time.monotonic() < deadline:
            waiting = _run(
                connection,
                "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
            )[0][0]
            connection.rollback()
            if waiting >= count:  # type: ignore[operator]
                return
            time.sleep(0.01)
    msg = "no transaction came to wait for a lock"
    raise AssertionError(msg)


FIRST_STATEMENT = {
    "delete_insert": "DELETE FROM finding_senders WHERE id = :id",
    "update_then_insert": "UPDATE finding_senders SET host = :host WHERE id = :id",
}


def _finish(
    outcomes: dict[str, str], name: str, connection: sa.Connection, sql: str, row: dict[str, object]
) -> None:
    try:
        _run(connection, sql, **row)
        connection.commit()
        outcomes[name] = "ok"
    except sa.exc.DBAPIError as error:
        connection.rollback()
        outcomes[name] = str(error_code(error))


def _interleave(maria: sa.Engine, admin: sa.Engine, how: str, ids: tuple[str, str]) -> list[str]:
    """Two transactions putting a sender whose id is not there yet, each after an audit row.

    delete_insert / update_then_insert: both run their DELETE (or UPDATE) of the missing id,
    then the first INSERTs (and waits), then the second INSERTs. upsert: the first runs its
    INSERT ... ON DUPLICATE KEY UPDATE, the second runs its own meanwhile, the first commits.
    """
    rows = [_sender(1, ids[0]), _sender(2, ids[1])]
    outcomes: dict[str, str] = {}
    with maria.begin() as connection:
        _run(connection, mariadb_workers.CREATE_SENDERS)
        _run(connection, AUDIT_DDL)
    with maria.connect() as first, maria.connect() as second:
        for connection in (first, second):
            _run(connection, "INSERT INTO finding_audit (kind) VALUES ('sender_configured')")
        if how == "upsert":
            _run(first, mariadb_workers._UPSERT, **rows[0])
            worker = threading.Thread(
                target=_finish, args=(outcomes, "second", second, mariadb_workers._UPSERT, rows[1])
            )
            worker.start()
            if ids[0] == ids[1]:
                _wait_for_lock_wait(admin)
            first.commit()
            outcomes["first"] = "ok"
        else:
            _run(first, FIRST_STATEMENT[how], **rows[0])
            _run(second, FIRST_STATEMENT[how], **rows[1])
            worker = threading.Thread(
                target=_finish, args=(outcomes, "first", first, mariadb_workers._INSERT, rows[0])
            )
            worker.start()
            _wait_for_lock_wait(admin)
            _finish(outcomes, "second", second, mariadb_workers._INSERT, rows[1])
        worker.join(timeout=30)
    return sorted(outcomes.values())


@pytest.mark.parametrize("how", ["delete_insert", "update_then_insert"])
@pytest.mark.parametrize("ids", [("s-1", "s-1"), ("s-1", "s-2")], ids=["same-id", "other-ids"])
def test_e_delete_or_update_then_insert_deadlocks(
    maria: sa.Engine, admin: sa.Engine, how: str, ids: tuple[str, str]
) -> None:
    """DELETE (today's put_sender) or UPDATE of a missing id takes a gap lock under
    REPEATABLE READ; gap locks do not conflict, but each INSERT then waits for the other's:
    1213 for one (its whole transaction, audit row included, rolled back), the other wins."""
    assert ["1213", "ok"] == _interleave(maria, admin, how, ids)
    with maria.connect() as connection:
        assert [(1,)] == _run(connection, "SELECT count(*) FROM finding_audit")
        assert [(1,)] == _run(connection, "SELECT count(*) FROM finding_senders")


@pytest.mark.parametrize("ids", [("s-1", "s-1"), ("s-1", "s-2")], ids=["same-id", "other-ids"])
def test_e_upsert_in_the_same_interleaving_does_not_deadlock(
    maria: sa.Engine, admin: sa.Engine, ids: tuple[str, str]
) -> None:
    """INSERT ... ON DUPLICATE KEY UPDATE takes no gap lock first: the second waits for the
    first (same id) or does not wait at all (another id), and both commit."""
    assert ["ok", "ok"] == _interleave(maria, admin, "upsert", ids)
    with maria.connect() as connection:
        owners = _run(connection, "SELECT id, owner FROM finding_senders ORDER BY id")
    expected = (
        [("s-1", "Dueño 2")] if ids[0] == ids[1] else [("s-1", "Dueño 1"), ("s-2", "Dueño 2")]
    )
    assert expected == owners


SENDERS_DDL = {
    "mysql": mariadb_workers.CREATE_SENDERS,
    "postgresql": (
        'CREATE TABLE finding_senders (id VARCHAR(64) COLLATE "C" NOT NULL PRIMARY KEY,'
        " owner VARCHAR(255) NOT NULL, host VARCHAR(253) NOT NULL, secret BYTEA NOT NULL)"
    ),
    "sqlite": (
        "CREATE TABLE finding_senders (id VARCHAR(64) NOT NULL PRIMARY KEY,"
        " owner VARCHAR(255) NOT NULL, host VARCHAR(253) NOT NULL, secret BLOB NOT NULL)"
    ),
}
UPSERT = {
    "mysql": mariadb_workers._UPSERT,
    # PostgreSQL 9.5+ and SQLite 3.24+ share this spelling.
    "postgresql": mariadb_workers._INSERT
    + " ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, host = excluded.host,"
    " secret = excluded.secret",
}
UPSERT["sqlite"] = UPSERT["postgresql"]


def test_e_the_upsert_per_dialect(any_db: sa.Engine) -> None:
    """The replace-by-id as one statement: MariaDB's ON DUPLICATE KEY UPDATE (no ON CONFLICT
    there), PostgreSQL's and SQLite's ON CONFLICT (id) DO UPDATE. rowcount: 1 for an insert;
    for a replacement 2 on MariaDB (1 if nothing changed), 1 on the others."""
    name = any_db.dialect.name
    with any_db.begin() as connection:
        _run(connection, SENDERS_DDL[name])
        first = _count(connection, UPSERT[name], **_sender(1, "s-1"))
        replaced = _count(connection, UPSERT[name], **_sender(2, "s-1"))
        other = _count(connection, UPSERT[name], **_sender(3, "s-2"))
        rows = _run(connection, "SELECT id, owner FROM finding_senders ORDER BY id")
    replaced_count = {"mysql": 2, "postgresql": 1, "sqlite": 1}[name]
    assert (1, replaced_count, 1) == (first, replaced, other)
    assert [("s-1", "Dueño 2"), ("s-2", "Dueño 3")] == rows


def _empty_senders(maria: sa.Engine) -> Callable[[], None]:
    """The tables made once; emptied before each round."""
    with maria.begin() as connection:
        _run(connection, mariadb_workers.CREATE_SENDERS)
        _run(connection, AUDIT_DDL)

    def reset() -> None:
        with maria.begin() as connection:
            _run(connection, "DELETE FROM finding_senders")
            _run(connection, "DELETE FROM finding_audit")

    return reset


@pytest.mark.parametrize("same_id", [True, False], ids=["same-id", "own-ids"])
def test_e_four_processes_upserting_never_deadlock(
    mariadb_server: MariaDb, maria_pymysql: sa.Engine, same_id: bool
) -> None:
    """4 processes x 25 rounds, each putting a sender (one id for all, or one each) with an
    audit row in the same transaction, by INSERT ... ON DUPLICATE KEY UPDATE, no retry:
    every put works. (The same run with DELETE then INSERT: 3 to 6 in 100 got 1213.)"""
    url = mariadb_server.pymysql_url
    args = [(url, "upsert", number, same_id, 0) for number in range(4)]
    outcomes = _rounds(mariadb_workers.put_rounds, args, 25, _empty_senders(maria_pymysql))
    assert [["ok"] * 4] * 25 == outcomes


def test_e_four_processes_delete_insert_with_retry_all_succeed(
    mariadb_server: MariaDb, maria_pymysql: sa.Engine
) -> None:
    """Today's DELETE then INSERT, retried on a new transaction after 1213/1205/1062 (at most
    3 times): 4 processes x 25 rounds, every put ends well."""
    url = mariadb_server.pymysql_url
    args = [(url, "delete_insert", number, False, 3) for number in range(4)]
    outcomes = _rounds(mariadb_workers.put_rounds, args, 25, _empty_senders(maria_pymysql))
    assert all(o.startswith("ok") for round_outcomes in outcomes for o in round_outcomes), outcomes


def test_e_lost_race_errors_and_what_they_roll_back(maria: sa.Engine) -> None:
    """1213 rolls back the whole transaction (above); 1205 (lock wait timeout) only the
    statement: the transaction stays open with its earlier writes, and a COMMIT would keep
    them. 1062 is IntegrityError; 1213 and 1205 are OperationalError, in both drivers."""
    with maria.begin() as connection:
        _run(connection, mariadb_workers.CREATE_SENDERS)
        _run(connection, AUDIT_DDL)
        _run(connection, mariadb_workers._INSERT, **_sender(1, "s-1"))
    with maria.connect() as holder, maria.connect() as waiter:
        _run(holder, "UPDATE finding_senders SET host = 'a' WHERE id = 's-1'")
        _run(waiter, "SET SESSION innodb_lock_wait_timeout = 1")
        _run(waiter, "INSERT INTO finding_audit (kind) VALUES ('before the wait')")
        timeout = _failure(
            lambda: _run(waiter, "UPDATE finding_senders SET host = 'b' WHERE id = 's-1'")
        )
        still_open = _run(waiter, "SELECT kind FROM finding_audit")
        waiter.commit()
        holder.rollback()
        duplicate = _failure(lambda: _run(holder, mariadb_workers._INSERT, **_sender(2, "s-1")))
        holder.rollback()
    with maria.connect() as connection:
        kept = _run(connection, "SELECT kind FROM finding_audit")
    assert 1205 == error_code(timeout)
    assert isinstance(timeout, sa.exc.OperationalError)
    assert [("before the wait",)] == still_open == kept
    assert 1062 == error_code(duplicate)
    assert isinstance(duplicate, sa.exc.IntegrityError)


def test_e_deadlock_is_operational_error(maria: sa.Engine, admin: sa.Engine) -> None:
    """The exception class a deadlock arrives as, for the retry rule (by code, not class)."""
    with maria.begin() as connection:
        _run(connection, mariadb_workers.CREATE_SENDERS)
    caught: list[BaseException] = []
    with maria.connect() as first, maria.connect() as second:
        _run(first, "DELETE FROM finding_senders WHERE id = 's-1'")
        _run(second, "DELETE FROM finding_senders WHERE id = 's-1'")

        def insert_first() -> None:
            try:
                _run(first, mariadb_workers._INSERT, **_sender(1, "s-1"))
            except sa.exc.DBAPIError as error:
                caught.append(error)

        worker = threading.Thread(target=insert_first)
        worker.start()
        _wait_for_lock_wait(admin)
        try:
            _run(second, mariadb_workers._INSERT, **_sender(2, "s-1"))
        except sa.exc.DBAPIError as error:
            caught.append(error)
        second.rollback()
        worker.join(timeout=30)
        first.rollback()
    [deadlock] = caught
    assert isinstance(deadlock, sa.exc.OperationalError)
    assert 1213 == error_code(deadlock)
    assert "Deadlock found when trying to get lock" in str(deadlock.orig)


# -- (f) an aware datetime in another zone, as a bind parameter ---------------------------------


def test_f_drivers_send_the_wall_time_and_drop_the_offset(maria: sa.Engine) -> None:
    """Both drivers write an aware datetime as its own wall time, offset dropped: 03:04 UTC
    given as 21:04-06:00 is sent, and stored, as '2026-01-01 21:04:05.678901'."""
    mexican = AT.astimezone(MEXICO)
    raw = maria.raw_connection()
    try:
        if maria.dialect.driver == "pymysql":
            sent = raw.cursor().mogrify("SELECT %s, %s", (AT, mexican))  # type: ignore[attr-defined]
        else:
            literal = raw.dbapi_connection.literal  # type: ignore[union-attr]
            sent = f"SELECT {literal(AT).decode()}, {literal(mexican).decode()}"
    finally:
        raw.close()
    assert "SELECT '2026-01-02 03:04:05.678901', '2026-01-01 21:04:05.678901'" == sent
    TIMES.create_all(maria)
    with maria.begin() as connection:
        connection.execute(sa.insert(finding_times).values(id=1, fsp6=mexican))
        connection.execute(sa.insert(finding_times).values(id=2, fsp6=mexican.astimezone(UTC)))
        read = [utc(t) for (t,) in _run(connection, "SELECT fsp6 FROM finding_times ORDER BY id")]
    assert [AT - timedelta(hours=6), AT] == read


class UtcDateTime(sa.TypeDecorator[datetime]):
    """The portable time column: DATETIME(6) on MySQL/MariaDB, TIMESTAMP WITH TIME ZONE on
    PostgreSQL, SQLAlchemy's text on SQLite; aware datetimes only, bound in UTC, read as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[datetime]:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        return None if value is None else utc(value)


def test_f_what_each_database_gives_back_and_the_fix(any_db: sa.Engine) -> None:
    """The store's column type (DateTime(timezone=True)), written 21:04-06:00 and read back
    through records.utc(): 6 h early on MariaDB and on SQLite, right on PostgreSQL (and on
    MariaDB the microseconds are gone too). UtcDateTime: right on all three."""
    meta = sa.MetaData()
    table = sa.Table(
        "finding_audit",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("store_type", sa.DateTime(timezone=True)),
        sa.Column("fixed", UtcDateTime()),
    )
    meta.create_all(any_db)
    mexican = AT.astimezone(MEXICO)
    with any_db.begin() as connection:
        connection.execute(sa.insert(table).values(id=1, store_type=mexican, fixed=mexican))
        store_type, fixed = connection.execute(sa.select(table.c.store_type, table.c.fixed)).one()
    expected = {
        "mysql": AT.replace(microsecond=0) - timedelta(hours=6),
        "sqlite": AT - timedelta(hours=6),
        "postgresql": AT,
    }
    assert (expected[any_db.dialect.name], AT) == (utc(store_type), fixed)
    assert UTC == fixed.tzinfo


# -- (g) reserved words, and plain SQL with :name parameters on all three -----------------------

STORE_COLUMNS = sorted({c.name for t in server_store.metadata.tables.values() for c in t.columns})


def test_g_key_is_the_only_reserved_column_name_on_mariadb(maria: sa.Engine) -> None:
    """Of every column name the store uses, only `key` cannot be written bare on MariaDB
    (1064); SQLAlchemy Core quotes it itself (`key`), plain SQL must not use it."""
    refused = []
    with maria.connect() as connection:
        for name in STORE_COLUMNS:
            try:
                _run(connection, f"CREATE TABLE finding_word ({name} INTEGER)")
            except sa.exc.DBAPIError as error:
                refused.append((name, error_code(error)))
            else:
                select = f"SELECT {name} FROM finding_word WHERE {name} = 1 ORDER BY {name}"  # noqa: S608 (our own names)
                _run(connection, select)
                _run(connection, "DROP TABLE finding_word")
    assert [("key", 1064)] == refused
    assert {"key"} == set(STORE_COLUMNS) & maria.dialect.identifier_preparer.reserved_words


def test_g_double_quotes_are_a_string_on_mariadb(maria: sa.Engine) -> None:
    """ "key" is the string 'key' in MariaDB's default sql_mode (no ANSI_QUOTES), silently:
    the SELECT returns the word, the WHERE matches nothing, the UPDATE changes 0 rows."""
    with maria.begin() as connection:
        _run(connection, "CREATE TABLE finding_users (`key` VARCHAR(64) PRIMARY KEY, version INT)")
        _run(connection, "INSERT INTO finding_users (`key`, version) VALUES ('juan', 1)")
        selected = _run(connection, 'SELECT "key" FROM finding_users')
        where = _run(connection, "SELECT version FROM finding_users WHERE \"key\" = 'juan'")
        updated = _count(connection, "UPDATE finding_users SET version = 2 WHERE \"key\" = 'juan'")
        mode = _run(connection, "SELECT @@sql_mode LIKE '%ANSI_QUOTES%'")
    assert ([("key",)], [], 0, [(0,)]) == (selected, where, updated, mode)


def test_g_key_elsewhere(any_db: sa.Engine) -> None:
    """Bare `key` works on PostgreSQL and SQLite, not MariaDB; backticks work on MariaDB and
    SQLite, not PostgreSQL; double quotes quote on PostgreSQL and SQLite, and are a string
    (so no column name) on MariaDB. No one spelling of `key` serves all three."""
    name = any_db.dialect.name
    with any_db.connect() as connection:
        outcomes = []
        for spelling in ("key", "`key`", '"key"'):
            try:
                _run(connection, f"CREATE TABLE finding_users ({spelling} VARCHAR(64))")
                _run(connection, "INSERT INTO finding_users VALUES ('juan')")
                got = _run(connection, f"SELECT {spelling} FROM finding_users")  # noqa: S608
                outcomes.append(str(got[0][0]))
            except sa.exc.DBAPIError:
                outcomes.append("error")
            connection.rollback()
            if name != "postgresql":
                _run(connection, "DROP TABLE IF EXISTS finding_users")
                connection.commit()
    expected = {
        "mysql": ["error", "juan", "error"],
        "postgresql": ["juan", "error", "juan"],
        "sqlite": ["juan", "juan", "juan"],
    }
    assert expected[name] == outcomes


# Per dialect: the DDL. Every statement after it is one text shared by all three.
USERS_DDL = {
    "mysql": (
        "CREATE TABLE finding_users ("
        " login_key VARCHAR(255) NOT NULL PRIMARY KEY,"
        " display_name VARCHAR(255) NOT NULL,"
        " supervisor SMALLINT NOT NULL,"
        " secret LONGBLOB NOT NULL,"
        " notes LONGTEXT NOT NULL,"
        " version INTEGER NOT NULL"
        ") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    ),
    "postgresql": (
        "CREATE TABLE finding_users ("
        ' login_key VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,'
        " display_name VARCHAR(255) NOT NULL,"
        " supervisor SMALLINT NOT NULL,"
        " secret BYTEA NOT NULL,"
        " notes TEXT NOT NULL,"
        " version INTEGER NOT NULL)"
    ),
    "sqlite": (
        "CREATE TABLE finding_users ("
        " login_key VARCHAR(255) NOT NULL PRIMARY KEY,"
        " display_name VARCHAR(255) NOT NULL,"
        " supervisor SMALLINT NOT NULL,"
        " secret BLOB NOT NULL,"
        " notes TEXT NOT NULL,"
        " version INTEGER NOT NULL)"
    ),
}
INSERT_USER = (
    "INSERT INTO finding_users (login_key, display_name, supervisor, secret, notes, version)"
    " VALUES (:login_key, :display_name, :supervisor, :secret, :notes, 1)"
)
UPDATE_USER = (
    "UPDATE finding_users SET display_name = :display_name, supervisor = :supervisor,"
    " version = version + 1 WHERE login_key = :login_key AND version = :expected_version"
)
SELECT_USERS = (
    "SELECT login_key, display_name, supervisor, secret, notes, version"
    " FROM finding_users ORDER BY login_key"
)
DELETE_USER = "DELETE FROM finding_users WHERE login_key = :login_key"
BIG = 70_000  # over the 65,535 bytes of MariaDB's BLOB and TEXT


def test_g_one_plain_sql_text_on_all_three(any_db: sa.Engine) -> None:
    """INSERT, conditional UPDATE (rowcount 1, then 0 when stale; 1 when only the version
    changes), SELECT ... ORDER BY the binary key, DELETE (rowcount 1 then 0): the same text
    with :name parameters, the same results, once the DDL is per dialect. A boolean is a
    SMALLINT bound as int (0/1) and read back as int; blobs and texts over 64 KiB fit."""
    with any_db.begin() as connection:
        _run(connection, USERS_DDL[any_db.dialect.name])
        for number, word in enumerate(WORDS):
            _run(
                connection,
                INSERT_USER,
                login_key=word,
                display_name=f"Usuario {number}",
                supervisor=int(number % 2 == 0),
                secret=bytes(range(256)) if word != "ana" else b"\x00" * BIG,
                notes="ñ" * BIG if word == "ana" else "«nota»",
            )
    with any_db.begin() as connection:
        change = {"display_name": "Ana", "supervisor": 1}
        counts = [
            _count(connection, UPDATE_USER, **change, login_key="ana", expected_version=1),
            _count(connection, UPDATE_USER, **change, login_key="ana", expected_version=1),
            _count(connection, UPDATE_USER, **change, login_key="ana", expected_version=2),
            _count(connection, UPDATE_USER, **change, login_key="nadie", expected_version=1),
        ]
    with any_db.begin() as connection:
        rows = _run(connection, SELECT_USERS)
        supervisors = _run(
            connection,
            "SELECT count(*) FROM finding_users WHERE supervisor = :yes",
            yes=1,
        )
        deleted = [_count(connection, DELETE_USER, login_key=k) for k in ("josé", "josé", "JOSÉ")]
    assert [1, 0, 1, 0] == counts
    assert sorted(WORDS) == [r[0] for r in rows]
    ana = next(r for r in rows if r[0] == "ana")
    assert ("Ana", 1, b"\x00" * BIG, "ñ" * BIG, 3) == (
        ana[1],
        ana[2],
        bytes(ana[3]),
        ana[4],
        ana[5],
    )  # type: ignore[arg-type]
    assert {int} == {type(r[2]) for r in rows}
    assert {bytes(range(256))} == {bytes(r[3]) for r in rows if r[0] != "ana"}  # type: ignore[arg-type]
    assert [(8,)] == supervisors
    assert [1, 0, 0] == deleted


def test_g_a_python_bool_into_smallint(any_db: sa.Engine) -> None:
    """Bound as a Python bool, a SMALLINT flag is refused by PostgreSQL (psycopg sends a
    boolean) and taken by MariaDB and SQLite: bind int(flag)."""
    with any_db.begin() as connection:
        _run(connection, USERS_DDL[any_db.dialect.name])
    with any_db.connect() as connection:
        try:
            _run(
                connection,
                INSERT_USER,
                login_key="ana",
                display_name="Ana",
                supervisor=True,
                secret=b"",
                notes="",
            )
        except sa.exc.DBAPIError as error:
            outcome = str(error.orig).splitlines()[0]
        else:
            outcome = str(_run(connection, "SELECT supervisor FROM finding_users"))
    expected = {
        "mysql": "[(1,)]",
        "sqlite": "[(1,)]",
        "postgresql": 'column "supervisor" is of type smallint but expression is of type boolean',
    }
    assert expected[any_db.dialect.name] == outcome


def test_g_sqlalchemy_types_blob_and_text_are_64k_on_mariadb(maria: sa.Engine) -> None:
    """sa.LargeBinary and sa.Text (the store's secret, payload, detail, hashes) become BLOB
    and TEXT: 65,535 bytes, over that 1406 in strict mode. LONGBLOB / LONGTEXT hold it."""
    meta = sa.MetaData()
    table = sa.Table(
        "finding_blobs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("detail", sa.Text),
        sa.Column("long_payload", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")),
        sa.Column("long_detail", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
    )
    assert (
        "CREATE TABLE finding_blobs ( id INTEGER NOT NULL, payload BLOB, detail TEXT,"
        " long_payload LONGBLOB, long_detail LONGTEXT, PRIMARY KEY (id) )"
    ) == _ddl(table, mysql.dialect())
    meta.create_all(maria)
    with maria.connect() as connection:
        failures = [
            error_code(
                _failure(
                    lambda column=column, value=value: connection.execute(
                        sa.insert(table).values(id=1, **{column: value})
                    )
                )
            )
            for column, value in (("payload", b"x" * BIG), ("detail", "x" * BIG))
        ]
        connection.rollback()
        connection.execute(
            sa.insert(table).values(id=2, long_payload=b"x" * BIG, long_detail="ñ" * BIG)
        )
        kept = connection.execute(sa.select(table.c.long_payload, table.c.long_detail)).one()
    assert [1406, 1406] == failures
    assert (b"x" * BIG, "ñ" * BIG) == tuple(kept)


# -- (h) an origin over 255 characters ----------------------------------------------------------


def test_h_origin_over_255_characters(any_db: sa.Engine) -> None:
    """VARCHAR(255) counts characters: 255 emoji fit. 256 characters: MariaDB's strict mode
    refuses them (1406), PostgreSQL too (22001), SQLite keeps all 256."""
    meta = sa.MetaData()
    table = sa.Table(
        "finding_audit",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("origin", sa.String(255)),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    meta.create_all(any_db)
    with any_db.begin() as connection:
        connection.execute(sa.insert(table).values(id=1, origin="😀" * 255))
    with any_db.connect() as connection:
        try:
            connection.execute(sa.insert(table).values(id=2, origin="x" * 256))
            connection.commit()
        except sa.exc.DBAPIError as error:
            outcome = f"{type(error).__name__}: {str(error.orig).splitlines()[0]}"
            connection.rollback()
        else:
            kept = connection.execute(sa.select(table.c.origin).where(table.c.id == 2)).scalar_one()
            outcome = f"kept {len(kept)}"
        first = connection.execute(sa.select(table.c.origin).where(table.c.id == 1)).scalar_one()
    expected = {
        "mysql": "DataError: (1406, \"Data too long for column 'origin' at row 1\")",
        "postgresql": "DataError: value too long for type character varying(255)",
        "sqlite": "kept 256",
    }
    assert expected[any_db.dialect.name] == outcome
    assert "😀" * 255 == first


def test_h_the_error_per_driver_and_without_strict_mode(maria: sa.Engine) -> None:
    """Both drivers raise 1406 as DataError (but not 1366: see (c)). Without strict mode the
    value is cut to 255 characters, with warning 1265."""
    with maria.begin() as connection:
        _run(connection, "CREATE TABLE finding_audit (origin VARCHAR(255))")
    with maria.connect() as connection:
        strict = _failure(
            lambda: _run(connection, "INSERT INTO finding_audit VALUES (:o)", o="x" * 256)
        )
        connection.rollback()
        _run(connection, "SET SESSION sql_mode = ''")
        _run(connection, "INSERT INTO finding_audit VALUES (:o)", o="x" * 256)
        warnings = _run(connection, "SHOW WARNINGS")
        kept = _run(connection, "SELECT CHAR_LENGTH(origin) FROM finding_audit")
        connection.rollback()
    assert (1406, "DataError") == (error_code(strict), type(strict).__name__)
    assert [("Warning", 1265, "Data truncated for column 'origin' at row 1")] == warnings
    assert [(255,)] == kept


# -- (i) rowcount: matched rows, thanks to CLIENT_FOUND_ROWS --------------------------------------

CLIENT_FOUND_ROWS = 2


def _raw_connect(mariadb_server: MariaDb, driver: str, client_flag: int) -> object:
    if driver == "pymysql":
        import pymysql  # noqa: PLC0415

        return pymysql.connect(
            host="127.0.0.1",
            port=mariadb_server.port,
            user="pwrecovery",
            password="clave-de-prueba",
            database="pwrecovery",
            charset="utf8mb4",
            client_flag=client_flag,
        )
    import MySQLdb  # noqa: PLC0415

    return MySQLdb.connect(
        host="127.0.0.1",
        port=mariadb_server.port,
        user="pwrecovery",
        password="clave-de-prueba",
        database="pwrecovery",
        charset="utf8mb4",
        client_flag=client_flag,
    )


def test_i_rowcount_counts_matched_rows_through_sqlalchemy(
    mariadb_server: MariaDb, maria: sa.Engine
) -> None:
    """SQLAlchemy sets CLIENT_FOUND_ROWS for both drivers, so rowcount counts matched rows:
    an UPDATE that changes nothing still says 1. Without the flag (a bare driver
    connection, or connect_args={"client_flag": 0}, which replaces SQLAlchemy's) it says 0.
    SET version = version + 1 always changes the row: 1 either way; stale: 0."""
    flags = maria.dialect.create_connect_args(maria.url)[1]["client_flag"]
    with maria.begin() as connection:
        _run(
            connection,
            "CREATE TABLE finding_users"
            " (login_key VARCHAR(64) PRIMARY KEY, display_name VARCHAR(64), version INT)",
        )
        _run(connection, "INSERT INTO finding_users VALUES ('juan', 'Juan', 1)")
    same = "UPDATE finding_users SET display_name = 'Juan' WHERE login_key = 'juan'"
    bump = (
        "UPDATE finding_users SET version = version + 1 WHERE login_key = 'juan' AND version = %s"
    )
    with maria.begin() as connection:
        through_sqlalchemy = [
            _count(connection, same),
            _count(connection, bump.replace("%s", ":v"), v=1),
            _count(connection, bump.replace("%s", ":v"), v=1),
        ]
    bare = []
    for flag in (0, CLIENT_FOUND_ROWS):
        raw = _raw_connect(mariadb_server, maria.dialect.driver, flag)
        try:
            cursor = raw.cursor()  # type: ignore[attr-defined]
            cursor.execute("SELECT version FROM finding_users")
            (version,) = cursor.fetchone()
            bare.append(
                [
                    cursor.execute(same),
                    cursor.execute(bump, (version,)),
                    cursor.execute(bump, (version,)),
                ]
            )
            raw.commit()  # type: ignore[attr-defined]
        finally:
            raw.close()  # type: ignore[attr-defined]
    replaced = sa.create_engine(maria.url, connect_args={"client_flag": 0})
    try:
        with replaced.begin() as connection:
            without = _count(connection, same)
    finally:
        replaced.dispose()
    assert CLIENT_FOUND_ROWS == flags & CLIENT_FOUND_ROWS
    assert [1, 1, 0] == through_sqlalchemy
    assert [[0, 1, 0], [1, 1, 0]] == bare
    assert 0 == without


def test_i_upsert_rowcount(maria: sa.Engine) -> None:
    """INSERT ... ON DUPLICATE KEY UPDATE reports 1 for an insert, 2 for an update that
    changed the row, and (with CLIENT_FOUND_ROWS) 1 for one that changed nothing."""
    with maria.begin() as connection:
        _run(connection, mariadb_workers.CREATE_SENDERS)
        row = _sender(1, "s-1")
        counts = [
            _count(connection, mariadb_workers._UPSERT, **row),
            _count(connection, mariadb_workers._UPSERT, **{**row, "host": "otro"}),
            _count(connection, mariadb_workers._UPSERT, **{**row, "host": "otro"}),
        ]
    assert [1, 2, 1] == counts
