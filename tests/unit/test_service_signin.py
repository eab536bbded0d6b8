"""Sign-in at the login window: outcomes, the lock (taken before any check, the same for
logins that do not exist), one hash checked in every state, and rehashing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery.records import UserRecord
from pwrecovery.testing import CountingHasher
from tests.conftest import ServiceFactory
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    sender_settings,
    temporary_password_in,
    text_of,
)
from tests.racing import StoreWork


def fail(svc: pr.RecoveryService, times: int, login: str = "juan") -> list[str]:
    """Type a wrong password ``times`` times; the codes answered, in order."""
    codes = []
    for _ in range(times):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)) as caught:
            svc.authenticate(login, "no es la clave")
        codes.append(caught.value.code)
    return codes


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
    """After 5 failures in a row the account locks for 1 minute, even for the right password;
    the 5th wrong password already says so."""
    assert ["invalid_credentials"] * 4 + ["too_many_attempts"] == fail(service, 5)
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
    """Each further failure doubles the lock: 1, 2, 4 … minutes, at most 1 hour."""
    fail(service, 4)
    observed = []
    for _ in range(8):
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
    for _ in range(4):
        with pytest.raises(pr.InvalidCredentials):
            service.change_password("juan", "no es la clave", NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.TooManyAttempts):
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


def test_the_owner_always_gets_back_in(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A stranger's five wrong passwords lock the ordinary password, yet the owner's
    temporary password signs in, and the forced change clears the lock and the count."""
    fail(ready, 5)
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    with pytest.raises(pr.TooManyAttempts):
        ready.authenticate("juan", USER_PASSWORD)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == ready.authenticate("juan", NEW_PASSWORD).status
    assert ["invalid_credentials"] * 4 == fail(ready, 4)


def test_the_temporary_route_has_its_own_lock(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Guesses shaped like a temporary password are limited too (5, then a lock), on their
    own count: they neither lock nor are locked by the ordinary password."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    codes = []
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)) as caught:
            ready.authenticate("juan", "Abcd-Efgh-Jkmn")
        codes.append(caught.value.code)
    assert ["invalid_credentials"] * 4 + ["too_many_attempts"] == codes
    with pytest.raises(pr.TooManyAttempts):
        ready.authenticate("juan", temporary)
    assert ["invalid_credentials"] == fail(ready, 1)  # the ordinary route is not locked
    clock.advance(minutes=1)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


@pytest.mark.parametrize("disclosure", ["detailed", "uniform"])
def test_unknown_logins_lock_exactly_as_known_ones(
    make_service: ServiceFactory, disclosure: str, clock: pr.ManualClock
) -> None:
    """The same answers, in the same order, with the same waits, for a login that exists and
    one that does not: the lock tells a stranger nothing."""
    service = make_service(policy=pr.Policy(disclosure=disclosure))  # type: ignore[arg-type]
    service.add_user("juan", USER_PASSWORD)

    def answers(login: str) -> list[tuple[str, timedelta | None]]:
        seen = []
        for _ in range(8):
            with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)) as caught:
                service.authenticate(login, "no es la clave")
            seen.append((caught.value.code, getattr(caught.value, "retry_after", None)))
            if isinstance(caught.value, pr.TooManyAttempts):
                clock.advance(caught.value.retry_after)
        return seen

    known = answers("juan")
    assert known == answers("nadie")
    assert "too_many_attempts" == known[4][0]


def test_unknown_logins_are_audited_by_fingerprint(service: pr.RecoveryService) -> None:
    """A login that does not exist (often a password typed in the wrong field) is never
    written to the audit trail: its keyed fingerprint is, and audit_trail(login) finds it."""
    typed = "MiClaveSecreta2026"
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate(typed, "x")
    events = service.audit_trail(typed)
    assert ["sign_in_failed"] == [e.kind for e in events]
    login = events[0].login
    assert login is not None
    assert re.fullmatch(r"#[0-9a-f]{16}", login) is not None
    assert [] == [e for e in service.audit_trail() if typed.casefold() in repr(e).casefold()]


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


# -- the audit trail of every answer --------------------------------------------------

Event = tuple[str, "str | None", "datetime", "str | None", dict[str, str]]


def trail(svc: pr.RecoveryService, since: int) -> list[Event]:
    """The events recorded after the first ``since``: kind, login, instant, origin, detail."""
    return [(e.kind, e.login, e.at, e.origin, dict(e.detail)) for e in svc.audit_trail()[since:]]


WRONG = {"reason": "invalid_credentials", "route": "password"}


def test_wrong_passwords_are_audited_with_their_count_and_the_lock(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """Each wrong password is audited sign_in_failed with the route and the failures so
    far; the one that takes the lock also says until when."""
    start, now = len(service.audit_trail()), clock.now()
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            service.authenticate("juan", "no es la clave", origin="CAJA-02")
    expected: list[Event] = [
        ("sign_in_failed", "juan", now, "CAJA-02", {**WRONG, "failures": str(n)})
        for n in range(1, 5)
    ]
    lock = {"failures": "5", "locked_until": (now + timedelta(minutes=1)).isoformat()}
    expected.append(("sign_in_failed", "juan", now, "CAJA-02", {**WRONG, **lock}))
    assert expected == trail(service, start)


def test_a_login_that_does_not_exist_is_audited_alike_under_its_fingerprint(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A login that does not exist gets the same events as a wrong password, the lock
    included, filed under its fingerprint."""
    start, now = len(service.audit_trail()), clock.now()
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            service.authenticate("nadie", "no es la clave")
    fingerprint = service.audit_trail("nadie")[0].login
    lock = {"failures": "5", "locked_until": (now + timedelta(minutes=1)).isoformat()}
    expected: list[Event] = [
        ("sign_in_failed", fingerprint, now, None, {**WRONG, "failures": str(n)})
        for n in range(1, 5)
    ]
    expected.append(("sign_in_failed", fingerprint, now, None, {**WRONG, **lock}))
    assert expected == trail(service, start)


@pytest.mark.parametrize("login", ["juan", "nadie"])
def test_an_attempt_refused_by_the_lock_is_audited_as_locked(
    service: pr.RecoveryService, clock: pr.ManualClock, login: str
) -> None:
    """While the lock holds, a sign-in or a change, even with the right password, is
    audited *_refused with reason locked, under the login or its fingerprint."""
    fail(service, 5, login)
    now = clock.advance(seconds=30)
    start = len(service.audit_trail())
    with pytest.raises(pr.TooManyAttempts):
        service.authenticate(login, USER_PASSWORD, origin="CAJA-02")
    with pytest.raises(pr.TooManyAttempts):
        service.change_password(login, USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin="CAJA-03")
    label = service.audit_trail(login)[0].login
    assert [
        ("sign_in_refused", label, now, "CAJA-02", {"reason": "locked"}),
        ("password_change_refused", label, now, "CAJA-03", {"reason": "locked"}),
    ] == trail(service, start)


def test_a_guess_shaped_like_a_temporary_password_is_audited_on_its_route(
    ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A wrong text of the temporary form is counted and audited on the temporary route."""
    ready.request_recovery("juan")
    start = len(ready.audit_trail())
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", "Abcd-Efgh-Jkmn")
    detail = {"reason": "invalid_credentials", "route": "temporary", "failures": "1"}
    assert [("sign_in_failed", "juan", clock.now(), None, detail)] == trail(ready, start)


def test_a_disabled_account_is_audited_and_its_right_password_counts_no_failure(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """The right password of a disabled account is refused (sign_in_refused,
    account_disabled) and clears the failures: the next wrong one is the first again."""
    fail(service, 2)
    service.disable_user("juan")
    start, now = len(service.audit_trail()), clock.now()
    with pytest.raises(pr.AccountDisabled):
        service.authenticate("juan", USER_PASSWORD, origin="CAJA-02")
    service.enable_user("juan")
    fail(service, 1)
    assert [
        ("sign_in_refused", "juan", now, "CAJA-02", {"reason": "account_disabled"}),
        ("user_enabled", "juan", now, None, {}),
        ("sign_in_failed", "juan", now, None, {**WRONG, "failures": "1"}),
    ] == trail(service, start)


def test_an_expired_temporary_password_is_audited_and_counts_no_failure(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """An expired temporary password is refused (temporary_password_expired) and clears
    the temporary route's failures: the next wrong guess is the first again."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", "Abcd-Efgh-Jkmn")
    now = clock.advance(days=7)
    start = len(ready.audit_trail())
    with pytest.raises(pr.TemporaryPasswordExpired):
        ready.authenticate("juan", temporary, origin="CAJA-02")
    with pytest.raises(pr.TemporaryPasswordExpired):
        ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", "Abcd-Efgh-Jkmn")
    expired = {"reason": "temporary_password_expired"}
    assert [
        ("sign_in_refused", "juan", now, "CAJA-02", expired),
        ("password_change_refused", "juan", now, None, expired),
        ("sign_in_failed", "juan", now, None, {**WRONG, "route": "temporary", "failures": "1"}),
    ] == trail(ready, start)


def test_signing_in_and_changing_with_a_temporary_password_is_audited(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """signed_in_with_temporary, then password_changed via the temporary password (and the
    notice mailed to the recovery address), then signed_in with the new one."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    start, now = len(ready.audit_trail()), clock.now()
    (sender,) = (account.id for account in ready.senders())
    ready.authenticate("juan", temporary, origin="CAJA-02")
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD, origin="CAJA-02")
    ready.authenticate("juan", NEW_PASSWORD, origin="CAJA-02")
    assert [
        ("signed_in_with_temporary", "juan", now, "CAJA-02", {}),
        ("password_changed", "juan", now, "CAJA-02", {"via": "temporary"}),
        ("mail_sent", "juan", now, "CAJA-02", {"purpose": "password-changed", "sender": sender}),
        ("signed_in", "juan", now, "CAJA-02", {}),
    ] == trail(ready, start)


def test_the_ordinary_password_revokes_a_pending_temporary_one(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Signing in with the ordinary password while a temporary one is pending revokes it
    (temporary_password_revoked, signed_in_with_password): it no longer signs in."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    start, now = len(ready.audit_trail()), clock.now()
    ready.authenticate("juan", USER_PASSWORD, origin="CAJA-02")
    revoked = {"reason": "signed_in_with_password"}
    assert [
        ("signed_in", "juan", now, "CAJA-02", {}),
        ("temporary_password_revoked", "juan", now, "CAJA-02", revoked),
    ] == trail(ready, start)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)


def test_an_imported_hash_is_upgraded_at_the_first_sign_in_and_audited(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """A legacy hash that signs in is replaced by the service's own at once, audited
    password_upgraded with the legacy scheme's name; the next sign-in is a plain one."""
    service = make_service(legacy_hashers=(pr.Pbkdf2Hasher(),))
    django = pr.Pbkdf2Hasher(iterations=1000).hash(USER_PASSWORD)
    service.import_users([pr.ImportedUser(login="ana", password_hash=django)])
    start, now = len(service.audit_trail()), clock.now()
    service.authenticate("ana", USER_PASSWORD, origin="CAJA-02")
    service.authenticate("ana", USER_PASSWORD)
    record = store.get_user("ana")
    assert record is not None
    assert (True, False) == (
        record.password_hash.startswith("$argon2id$"),
        record.password_hash == django,
    )
    assert [
        ("signed_in", "ana", now, "CAJA-02", {}),
        ("password_upgraded", "ana", now, "CAJA-02", {"scheme": "Pbkdf2Hasher"}),
        ("signed_in", "ana", now, None, {}),
    ] == trail(service, start)


def test_refused_password_changes_are_audited_with_their_reason(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A wrong current password is password_change_failed (counted like a sign-in); a
    confirmation that differs or a new password that breaks the rules is
    password_change_refused with the reason (and the rules); a change is
    password_changed via the ordinary password."""
    start, now = len(service.audit_trail()), clock.now()
    with pytest.raises(pr.InvalidCredentials):
        service.change_password("juan", "no es la clave", NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.PasswordConfirmationMismatch):
        service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, "Otra cosa 2026")
    with pytest.raises(pr.PasswordPolicyViolation):
        service.change_password("juan", USER_PASSWORD, "corta", "corta")
    service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin="CAJA-02")
    with pytest.raises(pr.InvalidCredentials):
        service.change_password("juan", "no es la clave", USER_PASSWORD, USER_PASSWORD)
    assert [
        ("password_change_failed", "juan", now, None, {**WRONG, "failures": "1"}),
        ("password_change_refused", "juan", now, None, {"reason": "password_mismatch"}),
        (
            "password_change_refused",
            "juan",
            now,
            None,
            {"reason": "password_policy", "rules": "too_short"},
        ),
        ("password_changed", "juan", now, "CAJA-02", {"via": "password"}),
        ("password_change_failed", "juan", now, None, {**WRONG, "failures": "1"}),
    ] == trail(service, start)


def test_a_hash_of_the_services_own_parameters_is_kept_at_sign_in(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """A sign-in with a hash the service would make today stores no new one (no second key
    derivation, no new salt): the stored hash is the one there was, and the one check is
    the only key derivation."""
    counter = CountingHasher(cheap_hasher())
    service = make_service(hasher=counter)
    service.add_user("juan", USER_PASSWORD)
    before = store.get_user("juan")
    assert before is not None
    counter.reset()
    service.authenticate("juan", USER_PASSWORD)
    after = store.get_user("juan")
    assert after is not None
    assert (before.password_hash, 0, 1) == (after.password_hash, counter.hashes, counter.verifies)


# -- a password changed between the check and the write -----------------------------


class ChangedAfterFirstWrite:
    """An ``InMemoryStore`` on which another workstation changes the user (``change``)
    right after the service's first write of it: between a sign-in's step 1 (the attempt
    taken) and its settling write."""

    def __init__(self, inner: pr.InMemoryStore, change: Callable[[UserRecord], UserRecord]) -> None:
        self._inner = inner
        self._change: Callable[[UserRecord], UserRecord] | None = change

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def update_user(self, record: UserRecord, **kwargs: Any) -> bool:
        written = self._inner.update_user(record, **kwargs)
        change, self._change = self._change, None
        if written and change is not None:
            current = self._inner.get_user(record.key)
            assert current is not None
            self._inner.update_user(change(current), expected_version=current.version)
        return written


OTHER_HASH = cheap_hasher().hash("La clave de otra estación 1")


@pytest.mark.parametrize("action", ["sign_in", "password_change"])
def test_a_password_changed_meanwhile_is_not_signed_in_with(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock, action: str
) -> None:
    """When another workstation changes the password after the typed one was checked, the
    sign-in or change is refused (InvalidCredentials, audited changed_meanwhile) and the
    other workstation's password stands."""
    make_service().add_user("juan", USER_PASSWORD)
    racing = ChangedAfterFirstWrite(store, lambda u: attrs.evolve(u, password_hash=OTHER_HASH))
    service = make_service(store=racing)
    start = len(service.audit_trail())
    calls = {
        "sign_in": lambda: service.authenticate("juan", USER_PASSWORD, origin="CAJA-02"),
        "password_change": lambda: service.change_password(
            "juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin="CAJA-02"
        ),
    }
    with pytest.raises(pr.InvalidCredentials):
        calls[action]()
    record = store.get_user("juan")
    assert record is not None
    assert [
        (f"{action}_failed", "juan", clock.now(), "CAJA-02", {"reason": "changed_meanwhile"})
    ] == trail(service, start)
    assert OTHER_HASH == record.password_hash


def test_a_temporary_password_replaced_meanwhile_is_not_signed_in_with(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
) -> None:
    """A temporary password replaced by a newer one after it was checked signs no one in."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    racing = ChangedAfterFirstWrite(
        store,
        lambda u: attrs.evolve(u, temporary=attrs.evolve(u.temporary, id="newer", hash=OTHER_HASH)),
    )
    with pytest.raises(pr.InvalidCredentials):
        make_service(store=racing).authenticate("juan", temporary)


class WritesMeanwhile:
    """An ``InMemoryStore`` on which another workstation writes the user just before some of
    the service's writes of it: ``changes[n]`` just before its n-th write (from 0), so that
    this write finds the user changed."""

    def __init__(
        self, inner: pr.InMemoryStore, changes: dict[int, Callable[[UserRecord], UserRecord]]
    ) -> None:
        self._inner = inner
        self._changes = changes
        self._writes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def update_user(self, record: UserRecord, **kwargs: Any) -> bool:
        change = self._changes.pop(self._writes, None)
        self._writes += 1
        if change is not None:
            current = self._inner.get_user(record.key)
            assert current is not None
            self._inner.update_user(change(current), expected_version=current.version)
        return self._inner.update_user(record, **kwargs)


def test_a_hash_upgraded_meanwhile_by_another_sign_in_stands(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """When another workstation's sign-in upgrades the same legacy hash after this one
    checked it, this sign-in succeeds too: it checks the text against the new hash once
    (not again when it must write once more), keeps that hash instead of storing its own
    upgrade, and audits signed_in alone."""
    django = pr.Pbkdf2Hasher(iterations=1000).hash(USER_PASSWORD)
    make_service(legacy_hashers=(pr.Pbkdf2Hasher(),)).import_users(
        [pr.ImportedUser(login="ana", password_hash=django)]
    )
    upgraded = cheap_hasher().hash(USER_PASSWORD)
    racing = WritesMeanwhile(
        store,
        {
            1: lambda u: attrs.evolve(u, password_hash=upgraded),
            2: lambda u: attrs.evolve(u, display_name="Ana"),
        },
    )
    counter = CountingHasher(cheap_hasher())
    service = make_service(store=racing, hasher=counter, legacy_hashers=(pr.Pbkdf2Hasher(),))
    counter.reset()  # the service's own set-up
    start, now = len(service.audit_trail()), clock.now()
    result = service.authenticate("ana", USER_PASSWORD, origin="CAJA-02")
    record = store.get_user("ana")
    assert record is not None
    assert (pr.LoginStatus.OK, upgraded, "Ana") == (
        result.status,
        record.password_hash,
        record.display_name,
    )
    assert (1, 1) == (counter.hashes, counter.verifies)  # its own upgrade, the check on the new
    assert [("signed_in", "ana", now, "CAJA-02", {})] == trail(service, start)


def test_a_legacy_hash_stored_meanwhile_admits_the_text_as_typed(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """When a legacy hash of the same password replaces the user's after the check (the user
    imported again meanwhile), the text is checked against it exactly as typed, the sign-in
    stands, and no upgrade is audited, since none was made: the legacy hash stays."""
    typed = "Contraseña º2026"  # NFKC makes the "º" an "o"; the old application did not
    make_service().add_user("juan", typed)
    legacy = pr.Pbkdf2Hasher(iterations=1000).hash(typed)
    racing = ChangedAfterFirstWrite(store, lambda u: attrs.evolve(u, password_hash=legacy))
    service = make_service(store=racing, legacy_hashers=(pr.Pbkdf2Hasher(),))
    start, now = len(service.audit_trail()), clock.now()
    assert pr.LoginStatus.OK == service.authenticate("juan", typed).status
    record = store.get_user("juan")
    assert record is not None
    assert legacy == record.password_hash
    assert [("signed_in", "juan", now, None, {})] == trail(service, start)


@pytest.mark.parametrize("action", ["sign_in", "password_change"])
def test_another_change_of_the_user_meanwhile_is_read_and_kept(
    make_service: ServiceFactory, store: pr.InMemoryStore, action: str
) -> None:
    """When another workstation changes something else of the user (its display name)
    between the check and the write, the sign-in or change reads the user again and
    stands, and the other change is kept."""
    make_service().add_user("juan", USER_PASSWORD)
    racing = ChangedAfterFirstWrite(store, lambda u: attrs.evolve(u, display_name="Juan P."))
    service = make_service(store=racing)
    if action == "sign_in":
        assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status
    else:
        service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
        assert pr.LoginStatus.OK == service.authenticate("juan", NEW_PASSWORD).status
    record = store.get_user("juan")
    assert record is not None
    assert "Juan P." == record.display_name


@pytest.mark.parametrize("action", ["sign_in", "password_change"])
def test_the_settling_write_starts_from_what_the_attempt_stored(
    make_service: ServiceFactory, store: pr.InMemoryStore, action: str
) -> None:
    """With no one writing in between, a sign-in or a change reads the user once: its
    settling write starts from the user as its attempt stored it."""
    make_service().add_user("juan", USER_PASSWORD)
    work = StoreWork(store)
    service = make_service(store=work)
    if action == "sign_in":
        service.authenticate("juan", USER_PASSWORD)
    else:
        service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert 1 == work.calls["get_user"]


# -- the confirmation and the new password -------------------------------------------


class EqualToAnyText:
    """An entry that is not text, yet claims to equal whatever it is compared with."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("new", "confirmation"),
    [
        (NEW_PASSWORD, None),
        (None, NEW_PASSWORD),
        (None, None),
        (NEW_PASSWORD, 42),
        (42, 42),
        (NEW_PASSWORD, EqualToAnyText()),
        (EqualToAnyText(), NEW_PASSWORD),
        ("x" * 600, "y" * 600),
        ("x" * 600, NEW_PASSWORD),
    ],
    ids=[
        "confirmation-none",
        "new-none",
        "both-none",
        "not-text",
        "both-not-text-equal",
        "confirmation-equal-to-any-text",
        "new-equal-to-any-text",
        "long-differ",
        "long-short",
    ],
)
def test_a_confirmation_that_is_not_the_same_text_is_a_mismatch(
    service: pr.RecoveryService, new: object, confirmation: object
) -> None:
    """A missing or non-text entry, or two entries that differ (however long), are
    PasswordConfirmationMismatch; the password stays."""
    with pytest.raises(pr.PasswordConfirmationMismatch):
        service.change_password("juan", USER_PASSWORD, new, confirmation)  # type: ignore[arg-type]
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


def test_entries_equal_after_nfkc_confirm_each_other(service: pr.RecoveryService) -> None:
    """The two entries are compared after NFKC: "ﬁesta" typed once and "fiesta" the other
    time confirm the same password."""
    service.change_password("juan", USER_PASSWORD, "ﬁesta de ﬁn 2026", "fiesta de fin 2026")
    assert pr.LoginStatus.OK == service.authenticate("juan", "fiesta de fin 2026").status


def test_a_new_password_far_over_the_maximum_is_too_long(service: pr.RecoveryService) -> None:
    """Two equal entries far over the longest password are compared as typed, then refused
    as too_long only."""
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        service.change_password("juan", USER_PASSWORD, "x" * 600, "x" * 600)
    assert ("too_long",) == caught.value.reasons


@pytest.mark.parametrize("route", ["password", "temporary"])
@pytest.mark.parametrize(
    ("new", "confirmation", "refusal"),
    [
        (NEW_PASSWORD, "Otra clave 2026", pr.PasswordConfirmationMismatch),
        ("juan", "juan", pr.PasswordPolicyViolation),
    ],
    ids=["mismatch", "policy"],
)
def test_a_refused_change_clears_the_route_it_was_made_on(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    route: str,
    new: str,
    confirmation: str,
    refusal: type[pr.PwRecoveryError],
) -> None:
    """A change refused for its new password after the current password was right counts
    no failure on the route it came by, and leaves the other route's count alone; the
    refusal is audited with its origin."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    guesses = {"password": "no es la clave", "temporary": "Abcd-Efgh-Jkmn"}
    for guess in guesses.values():
        with pytest.raises(pr.InvalidCredentials):
            ready.authenticate("juan", guess)
    current = USER_PASSWORD if route == "password" else temporary
    with pytest.raises(refusal):
        ready.change_password("juan", current, new, confirmation, origin="C1")
    refused = ready.audit_trail()[-1]
    start, now = len(ready.audit_trail()), clock.now()
    for guess in guesses.values():
        with pytest.raises(pr.InvalidCredentials):
            ready.authenticate("juan", guess)
    counts = {"password": "1" if route == "password" else "2"}
    counts["temporary"] = "1" if route == "temporary" else "2"
    assert [
        ("sign_in_failed", "juan", now, None, {**WRONG, "failures": counts["password"]}),
        (
            "sign_in_failed",
            "juan",
            now,
            None,
            {**WRONG, "route": "temporary", "failures": counts["temporary"]},
        ),
    ] == trail(ready, start)
    assert ("password_change_refused", "C1") == (refused.kind, refused.origin)


def test_a_policy_refusal_names_every_rule_broken(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """The audit of a new password refused by the rules names each rule it broke."""
    with pytest.raises(pr.PasswordPolicyViolation):
        service.change_password("juan", USER_PASSWORD, "juan", "juan")
    rules = {"reason": "password_policy", "rules": "too_short,common,same_as_login"}
    assert [("password_change_refused", "juan", clock.now(), None, rules)] == trail(
        service, len(service.audit_trail()) - 1
    )


def test_a_sign_in_with_the_ordinary_password_leaves_the_temporary_count(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Each route keeps its own count: signing in with the ordinary password forgets its
    own failures, not those of guesses at the temporary password."""
    ready.request_recovery("juan")
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", "Abcd-Efgh-Jkmn")
    ready.authenticate("juan", USER_PASSWORD)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", "Abcd-Efgh-Jkmn")
    assert "2" == ready.audit_trail("juan")[-1].detail["failures"]


def test_a_refused_new_password_says_the_policys_limits(make_service: ServiceFactory) -> None:
    """The refusal of a new password carries the policy's limits into its sentence."""
    service = make_service(policy=pr.Policy(password_min_length=10, password_max_length=20))
    service.add_user("juan", USER_PASSWORD)
    with pytest.raises(pr.PasswordPolicyViolation) as short:
        service.change_password("juan", USER_PASSWORD, "corta 1", "corta 1")
    with pytest.raises(pr.PasswordPolicyViolation) as long:
        service.change_password("juan", USER_PASSWORD, "x" * 21, "x" * 21)
    assert [
        pr.PasswordPolicyViolation((reason,), min_length=10, max_length=20).message("en")
        for reason in ("too_short", "too_long")
    ] == [short.value.message("en"), long.value.message("en")]


def test_changing_with_the_ordinary_password_checks_one_hash_and_makes_one(
    make_service: ServiceFactory,
) -> None:
    """A change with the ordinary password costs one check (the current password; the new
    one is compared with the text typed, not with the hash) and one new hash."""
    counter = CountingHasher(cheap_hasher())
    service = make_service(hasher=counter)
    service.add_user("juan", USER_PASSWORD)
    counter.reset()
    service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert (1, 1) == (counter.hashes, counter.verifies)


def test_a_temporary_sign_in_makes_no_hash_even_over_a_legacy_one(
    make_service: ServiceFactory, mailer: pr.RecordingMailer
) -> None:
    """Signing in with the temporary password checks it and hashes nothing, even when the
    ordinary password is a legacy hash waiting for its upgrade."""
    counter = CountingHasher(cheap_hasher())
    service = make_service(hasher=counter, legacy_hashers=(pr.Pbkdf2Hasher(),))
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    django = pr.Pbkdf2Hasher(iterations=1000).hash(USER_PASSWORD)
    service.import_users(
        [
            pr.ImportedUser(
                login="SUPERVISOR2",
                password_hash=django,
                supervisor=True,
                recovery_email="s@empresa.mx",
                recovery_email_verified=True,
            ),
            pr.ImportedUser(
                login="ana",
                password_hash=django,
                recovery_email="ana@empresa.mx",
                recovery_email_verified=True,
            ),
        ]
    )
    service.request_recovery("ana")
    temporary = temporary_password_in(mailer.outbox[-1])
    counter.reset()
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("ana", temporary).status
    assert (0, 1) == (counter.hashes, counter.verifies)


def test_the_password_changed_notice_goes_only_to_a_verified_address(
    service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """An address set but never confirmed hears nothing of a password change."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    service.set_recovery_email("juan", "juan@empresa.mx")
    sent = len(mailer.outbox)
    service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert sent == len(mailer.outbox)


def test_the_password_changed_notice_speaks_the_users_language(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """The notice goes in the user's language, not the service's."""
    ready.set_user_locale("juan", "en")
    ready.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert "Hello Juan Pérez," == text_of(mailer.outbox[-1]).splitlines()[0]


def test_a_keyless_service_queues_the_notice_for_the_user(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key the password-changed notice waits in the outbox, filed under its
    user."""
    make_service(secret_key=None).change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    (message,) = store.due_messages(clock.now(), 10)
    assert ("juan", pr.Purpose.PASSWORD_CHANGED) == (message.user_key, message.purpose)


@pytest.mark.parametrize(("recover", "sentence"), [(False, "Changed!"), (True, "Recovered!")])
def test_change_password_answers_how_the_user_got_in_in_the_services_words(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    recover: bool,
    sentence: str,
) -> None:
    """The answer says which password let the user in, and its sentence is in the
    service's language and the host's words."""
    words = {"success.password_changed": "Changed!", "success.password_recovered": "Recovered!"}
    service = make_service(locale="en", translations={"en": words})
    current = USER_PASSWORD
    if recover:
        service.request_recovery("juan")
        current = temporary_password_in(mailer.outbox[-1])
    answer = service.change_password("juan", current, NEW_PASSWORD, NEW_PASSWORD)
    assert (("temporary" if recover else "password"), sentence) == (answer.via, answer.message())


def test_an_old_lock_is_not_reported_under_a_raised_limit(
    make_service: ServiceFactory, service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A failure audits locked_until only for a lock that holds: after a lock has run out,
    a failure under a limit raised meanwhile reports none."""
    fail(service, 5)
    now = clock.advance(minutes=2)
    raised = make_service(policy=pr.Policy(max_failed_sign_ins=10))
    start = len(raised.audit_trail())
    fail(raised, 1)
    assert [("sign_in_failed", "juan", now, None, {**WRONG, "failures": "6"})] == trail(
        raised, start
    )


# -- what is typed, and the counters it is taken on ----------------------------------


@pytest.mark.parametrize("typed", ["Contraseña º2026", "Abcd Efgh Jkmn"], ids=["nfkc", "spaces"])
def test_an_imported_hash_admits_the_password_exactly_as_the_old_application_hashed_it(
    make_service: ServiceFactory, typed: str
) -> None:
    """A legacy hash is checked against the text as typed, even where the service's own
    form differs (NFKC makes the "º" an "o"; a text of the temporary form has its spaces
    read as hyphens): it signs in, and again on the hash it was upgraded to."""
    service = make_service(legacy_hashers=(pr.Pbkdf2Hasher(),))
    legacy = pr.Pbkdf2Hasher(iterations=1000).hash(typed)
    service.import_users([pr.ImportedUser(login="ana", password_hash=legacy)])
    assert [pr.LoginStatus.OK] * 2 == [service.authenticate("ana", typed).status for _ in "12"]


def test_a_password_that_cannot_be_anyones_counts_on_the_ordinary_route(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A password far over the longest allowed, or not text at all, is a wrong ordinary
    password: counted and audited on the password route, with the other wrong ones."""
    start, now = len(service.audit_trail()), clock.now()
    for typed in ("x" * 600, 42, "no es la clave"):
        with pytest.raises(pr.InvalidCredentials):
            service.authenticate("juan", typed)  # type: ignore[arg-type]
    assert [
        ("sign_in_failed", "juan", now, None, {**WRONG, "failures": str(n)}) for n in (1, 2, 3)
    ] == trail(service, start)


@pytest.mark.parametrize("login", ["juan", "nadie"])
def test_every_login_keeps_the_temporary_forms_count_apart(
    service: pr.RecoveryService, clock: pr.ManualClock, login: str
) -> None:
    """A login that does not exist keeps the two routes' counts apart, as a real one does:
    after the ordinary password's lock, a guess of the temporary form is its route's first."""
    fail(service, 5, login)
    start = len(service.audit_trail())
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate(login, "Abcd-Efgh-Jkmn")
    label = service.audit_trail(login)[0].login
    temporary = {**WRONG, "route": "temporary", "failures": "1"}
    assert [("sign_in_failed", label, clock.now(), None, temporary)] == trail(service, start)


class TypedLengths(CountingHasher):
    """A ``CountingHasher`` that also notes the length of each text it checks."""

    def __init__(self, inner: pr.PasswordHasher) -> None:
        super().__init__(inner)
        self.lengths: list[int] = []

    def verify(self, encoded: str, password: str) -> bool:
        self.lengths.append(len(password))
        return super().verify(encoded, password)


def test_a_refusal_by_the_lock_checks_the_text_typed_like_any_answer(
    make_service: ServiceFactory,
) -> None:
    """A sign-in refused by the lock still runs the one check every answer costs, on the
    text typed (against a stand-in hash): the same work as a wrong password."""
    hasher = TypedLengths(cheap_hasher())
    service = make_service(hasher=hasher)
    service.add_user("juan", USER_PASSWORD)
    typed = "no es la clave, ni de lejos"
    for _ in range(6):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            service.authenticate("juan", typed)
    assert [len(typed)] * 6 == hasher.lengths


class ThrottlesRead:
    """An ``InMemoryStore`` that notes which counters of unknown logins are read."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self.fingerprints: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_throttle(self, fingerprint: str) -> object:
        self.fingerprints.append(fingerprint)
        return self._inner.get_throttle(fingerprint)


def test_a_login_that_exists_reads_the_counters_its_fingerprint_would_have(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """A sign-in as a login that exists reads the counters its fingerprint would have, the
    read a login that does not exist makes: the same row for the same text."""
    service = make_service()
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("ana", "no es la clave")
    (fingerprint,) = {event.login for event in service.audit_trail("ana")}
    assert fingerprint is not None
    service.add_user("ana", USER_PASSWORD)
    reads = ThrottlesRead(store)
    make_service(store=reads).authenticate("ana", USER_PASSWORD)
    assert [fingerprint] == reads.fingerprints


def test_idle_fingerprints_are_forgotten_on_the_minute(
    service: pr.RecoveryService, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """Counters of a login that does not exist go at the first prune after they have been
    idle longer than the policy remembers; prunes come once a minute, the next one exactly
    a minute after the last."""
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("nadie", "no es la clave")  # counted, and the first prune
    fingerprint = service.audit_trail("nadie")[0].login
    assert fingerprint is not None
    policy = pr.Policy()
    clock.advance(max(policy.failure_memory, policy.lockout_max))
    service.authenticate("juan", USER_PASSWORD)  # a prune: idle exactly that long, it stays
    kept = store.get_throttle(fingerprint) is not None
    clock.advance(minutes=1)
    service.authenticate("juan", USER_PASSWORD)  # the next prune: now it goes
    assert (True, None) == (kept, store.get_throttle(fingerprint))
