"""Stores written by release 1 open in release 2, carried forward with nothing lost.

The files in tests/fixtures/release1/ were written by release 1's own code
(tests/fixtures/release1/make.py): SqliteStore at schemas 1, 2 and 3, and SqlAlchemyStore
on SQLite (its server layout). The PostgreSQL database is rebuilt from the latter with
release 1's table definitions.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import pwrecovery as pr
from pwrecovery.adapters._schema import SCHEMA_VERSION
from pwrecovery.testing import cheap_hasher, temporary_password_in
from tests.helpers import raw_sqlite

FIXTURES = Path(__file__).parent.parent / "fixtures" / "release1"
KEY = "bWlncmF0aW9uLXRlc3Qta2V5LTMyLWJ5dGVzLWxvbmc="
SMTP_PASSWORD = "smtp-app-password-r1"
PASSWORDS = {"SUPERVISOR": "Supervisor de 2026", "juan": "Caballo azul 77"}


def _copy(name: str, tmp_path: Path) -> tuple[Path, dict[str, object]]:
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target, json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


# make.py ran its story at 2026-06-01 12:00 UTC; the service here acts minutes later, so
# that the code it left pending is still valid.
LATER = datetime(2026, 6, 1, 12, 10, tzinfo=UTC)


def _service(store: pr.Store, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    return pr.RecoveryService(
        store=store,
        mailer=mailer,
        secret_key=KEY,
        hasher=cheap_hasher(),
        clock=pr.ManualClock(LATER),
    )


def _check_carried_forward(store: pr.Store, sidecar: dict[str, object], queued: bool) -> None:
    """What every migrated store must show (the story of make.py)."""
    mailer = pr.RecordingMailer(passwords={"envios@empresa.mx": SMTP_PASSWORD})
    service = _service(store, mailer)
    users = {u.login: u for u in service.users()}
    assert ["María", "SUPERVISOR", "juan"] == sorted(users)
    assert (True, True, True, False) == (
        users["SUPERVISOR"].supervisor,
        users["juan"].recovery_email_verified,
        users["SUPERVISOR"].recovery_email_verified,
        users["María"].recovery_email_verified,
    )
    trail = service.audit_trail()
    kinds = [e.kind for e in trail]
    assert sidecar["events"] == len(
        [e for e in trail if e.detail.get("reason") != "schema_upgrade"]
    )
    upgraded = [e.login for e in trail if e.detail.get("reason") == "schema_upgrade"]
    # juan's pending temporary password (and the supervisor's queued one) are revoked
    assert ["juan", *(["SUPERVISOR"] * 2 if queued else [])] == sorted(upgraded, key=str.lower)
    assert "queued_mail_dropped" not in kinds or queued
    # The ordinary passwords still sign in; juan's three failures still count.
    juan = store.get_user("juan")
    assert juan is not None
    assert (3, None) == (juan.sign_in.failures, juan.temporary)
    for login, password in PASSWORDS.items():
        assert pr.LoginStatus.OK == service.authenticate(login, password).status
    # The pending code still confirms María's address.
    service.confirm_recovery_email("María", str(sidecar["maria_code"]))
    assert service.get_user("maría").recovery_email_verified
    # The sender's release 1 secret opens with the key, is resealed bound to its settings,
    # and a recovery goes out with a working grouped temporary password.
    sent = service.request_recovery("juan")
    assert "j***@empresa.mx" == sent.masked_address
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
    [sender] = store.list_senders()
    assert b"\x02" == sender.secret[:1]
    assert "sender_secret_resealed" in [e.kind for e in service.audit_trail()]


@pytest.mark.parametrize(
    ("name", "queued"), [("schema1.db", False), ("schema2.db", False), ("schema3.db", True)]
)
def test_release_1_sqlite_files_are_carried_forward(
    tmp_path: Path, name: str, queued: bool
) -> None:
    """A SQLite file of release 1 at schema 1, 2 or 3 opens, migrated in one transaction to
    the shared layout, its users, addresses, senders, failures and audit trail intact."""
    path, sidecar = _copy(name, tmp_path)
    with pr.SqliteStore(path) as store:
        _check_carried_forward(store, sidecar, queued)
    with raw_sqlite(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert SCHEMA_VERSION == version
    assert not {"users", "senders", "audit", "outbox"} & tables


def test_a_migrated_file_is_refused_by_release_1(tmp_path: Path) -> None:
    """Release 1 reads PRAGMA user_version: a migrated file says 4, which it refuses."""
    path, _ = _copy("schema3.db", tmp_path)
    pr.SqliteStore(path).close()
    with raw_sqlite(path) as connection:
        assert 3 < connection.execute("PRAGMA user_version").fetchone()[0]


def test_release_1_server_layout_on_sqlite_is_carried_forward(tmp_path: Path) -> None:
    """A database SqlAlchemyStore of release 1 wrote (here on SQLite) opens in
    SqlAlchemyStore and in SqliteStore alike."""
    path, sidecar = _copy("server.db", tmp_path)
    store = pr.SqlAlchemyStore(sa.create_engine(f"sqlite:///{path}"))
    _check_carried_forward(store, sidecar, queued=True)
    store.close()
    (tmp_path / "again").mkdir()
    again, _ = _copy("server.db", tmp_path / "again")
    with pr.SqliteStore(again) as sqlite_store:
        assert 3 == len(sqlite_store.list_users())


# -- PostgreSQL -----------------------------------------------------------------------------


def _release_1_tables(metadata: sa.MetaData) -> None:
    """Release 1's server tables, as its SqlAlchemyStore declared them."""
    key, time = sa.String(255), sa.DateTime(timezone=True)
    sa.Table("pwrecovery_schema", metadata, sa.Column("version", sa.Integer, nullable=False))
    sa.Table(
        "pwrecovery_users",
        metadata,
        sa.Column("key", key, primary_key=True),
        sa.Column("login", key, nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("supervisor", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("recovery_email", sa.String(320)),
        sa.Column("recovery_email_verified", sa.Boolean, nullable=False),
        sa.Column("pending_code_hash", sa.Text),
        sa.Column("pending_expires_at", time),
        sa.Column("pending_attempts", sa.Integer),
        sa.Column("temporary_id", sa.String(64)),
        sa.Column("temporary_hash", sa.Text),
        sa.Column("temporary_issued_at", time),
        sa.Column("temporary_expires_at", time),
        sa.Column("failed_sign_ins", sa.Integer, nullable=False),
        sa.Column("locked_until", time),
        sa.Column("recovery_requests", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Index("pwrecovery_users_supervisors", "supervisor", "recovery_email_verified"),
    )
    sa.Table(
        "pwrecovery_senders",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", key, nullable=False),
        sa.Column("owner_key", key, nullable=False, index=True),
        sa.Column("host", sa.String(253), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("security", sa.String(16), nullable=False),
        sa.Column("username", sa.String(998), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("verified_at", time, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("authentication", sa.String(16), nullable=False),
    )
    sa.Table(
        "pwrecovery_audit",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("login", key),
        sa.Column("login_key", key),
        sa.Column("at", time, nullable=False),
        sa.Column("origin", sa.String(255)),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Index("pwrecovery_audit_by_login", "login_key", "id"),
    )
    sa.Table(
        "pwrecovery_outbox",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_key", key, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.String(64)),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.Column("next_attempt_at", time, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(64)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Index("pwrecovery_outbox_due", "next_attempt_at", "id"),
    )


def _load_release_1(engine: sa.Engine) -> dict[str, object]:
    """Rebuild release 1's server database from the fixture's rows."""
    metadata = sa.MetaData()
    _release_1_tables(metadata)
    metadata.create_all(engine)
    source = sa.create_engine(f"sqlite:///{FIXTURES / 'server.db'}")
    with source.connect() as reading, engine.begin() as writing:
        for table in metadata.sorted_tables:
            rows = [dict(r) for r in reading.execute(sa.select(table)).mappings()]
            if rows:
                writing.execute(sa.insert(table), rows)
    source.dispose()
    return json.loads((FIXTURES / "server.db.json").read_text("utf-8"))


def test_release_1_server_database_on_postgresql_is_carried_forward(
    postgres_engine: sa.Engine,
) -> None:
    """Release 1's layout on PostgreSQL (timestamptz columns, its index names) migrates to
    the shared layout under the advisory lock, nothing lost."""
    sidecar = _load_release_1(postgres_engine)
    store = pr.SqlAlchemyStore(postgres_engine)
    _check_carried_forward(store, sidecar, queued=True)
    assert not sa.inspect(postgres_engine).has_table("r1_pwrecovery_users")
