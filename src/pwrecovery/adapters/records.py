"""Records to table rows and back, for every SQL store (SQLite, SQLAlchemy).

Rows are plain mappings of column name to value, with times as aware UTC
``datetime`` objects; each store converts times to what its database keeps.
A row that cannot be turned back into a record raises ``StoreDamaged``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pwrecovery.domain.logins import audit_key, login_key
from pwrecovery.domain.model import (
    AuditEvent,
    Authentication,
    PendingVerification,
    Purpose,
    QueuedMessage,
    Security,
    SenderAccount,
    SenderRecord,
    SenderSettings,
    TemporaryCredential,
    UserRecord,
)
from pwrecovery.errors import PwRecoveryError, StoreDamaged

T = TypeVar("T")
R = TypeVar("R")
Row = Mapping[str, Any]

USER_COLUMNS: Final = (
    "key",
    "login",
    "display_name",
    "supervisor",
    "password_hash",
    "recovery_email",
    "recovery_email_verified",
    "pending_code_hash",
    "pending_expires_at",
    "pending_attempts",
    "temporary_id",
    "temporary_hash",
    "temporary_issued_at",
    "temporary_expires_at",
    "failed_sign_ins",
    "locked_until",
    "recovery_requests",
    "version",
)
SENDER_COLUMNS: Final = (
    "id",
    "owner",
    "owner_key",
    "host",
    "port",
    "security",
    "username",
    "from_address",
    "display_name",
    "verified_at",
    "secret",
    "authentication",
)
MESSAGE_COLUMNS: Final = (
    "id",
    "user_key",
    "purpose",
    "credential_id",
    "payload",
    "created_at",
    "next_attempt_at",
    "attempts",
    "last_error",
    "version",
)
EVENT_COLUMNS: Final = ("kind", "login", "login_key", "at", "origin", "detail")
TIME_COLUMNS: Final = frozenset(
    {
        "pending_expires_at",
        "temporary_issued_at",
        "temporary_expires_at",
        "locked_until",
        "verified_at",
        "created_at",
        "next_attempt_at",
        "at",
    }
)


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (databases without zones give naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parsed(table: str, parse: Callable[[R], T], row: R) -> T:
    """A row turned back into a value, or StoreDamaged naming the table: a value edited by
    hand or damaged on disk is a clear error, never a crash deep in the service."""
    try:
        return parse(row)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, PwRecoveryError) as error:
        raise StoreDamaged(table) from error


def user_row(record: UserRecord, version: int) -> dict[str, object]:
    pending, temporary = record.pending_verification, record.temporary
    return {
        "key": record.key,
        "login": record.login,
        "display_name": record.display_name,
        "supervisor": record.supervisor,
        "password_hash": record.password_hash,
        "recovery_email": record.recovery_email,
        "recovery_email_verified": record.recovery_email_verified,
        "pending_code_hash": pending.code_hash if pending else None,
        "pending_expires_at": pending.expires_at if pending else None,
        "pending_attempts": pending.attempts if pending else None,
        "temporary_id": temporary.id if temporary else None,
        "temporary_hash": temporary.hash if temporary else None,
        "temporary_issued_at": temporary.issued_at if temporary else None,
        "temporary_expires_at": temporary.expires_at if temporary else None,
        "failed_sign_ins": record.failed_sign_ins,
        "locked_until": record.locked_until,
        "recovery_requests": json.dumps([utc(t).isoformat() for t in record.recovery_requests]),
        "version": version,
    }


def user_from_row(row: Row) -> UserRecord:
    pending = (
        PendingVerification(
            code_hash=row["pending_code_hash"],
            expires_at=utc(row["pending_expires_at"]),
            attempts=int(row["pending_attempts"]),
        )
        if row["pending_code_hash"] is not None
        else None
    )
    temporary = (
        TemporaryCredential(
            id=row["temporary_id"],
            hash=str(row["temporary_hash"]),
            issued_at=utc(row["temporary_issued_at"]),
            expires_at=utc(row["temporary_expires_at"]),
        )
        if row["temporary_id"] is not None
        else None
    )
    locked_until = row["locked_until"]
    requests = json.loads(row["recovery_requests"])
    return UserRecord(
        key=row["key"],
        login=row["login"],
        display_name=row["display_name"],
        supervisor=bool(row["supervisor"]),
        password_hash=row["password_hash"],
        recovery_email=row["recovery_email"],
        recovery_email_verified=bool(row["recovery_email_verified"]),
        pending_verification=pending,
        temporary=temporary,
        failed_sign_ins=int(row["failed_sign_ins"]),
        locked_until=utc(locked_until) if locked_until is not None else None,
        recovery_requests=tuple(utc(datetime.fromisoformat(t)) for t in requests),
        version=int(row["version"]),
    )


def sender_row(record: SenderRecord) -> dict[str, object]:
    account, settings = record.account, record.account.settings
    return {
        "id": account.id,
        "owner": account.owner,
        "owner_key": login_key(account.owner),
        "host": settings.host,
        "port": settings.port,
        "security": settings.security.value,
        "username": settings.username,
        "from_address": settings.from_address,
        "display_name": settings.display_name,
        "verified_at": account.verified_at,
        "secret": record.secret,
        "authentication": settings.authentication.value,
    }


def sender_from_row(row: Row) -> SenderRecord:
    """``row`` also holds ``owner_supervisor``, the owner's role now (from a join)."""
    settings = SenderSettings(
        host=row["host"],
        port=int(row["port"]),
        security=Security(row["security"]),
        username=row["username"],
        from_address=row["from_address"],
        display_name=row["display_name"],
        authentication=Authentication(row["authentication"]),
    )
    account = SenderAccount(
        id=row["id"], owner=row["owner"], settings=settings, verified_at=utc(row["verified_at"])
    )
    return SenderRecord(
        account=account, secret=bytes(row["secret"]), owner_supervisor=bool(row["owner_supervisor"])
    )


def message_row(message: QueuedMessage, version: int) -> dict[str, object]:
    return {
        "id": message.id,
        "user_key": message.user_key,
        "purpose": message.purpose.value,
        "credential_id": message.credential_id,
        "payload": message.payload,
        "created_at": message.created_at,
        "next_attempt_at": message.next_attempt_at,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "version": version,
    }


def message_from_row(row: Row) -> QueuedMessage:
    return QueuedMessage(
        id=row["id"],
        user_key=row["user_key"],
        purpose=Purpose(row["purpose"]),
        credential_id=row["credential_id"],
        payload=bytes(row["payload"]),
        created_at=utc(row["created_at"]),
        next_attempt_at=utc(row["next_attempt_at"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        version=int(row["version"]),
    )


def event_row(event: AuditEvent) -> dict[str, object]:
    return {
        "kind": event.kind,
        "login": event.login,
        "login_key": audit_key(event.login),
        "at": event.at,
        "origin": event.origin,
        "detail": json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    }


def event_from_row(row: Row) -> AuditEvent:
    detail = json.loads(row["detail"])
    if not isinstance(detail, dict):
        msg = "audit detail is not an object"
        raise TypeError(msg)
    return AuditEvent(
        kind=row["kind"],
        login=row["login"],
        at=utc(row["at"]),
        origin=row["origin"],
        detail=detail,
    )
