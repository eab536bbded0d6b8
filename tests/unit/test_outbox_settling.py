"""Settling a queued mail no sender took: tried again later with its back-off and its
reason, or abandoned with the secret it was for revoked."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import content_from_json
from pwrecovery._service._outbox_batch import Mail, Run, abandon, claim, settle_unsent
from pwrecovery._service._tally import Tally
from pwrecovery.records import QueuedMessage
from tests.conftest import ServiceFactory
from tests.helpers import temporary_password_in
from tests.unit.outbox_kit import pending


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


def after(service: pr.RecoveryService, login: str, seen: int) -> list[pr.AuditEvent]:
    """The events of ``login`` past the first ``seen``."""
    return service.audit_trail(login)[seen:]


def test_a_mail_no_sender_took_is_retried_with_its_reason_and_back_off(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """The one sender is unreachable: the try, the given-up delivery and the retry are
    audited at the run's instant (the retry with the mail, its tries, its reason and its
    next try a minute on), and the stored mail says the same."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    (message,) = pending(store, clock)
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=3)
    (sender,) = queued.senders()
    assert pr.DeliveryReport(retried=1) == queued.deliver_pending()
    purpose = pr.Purpose.TEMPORARY_PASSWORD.value
    next_try = now + timedelta(minutes=1)
    assert [
        pr.AuditEvent(
            "delivery_attempt_failed",
            "juan",
            now,
            None,
            {
                "purpose": purpose,
                "sender": sender.id,
                "reason": "sender_unreachable",
                "cause": "connection",
            },
        ),
        pr.AuditEvent("delivery_failed", "juan", now, None, {"purpose": purpose, "attempts": "1"}),
        pr.AuditEvent(
            "queued_mail_retry",
            "juan",
            now,
            None,
            {
                "message": message.id,
                "attempts": "1",
                "reason": "delivery_failed",
                "next_attempt_at": next_try.isoformat(),
            },
        ),
    ] == after(queued, "juan", seen)
    (retried,) = pending(store, clock)
    assert (message.id, 1, "delivery_failed", next_try) == (
        retried.id,
        retried.attempts,
        retried.last_error,
        retried.next_attempt_at,
    )


def test_without_any_sender_a_mail_waits_then_is_abandoned_as_no_sender_configured(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """With every sender removed nothing was tried: no ``delivery_failed`` event, the
    retry says ``no_sender_configured``; at the last allowed try the mail is abandoned
    for that reason and its temporary password revoked."""
    worker = make_service(policy=pr.Policy(delivery_attempts=2))
    queued.request_recovery("juan", delivery="queued")
    (message,) = pending(store, clock)
    for account in queued.senders():
        queued.remove_sender(account.id)
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=3)
    assert pr.DeliveryReport(retried=1) == worker.deliver_pending()
    next_try = now + timedelta(minutes=1)
    assert [
        pr.AuditEvent(
            "queued_mail_retry",
            "juan",
            now,
            None,
            {
                "message": message.id,
                "attempts": "1",
                "reason": "no_sender_configured",
                "next_attempt_at": next_try.isoformat(),
            },
        )
    ] == after(queued, "juan", seen)
    assert ["no_sender_configured"] == [m.last_error for m in pending(store, clock)]
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=1)
    assert pr.DeliveryReport(abandoned=1) == worker.deliver_pending()
    assert [
        pr.AuditEvent(
            "queued_mail_abandoned",
            "juan",
            now,
            None,
            {"message": message.id, "reason": "no_sender_configured"},
        )
    ] == after(queued, "juan", seen)
    record = store.get_user("juan")
    assert (None, []) == (record.temporary if record else "?", pending(store, clock))


def test_an_abandoned_code_is_revoked_and_the_temporary_password_kept(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Of one user's queued temporary password, notice and verification code, the code to a
    UTF-8 address is refused for good: it is abandoned (audited with the mail and the
    reason), its code revoked, while the temporary password it was not for still works."""
    window = make_service(secret_key=None)
    window.request_recovery("juan")
    window.set_recovery_email("juan", "josé@empresa.mx")
    (code_mail,) = [m for m in pending(store, clock) if m.purpose is pr.Purpose.EMAIL_VERIFICATION]
    mailer.hosts_without_smtputf8.add("smtp.empresa.mx")
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=3)
    assert pr.DeliveryReport(sent=2, abandoned=1) == queued.deliver_pending()
    abandoned = [e for e in after(queued, "juan", seen) if e.kind == "queued_mail_abandoned"]
    assert [
        pr.AuditEvent(
            "queued_mail_abandoned",
            "juan",
            now,
            None,
            {"message": code_mail.id, "reason": "delivery_rejected"},
        )
    ] == abandoned
    record = store.get_user("juan")
    assert record is not None
    assert (None, False) == (record.pending_verification, record.temporary is None)
    by_purpose = {m["X-PwRecovery-Purpose"]: m for m in mailer.outbox}
    sent = by_purpose[pr.Purpose.TEMPORARY_PASSWORD.value]
    status = queued.authenticate("juan", temporary_password_in(sent)).status
    assert (pr.LoginStatus.MUST_CHANGE_PASSWORD, []) == (status, pending(store, clock))


def damage(store: pr.Store, message: QueuedMessage, user_key: str | None = None) -> None:
    """Store ``message`` again with an unreadable payload (and for ``user_key`` if given)."""
    broken = attrs.evolve(message, payload=b"{roto", user_key=user_key or message.user_key)
    assert store.update_message(broken, expected_version=message.version)


def test_damaged_mails_are_abandoned_even_for_a_user_no_longer_there(
    queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Two queued mails whose payload cannot be read, one of them for a user that is no
    longer in the store: both abandoned in one run as ``payload_damaged`` and deleted;
    the missing user's event is audited all the same, the other's temporary password is
    revoked."""
    queued.request_recovery("juan", delivery="queued")
    queued.request_recovery("SUPERVISOR", delivery="queued")
    by_user = {m.user_key: m for m in pending(store, clock)}
    damage(store, by_user["juan"])
    damage(store, by_user["supervisor"], user_key="ausente")
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=3)
    assert pr.DeliveryReport(abandoned=2) == queued.deliver_pending()

    def abandoned(login: str, message: QueuedMessage) -> pr.AuditEvent:
        detail = {"message": message.id, "reason": "payload_damaged"}
        return pr.AuditEvent("queued_mail_abandoned", login, now, None, detail)

    assert [
        [abandoned("juan", by_user["juan"])],
        [abandoned("ausente", by_user["supervisor"])],
    ] == [after(queued, "juan", seen), queued.audit_trail("ausente")]
    record = store.get_user("juan")
    assert (None, []) == (record.temporary if record else "?", pending(store, clock))


def unsent(run: Run, message: QueuedMessage) -> Mail:
    """``message`` read for ``run`` with no sender left to take it."""
    content, token = content_from_json(message.payload)
    return Mail(message, [], Tally(run.ctx, content.login, content.purpose.value), content, token)


def test_a_settled_mail_is_done_and_its_changed_user_is_read_again(
    queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A mail put off for later is done for the run; an abandoned one is done too, counted,
    waits for the run's flush, and the run no longer holds the user it changed (a later
    batch of the run reads it afresh)."""
    queued.request_recovery("juan", delivery="queued")
    queued.request_recovery("SUPERVISOR", delivery="queued")
    by_user = {m.user_key: m for m in pending(store, clock)}
    run = Run(queued._ctx, queued._delivery, clock.now())
    later = unsent(run, by_user["supervisor"])
    settle_unsent(run, later)
    assert ("done", 1) == (later.state, run.counts["retried"])
    given_up = unsent(run, by_user["juan"])
    claim(run, [given_up])
    assert ("claimed", True) == (given_up.state, "juan" in run.users)
    abandon(run, given_up, (), "delivery_failed")
    assert ("done", 1, [(given_up.message.id, ())], False) == (
        given_up.state,
        run.counts["abandoned"],
        run.settled,
        "juan" in run.users,
    )
