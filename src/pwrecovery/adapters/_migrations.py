"""How every SQL store reaches the current schema, from any layout pwrecovery ever wrote.

One version sequence for every store:

- 1, 2, 3: release 1's ``SqliteStore`` layouts (unprefixed tables, ``PRAGMA user_version``);
- release 1's ``SqlAlchemyStore`` layout (``pwrecovery_`` tables, ``pwrecovery_schema`` = 1,
  SQL times): carried forward the same way;
- 4: the shared layout of ``_schema``, kept in ``pwrecovery_schema`` (and, on SQLite,
  in ``PRAGMA user_version`` too, so that release 1 refuses a newer file).

Values are copied as they are, with two exceptions, both audited: release 1's queued
mails held their secret sealed under the key and the shared layout queues none, so they
are dropped; and release 1's pending temporary passwords are revoked, since a temporary
password is now recognised by its grouped form (``Kx7P-mQ2z-H9aB``) and theirs has none.
Their users ask again; ordinary passwords are untouched. Never edit a released step;
append a new one.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters._schema import SCHEMA_VERSION, TABLES
from pwrecovery.adapters._sqlstore import FINGERPRINT_KEY, Session
from pwrecovery.exceptions import StoreSchemaTooNew
from pwrecovery.records import Attempts, PendingVerification, UserRecord

RELEASE_1_SERVER: Final = "release-1-server"

# Release 1's SqliteStore migrations 0→1→2→3, kept to carry its files forward.
_SQLITE_STEPS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE users (
            key TEXT PRIMARY KEY, login TEXT NOT NULL, display_name TEXT NOT NULL,
            supervisor INTEGER NOT NULL, password_hash TEXT NOT NULL, recovery_email TEXT,
            recovery_email_verified INTEGER NOT NULL, pending_code_hash TEXT,
            pending_expires_at TEXT, pending_attempts INTEGER, temporary_id TEXT,
            temporary_hash TEXT, temporary_issued_at TEXT, temporary_expires_at TEXT,
            failed_sign_ins INTEGER NOT NULL, locked_until TEXT, recovery_requests TEXT NOT NULL,
            version INTEGER NOT NULL)""",
        """CREATE TABLE senders (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, owner_key TEXT NOT NULL, host TEXT NOT NULL,
            port INTEGER NOT NULL, security TEXT NOT NULL, username TEXT NOT NULL,
            from_address TEXT NOT NULL, display_name TEXT NOT NULL, verified_at TEXT NOT NULL,
            secret BLOB NOT NULL)""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, login TEXT, login_key TEXT,
            at TEXT NOT NULL, origin TEXT, detail TEXT NOT NULL)""",
    ),
    ("ALTER TABLE senders ADD COLUMN authentication TEXT NOT NULL DEFAULT 'password'",),
    (
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY, user_key TEXT NOT NULL, purpose TEXT NOT NULL,
            credential_id TEXT, payload BLOB NOT NULL, created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,
            version INTEGER NOT NULL)""",
    ),
)
# Release 1's tables and their indexes (whose names the shared layout reuses).
_SQLITE_TABLES: Final = {"users": "key", "senders": "", "audit": "", "outbox": ""}
_SERVER_TABLES: Final = {
    "pwrecovery_users": ("pwrecovery_users_supervisors",),
    "pwrecovery_senders": ("ix_pwrecovery_senders_owner_key",),
    "pwrecovery_audit": ("pwrecovery_audit_by_login",),
    "pwrecovery_outbox": ("pwrecovery_outbox_due",),
    "pwrecovery_schema": (),
}


def migrate(session: Session, dialect: str, found: int | str) -> None:
    """Bring the store from ``found`` (a version, or the release 1 server layout) to the
    current schema, in ``session``'s transaction (on MariaDB/MySQL, whose DDL commits at
    once, under the caller's lock)."""
    if isinstance(found, int) and found > SCHEMA_VERSION:
        raise StoreSchemaTooNew(found=found, supported=SCHEMA_VERSION)
    if found == SCHEMA_VERSION:
        return
    if found == RELEASE_1_SERVER:
        _from_release_1(session, dialect, _move_aside(session, dialect), tuple(_SERVER_TABLES))
    elif isinstance(found, int) and found > 0:  # release 1's SQLite layout
        for statements in _SQLITE_STEPS[found:]:
            for statement in statements:
                session.execute(statement)
        _from_release_1(session, dialect, "", tuple(_SQLITE_TABLES))
    else:
        _create(session, dialect)
    session.execute(
        "INSERT INTO pwrecovery_schema (version) VALUES (:version)", {"version": SCHEMA_VERSION}
    )
    session.execute(
        _schema.insert(_schema.META), {"name": FINGERPRINT_KEY, "value": secrets.token_bytes(32)}
    )


def _create(session: Session, dialect: str) -> None:
    for table in TABLES:
        for statement in _schema.create_statements(dialect, table):
            session.execute(statement)


def _from_release_1(session: Session, dialect: str, prefix: str, old: tuple[str, ...]) -> None:
    """Create the shared layout, copy release 1's rows into it, drop release 1's tables."""
    _create(session, dialect)
    _copy(session, prefix)
    for name in old:
        session.execute(f"DROP TABLE {prefix}{name}")


def _move_aside(session: Session, dialect: str) -> str:
    """Rename release 1's server tables (dropping their indexes, whose names return)."""
    prefix = "r1_"
    for table, indexes in _SERVER_TABLES.items():
        for index in indexes:
            if dialect in {"mysql", "mariadb"}:
                session.execute(f"DROP INDEX {index} ON {table}")
            else:
                session.execute(f"DROP INDEX IF EXISTS {index}")
        session.execute(f"ALTER TABLE {table} RENAME TO {prefix}{table}")
    return prefix


def _time(value: object) -> datetime | None:
    return _rows.parse_time(value) if value is not None else None


def _user(row: dict[str, Any], now: datetime) -> UserRecord:
    pending_at = _time(row["pending_expires_at"])
    failures = int(row["failed_sign_ins"])
    return UserRecord(
        login=str(row["login"]),
        key=str(row["key"]),
        display_name=str(row["display_name"]),
        supervisor=bool(row["supervisor"]),
        password_hash=str(row["password_hash"]),
        recovery_email=row["recovery_email"],
        recovery_email_verified=bool(row["recovery_email_verified"]),
        pending_verification=PendingVerification(
            row["pending_code_hash"], pending_at, int(row["pending_attempts"] or 0), "r1"
        )
        if pending_at is not None
        else None,
        temporary=None,
        sign_in=Attempts(failures, _time(row["locked_until"]), now if failures else None),
        recovery_requests=tuple(_rows.parse_time(t) for t in json.loads(row["recovery_requests"])),
        version=int(row["version"]),
    )


def _copy(session: Session, prefix: str) -> None:
    """Copy release 1's rows: its SQLite tables (``users``…) when ``prefix`` is empty, else
    its server tables moved aside (``r1_pwrecovery_users``…)."""
    names = (
        {t: f"{prefix}{t}" for t in ("users", "senders", "audit", "outbox")}
        if not prefix
        else {t: f"{prefix}pwrecovery_{t}" for t in ("users", "senders", "audit", "outbox")}
    )
    now = datetime.now(UTC)
    users = [_user(row, now) for row in session.query(f"SELECT * FROM {names['users']}")]  # noqa: S608
    if users:
        session.executemany(
            _schema.insert(_schema.USERS), [_rows.user_row(u, u.version) for u in users]
        )
    senders = [
        {
            **{k: row[k] for k in ("id", "owner", "owner_key", "host", "port", "security")},
            **{k: row[k] for k in ("username", "from_address", "display_name")},
            "authentication": row.get("authentication") or "password",
            "verified_at": _rows.sql_time(_rows.parse_time(row["verified_at"])),
            "secret": bytes(row["secret"]),
            "usage_logins": "[]",
            "usage_auth_failures": 0,
            "usage_cooldown_until": None,
            "version": 1,
        }
        for row in session.query(f"SELECT * FROM {names['senders']}")  # noqa: S608
    ]
    if senders:
        session.executemany(_schema.insert(_schema.SENDERS), senders)
    events = [
        {
            **{k: row[k] for k in ("kind", "login", "login_key", "origin", "detail")},
            "at": _rows.sql_time(_rows.parse_time(row["at"])),
        }
        for row in session.query(f"SELECT * FROM {names['audit']} ORDER BY id")  # noqa: S608
    ]
    queued = session.query(f"SELECT id, user_key FROM {names['outbox']}")  # noqa: S608
    logins = {u.key: u.login for u in users}
    revoked = [
        {
            "kind": "temporary_password_revoked",
            "login": row["login"],
            "login_key": row["key"],
            "origin": None,
            "detail": json.dumps({"reason": "schema_upgrade"}),
            "at": _rows.sql_time(now),
        }
        for row in session.query(
            f"SELECT login, key FROM {names['users']} WHERE temporary_id IS NOT NULL"  # noqa: S608
        )
    ]
    dropped = [
        {
            "kind": "queued_mail_dropped",
            "login": logins.get(str(row["user_key"])),
            "login_key": row["user_key"],
            "origin": None,
            "detail": json.dumps({"message": row["id"], "reason": "schema_upgrade"}),
            "at": _rows.sql_time(now),
        }
        for row in queued
    ]
    if events or dropped or revoked:
        session.executemany(_schema.insert(_schema.AUDIT), [*events, *dropped, *revoked])


_HAS_TABLE: Final = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name = :name",
    "postgresql": (
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_name = :name AND table_schema = current_schema()"
    ),
    "mysql": (
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_name = :name AND table_schema = DATABASE()"
    ),
}


def found_version(session: Session, dialect: str) -> int | str:
    """The store's version: 0 when empty, release 1's SQLite versions, the release 1 server
    layout, or a version of the shared layout."""
    has_table = _HAS_TABLE["mysql" if dialect == "mariadb" else dialect]
    if session.query(has_table, {"name": _schema.SCHEMA_TABLE.name}):
        rows = session.query(f"SELECT version FROM {_schema.SCHEMA_TABLE.name}")  # noqa: S608
        version = int(rows[0]["version"]) if rows else 0
        return RELEASE_1_SERVER if version == 1 else version
    if dialect == "sqlite":
        return int(next(iter(session.query("PRAGMA user_version")[0].values())))
    return 0
