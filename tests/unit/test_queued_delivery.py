"""Queued delivery (a transactional outbox): answer at once, send later, lose nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import (
    USER_PASSWORD,
    sender_settings,
    temporary_password_in,
    verification_code_in,
)
from tests.unit.outbox_kit import (
    Breaking,
    CrashingSessions,
    SendOnly,
    crash,
    pending,
    queue_for,
    recipients,
    with_users,
)


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


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


def test_a_worker_with_the_wrong_key_keeps_the_mail_for_the_right_one(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A worker holding the wrong key cannot open any sender: it sends nothing and keeps
    the mail (the queue holds no secret, so nothing is lost by waiting); the worker with
    the right key sends it later."""
    queued.request_recovery("juan", delivery="queued")
    report = make_service(secret_key=pr.generate_key()).deliver_pending()
    assert (pr.DeliveryReport(retried=1), []) == (report, mailer.outbox)
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert "juan@empresa.mx" in mailer.outbox[-1]["To"]


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


def test_crash_while_committing_the_request_leaves_nothing(
    make_service: ServiceFactory, queued: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Stopped in the request's transaction: no temporary password, no queued mail."""
    broken = make_service(store=Breaking(store, "update_user"))
    crash(lambda: broken.request_recovery("juan", delivery="queued"))
    record = store.get_user("juan")
    assert (None, []) == (record.temporary if record else "?", pending(store, clock))


def test_crash_while_claiming(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """Stopped while claiming the batch: the mail is still due and the next run sends it
    once."""
    queued.request_recovery("juan", delivery="queued")
    crash(make_service(store=Breaking(store, "update_messages")).deliver_pending)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


@pytest.mark.parametrize("path", ["session", "send_only"])
def test_crash_while_sending(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    path: str,
) -> None:
    """Stopped mid-send: the claim holds it for the lease, then the next run sends it once."""
    queued.request_recovery("juan", delivery="queued")
    broken = CrashingSessions(mailer) if path == "session" else Breaking(SendOnly(mailer), "send")
    crash(make_service(mailer=broken).deliver_pending)
    assert pr.DeliveryReport() == queued.deliver_pending()  # still leased
    clock.advance(minutes=5)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


def test_crash_between_sending_and_marking_sends_again_with_a_new_secret(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Stopped after the send, before the batch is deleted: sent again once after the
    lease (same Message-ID), with a new temporary password that replaces the first, then
    never again."""
    queued.request_recovery("juan", delivery="queued")
    crash(make_service(store=Breaking(store, "delete_messages")).deliver_pending)
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    clock.advance(hours=2)
    assert pr.DeliveryReport() == queued.deliver_pending()
    first, second = mailer.outbox
    assert first["Message-ID"] == second["Message-ID"]
    with pytest.raises(pr.InvalidCredentials):
        queued.authenticate("juan", temporary_password_in(first))
    second_password = temporary_password_in(second)
    assert (
        pr.LoginStatus.MUST_CHANGE_PASSWORD == queued.authenticate("juan", second_password).status
    )


def test_crash_while_scheduling_a_retry(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Stopped while recording a failed try: after the lease the mail is tried again."""
    queued.request_recovery("juan", delivery="queued")
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    crash(make_service(store=Breaking(store, "update_message")).deliver_pending)
    mailer.unreachable_hosts.clear()
    clock.advance(minutes=5)
    assert (pr.DeliveryReport(sent=1), 1) == (queued.deliver_pending(), len(mailer.outbox))


@pytest.mark.parametrize("after", [False, True], ids=["before_the_send", "after_the_send"])
def test_crash_in_the_middle_of_a_batch_loses_nothing(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    after: bool,
) -> None:
    """Stopped at the third mail of a batch of five: the batch was claimed whole and
    nothing of it settled, so the next run leaves all five to their lease; after it each
    is sent once more, with a new temporary password that replaces the first. The two
    (or, stopped after the third send, three) already sent are duplicates; none is lost,
    and every user's last mail carries a working temporary password."""
    logins = with_users(queued, mailer, 5)
    queue_for(queued, logins)
    crash(make_service(mailer=CrashingSessions(mailer, 3, after=after)).deliver_pending)
    assert (3 if after else 2) == len(mailer.outbox)
    assert pr.DeliveryReport() == queued.deliver_pending()  # the whole batch is leased
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=5) == queued.deliver_pending()
    sent = recipients(mailer)
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(set(sent))
    assert (8 if after else 7) == len(sent)
    for login in logins:
        last = [m for m in mailer.outbox if m["To"].addresses[0].username == login][-1]
        status = queued.authenticate(login, temporary_password_in(last)).status
        assert pr.LoginStatus.MUST_CHANGE_PASSWORD == status


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


# -- batches: one login per sender per run --------------------------------------------


def test_a_batch_is_one_login(queued: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """Every due mail for one sender goes through one session: one SMTP login per run,
    each mail sent and audited on its own."""
    logins = with_users(queued, mailer, 5)
    queue_for(queued, logins)
    assert pr.DeliveryReport(sent=5) == queued.deliver_pending()
    assert ([("smtp.empresa.mx", "envios@empresa.mx")], 1) == (mailer.sessions, len(mailer.logins))
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(recipients(mailer))
    for login in logins:
        kinds = [e.kind for e in queued.audit_trail(login)][-2:]
        assert ["mail_sent", "queued_mail_sent"] == kinds


def test_a_batch_takes_one_login_from_the_budget(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """With a budget of 2 SMTP logins a minute, one run still sends 5 mails: the budget
    counts logins, and a batch is one."""
    logins = with_users(queued, mailer, 5)
    clock.advance(minutes=1)  # the logins of the setup's mails are out of the window
    queue_for(queued, logins)
    limited = make_service(policy=pr.Policy(smtp_logins_per_minute=2))
    assert pr.DeliveryReport(sent=5) == limited.deliver_pending()


def test_a_mailer_without_sessions_sends_one_by_one(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A host's mailer without ``session`` keeps working: one send (and one login from the
    budget) per mail; past the budget the rest wait for a later run."""
    logins = with_users(queued, mailer, 5)
    clock.advance(minutes=1)
    queue_for(queued, logins)
    plain = make_service(mailer=SendOnly(mailer), policy=pr.Policy(smtp_logins_per_minute=3))
    assert pr.DeliveryReport(sent=3, retried=2) == plain.deliver_pending()
    assert (3, []) == (len(mailer.logins), mailer.sessions)
    unsent = set(logins) - {a.split("@")[0] for a in recipients(mailer)}
    for login in unsent:
        failed = [e for e in plain.audit_trail(login) if e.kind == "delivery_attempt_failed"]
        assert ["budget"] == [e.detail["reason"] for e in failed]


def test_a_refused_mail_does_not_stop_the_batch(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """One mail of the batch refused for good (a UTF-8 address on a server that does not
    offer SMTPUTF8) is abandoned at once, its reason in the audit; the others go through
    the same session."""
    logins = with_users(queued, mailer, 3)
    queued.set_recovery_email("usuario1", "josé@empresa.mx")
    (code_mail,) = [m for m in mailer.outbox if m["To"].addresses[0].username == "josé"]
    queued.confirm_recovery_email("usuario1", verification_code_in(code_mail))
    mailer.hosts_without_smtputf8.add("smtp.empresa.mx")
    mailer.outbox.clear()
    queue_for(queued, logins)
    report = queued.deliver_pending()
    assert (pr.DeliveryReport(sent=2, abandoned=1), 1) == (report, len(mailer.sessions))
    assert ["usuario0@empresa.mx", "usuario2@empresa.mx"] == sorted(recipients(mailer))
    assert [] == pending(store, clock)
    (failed,) = [e for e in queued.audit_trail("usuario1") if e.kind == "delivery_attempt_failed"]
    assert ("delivery_rejected", "555", "smtputf8_unsupported") == (
        failed.detail["reason"],
        failed.detail["reply"],
        failed.detail["cause"],
    )


def test_a_mail_refused_for_good_is_abandoned_at_once(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A queued mail the server refuses with a 5xx reply is not tried again: abandoned in
    the first run, its temporary password revoked, the reply code in the audit."""
    mailer.permanently_rejecting_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(abandoned=1) == queued.deliver_pending()
    assert [] == pending(store, clock)
    record = store.get_user("juan")
    assert record is not None
    assert record.temporary is None
    trail = queued.audit_trail("juan")
    (failed,) = [e for e in trail if e.kind == "delivery_attempt_failed"]
    assert ("delivery_rejected", "550") == (failed.detail["reason"], failed.detail["reply"])
    abandoned = [e for e in trail if e.kind == "queued_mail_abandoned"][-1]
    assert "delivery_rejected" == abandoned.detail["reason"]
    clock.advance(hours=2)
    assert (pr.DeliveryReport(), []) == (queued.deliver_pending(), mailer.outbox)


def test_a_mail_refused_for_now_is_retried_with_its_reply_code(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """A 4xx refusal is tried again later; the audit keeps the server's reply code."""
    mailer.rejecting_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(retried=1) == queued.deliver_pending()
    (failed,) = [e for e in queued.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert ("delivery_failed", "451") == (failed.detail["reason"], failed.detail["reply"])
    assert "delivery_failed" == pending(store, clock)[0].last_error
    mailer.rejecting_hosts.clear()
    clock.advance(minutes=1)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()


def test_refused_for_good_by_one_sender_is_not_permanent_if_another_only_failed(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """The failure is permanent only when every sender tried refused the mail for good:
    550 from one and 451 from the other is tried again later."""
    queued.configure_sender("juan", sender_settings("smtp.juan.mx", "juan@juan.mx"), "otra clave")
    mailer.permanently_rejecting_hosts.add("smtp.empresa.mx")
    mailer.rejecting_hosts.add("smtp.juan.mx")
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(retried=1) == queued.deliver_pending()
    failed = [e for e in queued.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert [("delivery_rejected", "550"), ("delivery_failed", "451")] == [
        (e.detail["reason"], e.detail["reply"]) for e in failed
    ]


def test_refused_for_good_by_every_sender_is_permanent(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Two senders, both refusing the mail with a 5xx: abandoned in the first run, one
    login each."""
    queued.configure_sender("juan", sender_settings("smtp.juan.mx", "juan@juan.mx"), "otra clave")
    mailer.logins.clear()
    mailer.permanently_rejecting_hosts.update({"smtp.empresa.mx", "smtp.juan.mx"})
    queued.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(abandoned=1) == queued.deliver_pending()
    assert ["smtp.empresa.mx", "smtp.juan.mx"] == [host for host, _ in mailer.logins]
    assert [] == pending(store, clock)


def test_a_lost_session_moves_the_rest_to_the_next_sender(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A server that closes the session after two mails (421): the third is moved to the
    next sender, and so is the rest; one login per sender, every mail sent once."""
    logins = with_users(queued, mailer, 4)
    queued.configure_sender(
        "usuario0", sender_settings("smtp.otro.mx", "otro@empresa.mx"), "otra clave"
    )
    mailer.logins.clear()
    mailer.messages_per_session = 2
    queue_for(queued, logins)
    assert pr.DeliveryReport(sent=4) == queued.deliver_pending()
    assert ["smtp.empresa.mx", "smtp.otro.mx"] == [host for host, _ in mailer.sessions]
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(recipients(mailer))
    hosts = [settings.host for settings in mailer.sent_through]
    assert ["smtp.empresa.mx"] * 2 + ["smtp.otro.mx"] * 2 == hosts
    failures = [
        [
            (e.detail["reason"], e.detail.get("reply"))
            for e in queued.audit_trail(login)
            if e.kind == "delivery_attempt_failed"
        ]
        for login in logins
    ]
    assert [
        [],
        [],
        [("delivery_failed", "421")],
        [("sender_unreachable", None)],
    ] == sorted(failures, key=lambda found: (len(found), found))


def test_a_lost_session_with_no_other_sender_retries_the_rest(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """With one sender, the mails a lost session did not send are tried again later,
    not lost; the next run sends them."""
    logins = with_users(queued, mailer, 5)
    mailer.messages_per_session = 2
    queue_for(queued, logins)
    assert pr.DeliveryReport(sent=2, retried=3) == queued.deliver_pending()
    reasons = sorted(
        e.detail["reason"]
        for login in logins
        for e in queued.audit_trail(login)
        if e.kind == "delivery_attempt_failed"
    )
    assert ["delivery_failed", "sender_unreachable", "sender_unreachable"] == reasons
    clock.advance(minutes=1)
    assert pr.DeliveryReport(sent=2, retried=1) == queued.deliver_pending()
    clock.advance(minutes=2)
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(recipients(mailer))


def test_a_sender_that_cannot_log_in_is_tried_once_per_run(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A sender whose login fails is not tried again for every mail of the run: one
    login, each mail audited with the failure and sent through the next sender."""
    logins = with_users(queued, mailer, 3)
    queued.configure_sender(
        "usuario0", sender_settings("smtp.otro.mx", "otro@empresa.mx"), "otra clave"
    )
    mailer.logins.clear()
    mailer.basic_auth_disabled_hosts.add("smtp.empresa.mx")
    queue_for(queued, logins)
    assert pr.DeliveryReport(sent=3) == queued.deliver_pending()
    assert ["smtp.empresa.mx", "smtp.otro.mx"] == [host for host, _ in mailer.logins]
    for login in logins:
        failed = [e for e in queued.audit_trail(login) if e.kind == "delivery_attempt_failed"]
        assert ["basic_auth_disabled"] == [e.detail["reason"] for e in failed]


def test_immediate_delivery_audits_the_reply_code(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """An immediate request refused for good raises DeliveryRejected with the reply code,
    which the audit keeps too."""
    mailer.permanently_rejecting_hosts.add("smtp.empresa.mx")
    with pytest.raises(pr.DeliveryRejected) as caught:
        queued.request_recovery("juan")
    assert 550 == caught.value.reply_code
    failed = [e for e in queued.audit_trail("juan") if e.kind == "delivery_attempt_failed"][-1]
    assert "550" == failed.detail["reply"]


def test_without_sessions_a_refused_login_takes_the_sender_out_of_the_run(
    make_service: ServiceFactory, queued: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A mailer without sessions: the first send through a sender whose password the
    server now refuses fails its login; that sender takes no more mail in the run, and
    every mail goes through the next sender."""
    logins = with_users(queued, mailer, 3)
    queued.configure_sender("usuario0", sender_settings("smtp.otro.mx", "otro@empresa.mx"), "x")
    mailer.logins.clear()
    mailer.passwords["envios@empresa.mx"] = "changed on the server"
    queue_for(queued, logins)
    plain = make_service(mailer=SendOnly(mailer))
    assert pr.DeliveryReport(sent=3) == plain.deliver_pending()
    assert ["smtp.empresa.mx"] + ["smtp.otro.mx"] * 3 == [host for host, _ in mailer.logins]
    reasons = sorted(
        e.detail["reason"]
        for login in logins
        for e in plain.audit_trail(login)
        if e.kind == "delivery_attempt_failed"
    )
    assert ["sender_auth_failed"] * 3 == reasons
