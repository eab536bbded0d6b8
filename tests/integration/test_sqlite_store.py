"""SqliteStore on real files: schema, indexes, secrets at rest, several workstations at once."""

from __future__ import annotations

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
    temporary_password_in,
    verification_code_in,
)
from tests.integration.workers import prepared


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
