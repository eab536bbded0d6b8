"""One run of the delivery worker as a whole: what it reads, which mails it takes, the
sender each mail goes to, what it audits for a sender that takes no more mail, and how
it ends when something fails."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery.records import QueuedMessage
from tests.conftest import ServiceFactory
from tests.helpers import sender_settings
from tests.unit.outbox_kit import WatchedSessions, pending, queue_for, recipients, with_users


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


class Watched:
    """Wraps a store: records the name of every method called, and runs ``action`` right
    before the first call to ``before`` (a host's change slipping into the run)."""

    def __init__(
        self, inner: pr.Store, before: str = "", action: Callable[[], object] = lambda: None
    ) -> None:
        self._inner, self._before, self._action = inner, before, action
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def watched(*args: object, **kwargs: object) -> object:
            self.calls.append(name)
            if name == self._before and self.calls.count(name) == 1:
                self._action()
            return value(*args, **kwargs)

        return watched


class StoreDown(Exception):
    """The store stops answering (a host's store raising its own error)."""


class DeleteFails:
    """Wraps a store whose ``delete_messages`` raises StoreDown."""

    def __init__(self, inner: pr.Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def delete_messages(self, deletions: object) -> list[bool]:
        del deletions
        raise StoreDown


class HostFailure(Exception):
    """A host's mailer failing in a way it should not (not a SenderError)."""


def events_since(service: pr.RecoveryService, login: str, seen: int) -> list[pr.AuditEvent]:
    return service.audit_trail(login)[seen:]


def test_a_run_with_nothing_due_reads_only_the_due_mails(
    make_service: ServiceFactory, queued: pr.RecoveryService, store: pr.Store
) -> None:
    """With nothing queued a run asks the store for the due mails and for nothing else:
    no list of senders, no write."""
    watched = Watched(store)
    assert pr.DeliveryReport() == make_service(store=watched).deliver_pending()
    assert ["due_messages"] == watched.calls


def test_a_run_takes_at_most_limit_mails(
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """``limit`` caps the mails of a run: of three due, a run with limit=2 sends the two
    oldest and leaves the third for the next run."""
    logins = with_users(queued, mailer, 3)
    for login in logins:
        queue_for(queued, [login])
        clock.advance(seconds=1)
    assert pr.DeliveryReport(sent=2) == queued.deliver_pending(limit=2)
    assert ["usuario0@empresa.mx", "usuario1@empresa.mx"] == recipients(mailer)
    assert ["usuario2"] == [message.user_key for message in pending(store, clock)]


def test_a_damaged_mail_behind_a_good_one_is_abandoned_and_the_good_one_sent(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A damaged mail queued after a readable one has no sender: the readable one goes
    through the sender, the damaged one is abandoned as payload_damaged under its user's
    login, in the same run."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(seconds=1)
    queued.request_recovery("SUPERVISOR", delivery="queued")
    _good, bad = pending(store, clock)
    damaged: QueuedMessage = attrs.evolve(bad, payload=b'{"purpose": ')
    assert [True] == store.update_messages([damaged])
    seen = len(queued.audit_trail("SUPERVISOR"))
    assert pr.DeliveryReport(sent=1, abandoned=1) == queued.deliver_pending()
    assert ["juan@empresa.mx"] == recipients(mailer)
    detail = {"message": bad.id, "reason": "payload_damaged"}
    assert [
        pr.AuditEvent("queued_mail_abandoned", "SUPERVISOR", clock.now(), None, detail)
    ] == events_since(queued, "SUPERVISOR", seen)
    assert [] == pending(store, clock)


def test_a_mail_goes_to_its_requesters_sender_after_one_that_cannot_log_in(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """The supervisor's sender cannot log in: juan's mail then goes through juan's own
    sender, before a more recently checked sender of another user. juan's audit says
    what was tried, when, for which purpose and through which sender."""
    with_users(queued, mailer, 1)
    juans = queued.configure_sender("juan", sender_settings("smtp.juan.mx", "juan@juan.mx"), "x")
    clock.advance(minutes=1)
    newer = queued.configure_sender(
        "usuario0", sender_settings("smtp.otro.mx", "otro@empresa.mx"), "y"
    )
    supervisors, *others = (account.id for account in queued.senders())  # nobody's order
    assert [newer.id, juans.id] == others
    mailer.basic_auth_disabled_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    (message,) = pending(store, clock)
    seen = len(queued.audit_trail("juan"))
    now = clock.advance(minutes=1)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert ["smtp.juan.mx"] == [settings.host for settings in mailer.sent_through]
    purpose = pr.Purpose.TEMPORARY_PASSWORD.value
    failed = {"purpose": purpose, "sender": supervisors, "reason": "basic_auth_disabled"}
    assert [
        pr.AuditEvent("delivery_attempt_failed", "juan", now, None, failed),
        pr.AuditEvent("mail_sent", "juan", now, None, {"purpose": purpose, "sender": juans.id}),
        pr.AuditEvent("queued_mail_sent", "juan", now, None, {"message": message.id}),
    ] == events_since(queued, "juan", seen)


def test_the_worker_audits_the_start_of_a_senders_rest_at_the_runs_time(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A worker whose login is refused, with one refusal enough for a rest: the sender's
    sender_cooling_down event is stamped with the run's time and names the rest's end;
    the mail is tried again later."""
    policy = pr.Policy(sender_failures_before_cooldown=1)
    worker = make_service(policy=policy)
    queued.request_recovery("juan", delivery="queued")
    mailer.passwords["envios@empresa.mx"] = "cambiada por el proveedor"
    now = clock.advance(minutes=2)
    assert pr.DeliveryReport(retried=1) == worker.deliver_pending()
    (sender,) = queued.senders()
    until = (now + policy.sender_cooldown).isoformat()
    resting = [e for e in queued.audit_trail() if e.kind == "sender_cooling_down"]
    assert [
        pr.AuditEvent("sender_cooling_down", None, now, None, {"sender": sender.id, "until": until})
    ] == resting
    assert 1 == len(pending(store, clock))


def test_a_mail_dropped_while_its_batch_gets_its_secrets_is_neither_written_nor_sent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    store: pr.Store,
) -> None:
    """juan asks again after his mail was claimed, before the batch's secrets are stored:
    his mail, in the middle of the batch, is dropped and not composed; the mails before
    and after it go through the batch's one session."""
    logins = with_users(queued, mailer, 2)
    for login in (logins[0], "juan", logins[1]):
        queue_for(queued, [login])
        clock.advance(seconds=1)
    again = Watched(
        store, "update_users", lambda: queued.request_recovery("juan", delivery="queued")
    )
    assert pr.DeliveryReport(sent=2, dropped=1) == make_service(store=again).deliver_pending()
    assert ["usuario0@empresa.mx", "usuario1@empresa.mx"] == recipients(mailer)
    assert [("smtp.empresa.mx", "envios@empresa.mx")] == mailer.sessions


def test_mails_taken_by_another_worker_past_the_lease_are_skipped_in_the_same_session(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A first worker stalls six minutes on the first mail of four, past its 5-minute
    lease; a second worker takes the three oldest meanwhile. The first then renews what
    is still its own, skips the two the second took, and sends the fourth in the same
    session: one session per worker, no mail lost."""
    logins = with_users(queued, mailer, 4)
    queue_for(queued, logins)
    second = make_service()
    reports: list[pr.DeliveryReport] = []

    def stall(message: EmailMessage, sent_before: int) -> None:
        del message
        if sent_before == 0:
            clock.advance(minutes=6)
            reports.append(second.deliver_pending(limit=3))

    first = make_service(mailer=WatchedSessions(mailer, stall))
    assert pr.DeliveryReport(sent=2) == first.deliver_pending()
    assert [pr.DeliveryReport(sent=3)] == reports
    assert 2 == len(mailer.sessions)
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(set(recipients(mailer)))
    assert 5 == len(mailer.outbox)
    assert [] == pending(store, clock)


def test_an_unexpected_error_reaches_the_caller_even_if_the_store_then_fails(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A host's mailer raises something unexpected at the second mail, and settling the
    first then fails too: the caller gets the mailer's error, not the store's."""
    logins = with_users(queued, mailer, 2)
    queue_for(queued, logins)

    def second_fails(message: EmailMessage, sent_before: int) -> None:
        del message
        if sent_before == 1:
            raise HostFailure

    worker = make_service(store=DeleteFails(store), mailer=WatchedSessions(mailer, second_fails))
    with pytest.raises(HostFailure):
        worker.deliver_pending()
    assert 1 == len(mailer.outbox)
