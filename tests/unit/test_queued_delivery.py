"""Queued delivery (a transactional outbox): answer at once, send later, lose nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import pwrecovery as pr
from pwrecovery import records
from tests.conftest import ServiceFactory
from tests.helpers import USER_PASSWORD, temporary_password_in


class Crash(BaseException):
    """The process dies here: nothing after this line runs, nothing catches it."""


class Breaking:
    """Wraps a port; the ``n``-th call to method ``name`` crashes the process."""

    def __init__(self, inner: object, name: str, n: int = 1) -> None:
        self._inner, self._name, self._left = inner, name, n

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if attribute != self._name:
            return value

        def maybe_crash(*args: object, **kwargs: object) -> object:
            self._left -= 1
            if self._left == 0:
                raise Crash
            return value(*args, **kwargs)

        return maybe_crash


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


def pending(store: pr.Store, clock: pr.ManualClock) -> list[records.QueuedMessage]:
    return store.due_messages(clock.now() + timedelta(days=30), 100)


def test_queued_request_answers_at_once_and_the_worker_sends(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """The request stores the mail instead of sending it; deliver_pending sends it once."""
    sent = queued.request_recovery("juan", delivery="queued")
    assert ("j***@empresa.mx", []) == (sent.masked_address, mailer.outbox)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert pr.DeliveryReport() == queued.deliver_pending()
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == queued.authenticate("juan", temporary).status
    assert [] == pending(store, clock)


def test_queued_mail_is_stored_encrypted(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """The queued mail holds the temporary password, so it is stored as an AES-GCM blob."""
    queued.request_recovery("juan", delivery="queued")
    (message,) = pending(store, clock)
    queued.deliver_pending()
    temporary = temporary_password_in(mailer.outbox[-1])
    assert temporary.encode() not in message.payload
    assert temporary not in repr(message)


def test_transient_failures_are_retried_with_backoff(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A failed send is tried again after 1, then 2 minutes; nothing is due before that."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(retried=1) == queued.deliver_pending()
    (message,) = pending(store, clock)
    assert (clock.now() + timedelta(minutes=1), 1) == (message.next_attempt_at, message.attempts)
    assert "delivery_failed" == message.last_error
    clock.advance(seconds=59)
    assert pr.DeliveryReport() == queued.deliver_pending()
    clock.advance(seconds=1)
    assert pr.DeliveryReport(retried=1) == queued.deliver_pending()
    assert clock.now() + timedelta(minutes=2) == pending(store, clock)[0].next_attempt_at
    mailer.unreachable_hosts.clear()
    clock.advance(minutes=2)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert 1 == len(mailer.outbox)


def test_permanent_failure_revokes_and_says_why(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """After the last allowed try the temporary password is revoked and the reason audited."""
    service = make_service(policy=pr.Policy(delivery_attempts=3))
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    service.request_recovery("juan", delivery="queued")
    reports = []
    for _ in range(3):
        reports.append(service.deliver_pending())
        clock.advance(hours=1)
    assert [pr.DeliveryReport(retried=1)] * 2 + [pr.DeliveryReport(abandoned=1)] == reports
    record = store.get_user("juan")
    assert (None, []) == (record.temporary if record else "?", pending(store, clock))
    event = [e for e in service.audit_trail("juan") if e.kind == "queued_mail_abandoned"][-1]
    assert "delivery_failed" == event.detail["reason"]
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


def test_superseded_mail_is_dropped(queued: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """A queued mail whose temporary password was replaced is not sent at all."""
    queued.request_recovery("juan", delivery="queued")
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(sent=1, dropped=1) == queued.deliver_pending()
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == queued.authenticate("juan", temporary).status


def test_expired_mail_is_dropped(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """A mail whose temporary password expired while queued is dropped, not sent."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(days=7)
    assert (pr.DeliveryReport(dropped=1), []) == (queued.deliver_pending(), mailer.outbox)


def test_wrong_key_abandons(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A worker holding the wrong key cannot read the mail: it gives up and revokes."""
    queued.request_recovery("juan", delivery="queued")
    report = make_service(secret_key=pr.generate_key()).deliver_pending()
    assert (pr.DeliveryReport(abandoned=1), []) == (report, mailer.outbox)


def test_uniform_queued_answers_alike_without_network(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Queued uniform requests do no SMTP work in the foreground, for any login."""
    uniform = make_service(
        policy=pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))
    )
    logins_before = len(mailer.logins)
    answers = {uniform.request_recovery(login, delivery="queued") for login in ("juan", "nadie")}
    assert (1, logins_before, []) == (len(answers), len(mailer.logins), mailer.outbox)
    assert pr.DeliveryReport(sent=1) == uniform.deliver_pending()


def test_unknown_delivery_mode(queued: pr.RecoveryService) -> None:
    """Only "immediate" and "queued" exist."""
    with pytest.raises(pr.InvalidConfiguration):
        queued.request_recovery("juan", delivery="later")  # type: ignore[arg-type]


# -- fault injection: the worker (or the request) stops dead at each step --------------


def crash(action: Callable[[], object]) -> None:
    with pytest.raises(Crash):
        action()


def test_crash_while_committing_the_request_leaves_nothing(
    make_service: ServiceFactory, queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Stopped in the request's transaction: no temporary password, no queued mail."""
    broken = make_service(store=Breaking(store, "update_user"))
    crash(lambda: broken.request_recovery("juan", delivery="queued"))
    record = store.get_user("juan")
    assert (None, []) == (record.temporary if record else "?", pending(store, clock))


def test_crash_while_claiming(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Stopped while claiming: the mail is still due and the next run sends it once."""
    queued.request_recovery("juan", delivery="queued")
    crash(make_service(store=Breaking(queued._store, "update_message")).deliver_pending)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


def test_crash_while_sending(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Stopped mid-send: the claim holds it for the lease, then the next run sends it once."""
    queued.request_recovery("juan", delivery="queued")
    crash(make_service(mailer=Breaking(mailer, "send")).deliver_pending)
    assert pr.DeliveryReport() == queued.deliver_pending()  # still leased
    clock.advance(minutes=5)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


def test_crash_between_sending_and_marking_resends_the_same_mail(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Stopped after the send, before the delete: sent again at most once, identical
    (same temporary password, same Message-ID), then never again."""
    queued.request_recovery("juan", delivery="queued")
    crash(make_service(store=Breaking(queued._store, "delete_message")).deliver_pending)
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    clock.advance(hours=2)
    assert pr.DeliveryReport() == queued.deliver_pending()
    first, second = mailer.outbox
    assert temporary_password_in(first) == temporary_password_in(second)
    assert first["Message-ID"] == second["Message-ID"]


def test_crash_while_scheduling_a_retry(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Stopped while recording a failed try: after the lease the mail is tried again."""
    queued.request_recovery("juan", delivery="queued")
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    crash(make_service(store=Breaking(queued._store, "update_message", 2)).deliver_pending)
    mailer.unreachable_hosts.clear()
    clock.advance(minutes=5)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


def test_two_workers_send_each_mail_once(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A message claimed by one worker is left alone by the other."""
    queued.request_recovery("juan", delivery="queued")
    queued.request_recovery("SUPERVISOR", delivery="queued")
    first, second = make_service(), make_service()
    reports = [first.deliver_pending(limit=1), second.deliver_pending(), first.deliver_pending()]
    assert 2 == sum(r.sent for r in reports)
    assert 2 == len(mailer.outbox)
