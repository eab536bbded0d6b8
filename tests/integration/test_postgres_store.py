"""SqlAlchemyStore against a real PostgreSQL server on loopback: schema, concurrency, the
whole story. (The store contract suite runs over it too: tests/contract.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import pwrecovery as pr
from pwrecovery.adapters import sqlalchemy as server_store
from pwrecovery.testing import temporary_password_in
from tests.helpers import NEW_PASSWORD, race_to_change
from tests.integration import workers
from tests.integration.test_sqlite_store import prepared, run_processes


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


def test_threads_race_for_one_temporary_password(
    postgres_engine: sa.Engine, postgres_url: str
) -> None:
    """Eight threads, each with its own engine, try one temporary password: one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(postgres_url, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    services = [workers.workstation(postgres_url, key) for _ in range(8)]
    outcomes = race_to_change(services, "juan", temporary)
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials", "too_many_attempts"} >= set(outcomes)


def test_processes_race_for_one_temporary_password(
    postgres_engine: sa.Engine, postgres_url: str
) -> None:
    """Three processes on one server try the same temporary password: exactly one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(postgres_url, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    outcomes = run_processes(
        workers.race_to_change, [(postgres_url, key, temporary, n) for n in range(3)]
    )
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials"} >= set(outcomes)


def test_four_busy_workstations_lose_nothing(postgres_engine: sa.Engine, postgres_url: str) -> None:
    """Four processes sign in and request recoveries together: no error, every event kept."""
    rounds = 10
    key = pr.generate_key()
    prepared(postgres_url, key, pr.RecordingMailer())
    already = len(pr.SqlAlchemyStore(postgres_engine).audit_trail("juan"))
    outcomes = run_processes(workers.busy_workstation, [(postgres_url, key, rounds)] * 4)
    assert ["ok"] * 4 == outcomes
    kinds = [e.kind for e in pr.SqlAlchemyStore(postgres_engine).audit_trail("juan")[already:]]
    for kind in ("signed_in", "sign_in_failed", "mail_sent", "temporary_password_issued"):
        assert 4 * rounds == kinds.count(kind), kind


def test_queued_delivery_with_two_workers(postgres_engine: sa.Engine, postgres_url: str) -> None:
    """Ten queued mails, two worker processes on the server: each mail sent exactly once."""
    key = pr.generate_key()
    mailer = pr.RecordingMailer()
    service = prepared(postgres_url, key, mailer)
    for number in range(10):
        login = f"usuario{number}"
        service.add_user(login, "Clave larga del usuario 1")
        service.set_recovery_email(login, f"{login}@empresa.mx")
        from pwrecovery.testing import verification_code_in  # noqa: PLC0415

        service.confirm_recovery_email(login, verification_code_in(mailer.outbox[-1]))
        service.request_recovery(login, delivery="queued")
    outcomes = run_processes(workers.deliver_worker, [(postgres_url, key), (postgres_url, key)])
    assert 10 == sum(int(sent) for sent in outcomes)


def test_the_whole_story_on_postgresql(postgres_engine: sa.Engine) -> None:
    """Recovery, forced change and sign-in over the server store."""
    mailer = pr.RecordingMailer()
    from tests.helpers import cheap_hasher, sender_settings, verify_address  # noqa: PLC0415

    service = pr.RecoveryService(
        store=pr.SqlAlchemyStore(postgres_engine),
        mailer=mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    service.configure_sender("SUPERVISOR", sender_settings(), "smtp-app-password")
    verify_address(service, mailer, "SUPERVISOR", "s@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    service.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == service.authenticate("JUAN", NEW_PASSWORD).status
