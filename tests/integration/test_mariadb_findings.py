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
            connection.execute(sa.text("DROP TABLE IF EXISTS finding_users, finding_audit"))
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
        as_text = _run(connection, "SELECT CAST(plain AS CHAR), CAST(fsp6 AS CHAR) FROM finding_times")
    assert "`plain` datetime DEFAULT NULL" in created
    assert "`fsp6` datetime(6) DEFAULT NULL" in created
    assert [(datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, 678901))] == stored
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
            error_code(_failure(lambda v=v: _run(connection, "INSERT INTO finding_keys VALUES (:v)", v=v)))
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
    plain = "CREATE TABLE finding_users ( login_key VARCHAR(255) NOT NULL, PRIMARY KEY (login_key) )"
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
                    error_code(_failure(lambda: _run(connection, "INSERT INTO finding_names VALUES ('😀')"))),
                    error_code(_failure(lambda: _run(connection, "SELECT k FROM finding_names WHERE k = '😀'"))),
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
