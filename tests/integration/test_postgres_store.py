"""SqlAlchemyStore against a real PostgreSQL server on loopback: schema, concurrency, the
whole story. (The store contract suite runs over it too: tests/contract.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import pwrecovery as pr
from pwrecovery.adapters import sqlalchemy as server_store
from tests.integration import workers
from tests.integration.workers import run_processes


def test_schema_created_and_versioned(postgres_engine: sa.Engine) -> None:
    """Opening an empty database creates the tables and records the schema version."""
    pr.SqlAlchemyStore(postgres_engine)
    pr.SqlAlchemyStore(postgres_engine)  # a second open migrates nothing again
    with postgres_engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version FROM pwrecovery_schema")).all()
        tables = set(sa.inspect(connection).get_table_names())
    assert [(server_store.SCHEMA_VERSION,)] == versions
    assert {
        "pwrecovery_users",
        "pwrecovery_senders",
        "pwrecovery_audit",
        "pwrecovery_outbox",
    } <= tables


def test_newer_schema_is_refused(postgres_engine: sa.Engine) -> None:
    """A database written by a newer pwrecovery is refused, and left as it was."""
    pr.SqlAlchemyStore(postgres_engine)
    with postgres_engine.begin() as connection:
        connection.execute(sa.text("UPDATE pwrecovery_schema SET version = 99"))
    with pytest.raises(pr.StoreSchemaTooNew) as caught:
        pr.SqlAlchemyStore(postgres_engine)
    assert (99, server_store.SCHEMA_VERSION) == (caught.value.found, caught.value.supported)
    with postgres_engine.connect() as connection:
        assert 99 == connection.execute(sa.text("SELECT version FROM pwrecovery_schema")).scalar()


def test_two_processes_create_the_schema_together(
    postgres_engine: sa.Engine, postgres_url: str
) -> None:
    """Two workstations opening a new database at once: both work, the schema is made once."""
    outcomes = run_processes(workers.open_and_count, [(postgres_url,), (postgres_url,)])
    assert ["0", "0"] == outcomes
    with postgres_engine.connect() as connection:
        assert 1 == connection.execute(sa.text("SELECT count(*) FROM pwrecovery_schema")).scalar()


def test_server_unreachable_is_store_unavailable() -> None:
    """No server listening: StoreUnavailable, not a SQLAlchemy or driver error."""
    from pwrecovery.testing.smtp import free_port  # noqa: PLC0415

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with pytest.raises(pr.StoreUnavailable) as caught:
        pr.SqlAlchemyStore(engine)
    assert "base de datos de claves" in str(caught.value)
