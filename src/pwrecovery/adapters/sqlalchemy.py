"""``SqlAlchemyStore``: the ``Store`` on a database server, through SQLAlchemy Core.

For many workstations on one accounting database server. Tested against
PostgreSQL; written in portable SQLAlchemy Core (conditional ``UPDATE …
WHERE version = :v`` and ``rowcount``, no dialect-specific SQL) so that SQL
Server and MySQL work through their SQLAlchemy dialects too (see
``docs/server-store.md`` for what was tested). Install with
``pip install 'pwrecovery[server]'``.

Tables are prefixed ``pwrecovery_`` so they can live in the host's own
database. The schema is created or migrated on open and its version kept in
``pwrecovery_schema``; a newer version than this code knows is refused.
Every SQLAlchemy error is translated here into ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from pwrecovery.adapters.records import (
    Row,
    event_from_row,
    event_row,
    message_from_row,
    message_row,
    parsed,
    sender_from_row,
    sender_row,
    user_from_row,
    user_row,
)
from pwrecovery.domain.model import AuditEvent, QueuedMessage, SenderRecord, UserRecord
from pwrecovery.errors import StoreSchemaTooNew, StoreUnavailable, UserExists

T = TypeVar("T")

metadata = sa.MetaData()
_KEY = sa.String(255)
_TIME = sa.DateTime(timezone=True)

schema_table = sa.Table(
    "pwrecovery_schema", metadata, sa.Column("version", sa.Integer, nullable=False)
)
users = sa.Table(
    "pwrecovery_users",
    metadata,
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("login", _KEY, nullable=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("supervisor", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("recovery_email", sa.String(320)),
    sa.Column("recovery_email_verified", sa.Boolean, nullable=False),
    sa.Column("pending_code_hash", sa.Text),
    sa.Column("pending_expires_at", _TIME),
    sa.Column("pending_attempts", sa.Integer),
    sa.Column("temporary_id", sa.String(64)),
    sa.Column("temporary_hash", sa.Text),
    sa.Column("temporary_issued_at", _TIME),
    sa.Column("temporary_expires_at", _TIME),
    sa.Column("failed_sign_ins", sa.Integer, nullable=False),
    sa.Column("locked_until", _TIME),
    sa.Column("recovery_requests", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("pwrecovery_users_supervisors", "supervisor", "recovery_email_verified"),
)
senders = sa.Table(
    "pwrecovery_senders",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("owner", _KEY, nullable=False),
    sa.Column("owner_key", _KEY, nullable=False, index=True),
    sa.Column("host", sa.String(253), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("security", sa.String(16), nullable=False),
    sa.Column("username", sa.String(998), nullable=False),
    sa.Column("from_address", sa.String(320), nullable=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("verified_at", _TIME, nullable=False),
    sa.Column("secret", sa.LargeBinary, nullable=False),
    sa.Column("authentication", sa.String(16), nullable=False),
)
audit = sa.Table(
    "pwrecovery_audit",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("login", _KEY),
    sa.Column("login_key", _KEY),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("origin", sa.String(255)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("pwrecovery_audit_by_login", "login_key", "id"),
)
outbox = sa.Table(
    "pwrecovery_outbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_key", _KEY, nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("credential_id", sa.String(64)),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("next_attempt_at", _TIME, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(64)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("pwrecovery_outbox_due", "next_attempt_at", "id"),
)


def _create_version_1(connection: sa.Connection) -> None:
    for table in (users, senders, audit, outbox):
        table.create(connection)


# Each entry moves the schema from version i to i + 1. Never edit a released entry.
MIGRATIONS: Final[tuple[Callable[[sa.Connection], None], ...]] = (_create_version_1,)
SCHEMA_VERSION: Final = len(MIGRATIONS)
_LOCK: Final = 0x7077_7265_636F  # "pwreco": the advisory lock held while migrating


class SqlAlchemyStore:
    """A ``Store`` in a server database, e.g. ``SqlAlchemyStore(sa.create_engine(url))``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._migrate()

    def __repr__(self) -> str:
        return f"SqlAlchemyStore({self._engine.dialect.name})"

    def close(self) -> None:
        """Close the engine's pooled connections (the engine itself stays usable)."""
        self._engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """One transaction; SQLAlchemy errors become StoreUnavailable at this border."""
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise StoreUnavailable from error

    def _migrate(self) -> None:
        try:
            self._migrate_once()
        except StoreUnavailable:
            # Another workstation created the schema table at the same instant (databases
            # without an advisory lock): it exists now, so the second try only reads it.
            self._migrate_once()

    def _migrate_once(self) -> None:
        with self._transaction() as connection:
            if connection.dialect.name == "postgresql":
                # Two workstations opening a new database at once migrate it once.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            schema_table.create(connection, checkfirst=True)
            found = connection.execute(sa.select(schema_table.c.version)).scalar()
            current = int(found) if found is not None else 0
            if current > SCHEMA_VERSION:
                raise StoreSchemaTooNew(found=current, supported=SCHEMA_VERSION)
            for step in MIGRATIONS[current:]:
                step(connection)
            if found is None:
                connection.execute(sa.insert(schema_table).values(version=SCHEMA_VERSION))
            elif current != SCHEMA_VERSION:
                connection.execute(sa.update(schema_table).values(version=SCHEMA_VERSION))

    def _rows(self, statement: sa.Select[tuple[object, ...]]) -> list[Row]:
        with self._transaction() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]

    @staticmethod
    def _append(connection: sa.Connection, events: Sequence[AuditEvent]) -> None:
        if events:
            connection.execute(sa.insert(audit), [event_row(event) for event in events])

    # -- users -------------------------------------------------------------

    def get_user(self, key: str) -> UserRecord | None:
        rows = self._rows(sa.select(users).where(users.c.key == key))
        return parsed("users", user_from_row, rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
        rows = self._rows(sa.select(users).order_by(users.c.key))
        return [parsed("users", user_from_row, row) for row in rows]

    def add_user(self, record: UserRecord, events: Sequence[AuditEvent] = ()) -> None:
        try:
            with self._transaction() as connection:
                taken = connection.execute(
                    sa.select(users.c.key).where(users.c.key == record.key)
                ).first()
                if taken is not None:
                    raise UserExists(record.login)
                connection.execute(sa.insert(users).values(user_row(record, 1)))
                self._append(connection, events)
        except StoreUnavailable as error:
            if isinstance(error.__cause__, sa.exc.IntegrityError):  # lost a race to insert
                raise UserExists(record.login) from None
            raise

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        def insert_messages(connection: sa.Connection) -> None:
            if enqueue:
                connection.execute(sa.insert(outbox), [message_row(m, 1) for m in enqueue])

        row = user_row(record, expected_version + 1)
        return self._write_if_unchanged(
            users,
            "key",
            row,
            expected_version=expected_version,
            events=events,
            also=insert_messages,
        )

    def _write_if_unchanged(
        self,
        table: sa.Table,
        key: str,
        row: Row,
        *,
        expected_version: int,
        events: Sequence[AuditEvent],
        also: Callable[[sa.Connection], None] | None = None,
    ) -> bool:
        """The conditional write of every versioned row: only over ``expected_version``,
        with its audit events (and ``also``) in the same transaction; False if it lost."""
        with self._transaction() as connection:
            result = connection.execute(
                sa.update(table)
                .where(table.c[key] == row[key], table.c.version == expected_version)
                .values({c: v for c, v in row.items() if c != key})
            )
            if result.rowcount != 1:
                return False
            self._append(connection, events)
            if also is not None:
                also(connection)
            return True

    def has_verified_supervisor(self) -> bool:
        rows = self._rows(
            sa.select(users.c.key)
            .where(
                users.c.supervisor.is_(True),
                users.c.recovery_email_verified.is_(True),
                users.c.recovery_email.is_not(None),
            )
            .limit(1)
        )
        return bool(rows)

    # -- senders -----------------------------------------------------------

    def list_senders(self) -> list[SenderRecord]:
        owner_supervisor = sa.func.coalesce(users.c.supervisor, sa.false()).label(
            "owner_supervisor"
        )
        statement = (
            sa.select(senders, owner_supervisor)
            .select_from(senders.outerjoin(users, users.c.key == senders.c.owner_key))
            .order_by(senders.c.id)
        )
        return [parsed("senders", sender_from_row, row) for row in self._rows(statement)]

    def put_sender(self, record: SenderRecord, events: Sequence[AuditEvent] = ()) -> None:
        values = sender_row(record)
        with self._transaction() as connection:
            connection.execute(sa.delete(senders).where(senders.c.id == values["id"]))
            connection.execute(sa.insert(senders).values(values))
            self._append(connection, events)

    def remove_sender(self, sender_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._transaction() as connection:
            result = connection.execute(sa.delete(senders).where(senders.c.id == sender_id))
            if result.rowcount != 1:
                return False
            self._append(connection, events)
            return True

    # -- outbox ------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int) -> list[QueuedMessage]:
        statement = (
            sa.select(outbox)
            .where(outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        return [parsed("outbox", message_from_row, row) for row in self._rows(statement)]

    def update_message(
        self,
        message: QueuedMessage,
        *,
        expected_version: int,
        events: Sequence[AuditEvent] = (),
    ) -> bool:
        row = message_row(message, expected_version + 1)
        return self._write_if_unchanged(
            outbox, "id", row, expected_version=expected_version, events=events
        )

    def delete_message(self, message_id: str, events: Sequence[AuditEvent] = ()) -> bool:
        with self._transaction() as connection:
            result = connection.execute(sa.delete(outbox).where(outbox.c.id == message_id))
            if result.rowcount != 1:
                return False
            self._append(connection, events)
            return True

    # -- audit -------------------------------------------------------------

    def append_audit(self, events: Sequence[AuditEvent]) -> None:
        if events:
            with self._transaction() as connection:
                self._append(connection, events)

    def audit_trail(self, key: str | None = None) -> list[AuditEvent]:
        statement = sa.select(audit).order_by(audit.c.id)
        if key is not None:
            statement = statement.where(audit.c.login_key == key)
        return [parsed("audit", event_from_row, row) for row in self._rows(statement)]
