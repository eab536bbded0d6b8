"""SqlAlchemyStore on every database it is tested with: PostgreSQL (psycopg), MariaDB
(PyMySQL and mysqlclient) and SQLite. The schema, opening a new database from many
processes at once, and the mistakes a database's defaults would make. (The store contract
suite runs over these too: tests/contract; the workstation races: test_workstations.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import pwrecovery as pr
from pwrecovery.adapters._schema import SCHEMA_VERSION, TABLES
from tests.conftest import emptied
from tests.helpers import SMTP_PASSWORD, USER_PASSWORD, cheap_hasher, sender_settings
from tests.helpers import verify_address as confirm_address
from tests.integration import workers
from tests.integration.workers import run_processes
from tests.mariadb import MariaDb

SERVERS = ["postgresql", "mariadb-pymysql", "mariadb-mysqlclient", "sqlite"]


@pytest.fixture(params=SERVERS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no pwrecovery tables, by SQLAlchemy URL."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_engine")
        found: str = request.getfixturevalue("postgres_url")
    elif request.param.startswith("mariadb"):
        request.getfixturevalue("mariadb_engine")
        server: MariaDb = request.getfixturevalue("mariadb_server")
        found = server.mysqldb_url if request.param.endswith("mysqlclient") else server.pymysql_url
    else:
        found = f"sqlite:///{tmp_path / 'shared.db'}"
    return found


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def test_schema_created_and_versioned(url: str) -> None:
    """Opening an empty database creates every table and records the version once."""
    pr.SqlAlchemyStore(_engine(url))
    pr.SqlAlchemyStore(_engine(url))  # a second open migrates nothing again
    with _engine(url).connect() as connection:
        versions = connection.execute(sa.text("SELECT version FROM pwrecovery_schema")).all()
        tables = set(sa.inspect(connection).get_table_names())
    assert [(SCHEMA_VERSION,)] == versions
    assert {table.name for table in TABLES} <= tables


def test_newer_schema_is_refused(url: str) -> None:
    """A database written by a newer pwrecovery is refused, and left as it was."""
    pr.SqlAlchemyStore(_engine(url))
    with _engine(url).begin() as connection:
        connection.execute(sa.text("UPDATE pwrecovery_schema SET version = 99"))
    with pytest.raises(pr.StoreSchemaTooNew) as caught:
        pr.SqlAlchemyStore(_engine(url))
    assert (99, SCHEMA_VERSION) == (caught.value.found, caught.value.supported)


@pytest.mark.slow
def test_many_processes_create_the_schema_together(url: str) -> None:
    """Four workstations opening a new database at the same instant all work, and the schema
    is made once: a server-side lock on PostgreSQL and MariaDB, retries on SQLite. (Release 1
    lost most rounds on MariaDB to error 1050, "table exists".)"""
    if "mysqldb" in url:
        pytest.skip("the lock is the server's: PyMySQL's run proves it for MariaDB")
    processes = 4
    for _ in range(2):
        with _engine(url).begin() as connection:
            for table in reversed(TABLES):
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))
        outcomes = run_processes(workers.open_and_count, [(url,)] * processes)
        assert ["0"] * processes == outcomes
        with _engine(url).connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM pwrecovery_schema")).scalar()
        assert 1 == count


def test_the_story_keeps_exact_logins(url: str) -> None:
    """With only "jose" stored, "josé", "JOSÉ" and "jösé" are other logins on every database
    (MariaDB's default collation would match them): no sign-in as jose, no mail to jose, no
    lock on jose, none of jose's events; users() comes back in code point order."""
    mailer = pr.RecordingMailer(passwords={"envios@empresa.mx": SMTP_PASSWORD})
    service = pr.RecoveryService(
        store=pr.SqlAlchemyStore(_engine(url)),
        mailer=mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("jose", USER_PASSWORD)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    confirm_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_address(service, mailer, "jose", "jose@empresa.mx")
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("josé", USER_PASSWORD)
    with pytest.raises(pr.UnknownUser):
        service.request_recovery("JOSÉ")
    for _ in range(6):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            service.authenticate("jösé", "no es la clave")
    assert pr.LoginStatus.OK == service.authenticate("jose", USER_PASSWORD).status
    assert "jose" not in [e.login for e in service.audit_trail("josé")]
    for login in ("zeta", "Ñandú", "ana", "Óscar", "ıvan"):
        service.add_user(login, "Clave larga de prueba 1")
    keys = [user.login.casefold() for user in service.users()]
    assert sorted(keys) == keys


def test_times_keep_their_instant_and_microseconds(url: str) -> None:
    """A time given in another zone is stored as its instant, microseconds included
    (release 1 lost the microseconds on MariaDB and shifted non-UTC times by their offset)."""
    store = pr.SqlAlchemyStore(_engine(url))
    mexico = datetime(2026, 1, 1, 21, 4, 5, 678901).astimezone()
    event = pr.AuditEvent(kind="k", login="juan", at=mexico)
    store.append_audit([event])
    (stored,) = store.audit_trail()
    assert (mexico, 678901) == (stored.at, stored.at.astimezone(UTC).microsecond)


def test_origin_is_bounded_by_the_service(url: str) -> None:
    """An origin far over a column's width is cut by the service (to 128 characters), so a
    database that refuses long text (MariaDB, PostgreSQL) never fails the change it
    belongs to."""
    service = pr.RecoveryService(
        store=pr.SqlAlchemyStore(_engine(url)),
        mailer=pr.RecordingMailer(),
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("juan", USER_PASSWORD)
    service.authenticate("juan", USER_PASSWORD, origin="CAJA-" + "😀" * 500)
    origin = service.audit_trail("juan")[-1].origin
    assert origin is not None
    assert (128, "CAJA-😀") == (len(origin), origin[:6])


def test_server_unreachable_is_store_unavailable() -> None:
    """No server listening: StoreUnavailable, not a SQLAlchemy or driver error."""
    from pwrecovery.testing.smtp import free_port  # noqa: PLC0415

    for url in (
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres",
        f"mysql+pymysql://u:p@127.0.0.1:{free_port()}/pwrecovery?charset=utf8mb4",
    ):
        with pytest.raises(pr.StoreUnavailable) as caught:
            pr.SqlAlchemyStore(_engine(url))
        assert "base de datos de claves" in str(caught.value)


# -- MariaDB's defaults -----------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["latin1", "utf8mb3"])
def test_a_database_in_another_character_set_still_keeps_every_login(
    mariadb_server: MariaDb, charset: str
) -> None:
    """The tables declare utf8mb4 themselves: in a latin1 or utf8mb3 database, "Łukasz" and
    an emoji are stored and found (release 1 failed even the lookup, error 1267)."""
    name = f"pwrecovery_{charset}"
    admin = _engine(mariadb_server.url("pymysql", database="pwrecovery", query="charset=utf8mb4"))
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET {charset}"))
    url = mariadb_server.url("pymysql", database=name, query="charset=utf8mb4")
    store = pr.SqlAlchemyStore(_engine(url))
    service = pr.RecoveryService(
        store=store,
        mailer=pr.RecordingMailer(),
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    for login in ("Łukasz", "Ana 😀"):
        service.add_user(login, USER_PASSWORD)
        assert pr.LoginStatus.OK == service.authenticate(login, USER_PASSWORD).status
    assert ["Ana 😀", "Łukasz"] == [u.login for u in service.users()]


def test_a_connection_in_another_character_set_is_refused_clearly(mariadb_server: MariaDb) -> None:
    """A URL without charset=utf8mb4 that makes the connection latin1 is refused when the
    store opens, with a sentence saying what to add, not a driver's UnicodeEncodeError
    at the first accented login."""
    url = mariadb_server.url("pymysql", query="charset=latin1")
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.SqlAlchemyStore(_engine(url))
    assert "charset=utf8mb4" in str(caught.value)


def test_every_key_column_compares_by_code_point(mariadb_engine: sa.Engine) -> None:
    """Every column that keys or looks something up is utf8mb4_bin, the tables utf8mb4."""
    pr.SqlAlchemyStore(mariadb_engine)
    with mariadb_engine.connect() as connection:
        tables = connection.execute(
            sa.text(
                "SELECT table_name, table_collation FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name LIKE 'pwrecovery%'"
            )
        ).all()
        keys = connection.execute(
            sa.text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = DATABASE() AND column_name IN"
                " ('login_key', 'login', 'owner_key', 'user_key', 'id', 'fingerprint', 'name')"
                " AND data_type = 'varchar'"
            )
        ).all()
    assert {"utf8mb4_bin"} == {collation for _, collation in tables}
    assert {"utf8mb4_bin"} == {collation for _, _, collation in keys}


def test_engine_with_a_fresh_database_has_no_tables(mariadb_server: MariaDb) -> None:
    """The fixture's database starts empty (the check above would otherwise prove nothing)."""
    engine = emptied(mariadb_server.pymysql_url)
    with engine.connect() as connection:
        assert not [t for t in sa.inspect(connection).get_table_names() if "pwrecovery" in t]
