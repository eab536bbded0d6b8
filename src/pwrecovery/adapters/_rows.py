"""Records to table rows and back, for every SQL store.

Rows are plain mappings of column name to value, times written as fixed-width
ISO 8601 text in UTC (``_schema``). A row that cannot be turned back into a
record raises ``StoreDamaged``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pwrecovery._domain.logins import audit_key, login_key
from pwrecovery.exceptions import PwRecoveryError, StoreDamaged
from pwrecovery.models import (
    AuditEvent,
    Authentication,
    Purpose,
    Security,
    SenderAccount,
    SenderSettings,
)
from pwrecovery.records import (
    Attempts,
    PendingVerification,
    QueuedMessage,
    SenderRecord,
    SenderUsage,
    TemporaryCredential,
    Throttle,
    UserRecord,
)

T = TypeVar("T")
Row = Mapping[str, Any]
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def sql_time(value: datetime) -> str:
    """Fixed width, so that text order is time order (the outbox is queried by it)."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "a stored time must be timezone-aware"
        raise ValueError(msg)
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value is not None else None


def _stored_time(value: datetime | None) -> str | None:
    return sql_time(value) if value is not None else None


def parse_time(value: object) -> datetime:
    if isinstance(value, datetime):  # a driver that parsed it already
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        msg = "a stored time is not text"
        raise TypeError(msg)
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parsed(table: str, parse: Callable[[Row], T], row: Row) -> T:
    """A row turned back into a value, or StoreDamaged naming the table: a value edited by
    hand or damaged on disk is a clear error, never a crash deep in the service."""
    try:
        return parse(row)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, PwRecoveryError) as error:
        raise StoreDamaged(table) from error


def _attempts_row(prefix: str, attempts: Attempts) -> dict[str, object]:
    return {
        f"{prefix}_failures": attempts.failures,
        f"{prefix}_locked_until": _stored_time(attempts.locked_until),
        f"{prefix}_last_failure_at": _stored_time(attempts.last_failure_at),
    }


def _attempts(prefix: str, row: Row) -> Attempts:
    return Attempts(
        failures=int(row[f"{prefix}_failures"]),
        locked_until=_time(row[f"{prefix}_locked_until"]),
        last_failure_at=_time(row[f"{prefix}_last_failure_at"]),
    )


def user_row(record: UserRecord, version: int) -> dict[str, object]:
    pending, temporary = record.pending_verification, record.temporary
    return {
        "login_key": record.key,
        "login": record.login,
        "display_name": record.display_name,
        "supervisor": record.supervisor,
        "password_hash": record.password_hash,
        "recovery_email": record.recovery_email,
        "recovery_email_verified": record.recovery_email_verified,
        "pending_id": pending.id if pending else None,
        "pending_code_hash": pending.code_hash if pending else None,
        "pending_expires_at": sql_time(pending.expires_at) if pending else None,
        "pending_attempts": pending.attempts if pending else None,
        "temporary_id": temporary.id if temporary else None,
        "temporary_hash": temporary.hash if temporary else None,
        "temporary_issued_at": sql_time(temporary.issued_at) if temporary else None,
        "temporary_expires_at": sql_time(temporary.expires_at) if temporary else None,
        **_attempts_row("sign_in", record.sign_in),
        **_attempts_row("temporary", record.temporary_sign_in),
        "recovery_requests": json.dumps([sql_time(t) for t in record.recovery_requests]),
        "disabled": record.disabled,
        "locale": record.locale,
        "created_at": _stored_time(record.created_at),
        "version": version,
    }


def user_from_row(row: Row) -> UserRecord:
    pending = (
        PendingVerification(
            code_hash=row["pending_code_hash"],
            expires_at=parse_time(row["pending_expires_at"]),
            attempts=int(row["pending_attempts"]),
            id=str(row["pending_id"] or ""),
        )
        if row["pending_expires_at"] is not None
        else None
    )
    temporary = (
        TemporaryCredential(
            id=str(row["temporary_id"]),
            hash=row["temporary_hash"],
            issued_at=parse_time(row["temporary_issued_at"]),
            expires_at=parse_time(row["temporary_expires_at"]),
        )
        if row["temporary_id"] is not None
        else None
    )
    requests = json.loads(row["recovery_requests"])
    return UserRecord(
        key=str(row["login_key"]),
        login=str(row["login"]),
        display_name=str(row["display_name"]),
        supervisor=bool(row["supervisor"]),
        password_hash=str(row["password_hash"]),
        recovery_email=row["recovery_email"],
        recovery_email_verified=bool(row["recovery_email_verified"]),
        pending_verification=pending,
        temporary=temporary,
        sign_in=_attempts("sign_in", row),
        temporary_sign_in=_attempts("temporary", row),
        recovery_requests=tuple(parse_time(t) for t in requests),
        disabled=bool(row["disabled"]),
        locale=row["locale"],
        created_at=_time(row["created_at"]),
        version=int(row["version"]),
    )


def throttle_row(record: Throttle, version: int) -> dict[str, object]:
    return {
        "fingerprint": record.fingerprint,
        **_attempts_row("sign_in", record.sign_in),
        **_attempts_row("temporary", record.temporary_sign_in),
        "touched_at": sql_time(record.touched_at),
        "version": version,
    }


def throttle_from_row(row: Row) -> Throttle:
    return Throttle(
        fingerprint=str(row["fingerprint"]),
        sign_in=_attempts("sign_in", row),
        temporary_sign_in=_attempts("temporary", row),
        touched_at=parse_time(row["touched_at"]),
        version=int(row["version"]),
    )


def sender_row(record: SenderRecord, version: int) -> dict[str, object]:
    account, settings, usage = record.account, record.account.settings, record.usage
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
        "authentication": settings.authentication.value,
        "verified_at": sql_time(account.verified_at),
        "secret": record.secret,
        "usage_logins": json.dumps([sql_time(t) for t in usage.logins]),
        "usage_auth_failures": usage.auth_failures,
        "usage_cooldown_until": _stored_time(usage.cooldown_until),
        "version": version,
    }


def sender_from_row(row: Row) -> SenderRecord:
    """``row`` also holds the owner's role and state now (``owner_supervisor``,
    ``owner_disabled``, from a join): a disabled supervisor's senders lose their rank."""
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
        id=str(row["id"]),
        owner=str(row["owner"]),
        settings=settings,
        verified_at=parse_time(row["verified_at"]),
    )
    usage = SenderUsage(
        logins=tuple(parse_time(t) for t in json.loads(row["usage_logins"])),
        auth_failures=int(row["usage_auth_failures"]),
        cooldown_until=_time(row["usage_cooldown_until"]),
    )
    return SenderRecord(
        account=account,
        secret=bytes(row["secret"]),
        owner_supervisor=bool(row["owner_supervisor"]) and not bool(row["owner_disabled"]),
        usage=usage,
        version=int(row["version"]),
    )


def message_row(message: QueuedMessage, version: int) -> dict[str, object]:
    return {
        "id": message.id,
        "user_key": message.user_key,
        "purpose": message.purpose.value,
        "credential_id": message.credential_id,
        "payload": message.payload,
        "created_at": sql_time(message.created_at),
        "next_attempt_at": sql_time(message.next_attempt_at),
        "attempts": message.attempts,
        "last_error": message.last_error,
        "version": version,
    }


def message_from_row(row: Row) -> QueuedMessage:
    return QueuedMessage(
        id=str(row["id"]),
        user_key=str(row["user_key"]),
        purpose=Purpose(row["purpose"]),
        credential_id=row["credential_id"],
        payload=bytes(row["payload"]),
        created_at=parse_time(row["created_at"]),
        next_attempt_at=parse_time(row["next_attempt_at"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        version=int(row["version"]),
    )


def event_row(event: AuditEvent) -> dict[str, object]:
    return {
        "kind": event.kind,
        "login": event.login,
        "login_key": audit_key(event.login),
        "at": sql_time(event.at),
        "origin": event.origin,
        "detail": json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    }


def event_from_row(row: Row) -> AuditEvent:
    detail = json.loads(row["detail"])
    if not isinstance(detail, dict):
        msg = "audit detail is not an object"
        raise TypeError(msg)
    return AuditEvent(
        kind=str(row["kind"]),
        login=row["login"],
        at=parse_time(row["at"]),
        origin=row["origin"],
        detail=detail,
    )
