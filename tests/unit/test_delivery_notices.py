"""Notices and the worker's sender sessions (_service/_delivery.py): a password-changed or
address-changed notice sent best-effort (its failure audited, never raised) or, without
the key, queued on its own; and the session the worker opens with a sender, its login
counted for the sender's rest and its OAuth refresh token stored back."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

import pwrecovery as pr
from pwrecovery.oauth import AccessToken
from tests.conftest import ServiceFactory
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    verify_address,
)
from tests.unit.outbox_kit import SendOnly, pending

ORIGIN = "caja-3"
OTHER_PASSWORD = "Jirafa morada 31"


def _since(service: pr.RecoveryService, login: str | None, kind: str) -> list[pr.AuditEvent]:
    """The events of ``login`` (every event for None) from the last ``kind`` on."""
    trail = service.audit_trail(login) if login is not None else service.audit_trail()
    last = max(position for position, event in enumerate(trail) if event.kind == kind)
    return trail[last:]


# -- a notice sent at once -------------------------------------------------------------


def test_a_notice_no_sender_took_is_audited_with_the_delivery_failure(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """The password changes although its notice could not be sent: the sender's failure is
    audited, then ``notice_failed`` for the user, at that instant, from the workstation,
    with the notice's purpose and the delivery's error code."""
    clock.advance(minutes=7)
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    ready.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin=ORIGIN)
    events = _since(ready, "juan", "password_changed")
    assert ["password_changed", "delivery_attempt_failed", "delivery_failed", "notice_failed"] == [
        event.kind for event in events
    ]
    expected = pr.AuditEvent(
        "notice_failed",
        "juan",
        clock.now(),
        ORIGIN,
        {"purpose": "password-changed", "reason": "delivery_failed"},
    )
    assert expected == events[-1]
    assert pr.LoginStatus.OK == ready.authenticate("juan", NEW_PASSWORD).status


def test_a_notice_with_no_sender_left_is_audited_as_such(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """With every sender removed the notice is not sent and nothing is raised: the one
    event is ``notice_failed`` with the reason ``no_sender_configured``."""
    for sender in ready.senders():
        ready.remove_sender(sender.id)
    clock.advance(minutes=7)
    ready.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin=ORIGIN)
    expected = [
        ("password_changed", {"via": "password"}),
        ("notice_failed", {"purpose": "password-changed", "reason": "no_sender_configured"}),
    ]
    events = _since(ready, "juan", "password_changed")
    assert expected == [(event.kind, dict(event.detail)) for event in events]
    assert [(clock.now(), ORIGIN)] * 2 == [(event.at, event.origin) for event in events]
    assert [] == mailer.outbox


# -- a notice queued on its own (a service without the key) ------------------------------


def test_a_keyless_service_queues_the_password_changed_notice_and_audits_it(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key the notice is stored for the worker, due at once, with
    ``mail_queued`` for the user (at that instant, from the workstation, with the
    notice's purpose) in the same transaction; nothing goes out until the worker runs."""
    clock.advance(minutes=7)
    keyless = make_service(secret_key=None)
    keyless.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin=ORIGIN)
    (message,) = pending(store, clock)
    queued = (message.user_key, message.purpose, message.credential_id, message.attempts)
    assert ("juan", pr.Purpose.PASSWORD_CHANGED, None, 0) == queued
    assert (clock.now(), clock.now()) == (message.created_at, message.next_attempt_at)
    expected = pr.AuditEvent(
        "mail_queued", "juan", clock.now(), ORIGIN, {"purpose": "password-changed"}
    )
    assert ["password_changed", expected] == [
        event.kind if event.kind == "password_changed" else event
        for event in _since(keyless, "juan", "password_changed")
    ]
    assert [] == mailer.outbox
    assert pr.DeliveryReport(sent=1) == ready.deliver_pending()
    assert "password-changed" == mailer.outbox[-1]["X-PwRecovery-Purpose"]


def test_a_keyless_service_queues_the_address_changed_notice_to_the_old_address(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key, changing a verified address queues the code for the new one and,
    on its own, the notice for the old one, audited ``mail_queued`` with its purpose; the
    worker sends the notice to the old address."""
    clock.advance(minutes=7)
    keyless = make_service(secret_key=None)
    keyless.set_recovery_email("juan", "juan.perez@empresa.mx", origin=ORIGIN)
    queued = sorted((m.purpose.value, m.credential_id is None) for m in pending(store, clock))
    assert [("email-verification", False), ("recovery-address-changed", True)] == queued
    notice = {"purpose": "recovery-address-changed"}
    expected = [pr.AuditEvent("mail_queued", "juan", clock.now(), ORIGIN, notice)]
    assert expected == [e for e in keyless.audit_trail("juan") if e.kind == "mail_queued"]
    assert pr.DeliveryReport(sent=2) == ready.deliver_pending()
    purposes = {m["X-PwRecovery-Purpose"]: m["To"].addresses[0].addr_spec for m in mailer.outbox}
    assert {
        "email-verification": "juan.perez@empresa.mx",
        "recovery-address-changed": "juan@empresa.mx",
    } == purposes


def test_each_queued_notice_has_its_own_message_id(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """A queued mail carries a Message-ID token of its own (32 hexadecimal digits), so two
    notices the worker sends later are two messages, not one sent twice."""
    keyless = make_service(secret_key=None)
    keyless.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    keyless.change_password("juan", NEW_PASSWORD, OTHER_PASSWORD, OTHER_PASSWORD)
    tokens = [json.loads(m.payload)["message_token"] for m in pending(store, clock)]
    assert [True, True] == [bool(re.fullmatch("[0-9a-f]{32}", token)) for token in tokens]
    assert pr.DeliveryReport(sent=2) == ready.deliver_pending()
    first, second = mailer.outbox
    assert first["Message-ID"] != second["Message-ID"]


# -- the worker's session with a sender: its login settled -------------------------------


def _refuse_logins(mailer: pr.RecordingMailer) -> None:
    mailer.passwords["envios@empresa.mx"] = "changed on the server"


def test_a_session_refused_its_login_counts_for_the_senders_rest(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """The worker's session login refused for its credentials counts as a refusal: with a
    rest after one refusal the sender starts resting at once, audited
    ``sender_cooling_down`` with its id and the end of the rest."""
    (sender,) = ready.senders()
    _refuse_logins(mailer)
    ready.request_recovery("juan", delivery="queued")
    clock.advance(minutes=7)
    worker = make_service(policy=pr.Policy(sender_failures_before_cooldown=1))
    assert pr.DeliveryReport(retried=1) == worker.deliver_pending()
    until = clock.now() + pr.Policy().sender_cooldown
    expected = pr.AuditEvent(
        "sender_cooling_down",
        None,
        clock.now(),
        None,
        {"sender": sender.id, "until": until.isoformat()},
    )
    assert [expected] == [e for e in worker.audit_trail() if e.kind == "sender_cooling_down"]
    (failed,) = [e for e in worker.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert "sender_auth_failed" == failed.detail["reason"]


def test_a_session_that_logs_in_clears_the_senders_refusals(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Refusals count only in a row: a session that logs in between two refused ones
    clears the count, so with a rest after two refusals the sender never rests."""
    worker = make_service(policy=pr.Policy(sender_failures_before_cooldown=2))
    _refuse_logins(mailer)
    ready.request_recovery("juan", delivery="queued")
    reports = [worker.deliver_pending()]
    mailer.passwords["envios@empresa.mx"] = SMTP_PASSWORD
    clock.advance(minutes=1)
    reports.append(worker.deliver_pending())
    _refuse_logins(mailer)
    ready.request_recovery("SUPERVISOR", delivery="queued")
    reports.append(worker.deliver_pending())
    expected = [
        pr.DeliveryReport(retried=1),
        pr.DeliveryReport(sent=1),
        pr.DeliveryReport(retried=1),
    ]
    assert expected == reports
    assert [] == [e for e in worker.audit_trail() if e.kind == "sender_cooling_down"]


# -- the worker's session with an XOAUTH2 sender -----------------------------------------

OAUTH = sender_settings(username="oauth@empresa.mx", authentication=pr.Authentication.XOAUTH2)


class RotatingProvider:
    """A host's ``TokenProvider``: ``tok-N`` for the N-th request, valid for an hour,
    with the rotated refresh token ``rt-N`` when ``rotate`` is set; ``calls`` keeps the
    refresh token each request came with."""

    def __init__(self, clock: pr.ManualClock, *, rotate: bool) -> None:
        self.clock, self.rotate = clock, rotate
        self.calls: list[str | None] = []

    def access_token(self, account: pr.SenderAccount, refresh_token: str | None) -> AccessToken:
        del account
        self.calls.append(refresh_token)
        number = len(self.calls)
        expires_at: datetime = self.clock.now() + timedelta(hours=1)
        return AccessToken(f"tok-{number}", expires_at, f"rt-{number}" if self.rotate else None)


@pytest.mark.parametrize("sessions", [True, False], ids=["session", "send_only"])
def test_a_refresh_token_rotated_when_the_worker_logs_in_is_stored_back(
    make_service: ServiceFactory,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    sessions: bool,
) -> None:
    """The worker logs in to an XOAUTH2 sender with a token from the host's provider; a
    refresh token the provider rotated then is sealed into the sender's row at once,
    audited ``sender_secret_rotated`` at that instant, and the next workstation asks with
    it."""
    setup = make_service(token_provider=RotatingProvider(clock, rotate=False))
    setup.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    setup.add_user("juan", USER_PASSWORD)
    sender = setup.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    verify_address(setup, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(setup, mailer, "juan", "juan@empresa.mx")
    setup.request_recovery("juan", delivery="queued")
    clock.advance(hours=2)
    rotating = RotatingProvider(clock, rotate=True)
    worker_mailer = mailer if sessions else SendOnly(mailer)
    worker = make_service(token_provider=rotating, mailer=worker_mailer)
    assert pr.DeliveryReport(sent=1) == worker.deliver_pending()
    rotated = [e for e in worker.audit_trail() if e.kind == "sender_secret_rotated"]
    assert [(clock.now(), {"sender": sender.id})] == [(e.at, dict(e.detail)) for e in rotated]
    other = RotatingProvider(clock, rotate=False)
    make_service(token_provider=other).readiness(verify_senders=True)
    assert (["rt-0"], ["rt-1"]) == (rotating.calls, other.calls)
