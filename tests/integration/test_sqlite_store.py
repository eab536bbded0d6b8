"""SqliteStore on real files: schema, indexes, secrets at rest, several workstations at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.adapters import sqlite as sqlite_adapter
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    race_to_change,
    sender_settings,
    temporary_password_in,
    verification_code_in,
    verify_address,
)
from tests.integration import workers


def prepared(path: Path | str, key: str, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    """A store (file or server URL) with a supervisor, juan, a sender, addresses verified."""
    service = pr.RecoveryService(
        store=workers.open_store(path), mailer=mailer, secret_key=key, hasher=cheap_hasher()
    )
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", USER_PASSWORD)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    return service


def test_schema_created_and_versioned(db_path: Path) -> None:
    """Opening a new file creates the schema and records its version in user_version."""
    pr.SqliteStore(db_path).close()
    with sqlite3.connect(db_path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert sqlite_adapter.SCHEMA_VERSION == version
    assert {"users", "senders", "audit"} <= tables
    assert "wal" == mode


def test_reopening_keeps_data(db_path: Path) -> None:
    """A second open of the same file sees what the first wrote and migrates nothing again."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(db_path, key, mailer)
    again = pr.RecoveryService(
        store=pr.SqliteStore(db_path), mailer=mailer, secret_key=key, hasher=cheap_hasher()
    )
    assert ["juan", "SUPERVISOR"] == [u.login for u in again.users()]
    assert again.get_user("juan").recovery_email_verified is True
    assert 1 == len(again.senders())


def test_newer_schema_is_refused(db_path: Path) -> None:
    """A file written by a newer pwrecovery is refused and left untouched."""
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(pr.StoreSchemaTooNew) as caught:
        pr.SqliteStore(db_path)
    assert (99, sqlite_adapter.SCHEMA_VERSION) == (caught.value.found, caught.value.supported)
    assert "99" in str(caught.value)
    with sqlite3.connect(db_path) as connection:
        assert 99 == connection.execute("PRAGMA user_version").fetchone()[0]
        assert [] == connection.execute("SELECT name FROM sqlite_master").fetchall()


def test_not_a_database(db_path: Path) -> None:
    """A file that is not SQLite gives StoreUnavailable, not an sqlite3 error."""
    db_path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(pr.StoreUnavailable):
        pr.SqliteStore(db_path)


def test_migration_from_an_empty_versioned_file(db_path: Path) -> None:
    """An empty file at version 0 is migrated to the current schema in one transaction."""
    sqlite3.connect(db_path).close()
    with pr.SqliteStore(db_path) as store:
        assert [] == store.list_users()
    with sqlite3.connect(db_path) as connection:
        assert (
            sqlite_adapter.SCHEMA_VERSION == connection.execute("PRAGMA user_version").fetchone()[0]
        )


@pytest.mark.parametrize(
    ("query", "args", "index"),
    [
        (f"{sqlite_adapter._SELECT_USER} WHERE key = ?", ("juan",), "sqlite_autoindex_users_1"),
        (sqlite_adapter._HAS_VERIFIED_SUPERVISOR, (), "users_verified_supervisors"),
        (
            f"{sqlite_adapter._SELECT_AUDIT} WHERE login_key = ? ORDER BY id",
            ("juan",),
            "audit_by_login",
        ),
        (f"{sqlite_adapter._SELECT_SENDER} ORDER BY s.id", (), "sqlite_autoindex_users_1"),
        (
            "UPDATE users SET version = 2 WHERE key = ? AND version = ?",
            ("juan", 1),
            "sqlite_autoindex_users_1",
        ),
    ],
)
def test_lookups_use_indexes(
    db_path: Path, query: str, args: tuple[object, ...], index: str
) -> None:
    """No per-user operation scans the users table: its cost does not grow with the users."""
    pr.SqliteStore(db_path).close()
    with sqlite3.connect(db_path) as connection:
        plan = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {query}", args)]
    assert any(index in line for line in plan), plan
    full_scans = [line for line in plan if line.startswith("SCAN users") and "INDEX" not in line]
    assert [] == full_scans


def test_no_secret_in_the_file(db_path: Path) -> None:
    """Only hashes and AES-GCM blobs reach the file (and its WAL): no secret in plain text."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    service = prepared(db_path, key, mailer)
    codes = [verification_code_in(m) for m in mailer.outbox]
    service.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    service.request_recovery("juan")
    pending = temporary_password_in(mailer.outbox[-1])
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(f"{db_path.name}*"))
    secrets = [
        USER_PASSWORD,
        SUPERVISOR_PASSWORD,
        NEW_PASSWORD,
        SMTP_PASSWORD,
        key,
        temporary,
        pending,
        *codes,
    ]
    for secret in secrets:
        assert secret.encode() not in raw, f"a secret of length {len(secret)} is in the file"
    assert b"$argon2id$" in raw


def test_threads_race_for_one_temporary_password(db_path: Path) -> None:
    """Eight threads, each with its own connection, try one temporary password: one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(db_path, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    services = [workers.workstation(db_path, key) for _ in range(8)]
    outcomes = race_to_change(services, "juan", temporary)
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials", "too_many_attempts"} >= set(outcomes)
    changes = [e for e in services[0].audit_trail("juan") if e.kind == "password_changed"]
    assert 1 == len(changes)


def run_processes(target: object, args_for: list[tuple[object, ...]]) -> list[str]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(len(args_for))
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for args in args_for
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert 0 == process.exitcode
    return outcomes


def test_processes_race_for_one_temporary_password(db_path: Path) -> None:
    """Three processes on one file try the same temporary password: exactly one wins."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(db_path, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    outcomes = run_processes(
        workers.race_to_change, [(db_path, key, temporary, n) for n in range(3)]
    )
    assert 1 == outcomes.count("ok")
    assert {"ok", "invalid_credentials"} >= set(outcomes)


def test_four_busy_workstations_lose_nothing(db_path: Path) -> None:
    """Four processes sign in and request recoveries together: no error, every event kept."""
    rounds = 15
    key = pr.generate_key()
    prepared(db_path, key, pr.RecordingMailer())
    with pr.SqliteStore(db_path) as store:
        already = len(store.audit_trail("juan"))
    outcomes = run_processes(workers.busy_workstation, [(db_path, key, rounds)] * 4)
    assert ["ok"] * 4 == outcomes
    with pr.SqliteStore(db_path) as store:
        kinds = [e.kind for e in store.audit_trail("juan")[already:]]
    for kind in ("signed_in", "sign_in_failed", "mail_sent", "temporary_password_issued"):
        assert 4 * rounds == kinds.count(kind), kind
