"""The delivery worker's hold on a batch: the claim (and what it finds when it reads the
batch's users), the lease it renews while a long batch runs, and what it audits for a
mail it sent, dropped or could not read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import content_from_json
from pwrecovery._service._outbox_batch import Mail, Run, claim, renew
from pwrecovery._service._tally import Tally
from pwrecovery.records import QueuedMessage
from tests.conftest import ServiceFactory
from tests.helpers import USER_PASSWORD, verify_address
from tests.unit.outbox_kit import WatchedSessions, pending, queue_for, recipients, with_users


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


class Interleaved:
    """Wraps a store; ``action`` runs right before (or, with ``after=True``, right after)
    the ``n``-th call to method ``name``: another worker, or a host's edit, slipping in
    between two of the worker's transactions."""

    def __init__(
        self,
        inner: pr.Store,
        name: str,
        action: Callable[[], object],
        n: int = 1,
        *,
        after: bool = False,
    ) -> None:
        self._inner, self._name, self._action = inner, name, action
        self._left, self._after = n, after

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if attribute != self._name:
            return value

        def interleaved(*args: object, **kwargs: object) -> object:
            self._left -= 1
            if self._left == 0 and not self._after:
                self._action()
            result = value(*args, **kwargs)
            if self._left == 0 and self._after:
                self._action()
            return result

        return interleaved


class ShortAnswer:
    """Wraps a store that breaks the Store contract: its ``n``-th ``update_messages``
    writes every message but answers for one fewer than it was given."""

    def __init__(self, inner: pr.Store, n: int = 1) -> None:
        self._inner, self._left = inner, n

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)

    def update_messages(self, messages: list[QueuedMessage]) -> list[bool]:
        answer: list[bool] = self._inner.update_messages(messages)
        self._left -= 1
        return answer[:-1] if self._left == 0 else answer


def one_run(service: pr.RecoveryService) -> Run:
    """The start of a run of ``service``'s worker, to drive a step of it alone."""
    ctx = service._ctx
    return Run(ctx, service._delivery, ctx.now())


def due_mail(service: pr.RecoveryService, message: QueuedMessage) -> Mail:
    """A queued mail as a run of the worker holds it before claiming it."""
    content, token = content_from_json(message.payload)
    tally = Tally(service._ctx, content.login, content.purpose.value)
    return Mail(message, [], tally, content, token)


def taken_by_another_worker(store: pr.Store, message: QueuedMessage) -> None:
    """Another worker's claim of ``message`` (as stored now): its version moves on."""
    assert [True] == store.update_messages([message])


def events_of(store: pr.Store, kind: str) -> list[pr.AuditEvent]:
    return [event for event in store.audit_trail() if event.kind == kind]


# -- a mail another worker holds is left to it (driven step by step) ---------------------


def test_a_claim_lost_to_another_worker_leaves_the_mail_to_it(
    queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A mail whose version moved on since the run read it is not this run's: the claim
    marks it done, counts nothing and settles nothing for it."""
    queued.request_recovery("juan", delivery="queued")
    (message,) = pending(store, clock)
    run, mail = one_run(queued), due_mail(queued, message)
    taken_by_another_worker(store, message)
    claim(run, [mail])
    assert ("done", [], {"sent": 0, "retried": 0, "abandoned": 0, "dropped": 0}) == (
        mail.state,
        run.settled,
        run.counts,
    )


def test_a_renewal_lost_to_another_worker_leaves_the_mail_to_it(
    queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A claimed mail taken by another worker before this one renews its lease (this one
    ran past it) is marked done and keeps its old lease; the one still held is renewed
    from now."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(seconds=1)
    queued.request_recovery("SUPERVISOR", delivery="queued")
    run = one_run(queued)
    lost, kept = (due_mail(queued, message) for message in pending(store, clock))
    claim(run, [lost, kept])
    first_lease = lost.lease_end
    assert ["claimed", "claimed"] == [lost.state, kept.state]
    taken_by_another_worker(store, lost.message)
    clock.advance(minutes=4)
    renew(run, [lost, kept])
    assert (("done", first_lease), ("claimed", clock.now() + timedelta(minutes=5))) == (
        (lost.state, lost.lease_end),
        (kept.state, kept.lease_end),
    )


# -- the claim ---------------------------------------------------------------------------


def test_a_worker_that_loses_the_oldest_mail_sends_the_rest_of_its_batch(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Another worker claims (and sends) the oldest mail between this worker's read of
    the queue and its claim: this one leaves that mail and sends the next of the batch
    in the same run; each mail goes once."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(seconds=1)
    queued.request_recovery("SUPERVISOR", delivery="queued")
    second = make_service()
    reports: list[pr.DeliveryReport] = []
    first = make_service(
        store=Interleaved(
            store, "update_messages", lambda: reports.append(second.deliver_pending(limit=1))
        )
    )
    reports.append(first.deliver_pending())
    assert [pr.DeliveryReport(sent=1), pr.DeliveryReport(sent=1)] == reports
    assert ["juan@empresa.mx", "supervisor@empresa.mx"] == recipients(mailer)
    assert [] == pending(store, clock)


def test_a_store_that_answers_a_claim_for_fewer_mails_stops_the_run(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A store whose batch write answers for fewer mails than it was given breaks the
    Store contract: the run stops with an error instead of leaving a mail half-claimed,
    and sends nothing."""
    queued.request_recovery("juan", delivery="queued")
    with pytest.raises(ValueError, match="zip"):
        make_service(store=ShortAnswer(store)).deliver_pending()
    assert [] == mailer.outbox


def test_a_sent_mail_is_audited_under_the_users_login(
    queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """The mail sent for SUPERVISOR (key "supervisor") is settled with one
    queued_mail_sent event: the login as the user has it, the run's instant, the
    queued message's id."""
    queued.request_recovery("SUPERVISOR", delivery="queued")
    (message,) = pending(store, clock)
    clock.advance(minutes=1)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    expected = pr.AuditEvent(
        "queued_mail_sent", "SUPERVISOR", clock.now(), None, {"message": message.id}
    )
    assert [expected] == events_of(store, "queued_mail_sent")


def test_superseded_mails_are_each_dropped_with_their_event(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Two users ask twice each: the two older mails are dropped (counted as two), each
    with a queued_mail_dropped event naming its user's login, the run's instant and the
    message; the newer two are sent."""
    for login in ("juan", "SUPERVISOR", "juan", "SUPERVISOR"):
        queued.request_recovery(login, delivery="queued")
        clock.advance(seconds=1)
    older = pending(store, clock)[:2]
    assert pr.DeliveryReport(sent=2, dropped=2) == queued.deliver_pending()
    assert [
        pr.AuditEvent("queued_mail_dropped", "juan", clock.now(), None, {"message": older[0].id}),
        pr.AuditEvent(
            "queued_mail_dropped", "SUPERVISOR", clock.now(), None, {"message": older[1].id}
        ),
    ] == events_of(store, "queued_mail_dropped")
    assert ["juan@empresa.mx", "supervisor@empresa.mx"] == sorted(recipients(mailer))


def damage(store: pr.Store, message: QueuedMessage) -> QueuedMessage:
    """The queued mail with a payload that is no longer readable."""
    damaged = attrs.evolve(message, payload=b'{"purpose": ')
    assert [True] == store.update_messages([damaged])
    return damaged


def test_a_mail_that_cannot_be_read_is_abandoned_and_its_password_revoked(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A queued mail whose payload is damaged is abandoned when claimed, nothing sent:
    its temporary password is revoked, and one queued_mail_abandoned event names the
    user's login, the message and the reason "payload_damaged"."""
    queued.request_recovery("SUPERVISOR", delivery="queued")
    (message,) = pending(store, clock)
    damage(store, message)
    assert pr.DeliveryReport(abandoned=1) == queued.deliver_pending()
    expected = pr.AuditEvent(
        "queued_mail_abandoned",
        "SUPERVISOR",
        clock.now(),
        None,
        {"message": message.id, "reason": "payload_damaged"},
    )
    assert [expected] == events_of(store, "queued_mail_abandoned")
    record = store.get_user("supervisor")
    assert record is not None
    assert (None, [], []) == (record.temporary, mailer.outbox, pending(store, clock))


# -- users that are gone by the time the batch reads them --------------------------------


def removal_of(store: pr.Store, key: str) -> Callable[[], None]:
    """A host removing the user ``key`` (and, with it, its queued mails)."""

    def remove() -> None:
        record = store.get_user(key)
        assert record is not None
        assert store.remove_user(key, expected_version=record.version)

    return remove


def test_a_user_removed_while_its_mail_is_claimed_is_not_mailed(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """The user is removed between the claim of its mail and the read of the batch's
    users: the mail is dropped, and with nothing left to send no login is made."""
    queued.request_recovery("juan", delivery="queued")
    mailer.logins.clear()
    worker = make_service(
        store=Interleaved(store, "update_messages", removal_of(store, "juan"), after=True)
    )
    assert pr.DeliveryReport(dropped=1) == worker.deliver_pending()
    assert ([], [], None) == (mailer.logins, mailer.outbox, store.get_user("juan"))


def test_a_user_removed_between_two_claims_of_a_run_is_read_again(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A run that read MARIA for one claim reads her again for the next: removed in
    between, she is gone, not taken from the first read, so her damaged mail is
    abandoned under her key, as for any user that no longer exists."""
    queued.add_user("MARIA", USER_PASSWORD)
    verify_address(queued, mailer, "MARIA", "maria@empresa.mx")
    queued.request_recovery("MARIA", delivery="queued")
    clock.advance(seconds=1)
    queued.request_recovery("MARIA", delivery="queued")  # the first mail is now superseded
    _first, second = pending(store, clock)
    damage(store, second)
    worker = make_service(
        store=Interleaved(store, "update_messages", removal_of(store, "maria"), 2, after=True)
    )
    assert pr.DeliveryReport(abandoned=1, dropped=1) == worker.deliver_pending()
    expected = pr.AuditEvent(
        "queued_mail_abandoned",
        "maria",
        clock.now(),
        None,
        {"message": second.id, "reason": "payload_damaged"},
    )
    assert [expected] == events_of(store, "queued_mail_abandoned")


# -- the lease ---------------------------------------------------------------------------


def test_a_batch_renews_its_lease_when_half_of_it_is_left(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Ten mails that take a minute each under a 6-minute lease: a mail is sent only
    while more than 3 minutes of its lease are left, so at minutes 3, 6 and 9 the run
    settles what it sent and renews the rest for 6 minutes from then."""
    logins = with_users(queued, mailer, 10)
    queue_for(queued, logins)
    start = clock.now()
    seen: list[tuple[int, int, timedelta]] = []

    def slow(message: EmailMessage, sent_before: int) -> None:
        del message
        left = pending(store, clock)
        leases = {message.next_attempt_at - start for message in left}
        seen.append((sent_before, len(left), max(leases)))
        clock.advance(minutes=1)

    worker = make_service(
        mailer=WatchedSessions(mailer, slow), policy=pr.Policy(delivery_lease=timedelta(minutes=6))
    )
    assert pr.DeliveryReport(sent=10) == worker.deliver_pending()
    minutes = [timedelta(minutes=m) for m in (6, 6, 6, 9, 9, 9, 12, 12, 12, 15)]
    assert list(zip(range(10), [10, 10, 10, 7, 7, 7, 4, 4, 4, 1], minutes, strict=True)) == seen
    assert [] == pending(store, clock)


def test_a_batch_stops_at_exactly_half_of_its_lease(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Under a 5-minute lease the second mail's turn comes exactly 2.5 minutes after the
    claim: no longer more than half of the lease left, so the first is settled and the
    lease renewed before it is sent."""
    logins = with_users(queued, mailer, 2)
    queue_for(queued, logins)
    seen: list[int] = []

    def slow(message: EmailMessage, sent_before: int) -> None:
        del message
        del sent_before
        seen.append(len(pending(store, clock)))
        clock.advance(seconds=150)

    worker = make_service(mailer=WatchedSessions(mailer, slow))
    assert pr.DeliveryReport(sent=2) == worker.deliver_pending()
    assert [2, 1] == seen


def test_a_store_that_answers_a_renewal_for_fewer_mails_stops_the_run(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A store whose renewal of the lease answers for fewer mails than it was given: the
    run stops with an error before it sends a mail whose lease it cannot vouch for."""
    logins = with_users(queued, mailer, 2)
    queue_for(queued, logins)
    worker = make_service(
        store=ShortAnswer(store, 2),
        mailer=WatchedSessions(mailer, lambda _message, _sent_before: clock.advance(minutes=3)),
    )
    with pytest.raises(ValueError, match="zip"):
        worker.deliver_pending()
    assert 1 == len(mailer.outbox)


def test_a_worker_past_its_lease_leaves_the_rest_to_the_worker_that_took_it(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """The first mail's send takes past the whole lease, and a second worker takes the
    batch meanwhile and sends both: the first worker finishes the send it was in, then
    finds its renewal lost and leaves the other mail to the second one."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(seconds=1)
    queued.request_recovery("SUPERVISOR", delivery="queued")
    second = make_service()
    reports: list[pr.DeliveryReport] = []

    def stalled(message: EmailMessage, sent_before: int) -> None:
        del message
        if sent_before == 0:
            clock.advance(minutes=6)
            reports.append(second.deliver_pending())

    first = make_service(mailer=WatchedSessions(mailer, stalled))
    reports.append(first.deliver_pending())
    assert [pr.DeliveryReport(sent=2), pr.DeliveryReport(sent=1)] == reports
    assert ["juan@empresa.mx"] * 2 + ["supervisor@empresa.mx"] == sorted(recipients(mailer))
    assert "juan@empresa.mx" == recipients(mailer)[-1]  # the first worker's one send
    assert [] == pending(store, clock)
