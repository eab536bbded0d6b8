"""The one SQL schema of every SQL store (SQLite through ``sqlite3``, and PostgreSQL,
MariaDB/MySQL or SQLite through SQLAlchemy), and how each dialect writes it.

Decisions that hold on every database:

- Tables are prefixed ``pwrecovery_`` so they can live in the host's database.
- Lookup columns (logins, keys, ids) compare and sort by code point: SQLite's
  default, ``COLLATE "C"`` on PostgreSQL, ``utf8mb4_bin`` on MariaDB/MySQL,
  whose default collations would match ``josé`` with ``jose``.
- Times are stored as fixed-width ISO 8601 text in UTC with microseconds
  (``2026-01-02T03:04:05.678901+00:00``): text order is time order, no
  dialect drops microseconds or shifts a zone.
- MariaDB/MySQL tables declare ``utf8mb4`` themselves, whatever the database's
  default character set.

The schema's version is kept in ``pwrecovery_schema`` (and, on SQLite, in
``PRAGMA user_version`` too, so that release 1 refuses a newer file).
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

SCHEMA_VERSION: Final = 4  # 1-3: release 1's SQLite layouts; 4: the shared layout


class Kind(enum.Enum):
    KEY = "key"  # a login, key or id: indexed, compared by code point
    SHORT = "short"  # a short text (kinds, codes, host names)
    TEXT = "text"  # an unbounded text (hashes, JSON)
    INT = "int"
    BOOL = "bool"
    TIME = "time"  # ISO 8601 text, UTC, microseconds
    BLOB = "blob"
    SERIAL = "serial"  # an auto-increment primary key


@attrs.frozen
class Column:
    name: str
    kind: Kind
    size: int = 255
    nullable: bool = False
    primary: bool = False


@attrs.frozen
class Index:
    name: str
    columns: tuple[str, ...]


@attrs.frozen
class Table:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.kind is not Kind.SERIAL)


def _c(name: str, kind: Kind, size: int = 255, *, null: bool = False, pk: bool = False) -> Column:
    return Column(name, kind, size, nullable=null, primary=pk)


K, S, T, N, B, TM, BL = Kind.KEY, Kind.SHORT, Kind.TEXT, Kind.INT, Kind.BOOL, Kind.TIME, Kind.BLOB


def _attempts(prefix: str) -> tuple[Column, ...]:
    return (
        _c(f"{prefix}_failures", N),
        _c(f"{prefix}_locked_until", TM, null=True),
        _c(f"{prefix}_last_failure_at", TM, null=True),
    )


SCHEMA_TABLE: Final = Table("pwrecovery_schema", (_c("version", N),))
META: Final = Table("pwrecovery_meta", (_c("name", K, 64, pk=True), _c("value", BL)))
USERS: Final = Table(
    "pwrecovery_users",
    (
        _c("login_key", K, pk=True),
        _c("login", K),
        _c("display_name", S),
        _c("supervisor", B),
        _c("password_hash", T),
        _c("recovery_email", S, 320, null=True),
        _c("recovery_email_verified", B),
        _c("pending_id", K, 64, null=True),
        _c("pending_code_hash", T, null=True),
        _c("pending_expires_at", TM, null=True),
        _c("pending_attempts", N, null=True),
        _c("temporary_id", K, 64, null=True),
        _c("temporary_hash", T, null=True),
        _c("temporary_issued_at", TM, null=True),
        _c("temporary_expires_at", TM, null=True),
        *_attempts("sign_in"),
        *_attempts("temporary"),
        _c("recovery_requests", T),
        _c("disabled", B),
        _c("locale", S, 35, null=True),
        _c("created_at", TM, null=True),
        _c("version", N),
    ),
    (Index("pwrecovery_users_supervisors", ("supervisor", "recovery_email_verified")),),
)
THROTTLES: Final = Table(
    "pwrecovery_throttles",
    (
        _c("fingerprint", K, 64, pk=True),
        *_attempts("sign_in"),
        *_attempts("temporary"),
        _c("touched_at", TM),
        _c("version", N),
    ),
    (Index("pwrecovery_throttles_touched", ("touched_at",)),),
)
SENDERS: Final = Table(
    "pwrecovery_senders",
    (
        _c("id", K, 64, pk=True),
        _c("owner", K),
        _c("owner_key", K),
        _c("host", S, 253),
        _c("port", N),
        _c("security", S, 16),
        _c("username", S, 998),
        _c("from_address", S, 320),
        _c("display_name", S),
        _c("authentication", S, 16),
        _c("verified_at", TM),
        _c("secret", BL),
        _c("usage_logins", T),
        _c("usage_auth_failures", N),
        _c("usage_cooldown_until", TM, null=True),
        _c("version", N),
    ),
    (Index("pwrecovery_senders_owner", ("owner_key",)),),
)
OUTBOX: Final = Table(
    "pwrecovery_outbox",
    (
        _c("id", K, 64, pk=True),
        _c("user_key", K),
        _c("purpose", S, 64),
        _c("credential_id", K, 64, null=True),
        _c("payload", BL),
        _c("created_at", TM),
        _c("next_attempt_at", TM),
        _c("attempts", N),
        _c("last_error", S, 64, null=True),
        _c("version", N),
    ),
    (
        Index("pwrecovery_outbox_due", ("next_attempt_at", "id")),
        Index("pwrecovery_outbox_user", ("user_key",)),
    ),
)
AUDIT: Final = Table(
    "pwrecovery_audit",
    (
        _c("id", Kind.SERIAL, pk=True),
        _c("kind", S, 64),
        _c("login", K, null=True),
        _c("login_key", K, null=True),
        _c("at", TM),
        _c("origin", S, null=True),
        _c("detail", T),
    ),
    (Index("pwrecovery_audit_by_login", ("login_key", "id")),),
)
TABLES: Final = (SCHEMA_TABLE, META, USERS, THROTTLES, SENDERS, OUTBOX, AUDIT)


# -- each dialect's words for the kinds ------------------------------------------


def _type(dialect: str, column: Column) -> str:  # noqa: PLR0911 (one table of types)
    kind = column.kind
    if dialect == "sqlite":
        return {
            Kind.KEY: "TEXT",
            Kind.SHORT: "TEXT",
            Kind.TEXT: "TEXT",
            Kind.INT: "INTEGER",
            Kind.BOOL: "INTEGER",
            Kind.TIME: "TEXT",
            Kind.BLOB: "BLOB",
            Kind.SERIAL: "INTEGER PRIMARY KEY AUTOINCREMENT",
        }[kind]
    if dialect == "postgresql":
        if kind is Kind.KEY:
            return f'VARCHAR({column.size}) COLLATE "C"'
        if kind is Kind.SHORT:
            return f"VARCHAR({column.size})"
        return {
            Kind.TEXT: "TEXT",
            Kind.INT: "INTEGER",
            Kind.BOOL: "BOOLEAN",
            Kind.TIME: "VARCHAR(32)",
            Kind.BLOB: "BYTEA",
            Kind.SERIAL: "BIGSERIAL PRIMARY KEY",
        }[kind]
    if dialect in {"mysql", "mariadb"}:
        if kind is Kind.KEY:
            return f"VARCHAR({column.size}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        if kind is Kind.SHORT:
            return f"VARCHAR({column.size})"
        return {
            Kind.TEXT: "MEDIUMTEXT",
            Kind.INT: "INTEGER",
            Kind.BOOL: "BOOLEAN",
            Kind.TIME: "CHAR(32) CHARACTER SET ascii COLLATE ascii_bin",
            Kind.BLOB: "MEDIUMBLOB",
            Kind.SERIAL: "BIGINT AUTO_INCREMENT PRIMARY KEY",
        }[kind]
    msg = f"no SQL schema for the {dialect!r} dialect"
    raise ValueError(msg)


def create_statements(dialect: str, table: Table) -> list[str]:
    """``CREATE TABLE`` and ``CREATE INDEX`` for ``table`` in ``dialect``."""
    lines = []
    for column in table.columns:
        line = f"{column.name} {_type(dialect, column)}"
        if column.kind is not Kind.SERIAL:
            line += "" if column.nullable else " NOT NULL"
            if column.primary:
                line += " PRIMARY KEY"
        lines.append(line)
    options = ""
    if dialect in {"mysql", "mariadb"}:
        options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    body = ",\n    ".join(lines)
    statements = [f"CREATE TABLE {table.name} (\n    {body}\n){options}"]
    statements += [
        f"CREATE INDEX {index.name} ON {table.name} ({', '.join(index.columns)})"
        for index in table.indexes
    ]
    return statements


# -- the statements every SQL store runs (named parameters, portable SQL) ---------


def insert(table: Table) -> str:
    names = ", ".join(table.column_names)
    values = ", ".join(f":{name}" for name in table.column_names)
    return f"INSERT INTO {table.name} ({names}) VALUES ({values})"  # noqa: S608 (constant names)


def update_if_unchanged(table: Table, key: str) -> str:
    """The one conditional write: only over the version read (``:expected_version``)."""
    assignments = ", ".join(f"{c} = :{c}" for c in table.column_names if c != key)
    return (
        f"UPDATE {table.name} SET {assignments}"  # noqa: S608 (constant names)
        f" WHERE {key} = :{key} AND version = :expected_version"
    )


def select(table: Table) -> str:
    return f"SELECT {', '.join(table.column_names)} FROM {table.name}"  # noqa: S608
