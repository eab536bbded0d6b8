"""One sender logged in for several mails of a worker's run (_service/_session.py): what a
mail that cannot be written, a refused mail, a sent one, a spent SMTP budget and a sender
removed meanwhile put in the audit, with or without mailer sessions; what the sends of a
mailer without sessions count towards the sender's rest; and a quit that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent
from pwrecovery._service._session import SenderSession
from pwrecovery._service._tally import Refusal, Tally
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, sender_settings
from tests.unit.outbox_kit import SendOnly, pending, queue_for, recipients, with_users

TEMPORARY = pr.Purpose.TEMPORARY_PASSWORD.value


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


def failed(
    login: str, at: datetime, sender: str, reason: str, *, purpose: str = TEMPORARY, **detail: str
) -> pr.AuditEvent:
    """The ``delivery_attempt_failed`` event of a mail (a temporary password unless told)."""
    return pr.AuditEvent(
        "delivery_attempt_failed",
        login,
        at,
        detail={"purpose": purpose, "sender": sender, "reason": reason, **detail},
    )


def mail_sent(login: str, at: datetime, sender: str) -> pr.AuditEvent:
    return pr.AuditEvent("mail_sent", login, at, detail={"purpose": TEMPORARY, "sender": sender})


def during(service: pr.RecoveryService, login: str, at: datetime) -> list[pr.AuditEvent]:
    """The user's audit events of the run at ``at``."""
    return [event for event in service.audit_trail(login) if event.at == at]


def main_sender(store: pr.Store) -> pr.SenderAccount:
    (record,) = store.list_senders()
    return record.account


def rest(store: pr.Store) -> tuple[int, datetime | None]:
    """The only sender's refusals in a row and the end of its rest."""
    (record,) = store.list_senders()
    return record.usage.auth_failures, record.usage.cooldown_until


def test_a_mail_that_cannot_be_written_is_audited_and_the_others_go(
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A queued mail whose recipient's name cannot be a header (a line break in it) is
    not sent: its try through the sender is audited with the error's code, at the run's
    time; the other mail of the batch goes through the same session."""
    logins = with_users(queued, mailer, 2)
    queue_for(queued, logins)
    (damaged,) = [m for m in pending(store, clock) if b"usuario0@" in m.payload]
    data = json.loads(damaged.payload)
    data["to_name"] = "Usuario\r\nBcc: otro@ajeno.mx"
    edited = attrs.evolve(damaged, payload=json.dumps(data).encode())
    assert store.update_message(edited, expected_version=damaged.version)
    clock.advance(minutes=1)
    now = clock.now()
    sender = main_sender(store).id
    assert pr.DeliveryReport(sent=1, retried=1) == queued.deliver_pending()
    assert (["usuario1@empresa.mx"], 1) == (recipients(mailer), len(mailer.sessions))
    assert [
        failed("usuario0", now, sender, "invalid_header_value"),
        pr.AuditEvent(
            "delivery_failed", "usuario0", now, detail={"purpose": TEMPORARY, "attempts": "1"}
        ),
    ] == during(queued, "usuario0", now)[:2]


def test_a_refused_mail_and_the_sent_one_are_audited_with_their_sender_and_time(
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """The main sender's server refuses the mail for now (451): that try is audited with
    the sender, the reply code and the run's time, and the mail_sent event of the backup
    sender that took it names that sender, at the run's time too."""
    queued.configure_sender("juan", sender_settings("smtp.juan.mx", "juan@juan.mx"), "otra")
    main, backup = (account.id for account in queued.senders())
    mailer.rejecting_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    clock.advance(minutes=1)
    now = clock.now()
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert [
        failed("juan", now, main, "delivery_failed", reply="451"),
        mail_sent("juan", now, backup),
    ] == during(queued, "juan", now)[:2]


def test_without_sessions_each_login_counts_towards_the_senders_rest(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A mailer without sessions, two refusals in a row before a rest: a send whose login
    is refused counts one, a send that goes clears the count, and the second refusal in a
    row starts the rest, audited as sender_cooling_down at that run's time."""
    policy = pr.Policy(sender_failures_before_cooldown=2)
    worker = make_service(mailer=SendOnly(mailer), policy=policy)
    sender = main_sender(store).id
    counts: list[tuple[int, datetime | None]] = []
    for password in ("cambiada", SMTP_PASSWORD, "cambiada", "cambiada"):
        clock.advance(hours=1)
        mailer.passwords["envios@empresa.mx"] = password
        if not pending(store, clock):
            queued.request_recovery("juan", delivery="queued")
        worker.deliver_pending()
        counts.append(rest(store))
    until = clock.now() + policy.sender_cooldown
    assert [(1, None), (0, None), (1, None), (0, until)] == counts
    resting = [e for e in queued.audit_trail() if e.kind == "sender_cooling_down"]
    assert [
        pr.AuditEvent(
            "sender_cooling_down",
            None,
            clock.now(),
            detail={"sender": sender, "until": until.isoformat()},
        )
    ] == resting


def test_without_sessions_a_sender_removed_meanwhile_takes_no_more_mail(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A mailer without sessions, and the sender removed (from another workstation) right
    after the batch's first send: the second mail finds no login to take and waits for a
    later run, with no failed try through that sender in its audit."""
    logins = with_users(queued, mailer, 2)
    sender = main_sender(store).id

    class RemovedAfterTheFirstSend(SendOnly):
        def send(self, settings: pr.SenderSettings, password: str, message: EmailMessage) -> None:
            super().send(settings, password, message)
            store.remove_sender(sender)

    queue_for(queued, logins)
    clock.advance(minutes=1)
    now = clock.now()
    worker = make_service(mailer=RemovedAfterTheFirstSend(mailer))
    assert pr.DeliveryReport(sent=1, retried=1) == worker.deliver_pending()
    (unsent,) = set(logins) - {address.split("@")[0] for address in recipients(mailer)}
    kinds = [event.kind for event in during(queued, unsent, now)]
    assert ["delivery_failed", "queued_mail_retry"] == kinds


def test_a_spent_budget_is_charged_to_every_later_mail_of_the_session(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A mailer without sessions and a budget of one login a minute: the session's login
    sends the first mail; the second finds the budget spent, so the session is lost for
    the budget, with the wait until the next login, and that refusal (event at the time
    of the try, and the wait) is on the tally of the second mail and of every later one."""
    clock.advance(minutes=1)  # the setup's logins are out of the budget's window
    now = clock.now()
    worker = make_service(mailer=SendOnly(mailer), policy=pr.Policy(smtp_logins_per_minute=1))
    delivery = worker._delivery  # the session is opened as the worker opens it
    (record,) = store.list_senders()
    session = delivery.open_session(record, now)
    assert isinstance(session, SenderSession)
    notice = pr.Purpose.PASSWORD_CHANGED
    content = MailContent(notice, "juan@empresa.mx", "Juan", "juan")
    written = session.write(content, now, secret=None, message_token="aviso-1")
    tallies = [Tally(worker._ctx, "juan", notice.value) for _ in range(3)]
    clock.advance(seconds=10)
    later = clock.now()
    outcomes = [session.deliver(written, tally, later) for tally in tallies]
    session.close()
    wait = timedelta(seconds=50)
    assert [True, None, None] == [o.sent if o is not None else None for o in outcomes]
    assert Refusal(record.account.id, "budget", wait=wait) == session.lost
    refused = failed("juan", later, record.account.id, "budget", purpose=notice.value)
    assert [([refused], [wait], 0)] * 2 == [(t.events, t.waits, t.attempts) for t in tallies[1:]]
    assert wait == tallies[2].given_up(later).retry_after


class QuitFails:
    """Wraps a RecordingMailer; leaving one of its sessions fails (the server drops the
    connection before answering QUIT)."""

    def __init__(self, inner: pr.RecordingMailer) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        with self._inner.session(settings, password) as session:
            yield session
        raise pr.SenderUnreachable(settings.host, settings.port, "connection")


def test_a_failed_quit_changes_nothing_for_the_mails_sent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """The server drops the connection at QUIT, after the batch was sent: the run reports
    every mail sent, and none is left to send again."""
    logins = with_users(queued, mailer, 2)
    queue_for(queued, logins)
    assert pr.DeliveryReport(sent=2) == make_service(mailer=QuitFails(mailer)).deliver_pending()
    assert ([], 2) == (pending(store, clock), len(mailer.outbox))


def test_the_worker_writes_with_the_services_branding(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A worker made with ``branding=`` names that product in the mails it writes."""
    queued.request_recovery("juan", delivery="queued")
    worker = make_service(branding="Nóminas Acme")
    assert pr.DeliveryReport(sent=1) == worker.deliver_pending()
    assert "Tu clave temporal para Nóminas Acme" == mailer.outbox[-1]["Subject"]


def test_mails_left_waiting_for_the_budget_say_so(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A mailer without sessions and a budget of one login a minute: the run sends one
    mail; the two left waiting are retried with the reason rate_limited (the SMTP budget),
    not no_sender_configured, which would send the administrator looking for a sender."""
    logins = with_users(queued, mailer, 3)
    clock.advance(minutes=1)  # the setup's logins are out of the budget's window
    queue_for(queued, logins)
    worker = make_service(mailer=SendOnly(mailer), policy=pr.Policy(smtp_logins_per_minute=1))
    assert pr.DeliveryReport(sent=1, retried=2) == worker.deliver_pending()
    waiting = pending(store, clock)
    assert ["rate_limited"] * 2 == [message.last_error for message in waiting]
    retries = [e for e in queued.audit_trail() if e.kind == "queued_mail_retry"]
    assert ["rate_limited"] * 2 == [event.detail["reason"] for event in retries]
