"""The recovery story through the service: the recovery story and its rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import content_from_json
from pwrecovery.records import UserRecord
from tests.conftest import ServiceFactory
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    temporary_password_in,
    text_of,
    verify_address,
)

NOW = pr.ManualClock().now()  # the instant every ManualClock starts at
# Uniform mode without a response-time floor: these tests look at answers and audits.
UNIFORM = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))


def recover(svc: pr.RecoveryService, mailer: pr.RecordingMailer, login: str = "juan") -> str:
    svc.request_recovery(login)
    return temporary_password_in(mailer.outbox[-1])


def test_full_flow(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """§1.2–§1.4: the mail carries a temporary password; it forces a change; the new one works."""
    sent = ready.request_recovery("juan", origin="CAJA-01")
    message = mailer.outbox[-1]
    assert "juan@empresa.mx" in message["To"]
    assert "temporary-password" == message["X-PwRecovery-Purpose"]
    temporary = temporary_password_in(message)
    result = ready.authenticate("juan", temporary)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == result.status
    assert sent.expires_at == result.expires_at
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == ready.authenticate("juan", NEW_PASSWORD).status
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", USER_PASSWORD)


def test_masked_address_and_expiry_answer(ready: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """request_recovery says where the mail went (masked) and until when it is valid (7 days)."""
    sent = ready.request_recovery("JUAN")
    assert "j***@empresa.mx" == sent.masked_address
    assert clock.now() + timedelta(days=7) == sent.expires_at


@pytest.mark.parametrize(
    ("elapsed", "works"),
    [
        (timedelta(days=7) - timedelta(seconds=1), True),
        (timedelta(days=7), False),
        (timedelta(days=7) + timedelta(seconds=1), False),
    ],
)
def test_seven_day_boundary(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    elapsed: timedelta,
    works: bool,
) -> None:
    """§1.3: the temporary password works until 7 days after issue, exclusive."""
    temporary = recover(ready, mailer)
    clock.advance(elapsed)
    if works:
        assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status
        ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    else:
        with pytest.raises(pr.TemporaryPasswordExpired):
            ready.authenticate("juan", temporary)
        with pytest.raises(pr.TemporaryPasswordExpired):
            ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)


def test_policy_ttl_is_honoured(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Policy(temporary_password_ttl=24 h), the NIST choice, expires the password after a day."""
    nist = make_service(policy=pr.Policy(temporary_password_ttl=timedelta(hours=24)))
    sent = nist.request_recovery("juan")
    assert clock.now() + timedelta(hours=24) == sent.expires_at
    clock.advance(hours=24)
    with pytest.raises(pr.TemporaryPasswordExpired):
        nist.authenticate("juan", temporary_password_in(mailer.outbox[-1]))


def test_ordinary_password_keeps_working(ready: pr.RecoveryService) -> None:
    """§1.3: a stranger asking for a recovery locks nobody out."""
    ready.request_recovery("juan")
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


def test_newer_request_supersedes_older(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.3: a newer request replaces the older temporary password."""
    first = recover(ready, mailer)
    second = recover(ready, mailer)
    assert first != second
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", first)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", second).status


def test_ordinary_sign_in_revokes_temporary(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.3: a successful sign-in with the ordinary password revokes the temporary one."""
    temporary = recover(ready, mailer)
    ready.authenticate("juan", USER_PASSWORD)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)
    kinds = [e.kind for e in ready.audit_trail("juan")]
    assert "temporary_password_revoked" in kinds


def test_catalog_change_revokes_temporary(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.3: any password change, here from the catalog, revokes the temporary password."""
    temporary = recover(ready, mailer)
    ready.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)


def test_temporary_password_is_single_use(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.3: once it changed the password, the temporary password is gone."""
    temporary = recover(ready, mailer)
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(pr.InvalidCredentials):
        ready.change_password("juan", temporary, "Otra clave nueva 9", "Otra clave nueva 9")
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)


def test_temporary_sign_in_may_be_repeated_before_change(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Signing in with it twice (the window was closed) still asks for the change."""
    temporary = recover(ready, mailer)
    for _ in range(2):
        assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


def test_temporary_never_becomes_ordinary(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.3: signing in with the temporary password never yields OK."""
    temporary = recover(ready, mailer)
    ready.authenticate("juan", temporary)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


def test_confirmation_mismatch_changes_nothing(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.4: the two entries must match; otherwise nothing changes."""
    temporary = recover(ready, mailer)
    with pytest.raises(pr.PasswordConfirmationMismatch):
        ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ("corto", "too_short"),
        ("x" * 129, "too_long"),
        ("password1", "common"),
        ("Juan", "too_short"),
        ("juan.perez", None),
    ],
)
def test_weak_passwords_are_refused(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, new: str, reason: str | None
) -> None:
    """§3: the new password passes the rules, or PasswordPolicyViolation says which failed."""
    temporary = recover(ready, mailer)
    if reason is None:
        ready.change_password("juan", temporary, new, new)
        assert pr.LoginStatus.OK == ready.authenticate("juan", new).status
        return
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        ready.change_password("juan", temporary, new, new)
    assert reason in caught.value.reasons
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


def test_new_password_cannot_be_the_login(make_service: ServiceFactory) -> None:
    """§3: not the login, whatever its case."""
    svc = make_service()
    svc.add_user("contador.general", USER_PASSWORD)
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        svc.change_password(
            "contador.general", USER_PASSWORD, "CONTADOR.GENERAL", "CONTADOR.GENERAL"
        )
    assert ("same_as_login",) == caught.value.reasons


def test_new_password_cannot_be_current_or_temporary(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Not the current ordinary password, not the temporary one (nor anything shaped like
    a temporary password, so that any typed text is checked against one hash only)."""
    temporary = recover(ready, mailer)
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        ready.change_password("juan", temporary, USER_PASSWORD, USER_PASSWORD)
    assert ("same_as_current",) == caught.value.reasons
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        ready.change_password("juan", temporary, temporary, temporary)
    assert ("temporary_form", "same_as_temporary") == caught.value.reasons
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        ready.change_password("juan", USER_PASSWORD, USER_PASSWORD, USER_PASSWORD)
    assert ("same_as_current",) == caught.value.reasons
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        ready.change_password("juan", USER_PASSWORD, temporary, temporary)
    assert ("temporary_form",) == caught.value.reasons


def test_change_sends_password_changed_notice(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§2: after a change a notice without any secret goes to the verified address."""
    temporary = recover(ready, mailer)
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    notice = mailer.outbox[-1]
    assert "password-changed" == notice["X-PwRecovery-Purpose"]
    assert "juan@empresa.mx" in notice["To"]
    body = text_of(notice)
    assert temporary not in body
    assert NEW_PASSWORD not in body


def test_change_stands_when_notice_cannot_be_sent(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A failed notice does not undo the change; the failure is audited."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    ready.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == ready.authenticate("juan", NEW_PASSWORD).status
    assert "notice_failed" in [e.kind for e in ready.audit_trail("juan")]


@pytest.mark.parametrize(
    ("verified", "expected"),
    [
        ({"SUPERVISOR"}, {"user"}),
        ({"juan"}, {"supervisor"}),
        (set(), {"user", "supervisor"}),
    ],
)
def test_missing_addresses_are_named(
    service: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    verified: set[str],
    expected: set[str],
) -> None:
    """§1.5: recovery needs the user's and a supervisor's address; the warning says which."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    for login in verified:
        verify_address(service, mailer, login, f"{login.lower()}@empresa.mx")
    sent_before = len(mailer.outbox)
    with pytest.raises(pr.RecoveryEmailMissing) as caught:
        service.request_recovery("juan")
    assert frozenset(expected) == caught.value.missing
    assert sent_before == len(mailer.outbox)


def test_unverified_address_counts_as_missing(
    service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.1: an address set but not confirmed with its code does not count."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    service.set_recovery_email("juan", "juan@empresa.mx")
    assert service.get_user("juan").recovery_email_verified is False
    with pytest.raises(pr.RecoveryEmailMissing) as caught:
        service.request_recovery("juan")
    assert frozenset({"user"}) == caught.value.missing


def test_any_supervisor_with_an_address_suffices(
    service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.5: at least one supervisor needs a verified address, not every one."""
    service.add_user("SUPERVISOR2", "Otra clave segura 5", supervisor=True)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR2", "s2@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    assert "j***@empresa.mx" == service.request_recovery("juan").masked_address


def test_supervisor_recovers_own_password(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """The SUPERVISOR is a user too: its own verified address serves both roles."""
    temporary = recover(ready, mailer, "SUPERVISOR")
    assert "supervisor@empresa.mx" in mailer.outbox[-1]["To"]
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("supervisor", temporary).status


def test_unknown_user(ready: pr.RecoveryService) -> None:
    """request_recovery for a login that does not exist raises UnknownUser (detailed mode)."""
    with pytest.raises(pr.UnknownUser):
        ready.request_recovery("nadie")


def test_no_sender_configured(service: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """Without sender accounts nothing can be mailed: NoSenderConfigured, not a crash."""
    with pytest.raises(pr.NoSenderConfigured):
        service.set_recovery_email("juan", "juan@empresa.mx")
    assert service.get_user("juan").recovery_email is None
    assert [] == mailer.outbox


def test_rate_limit(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """§3: three requests per user per rolling hour, then RateLimited with retry_after."""
    ready.request_recovery("juan")  # at 00:00
    clock.advance(minutes=10)
    ready.request_recovery("juan")  # at 00:10
    clock.advance(minutes=10)
    ready.request_recovery("juan")  # at 00:20
    with pytest.raises(pr.RateLimited) as caught:
        ready.request_recovery("juan")
    assert timedelta(minutes=40) == caught.value.retry_after
    assert 3 == len(mailer.outbox)
    clock.advance(caught.value.retry_after)
    ready.request_recovery("juan")
    assert 4 == len(mailer.outbox)


def test_rate_limit_is_per_user(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """One user's requests do not use up another's."""
    for _ in range(3):
        ready.request_recovery("juan")
    ready.request_recovery("SUPERVISOR")
    assert "supervisor@empresa.mx" in mailer.outbox[-1]["To"]


def test_rate_limited_request_keeps_last_password(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A refused (rate-limited) request does not revoke the last temporary password."""
    for _ in range(3):
        temporary = recover(ready, mailer)
    with pytest.raises(pr.RateLimited):
        ready.request_recovery("juan")
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status


def test_typed_login_cannot_inject_lines(ready: pr.RecoveryService) -> None:
    """A login typed with line breaks is refused as a login, reaching neither a message nor
    the audit trail."""
    before = ready.audit_trail()
    with pytest.raises(pr.InvalidLogin) as caught:
        ready.request_recovery("nadie\r\nrecovery_refused: juan")
    assert "\n" not in str(caught.value)
    assert before == ready.audit_trail()


@pytest.mark.parametrize("login", ["", "   ", "\t"])
def test_an_empty_login_asks_for_the_login(ready: pr.RecoveryService, login: str) -> None:
    """ "Recuperar clave" with no login says to type it (release 1 said «No existe el usuario
    «»»)."""
    with pytest.raises(pr.InvalidLogin) as caught:
        ready.request_recovery(login)
    assert ("Escribe tu nombre de usuario.", True) == (str(caught.value), caught.value.empty)


# -- the audit trail of every answer --------------------------------------------------


def trail(svc: pr.RecoveryService, since: int) -> list[tuple[object, ...]]:
    """The events recorded after the first ``since``: kind, login, instant, origin, detail."""
    return [(e.kind, e.login, e.at, e.origin, dict(e.detail)) for e in svc.audit_trail()[since:]]


def refused(svc: pr.RecoveryService, login: str, error: type[pr.PwRecoveryError]) -> list[object]:
    """Ask for a recovery that ``error`` refuses; the events it recorded."""
    start = len(svc.audit_trail())
    with pytest.raises(error):
        svc.request_recovery(login, origin="CAJA-01")
    return trail(svc, start)


def test_every_refused_recovery_is_audited_with_its_reason(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """A refused "Recuperar clave" is audited recovery_refused with the refusal's code,
    under the login (or the fingerprint of one that does not exist), and mails nothing."""
    now = clock.now()
    ready.add_user("pedro", "Pedro sin correo 1")
    ready.add_user("apagado", "Apagado sin acceso 4")
    ready.disable_user("apagado")
    for _ in range(3):
        ready.request_recovery("juan")
    sent = len(mailer.outbox)
    unknown = refused(ready, "nadie", pr.UnknownUser)
    label = ready.audit_trail("nadie")[0].login
    assert [
        [("recovery_refused", label, now, "CAJA-01", {"reason": "unknown_user"})],
        [("recovery_refused", "apagado", now, "CAJA-01", {"reason": "account_disabled"})],
        [("recovery_refused", "pedro", now, "CAJA-01", {"reason": "recovery_email_missing"})],
        [("recovery_refused", "juan", now, "CAJA-01", {"reason": "rate_limited"})],
    ] == [
        unknown,
        refused(ready, "apagado", pr.AccountDisabled),
        refused(ready, "pedro", pr.RecoveryEmailMissing),
        refused(ready, "juan", pr.RateLimited),
    ]
    assert sent == len(mailer.outbox)


def test_a_recovery_without_a_sender_is_audited(
    ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """Once the last sender is removed, a recovery that would go out is refused
    (NoSenderConfigured) and audited as such."""
    for account in ready.senders():
        ready.remove_sender(account.id)
    assert [
        ("recovery_refused", "juan", clock.now(), "CAJA-01", {"reason": "no_sender_configured"})
    ] == refused(ready, "juan", pr.NoSenderConfigured)


def test_a_recovery_over_the_senders_budget_is_audited(
    make_service: ServiceFactory, ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """When every sender has used its SMTP logins of the minute, the recovery is refused
    (RateLimited for the budget) and audited smtp_budget."""
    busy = make_service(policy=pr.Policy(smtp_logins_per_minute=1))  # spent by `ready`
    assert [
        ("recovery_refused", "juan", clock.now(), "CAJA-01", {"reason": "smtp_budget"})
    ] == refused(busy, "juan", pr.RateLimited)


def test_a_recovery_is_audited_with_its_mail_and_its_credential(
    ready: pr.RecoveryService, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """A recovery records the mail sent (purpose, sender) and the temporary password
    issued: its id, when it expires, and that it went out at once. The stored
    credential says when it was issued and until when it is valid."""
    start, now = len(ready.audit_trail()), clock.now()
    ready.request_recovery("juan", origin="CAJA-01")
    record = store.get_user("juan")
    assert record is not None
    assert record.temporary is not None
    assert (now, now + timedelta(days=7)) == (
        record.temporary.issued_at,
        record.temporary.expires_at,
    )
    (sender,) = (account.id for account in ready.senders())
    issued = {
        "credential": record.temporary.id,
        "expires_at": (now + timedelta(days=7)).isoformat(),
        "delivery": "immediate",
    }
    assert [
        ("mail_sent", "juan", now, "CAJA-01", {"purpose": "temporary-password", "sender": sender}),
        ("temporary_password_issued", "juan", now, "CAJA-01", issued),
    ] == trail(ready, start)


def test_an_undelivered_recovery_is_withdrawn_and_audited(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """When no sender delivers, the request still counts, no temporary password is left
    active (temporary_password_withdrawn, delivery_failed) and the error says so."""
    before = recover(ready, mailer)
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    start, now = len(ready.audit_trail()), clock.now()
    with pytest.raises(pr.DeliveryFailed):
        ready.request_recovery("juan", origin="CAJA-01")
    events = trail(ready, start)
    record = store.get_user("juan")
    assert record is not None
    assert (None, 2) == (record.temporary, len(record.recovery_requests))
    assert ("temporary_password_withdrawn", "juan", now, "CAJA-01") == events[-1][:4]
    assert {"reason": "delivery_failed"} == events[-1][4]
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", before)


def test_a_queued_recovery_is_audited_as_queued(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """A service without the key queues the recovery: the temporary password is issued
    (still to be made) in the same write, audited with delivery queued."""
    keyless = make_service(secret_key=None)
    start, now = len(keyless.audit_trail()), clock.now()
    keyless.request_recovery("juan", origin="CAJA-01")
    record = store.get_user("juan")
    assert record is not None
    assert record.temporary is not None
    assert record.temporary.hash is None
    issued = {
        "credential": record.temporary.id,
        "expires_at": (now + timedelta(days=7)).isoformat(),
        "delivery": "queued",
    }
    assert [("temporary_password_issued", "juan", now, "CAJA-01", issued)] == trail(keyless, start)
    (message,) = store.due_messages(now, 10)
    assert ("juan", record.temporary.id) == (message.user_key, message.credential_id)


def test_the_answer_speaks_the_services_language_and_the_hosts_words(
    make_service: ServiceFactory, ready: pr.RecoveryService
) -> None:
    """The sentence of a recovery's answer is in the service's language, with the host's
    own words where it gave them."""
    words = {"en": {"success.recovery_sent": "Sent to {address}."}}
    english = make_service(locale="en", translations=words)
    assert "Sent to j***@empresa.mx." == english.request_recovery("juan").message()


@pytest.mark.parametrize("login", ["nadie", "Nadie Más"])
def test_unknown_user_names_the_login_typed(ready: pr.RecoveryService, login: str) -> None:
    """UnknownUser names the login as it was typed (detailed mode)."""
    with pytest.raises(pr.UnknownUser) as caught:
        ready.request_recovery(login)
    assert login == caught.value.login


class ChangedOnSecondRead:
    """An ``InMemoryStore`` on which another workstation changes juan (``change``, or
    removes him with None) right after the service's first read of him: between the
    request's checks and the conditional write that counts it."""

    def __init__(
        self, inner: pr.InMemoryStore, change: Callable[[UserRecord], UserRecord] | None
    ) -> None:
        self._inner = inner
        self._change = change
        self._reads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_user(self, key: str) -> UserRecord | None:
        found = self._inner.get_user(key)
        self._reads += key == "juan"
        if self._reads == 1 and found is not None:
            if self._change is None:
                self._inner.remove_user(key, expected_version=found.version)
            else:
                self._inner.update_user(self._change(found), expected_version=found.version)
        return found


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda u: attrs.evolve(u, disabled=True), pr.AccountDisabled),
        (lambda u: attrs.evolve(u, recovery_requests=(NOW,) * 3), pr.RateLimited),
        (None, pr.UnknownUser),
    ],
    ids=["disabled", "rate-limited", "removed"],
)
def test_a_request_is_checked_again_on_the_record_it_counts_on(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    change: Callable[[UserRecord], UserRecord] | None,
    refusal: type[pr.PwRecoveryError],
) -> None:
    """A user disabled, out of requests or removed by another workstation while a request
    was being checked gets that refusal, not a mail; a removed user's is UnknownUser
    naming the login."""
    service = make_service(store=ChangedOnSecondRead(store, change))
    sent = len(mailer.outbox)
    with pytest.raises(refusal) as caught:
        service.request_recovery("juan")
    assert sent == len(mailer.outbox)
    if refusal is pr.UnknownUser:
        assert "juan" == caught.value.login


def test_in_uniform_mode_a_request_refused_on_the_fresh_record_answers_as_any_other(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
) -> None:
    """In uniform mode a request refused on the fresh record gets the generic answer."""
    racing = ChangedOnSecondRead(store, lambda u: attrs.evolve(u, disabled=True))
    policy = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))
    answer = make_service(store=racing, policy=policy).request_recovery("juan")
    assert ("***@***", 0) == (answer.masked_address, len(mailer.outbox))


class RemovesOnSend:
    """A ``Mailer`` that removes the recipient's user from the store while sending (another
    workstation removing the user as the mail goes out), then sends."""

    def __init__(self, inner: pr.RecordingMailer, store: pr.InMemoryStore) -> None:
        self._inner = inner
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def send(self, settings: pr.SenderSettings, password: str, message: EmailMessage) -> None:
        found = self._store.get_user("juan")
        if found is not None:
            self._store.remove_user("juan", expected_version=found.version)
        self._inner.send(settings, password, message)


def test_a_mail_sent_to_a_user_removed_meanwhile_is_still_audited(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
) -> None:
    """When the user is removed while the recovery mail goes out, the mail sent is still
    recorded in the audit trail."""
    service = make_service(mailer=RemovesOnSend(mailer, store))
    service.request_recovery("juan")
    assert "mail_sent" == service.audit_trail()[-1].kind


def test_a_queued_recovery_mail_says_until_when(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """The queued mail's content carries the address and the temporary password's expiry,
    for the worker to write them."""
    make_service(secret_key=None).request_recovery("juan")
    (message,) = store.due_messages(clock.now(), 10)
    content, _ = content_from_json(message.payload)
    assert ("juan@empresa.mx", clock.now() + timedelta(days=7)) == (
        content.to_address,
        content.expires_at,
    )


def test_a_uniform_refusal_is_audited_with_its_origin(
    make_service: ServiceFactory, ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """In uniform mode too, the refusal is audited with the workstation it came from."""
    policy = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))
    uniform = make_service(policy=policy)
    uniform.request_recovery("nadie", origin="CAJA-09")
    event = uniform.audit_trail()[-1]
    assert ("recovery_refused", "CAJA-09", {"reason": "unknown_user"}) == (
        event.kind,
        event.origin,
        dict(event.detail),
    )


@pytest.mark.parametrize("keyless", [True, False], ids=["keyless", "delivery-queued"])
def test_a_queued_request_is_not_held_by_the_senders_budget(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
    keyless: bool,
) -> None:
    """A queued request logs in nowhere now, so a spent SMTP budget does not refuse it:
    the worker meets the budget when it sends."""
    options: dict[str, object] = {"policy": pr.Policy(smtp_logins_per_minute=1)}
    if keyless:
        options["secret_key"] = None
    busy = make_service(**options)  # the budget is spent by `ready`
    busy.request_recovery("juan", delivery="queued")
    assert 1 == len(store.due_messages(clock.now(), 10))


def test_every_uniform_refusal_is_audited_with_its_reason(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """In uniform mode each refusal is audited as in detailed mode: recovery_refused under
    the login (or the fingerprint of one that does not exist), at that instant, from that
    workstation, with the refusal's own code; nothing is mailed."""
    uniform = make_service(policy=UNIFORM)
    uniform.add_user("pedro", "Pedro sin correo 1")
    uniform.add_user("apagado", "Apagado sin acceso 4")
    uniform.disable_user("apagado")
    for _ in range(3):
        uniform.request_recovery("juan")
    sent, start, now = len(mailer.outbox), len(uniform.audit_trail()), clock.now()
    for login in ("nadie", "apagado", "pedro", "juan"):
        uniform.request_recovery(login, origin="CAJA-01")
    label = uniform.audit_trail("nadie")[0].login
    assert [
        ("recovery_refused", label, now, "CAJA-01", {"reason": "unknown_user"}),
        ("recovery_refused", "apagado", now, "CAJA-01", {"reason": "account_disabled"}),
        ("recovery_refused", "pedro", now, "CAJA-01", {"reason": "recovery_email_missing"}),
        ("recovery_refused", "juan", now, "CAJA-01", {"reason": "rate_limited"}),
    ] == trail(uniform, start)
    assert sent == len(mailer.outbox)


def test_a_uniform_refusal_logs_in_where_the_users_own_mail_would_go(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """In uniform mode a refused user's request logs in to the senders in the order that
    user's mail would take (the supervisor's, then the user's own before the others), so
    it costs what a delivery to that user would."""
    ready.add_user("pedro", "Pedro sin correo 1")
    ready.configure_sender("pedro", sender_settings("smtp.pedro.mx", "p@pedro.mx"), "clave p")
    clock.advance(minutes=1)  # juan's sender is newer: first of the others
    ready.configure_sender("juan", sender_settings("smtp.juan.mx", "j@juan.mx"), "clave j")
    mailer.unreachable_hosts.add("smtp.empresa.mx")  # the supervisor's fails
    before = len(mailer.logins)
    make_service(policy=UNIFORM).request_recovery("pedro")  # pedro has no address
    assert [("smtp.pedro.mx", "p@pedro.mx")] == mailer.logins[before:]


class SendersRemovedOnSecondRead:
    """An ``InMemoryStore`` on which another workstation removes every sender at the
    service's second read of juan (the conditional write that counts the request): after
    the request listed its senders, before its mail goes out."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self._reads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_user(self, key: str) -> UserRecord | None:
        found = self._inner.get_user(key)
        self._reads += key == "juan"
        if self._reads == 2:
            for record in self._inner.list_senders():
                self._inner.remove_sender(record.account.id)
        return found


def test_senders_removed_after_the_request_listed_them_fail_its_delivery(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """A request mails through the senders it listed when it was checked: when another
    workstation removes them meanwhile, the counted request is an undelivered one
    (DeliveryFailed, delivery_failed and temporary_password_withdrawn audited), not a
    missing configuration."""
    service = make_service(store=SendersRemovedOnSecondRead(store))
    start, now = len(service.audit_trail()), clock.now()
    with pytest.raises(pr.DeliveryFailed) as caught:
        service.request_recovery("juan", origin="CAJA-01")
    record = store.get_user("juan")
    assert record is not None
    assert (0, None, 1) == (
        caught.value.attempts,
        record.temporary,
        len(record.recovery_requests),
    )
    failed = {"purpose": "temporary-password", "attempts": "0"}
    assert [
        ("delivery_failed", "juan", now, "CAJA-01", failed),
        ("temporary_password_withdrawn", "juan", now, "CAJA-01", {"reason": "delivery_failed"}),
    ] == trail(service, start)


def test_a_uniform_answer_waits_only_for_the_rest_of_the_response_time(
    make_service: ServiceFactory, ready: pr.RecoveryService
) -> None:
    """A uniform answer that took part of Policy.uniform_response_time waits the rest of
    it; one that already took all of it does not wait at all."""
    policy = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(seconds=2))
    service = make_service(policy=policy)
    waits: list[float] = []
    readings = iter([100.0, 100.5, 200.0, 202.0])  # 0.5 s, then exactly 2 s
    service._ctx.sleep = waits.append
    service._ctx.monotonic = lambda: next(readings)
    service.request_recovery("nadie")
    service.request_recovery("nadie")
    assert [1.5] == waits
