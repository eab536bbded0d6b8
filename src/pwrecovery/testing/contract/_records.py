"""What the contract suite's tests build: records, events and their fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pwrecovery._domain.logins import login_key
from pwrecovery.models import AuditEvent, Purpose, SenderAccount, SenderSettings
from pwrecovery.ports import Store
from pwrecovery.records import (
    QueuedMessage,
    SenderRecord,
    Throttle,
    UserRecord,
)

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def _user(login: str = "Juan", **changes: Any) -> UserRecord:  # noqa: ANN401 (record fields)
    values: dict[str, Any] = {"login": login, "key": login_key(login), "password_hash": HASH}
    values.update(changes)
    return UserRecord(**values)


def _event(kind: str, login: str | None = "Juan", minutes: int = 0, **detail: str) -> AuditEvent:
    return AuditEvent(
        kind=kind, login=login, at=AT + timedelta(minutes=minutes), origin="CAJA-01", detail=detail
    )


def _settings(**changes: Any) -> SenderSettings:  # noqa: ANN401 (settings fields)
    values: dict[str, Any] = {
        "host": "smtp.empresa.mx",
        "port": 587,
        "security": "starttls",
        "username": "envios@empresa.mx",
        "from_address": "envios@empresa.mx",
        "display_name": "Contabilidad",
    }
    values.update(changes)
    return SenderSettings(**values)


def _sender(sender_id: str = "s-1", owner: str = "Ana", **changes: Any) -> SenderRecord:  # noqa: ANN401
    account = SenderAccount(id=sender_id, owner=owner, settings=_settings(), verified_at=AT)
    values: dict[str, Any] = {"account": account, "secret": b"\x02sealed-blob"}
    values.update(changes)
    return SenderRecord(**values)


def _message(message_id: str = "m-1", minutes: int = 0, **changes: Any) -> QueuedMessage:  # noqa: ANN401
    values: dict[str, Any] = {
        "id": message_id,
        "user_key": "juan",
        "purpose": Purpose.TEMPORARY_PASSWORD,
        "credential_id": "c-1",
        "payload": b'{"purpose": "temporary-password"}',
        "created_at": AT,
        "next_attempt_at": AT + timedelta(minutes=minutes),
    }
    values.update(changes)
    return QueuedMessage(**values)


def _throttle(fingerprint: str = "#0123456789abcdef", **changes: Any) -> Throttle:  # noqa: ANN401
    values: dict[str, Any] = {"fingerprint": fingerprint, "touched_at": AT}
    values.update(changes)
    return Throttle(**values)


def _by_id(senders: list[SenderRecord]) -> dict[str, SenderRecord]:
    return {s.account.id: s for s in senders}


def _stored(store: Store, key: str) -> UserRecord:
    found = store.get_user(key)
    assert found is not None
    return found
