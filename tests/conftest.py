"""Shared fixtures: a service over the in-memory adapters with a cheap hasher."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

import pwrecovery as pr
from pwrecovery.adapters._schema import TABLES
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    sender_settings,
    verify_address,
)
from tests.mariadb import MariaDb, mariadb_bin, running_mariadb
from tests.mta import MTA_ACCOUNTS, MTA_MAILBOXES, Mta, mta_missing, running_mta
from tests.postgres import postgres_bin, running_postgres

pytest_plugins = ["pwrecovery.testing.plugin"]

# No per-example deadline: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("pwrecovery", deadline=None)
settings.load_profile("pwrecovery")

ServiceFactory = Callable[..., pr.RecoveryService]


@pytest.fixture(autouse=True)
def _stores_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every ``SqliteStore`` a test opens in this process is closed when the test ends, as a
    host closes its store at exit. Python 3.13 warns about an SQLite connection left for the
    garbage collector, and that warning (an error here) would land on whichever later test
    happens to be running when the collector passes. Only the tests leave stores open: the
    library closes every store it opens itself (the CLI, the demo)."""
    opened: list[pr.SqliteStore] = []
    original = pr.SqliteStore.__init__

    def tracked(store: pr.SqliteStore, *args: object, **kwargs: object) -> None:
        original(store, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(store)

    monkeypatch.setattr(pr.SqliteStore, "__init__", tracked)
    yield
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback for the whole run (skipped where none is installed)."""
    if postgres_bin() is None:
        reason = "PostgreSQL server binaries are not installed (apt-get install postgresql)"
        if os.environ.get("PWRECOVERY_REQUIRE_POSTGRES"):
            pytest.fail(reason)  # CI installs them: there a skip would hide a gap
        pytest.skip(reason)
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def mta() -> Iterator[Mta]:
    """A real Postfix + Dovecot on loopback for the whole run (skipped where none is
    installed): STARTTLS and implicit-TLS listeners, SASL AUTH, Maildir delivery."""
    reason = mta_missing()
    if reason is not None:
        if os.environ.get("PWRECOVERY_REQUIRE_POSTFIX"):
            pytest.fail(reason)  # CI installs them: there a skip would hide a gap
        pytest.skip(reason)
    # Not under pytest's tmp_path: its folders are private to root, and Postfix's daemons
    # run as the postfix user.
    folder = Path(tempfile.mkdtemp(prefix="pwrecovery-mta-"))
    with running_mta(folder, MTA_ACCOUNTS, mailboxes=MTA_MAILBOXES) as server:
        yield server


@pytest.fixture
def empty_mta(mta: Mta) -> Mta:
    """The session's MTA with its queue drained and every mailbox emptied."""
    mta.reset()
    return mta


def emptied(url: str) -> sa.Engine:
    """An engine on a test server, with no pwrecovery tables left from an earlier test."""
    engine = sa.create_engine(url, pool_size=10)
    names = [table.name for table in TABLES]
    names += [f"r1_{name}" for name in names]  # release 1's tables, moved aside by a migration
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {', '.join(names)}"))
    return engine


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[sa.Engine]:
    """An engine on the PostgreSQL server, with no pwrecovery tables."""
    engine = emptied(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDb]:
    """A real MariaDB server on loopback for the whole run (skipped where none is installed)."""
    if mariadb_bin() is None:
        reason = "MariaDB server binaries are not installed (apt-get install mariadb-server)"
        if os.environ.get("PWRECOVERY_REQUIRE_MARIADB"):
            pytest.fail(reason)  # CI installs them: there a skip would hide a gap
        pytest.skip(reason)
    with running_mariadb() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_url(mariadb_server: MariaDb) -> str:
    """The test database on that server, through PyMySQL (the ``mysql`` extra's driver)."""
    return mariadb_server.pymysql_url


@pytest.fixture
def mariadb_engine(mariadb_url: str) -> Iterator[sa.Engine]:
    """An engine on the MariaDB server, with no pwrecovery tables."""
    engine = emptied(mariadb_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> pr.ManualClock:
    return pr.ManualClock()


@pytest.fixture
def mailer() -> pr.RecordingMailer:
    return pr.RecordingMailer(passwords={"envios@empresa.mx": SMTP_PASSWORD})


@pytest.fixture
def store() -> pr.InMemoryStore:
    return pr.InMemoryStore()


@pytest.fixture
def secret_key() -> str:
    return pr.generate_key()


@pytest.fixture
def make_service(
    store: pr.Store, mailer: pr.Mailer, clock: pr.ManualClock, secret_key: str
) -> ServiceFactory:
    """Build a service on the shared store, mailer and clock; keywords override."""

    def make(**overrides: object) -> pr.RecoveryService:
        options: dict[str, object] = {
            "store": store,
            "mailer": mailer,
            "secret_key": secret_key,
            "hasher": cheap_hasher(),
            "clock": clock,
        }
        options.update(overrides)
        return pr.RecoveryService(**options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def service(make_service: ServiceFactory) -> pr.RecoveryService:
    """A supervisor and a user; no sender and no recovery address yet."""
    svc = make_service()
    svc.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True, display_name="Supervisor")
    svc.add_user("juan", USER_PASSWORD, display_name="Juan Pérez")
    return svc


@pytest.fixture
def ready(service: pr.RecoveryService, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    """The vendor's prerequisites met: a checked sender, both addresses verified."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    mailer.outbox.clear()
    return service
