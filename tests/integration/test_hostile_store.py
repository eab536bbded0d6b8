"""Hostile and damaged stored data, and throttles that hold across restarts and processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import pwrecovery as pr
from tests.helpers import (
    SMTP_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    raw_sqlite,
    sender_settings,
    temporary_password_in,
)
from tests.integration import workers
from tests.integration.workers import prepared, run_processes

SALT = "c2FsdHNhbHRzYWx0c2FsdA"
DIGEST = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
PLANTED = {
    "4 GiB of memory": f"$argon2id$v=19$m=4194304,t=2,p=1${SALT}${DIGEST}",
    "a thousand passes": f"$argon2id$v=19$m=19456,t=1000,p=1${SALT}${DIGEST}",
    "255 lanes": f"$argon2id$v=19$m=19456,t=2,p=255${SALT}${DIGEST}",
    "not a hash": "plaintext-password",
    "empty": "",
    "argon2i, not argon2id": f"$argon2i$v=19$m=19456,t=2,p=1${SALT}${DIGEST}",
}


def execute(path: Path, sql: str, *args: object) -> None:
    with raw_sqlite(path) as connection:
        connection.execute(sql, args)


def service_on(path: Path, key: str, mailer: pr.Mailer | None = None) -> pr.RecoveryService:
    return pr.RecoveryService(
        store=pr.SqliteStore(path),
        mailer=mailer or pr.RecordingMailer(),
        secret_key=key,
        hasher=pr.Argon2idHasher(),  # the real bounds of the real hasher
    )


@pytest.mark.parametrize("planted", list(PLANTED.values()), ids=list(PLANTED))
def test_planted_password_hash_is_a_failed_sign_in(db_path: Path, planted: str) -> None:
    """A hash planted in the store is never computed beyond bounds: a quick, clean refusal."""
    key = pr.generate_key()
    prepared(db_path, key, pr.RecordingMailer())
    execute(
        db_path, "UPDATE pwrecovery_users SET password_hash = ? WHERE login_key = 'juan'", planted
    )
    service = service_on(db_path, key)
    started = time.monotonic()
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", USER_PASSWORD)
    assert time.monotonic() - started < 1.0


def test_planted_temporary_hash_is_a_failed_sign_in(db_path: Path) -> None:
    """The same holds for the temporary password's hash."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    prepared(db_path, key, mailer).request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    execute(
        db_path,
        "UPDATE pwrecovery_users SET temporary_hash = ? WHERE login_key = 'juan'",
        PLANTED["4 GiB of memory"],
    )
    with pytest.raises(pr.InvalidCredentials):
        service_on(db_path, key).authenticate("juan", temporary)


def two_senders(db_path: Path, key: str, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    service = prepared(db_path, key, mailer)
    service.configure_sender("juan", sender_settings("smtp.respaldo.mx", "r@respaldo.mx"), "otra")
    return service


# How each damage is told: a blob sealed under our key that no longer opens for its row's
# settings is "tampered" (an edit, or a copy from another sender); one that is not ours at
# all is "undecryptable" (a wrong key, a truncated or foreign blob).
DAMAGES = {
    "truncated": ("secret_undecryptable", "undecryptable_senders"),
    "tampered": ("sender_tampered", "tampered_senders"),
    "moved": ("sender_tampered", "tampered_senders"),
    "garbage": ("secret_undecryptable", "undecryptable_senders"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_sender_blob_fails_over(db_path: Path, damage: str) -> None:
    """A truncated, tampered, moved or garbage AES-GCM blob cannot be used: the next sender
    delivers, the audit says why (a blob under our key that does not open for its row is
    ``sender_tampered``; anything else ``secret_undecryptable``), readiness lists it."""
    mailer = pr.RecordingMailer()
    key = pr.generate_key()
    service = two_senders(db_path, key, mailer)
    first, second = service.senders()  # the SUPERVISOR's first
    with raw_sqlite(db_path) as connection:
        blob = connection.execute(
            "SELECT secret FROM pwrecovery_senders WHERE id = ?", (first.id,)
        ).fetchone()[0]
        other = connection.execute(
            "SELECT secret FROM pwrecovery_senders WHERE id = ?", (second.id,)
        ).fetchone()[0]
    damaged = {
        "truncated": blob[:20],
        "tampered": blob[:-1] + bytes([blob[-1] ^ 1]),
        "moved": other,
        "garbage": b"\x00" * 5,
    }[damage]
    execute(db_path, "UPDATE pwrecovery_senders SET secret = ? WHERE id = ?", damaged, first.id)
    service.request_recovery("juan")
    assert "smtp.respaldo.mx" == mailer.sent_through[-1].host
    reason, listed = DAMAGES[damage]
    trail = service.audit_trail("juan")
    if reason == "sender_tampered":
        said = [e.detail["sender"] for e in trail if e.kind == "sender_tampered"]
    else:
        failures = [e for e in trail if e.kind == "delivery_attempt_failed"]
        said = [e.detail["sender"] for e in failures if e.detail["reason"] == reason]
    assert [first.id] == said
    readiness = service.readiness()
    assert (first.id,) == getattr(readiness, listed)
    assert [first.id] == [p.params["sender"] for p in readiness.problems() if "sender" in p.params]


@pytest.mark.parametrize(
    ("sql", "action"),
    [
        (
            "UPDATE pwrecovery_users SET sign_in_locked_until = 'mañana' WHERE login_key = 'juan'",
            "sign_in",
        ),
        (
            "UPDATE pwrecovery_users SET recovery_requests = '{not json' WHERE login_key = 'juan'",
            "sign_in",
        ),
        (
            "UPDATE pwrecovery_users SET temporary_id = 'x', temporary_hash = NULL"
            " WHERE login_key = 'juan'",
            "sign_in",
        ),
        ("UPDATE pwrecovery_senders SET security = 'carrier-pigeon'", "recover"),
        ("UPDATE pwrecovery_senders SET from_address = 'not an address'", "recover"),
        ("UPDATE pwrecovery_audit SET detail = '[1, 2' WHERE kind = 'user_added'", "audit"),
    ],
)
def test_damaged_rows_are_clear_errors(db_path: Path, sql: str, action: str) -> None:
    """A row edited by hand or damaged is StoreDamaged naming its table: no crash, no secret."""
    key = pr.generate_key()
    prepared(db_path, key, pr.RecordingMailer())
    execute(db_path, sql)
    service = service_on(db_path, key)
    actions = {
        "sign_in": lambda: service.authenticate("juan", USER_PASSWORD),
        "recover": lambda: service.request_recovery("juan"),
        "audit": service.audit_trail,
    }
    with pytest.raises(pr.StoreDamaged) as caught:
        actions[action]()
    assert sql.split()[1] == caught.value.table
    assert USER_PASSWORD not in str(caught.value)
    assert str(caught.value).startswith("Un registro de la base de datos de claves está dañado")


def test_lock_holds_across_restarts_and_processes(db_path: Path) -> None:
    """Five failures lock the account (the fifth already answers TooManyAttempts) for every
    later service, in this process or another."""
    key = pr.generate_key()
    prepared(db_path, key, pr.RecordingMailer())
    first = workers.workstation(db_path, key)
    for _ in range(4):
        with pytest.raises(pr.InvalidCredentials):
            first.authenticate("juan", "no es la clave")
    with pytest.raises(pr.TooManyAttempts):
        first.authenticate("juan", "no es la clave")
    restarted = workers.workstation(db_path, key)
    with pytest.raises(pr.TooManyAttempts) as caught:
        restarted.authenticate("juan", USER_PASSWORD)
    assert 55 <= caught.value.retry_after.total_seconds() <= 60
    (elsewhere,) = run_processes(workers.sign_in_once, [(db_path, key, USER_PASSWORD)])
    code, seconds = elsewhere.split()
    assert ("too_many_attempts", True) == (code, 0 < int(seconds) <= 60)


def test_rate_limit_holds_across_restarts(db_path: Path) -> None:
    """Three requests in an hour, whichever service made them: the fourth is refused."""
    key = pr.generate_key()
    mailer = pr.RecordingMailer()
    prepared(db_path, key, mailer)
    for _ in range(3):
        service_on(db_path, key, mailer).request_recovery("juan")
    with pytest.raises(pr.RateLimited) as caught:
        service_on(db_path, key, mailer).request_recovery("juan")
    assert 3500 < caught.value.retry_after.total_seconds() <= 3600


def test_wrong_key_reports_and_never_crashes(db_path: Path) -> None:
    """Opened with the wrong key, the store still works for sign-in; mail fails cleanly."""
    mailer = pr.RecordingMailer()
    prepared(db_path, pr.generate_key(), mailer)
    wrong = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    assert pr.LoginStatus.OK == wrong.authenticate("juan", USER_PASSWORD).status
    with pytest.raises(pr.DeliveryFailed):
        wrong.request_recovery("juan")
    assert 1 == len(wrong.readiness().undecryptable_senders)
    assert SMTP_PASSWORD not in repr(wrong.audit_trail())
