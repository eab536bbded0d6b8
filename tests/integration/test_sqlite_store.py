"""SqliteStore on real files: schema, indexes, secrets at rest, several workstations at once."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.adapters._schema import SCHEMA_VERSION
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    raw_sqlite,
    temporary_password_in,
    verification_code_in,
    verify_address,
)
from tests.integration.workers import prepared


def test_schema_created_and_versioned(db_path: Path) -> None:
    """Opening a new file creates the schema and records its version in user_version."""
    pr.SqliteStore(db_path).close()
    with raw_sqlite(db_path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert SCHEMA_VERSION == version
    assert {"pwrecovery_users", "pwrecovery_senders", "pwrecovery_audit"} <= tables
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
    with raw_sqlite(db_path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(pr.StoreSchemaTooNew) as caught:
        pr.SqliteStore(db_path)
    assert (99, SCHEMA_VERSION) == (caught.value.found, caught.value.supported)
    assert "99" in str(caught.value)
    with raw_sqlite(db_path) as connection:
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
    with raw_sqlite(db_path) as connection:
        assert SCHEMA_VERSION == connection.execute("PRAGMA user_version").fetchone()[0]


USER = "SELECT login_key FROM pwrecovery_users"


@pytest.mark.parametrize(
    ("query", "args", "index"),
    [
        (f"{USER} WHERE login_key = ?", ("juan",), "sqlite_autoindex_pwrecovery_users_1"),
        (
            f"{USER} WHERE supervisor = 1 AND recovery_email_verified = 1",
            (),
            "pwrecovery_users_supervisors",
        ),
        (
            "SELECT kind FROM pwrecovery_audit WHERE login_key = ? ORDER BY id",
            ("juan",),
            "pwrecovery_audit_by_login",
        ),
        (
            "SELECT id FROM pwrecovery_outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at",
            ("2026",),
            "pwrecovery_outbox_due",
        ),
        (
            "SELECT fingerprint FROM pwrecovery_throttles WHERE fingerprint = ?",
            ("#0",),
            "sqlite_autoindex_pwrecovery_throttles_1",
        ),
        (
            "UPDATE pwrecovery_users SET version = 2 WHERE login_key = ? AND version = ?",
            ("juan", 1),
            "sqlite_autoindex_pwrecovery_users_1",
        ),
    ],
)
def test_lookups_use_indexes(
    db_path: Path, query: str, args: tuple[object, ...], index: str
) -> None:
    """No per-user operation scans a table: its cost does not grow with the users."""
    pr.SqliteStore(db_path).close()
    with raw_sqlite(db_path) as connection:
        plan = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {query}", args)]
    assert any(index in line for line in plan), plan
    full_scans = [line for line in plan if line.startswith("SCAN") and "INDEX" not in line]
    assert [] == full_scans


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_file_and_its_journal_are_private(db_path: Path) -> None:
    """The store, its -wal and its -shm are readable by their owner only (0600), whatever
    the umask (release 1 left them 0644 for every co-worker to read)."""
    old = os.umask(0o022)
    try:
        mailer = pr.RecordingMailer()
        prepared(db_path, pr.generate_key(), mailer)
        with pr.SqliteStore(db_path) as store:
            store.list_users()
            modes = {
                path.name: stat.S_IMODE(path.stat().st_mode)
                for path in db_path.parent.glob(f"{db_path.name}*")
            }
    finally:
        os.umask(old)
    assert {db_path.name, f"{db_path.name}-wal", f"{db_path.name}-shm"} <= set(modes)
    assert {0o600} == set(modes.values())


def test_secure_delete_is_on(db_path: Path) -> None:
    """Deleted rows are overwritten, not left in free pages."""
    with pr.SqliteStore(db_path) as store:
        assert 1 == store._connection.execute("PRAGMA secure_delete").fetchone()[0]


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


def test_a_delivered_batch_leaves_nothing_in_the_files(db_path: Path) -> None:
    """After a run of the worker on a SQLite file, the mails it sent leave nothing behind:
    their rows were overwritten (``secure_delete``) and the WAL that still held their
    pages was truncated once the batch was deleted. The Message-ID tokens that only the
    queue held are in no byte of the database or its WAL, and the WAL is empty."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    service = prepared(db_path, key, mailer)
    logins = [f"usuario{number:02d}" for number in range(12)]
    for login in logins:
        service.add_user(login, USER_PASSWORD)
        verify_address(service, mailer, login, f"{login}@empresa.mx")
        service.request_recovery(login, delivery="queued")
    store = pr.SqliteStore(db_path)
    queued = store.due_messages(datetime(2100, 1, 1, tzinfo=UTC), 100)
    tokens = [json.loads(m.payload)["message_token"].encode("ascii") for m in queued]
    assert 12 == len(tokens)
    assert pr.DeliveryReport(sent=12) == service.deliver_pending()
    store.close()
    wal = db_path.with_name(f"{db_path.name}-wal")
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(f"{db_path.name}*"))
    assert (0, []) == (
        wal.stat().st_size if wal.exists() else 0,
        [token for token in tokens if token in raw],
    )


@pytest.mark.parametrize("typed", [USER_PASSWORD, "no es la clave"], ids=["right", "wrong"])
def test_a_taken_attempt_is_synced_by_the_commit_of_the_answer(db_path: Path, typed: str) -> None:
    """A sign-in's attempt, written before its hash is checked and recording no event, is
    committed without its own fsync (synchronous NORMAL); the commit of the answer's
    event, with FULL, syncs the log and the attempt with it before the answer is given.
    The connection is left at FULL for every other write."""
    store = pr.SqliteStore(db_path)
    service = pr.RecoveryService(
        store=store,
        mailer=pr.RecordingMailer(),
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("juan", USER_PASSWORD)
    service.authenticate("juan", USER_PASSWORD)  # the service's first prune is behind it
    statements: list[str] = []
    store._connection.set_trace_callback(statements.append)
    with contextlib.suppress(pr.InvalidCredentials):
        service.authenticate("juan", typed)
    store._connection.set_trace_callback(None)
    transactions = [
        s for s in statements if s.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT"))
    ]
    assert [
        "PRAGMA synchronous = NORMAL",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "PRAGMA synchronous = FULL",
        "BEGIN IMMEDIATE",
        "COMMIT",
    ] == transactions
    assert 2 == store._connection.execute("PRAGMA synchronous").fetchone()[0]  # FULL
    events = [event.kind for event in service.audit_trail("juan")]
    assert ("signed_in" if typed == USER_PASSWORD else "sign_in_failed") == events[-1]
