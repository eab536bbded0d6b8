"""Sign-in at the login window: outcomes, backoff (DESIGN §3) and rehashing."""

from __future__ import annotations

from datetime import timedelta

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import NEW_PASSWORD, USER_PASSWORD, temporary_password_in


def fail(svc: pr.RecoveryService, times: int, login: str = "juan") -> None:
    for _ in range(times):
        with pytest.raises(pr.InvalidCredentials):
            svc.authenticate(login, "no es la clave")


def test_ordinary_sign_in(service: pr.RecoveryService) -> None:
    """The ordinary password signs in with status OK; logins match case-insensitively."""
    assert pr.LoginResult(pr.LoginStatus.OK) == service.authenticate("JUAN", USER_PASSWORD)


def test_unknown_login_and_wrong_password_look_alike(service: pr.RecoveryService) -> None:
    """An unknown login and a wrong password raise the same error with the same message."""
    with pytest.raises(pr.InvalidCredentials) as unknown:
        service.authenticate("nadie", USER_PASSWORD)
    with pytest.raises(pr.InvalidCredentials) as wrong:
        service.authenticate("juan", "no es la clave")
    assert str(unknown.value) == str(wrong.value)


def test_invalid_login_text_is_invalid_credentials(service: pr.RecoveryService) -> None:
    """Empty or control-character logins at the login window are just wrong credentials."""
    for login in ("", "   ", "ju\nan", "\x00"):
        with pytest.raises(pr.InvalidCredentials):
            service.authenticate(login, USER_PASSWORD)


def test_lock_after_five_failures(service: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """§3: after 5 failures in a row the account locks for 1 minute, even for the right password."""
    fail(service, 5)
    with pytest.raises(pr.TooManyAttempts) as caught:
        service.authenticate("juan", USER_PASSWORD)
    assert timedelta(minutes=1) == caught.value.retry_after
    clock.advance(seconds=59)
    with pytest.raises(pr.TooManyAttempts) as caught:
        service.authenticate("juan", USER_PASSWORD)
    assert timedelta(seconds=1) == caught.value.retry_after
    clock.advance(seconds=1)
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


def test_lock_doubles_up_to_an_hour(service: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """§3: each further failure doubles the lock: 1, 2, 4 … minutes, at most 1 hour."""
    fail(service, 4)
    observed = []
    for _ in range(8):
        fail(service, 1)
        with pytest.raises(pr.TooManyAttempts) as caught:
            service.authenticate("juan", "no es la clave")
        observed.append(caught.value.retry_after)
        clock.advance(caught.value.retry_after)
    assert [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)] == observed


def test_success_resets_the_count(service: pr.RecoveryService) -> None:
    """§3: only failures in a row count: a success starts the count again."""
    fail(service, 4)
    service.authenticate("juan", USER_PASSWORD)
    fail(service, 4)
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


def test_locked_attempts_are_not_counted(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """Attempts refused during a lock neither verify the password nor lengthen the lock."""
    fail(service, 5)
    for _ in range(10):
        with pytest.raises(pr.TooManyAttempts):
            service.authenticate("juan", "no es la clave")
    clock.advance(minutes=1)
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


def test_lock_is_per_user(service: pr.RecoveryService) -> None:
    """One user's failures do not lock another."""
    fail(service, 5)
    assert pr.LoginStatus.OK == service.authenticate("SUPERVISOR", "Supervisor de 2026").status


def test_change_password_counts_failures_and_honours_lock(service: pr.RecoveryService) -> None:
    """change_password checks the current password under the same backoff."""
    for _ in range(5):
        with pytest.raises(pr.InvalidCredentials):
            service.change_password("juan", "no es la clave", NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.TooManyAttempts):
        service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)


def test_recovery_request_never_locks(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Asking for recoveries, even until rate-limited, leaves sign-in untouched."""
    for _ in range(3):
        ready.request_recovery("juan")
    with pytest.raises(pr.RateLimited):
        ready.request_recovery("juan")
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


def test_temporary_sign_in_while_locked_is_refused(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """The lock holds for every password; the temporary one works again once it ends."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    fail(ready, 5)
    with pytest.raises(pr.TooManyAttempts):
        ready.authenticate("juan", temporary)
    clock.advance(minutes=1)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


def test_rehash_on_sign_in_when_parameters_rise(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """§3: a hash made with weaker parameters is replaced at the next successful sign-in."""
    weak = make_service(hasher=pr.Argon2idHasher(memory_cost=8, iterations=1))
    weak.add_user("ana", USER_PASSWORD)
    before = store.get_user("ana")
    assert before is not None
    assert "m=8,t=1" in before.password_hash
    strong = make_service(hasher=pr.Argon2idHasher(memory_cost=16, iterations=2))
    strong.authenticate("ana", USER_PASSWORD)
    after = store.get_user("ana")
    assert after is not None
    assert "m=16,t=2" in after.password_hash
    assert pr.LoginStatus.OK == strong.authenticate("ana", USER_PASSWORD).status


def test_sign_in_outcomes_are_audited(service: pr.RecoveryService) -> None:
    """Every sign-in outcome leaves an audit event."""
    service.authenticate("juan", USER_PASSWORD, origin="CAJA-02")
    fail(service, 1)
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("nadie", "x")
    kinds = [
        (e.kind, e.origin)
        for e in service.audit_trail()
        if e.kind.startswith("sign_in") or e.kind == "signed_in"
    ]
    assert [("signed_in", "CAJA-02"), ("sign_in_failed", None), ("sign_in_failed", None)] == kinds
