"""Several workstations at once on one store, for each shared store: a SQLite file, a
PostgreSQL server and a MariaDB server. Threads and processes race; nothing is lost, one
temporary password changes one password once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing import temporary_password_in, verification_code_in
from tests.helpers import NEW_PASSWORD, cheap_hasher, race_to_change
from tests.integration import workers
from tests.integration.workers import open_store, prepared, run_processes


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the workstations' shared store is: a file path or a server URL."""
    if request.param == "sqlite":
        return str(tmp_path / "empresa.db")
    if request.param == "mariadb":
        request.getfixturevalue("mariadb_engine")  # a server with no tables left over
        maria: str = request.getfixturevalue("mariadb_url")
        return maria
    request.getfixturevalue("postgres_engine")  # a server with no tables left over
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_the_whole_story(location: str) -> None:
    """Recovery, forced change and sign-in, as the seed flow, on the shared store."""
    mailer = pr.RecordingMailer()
    service = prepared(location, pr.generate_key(), mailer)
    service.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == service.authenticate("JUAN", NEW_PASSWORD).status


@pytest.mark.slow
def test_threads_race_for_one_temporary_password(location: str) -> None:
    """Eight threads, each with its own connection, try one temporary password: one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(location, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    services = [workers.workstation(location, key) for _ in range(8)]
    outcomes = race_to_change(services, "juan", temporary)
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials", "too_many_attempts"} >= set(outcomes)
    changes = [e for e in services[0].audit_trail("juan") if e.kind == "password_changed"]
    assert 1 == len(changes)


@pytest.mark.slow
def test_processes_race_for_one_temporary_password(location: str) -> None:
    """Three processes try the same temporary password at once: exactly one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(location, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    outcomes = run_processes(
        workers.race_to_change, [(location, key, temporary, n) for n in range(3)]
    )
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials"} >= set(outcomes)


@pytest.mark.slow
def test_four_busy_workstations_lose_nothing(location: str) -> None:
    """Four processes sign in and request recoveries together: no error, every event kept."""
    rounds = 10
    key = pr.generate_key()
    prepared(location, key, pr.RecordingMailer())
    already = len(open_store(location).audit_trail("juan"))
    outcomes = run_processes(workers.busy_workstation, [(location, key, rounds)] * 4)
    assert ["ok"] * 4 == outcomes
    kinds = [e.kind for e in open_store(location).audit_trail("juan")[already:]]
    for kind in ("signed_in", "sign_in_failed", "mail_sent", "temporary_password_issued"):
        assert 4 * rounds == kinds.count(kind), kind


@pytest.mark.slow
def test_two_outbox_workers_send_every_mail_once(location: str) -> None:
    """Ten queued mails, two worker processes at once: each mail sent exactly once."""
    key = pr.generate_key()
    mailer = pr.RecordingMailer()
    service = prepared(location, key, mailer)
    for number in range(10):
        login = f"usuario{number:02d}"
        service.add_user(login, "Clave larga del usuario 1")
        service.set_recovery_email(login, f"{login}@empresa.mx")
        service.confirm_recovery_email(login, verification_code_in(mailer.outbox[-1]))
        service.request_recovery(login, delivery="queued")
    outcomes = run_processes(workers.deliver_worker, [(location, key), (location, key)])
    assert 10 == sum(int(sent) for sent in outcomes)
    sent = [e for e in open_store(location).audit_trail() if e.kind == "queued_mail_sent"]
    assert 10 == len({e.detail["message"] for e in sent}) == len(sent)


@pytest.mark.slow
def test_two_outbox_workers_in_batches_send_every_mail_once(location: str) -> None:
    """Forty queued mails, two worker processes at once, each claiming batches of up to
    15: every mail is sent by exactly one of them, once, and the queue is empty after."""
    key = pr.generate_key()
    mailer = pr.RecordingMailer()
    prepared(location, key, mailer)
    service = pr.RecoveryService(
        store=open_store(location),
        mailer=mailer,
        secret_key=key,
        hasher=cheap_hasher(),
        policy=workers.BUSY_POLICY,  # the setup mails forty codes at once
    )
    logins = [f"usuario{number:02d}" for number in range(40)]
    for login in logins:
        service.add_user(login, "Clave larga del usuario 1")
        service.set_recovery_email(login, f"{login}@empresa.mx")
        service.confirm_recovery_email(login, verification_code_in(mailer.outbox[-1]))
        service.request_recovery(login, delivery="queued")
    outcomes = run_processes(workers.deliver_batches, [(location, key, 15), (location, key, 15)])
    assert [] == [outcome for outcome in outcomes if outcome.startswith("error")]
    sent = [address for outcome in outcomes for address in outcome.split("\n") if address]
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(sent)
    store = open_store(location)
    assert [] == store.due_messages(datetime(2100, 1, 1, tzinfo=UTC), 100)
    events = [e for e in store.audit_trail() if e.kind == "queued_mail_sent"]
    assert 40 == len({e.detail["message"] for e in events}) == len(events)
