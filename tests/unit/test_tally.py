"""What happened to one mail across its senders: the audit events of each try (with the
time, origin, purpose and sender), the error the caller gets (permanent or transient, or
RateLimited when no sender could even log in), and a sender taken out of a worker's run
charged to every mail that would have gone through it."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._service._tally import Outcome, Tally
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, sender_settings

ORIGIN = "PC-CONTABILIDAD-07"
BACKUP = "smtp.juan.mx"
TEMPORARY = pr.Purpose.TEMPORARY_PASSWORD.value
VERIFICATION = pr.Purpose.EMAIL_VERIFICATION.value


def with_backup(service: pr.RecoveryService, clock: pr.ManualClock) -> tuple[str, str]:
    """juan's own sender besides the SUPERVISOR's (tried first): their ids."""
    clock.advance(minutes=1)
    service.configure_sender("juan", sender_settings(BACKUP, "juan@juan.mx"), SMTP_PASSWORD)
    main, backup = (account.id for account in service.senders())
    return main, backup


def event(kind: str, at: datetime, origin: str | None = ORIGIN, **detail: str) -> pr.AuditEvent:
    return pr.AuditEvent(kind=kind, login="juan", at=at, origin=origin, detail=detail)


def test_immediate_failure_audits_each_sender_and_raises_a_transient_failure(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """An immediate request past a tampered sender (skipped, audited sender_tampered) to
    one that refuses the mail for now (451): DeliveryFailed with one attempt and the
    reply code, no reason; each event carries the time, the origin, the purpose and the
    sender, and a refusal without a reason of its own has no ``cause``."""
    main, backup = with_backup(ready, clock)
    (row,) = (r for r in store.list_senders() if r.account.id == main)
    moved = attrs.evolve(row.account.settings, host="smtp.otro.mx")
    store.put_sender(attrs.evolve(row, account=attrs.evolve(row.account, settings=moved)))
    mailer.rejecting_hosts.add(BACKUP)
    clock.advance(minutes=1)
    now = clock.now()
    with pytest.raises(pr.DeliveryFailed) as caught:
        ready.request_recovery("juan", origin=ORIGIN)
    assert (pr.DeliveryFailed, 1, 451, "") == (
        type(caught.value),
        caught.value.attempts,
        caught.value.reply_code,
        caught.value.reason,
    )
    assert [
        event("sender_tampered", now, sender=main),
        event(
            "delivery_attempt_failed",
            now,
            purpose=TEMPORARY,
            sender=backup,
            reason="delivery_failed",
            reply="451",
        ),
        event("delivery_failed", now, purpose=TEMPORARY, attempts="1"),
        event("temporary_password_withdrawn", now, reason="delivery_failed"),
    ] == ready.audit_trail("juan")[-4:]


def test_no_sender_within_its_budget_is_rate_limited_for_the_shortest_wait(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A code mailed at once while every sender has spent its SMTP logins of the minute:
    no login is tried, each sender is audited ``budget``, and the caller gets RateLimited
    ("smtp_budget") for the sooner of the senders' waits."""
    main, backup = with_backup(ready, clock)
    limited = make_service(policy=pr.Policy(smtp_logins_per_minute=1))
    clock.advance(minutes=2)  # the setup's logins are past
    limited.request_recovery("SUPERVISOR")  # the SUPERVISOR's sender's login
    clock.advance(seconds=20)
    limited.request_recovery("juan")  # the SUPERVISOR's is spent: juan's sender's login
    clock.advance(seconds=10)
    now = clock.now()
    logins = len(mailer.logins)
    with pytest.raises(pr.RateLimited) as caught:
        limited.set_recovery_email("juan", "juan.nuevo@empresa.mx", origin=ORIGIN)
    assert (timedelta(seconds=30), "smtp_budget", logins) == (
        caught.value.retry_after,
        caught.value.reason,
        len(mailer.logins),
    )
    assert [
        event("delivery_attempt_failed", now, purpose=VERIFICATION, sender=main, reason="budget"),
        event("delivery_attempt_failed", now, purpose=VERIFICATION, sender=backup, reason="budget"),
        event("delivery_failed", now, purpose=VERIFICATION, attempts="0"),
    ] == limited.audit_trail("juan")[-3:]


def test_a_refusal_for_good_keeps_the_clients_own_reason(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """A code for a UTF-8 address on a server without SMTPUTF8: DeliveryRejected with the
    reply code and the client's own reason, audited as the cause."""
    mailer.hosts_without_smtputf8.add("smtp.empresa.mx")
    (main,) = (account.id for account in ready.senders())
    now = clock.now()
    with pytest.raises(pr.DeliveryRejected) as caught:
        ready.set_recovery_email("juan", "josé@empresa.mx", origin=ORIGIN)
    assert (1, 555, "smtputf8_unsupported") == (
        caught.value.attempts,
        caught.value.reply_code,
        caught.value.reason,
    )
    assert [
        event(
            "delivery_attempt_failed",
            now,
            purpose=VERIFICATION,
            sender=main,
            reason="delivery_rejected",
            reply="555",
            cause="smtputf8_unsupported",
        ),
        event("delivery_failed", now, purpose=VERIFICATION, attempts="1"),
    ] == ready.audit_trail("juan")[-2:]


def test_a_sender_that_cannot_log_in_counts_as_a_try_for_each_mail_it_had(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """The worker: the first sender refuses the mail for good (550), the next cannot log
    in at all. That login counts as the mail's second try, so the mail is not refused for
    good by every sender tried: it is retried, audited with both tries and the login's
    error (no reply code, no cause)."""
    main, backup = with_backup(ready, clock)
    mailer.permanently_rejecting_hosts.add("smtp.empresa.mx")
    mailer.basic_auth_disabled_hosts.add(BACKUP)
    ready.request_recovery("juan", delivery="queued")
    now = clock.now()
    assert pr.DeliveryReport(retried=1) == ready.deliver_pending()
    trail = ready.audit_trail("juan")
    assert [
        event(
            "delivery_attempt_failed",
            now,
            None,
            purpose=TEMPORARY,
            sender=main,
            reason="delivery_rejected",
            reply="550",
        ),
        event(
            "delivery_attempt_failed",
            now,
            None,
            purpose=TEMPORARY,
            sender=backup,
            reason="basic_auth_disabled",
        ),
        event("delivery_failed", now, None, purpose=TEMPORARY, attempts="2"),
    ] == trail[-4:-1]
    assert ("queued_mail_retry", "delivery_failed") == (trail[-1].kind, trail[-1].detail["reason"])


def test_a_tally_reports_its_tries_and_audits_a_mail_given_up_by_default(
    ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A mail sent after tries says how many senders were tried; a mail no sender took is
    audited ``delivery_failed`` unless the caller says otherwise. (Every caller in the
    library passes ``audit``; this pins the default of the type.)"""
    (account,) = ready.senders()
    now = clock.now()
    tally = Tally(ready._ctx, "juan", TEMPORARY, ORIGIN)
    tally.attempts = 2
    sent = event("mail_sent", now, purpose=TEMPORARY, sender=account.id)
    assert Outcome(account, (sent,), 2) == tally.sent(account, now)
    given_up = event("delivery_failed", now, purpose=TEMPORARY, attempts="0")
    fresh = Tally(ready._ctx, "juan", TEMPORARY, ORIGIN)
    assert Outcome(None, (given_up,), 0) == fresh.given_up(now)
