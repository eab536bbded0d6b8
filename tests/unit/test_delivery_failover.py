"""Immediate delivery through the senders in order (_service/_delivery.py): which senders
a mail tries (the requester's own before the others), how each one that cannot take it is
passed over and audited (its budget spent, its row tampered with, its secret sealed under
another key, its server failing), how many tries the caller is told of, what a login that
worked clears, and a sender the worker finds removed at its login."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent
from pwrecovery.records import SenderRecord
from tests.conftest import ServiceFactory
from tests.helpers import NEW_PASSWORD, SMTP_PASSWORD, USER_PASSWORD, sender_settings
from tests.unit.outbox_kit import Crash

ORIGIN = "CAJA-02"
MAIN, JUAN, PEDRO = "smtp.empresa.mx", "smtp.juan.mx", "smtp.pedro.mx"
TEMPORARY = pr.Purpose.TEMPORARY_PASSWORD.value


def event(
    kind: str, at: datetime, login: str | None = "juan", origin: str | None = ORIGIN, **detail: str
) -> pr.AuditEvent:
    return pr.AuditEvent(kind=kind, login=login, at=at, origin=origin, detail=detail)


def ids(service: pr.RecoveryService) -> dict[str, str]:
    """Each sender's id by its server."""
    return {account.settings.host: account.id for account in service.senders()}


def row(store: pr.Store, sender_id: str) -> SenderRecord:
    (record,) = (r for r in store.list_senders() if r.account.id == sender_id)
    return record


def with_juans_sender(service: pr.RecoveryService, clock: pr.ManualClock) -> dict[str, str]:
    """juan's own sender besides the SUPERVISOR's (tried first); ids by server."""
    clock.advance(seconds=10)
    service.configure_sender("juan", sender_settings(JUAN, "envios@juan.mx"), SMTP_PASSWORD)
    return ids(service)


class SenderListings:
    """An ``InMemoryStore`` that counts its sender listings (every SMTP login's budget is
    taken on a fresh listing) and stops the process past ``limit`` of them; with
    ``remove_after_next`` set, another workstation removes that sender right after the next
    listing, so the service holds a sender that no longer exists."""

    def __init__(self, inner: pr.InMemoryStore, limit: int = 40) -> None:
        self._inner = inner
        self.limit = limit
        self.listings = 0
        self.remove_after_next: str | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def list_senders(self) -> list[SenderRecord]:
        self.listings += 1
        if self.listings > self.limit:
            raise Crash  # a run that keeps going back to a sender it was refused by
        found = self._inner.list_senders()
        if self.remove_after_next is not None:
            self._inner.remove_sender(self.remove_after_next)
            self.remove_after_next = None
        return found


# -- immediate delivery ------------------------------------------------------------------


def test_a_mail_no_sender_took_counts_every_sender_tried_and_audits_each(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """The SUPERVISOR's server cannot be reached and juan's refuses the mail for now: the
    caller is told of two tries (DeliveryFailed, 451), and each failure is audited at that
    instant, from the workstation, with its sender, its reason and its reply."""
    senders = with_juans_sender(ready, clock)
    mailer.unreachable_hosts.add(MAIN)
    mailer.rejecting_hosts.add(JUAN)
    clock.advance(minutes=1)
    now = clock.now()
    with pytest.raises(pr.DeliveryFailed) as caught:
        ready.request_recovery("juan", origin=ORIGIN)
    assert (2, 451) == (caught.value.attempts, caught.value.reply_code)
    failed = {"purpose": TEMPORARY, "reason": "sender_unreachable", "cause": "connection"}
    assert [
        event("delivery_attempt_failed", now, sender=senders[MAIN], **failed),
        event(
            "delivery_attempt_failed",
            now,
            purpose=TEMPORARY,
            sender=senders[JUAN],
            reason="delivery_failed",
            reply="451",
        ),
        event("delivery_failed", now, purpose=TEMPORARY, attempts="2"),
        event("temporary_password_withdrawn", now, reason="delivery_failed"),
    ] == ready.audit_trail("juan")[-4:]


def test_senders_over_budget_or_tampered_with_are_passed_over_and_audited(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """With one SMTP login a minute, the SUPERVISOR's sender (spent by the setup's mails) is
    audited ``budget``; juan's own, whose row was edited without the key, is audited
    ``sender_tampered``; pedro's sends the mail. Every event names its sender and carries
    the instant and the workstation."""
    ready.add_user("pedro", "Pedro sin correo 1")
    ready.configure_sender("pedro", sender_settings(PEDRO, "p@pedro.mx"), "clave p")
    senders = with_juans_sender(ready, clock)
    juans = row(store, senders[JUAN])
    moved = attrs.evolve(juans.account.settings, host="smtp.otro.mx")
    store.put_sender(attrs.evolve(juans, account=attrs.evolve(juans.account, settings=moved)))
    limited = make_service(policy=pr.Policy(smtp_logins_per_minute=1))
    clock.advance(seconds=20)
    now = clock.now()
    limited.request_recovery("juan", origin=ORIGIN)
    assert PEDRO == mailer.sent_through[-1].host
    trail = limited.audit_trail("juan")
    assert [
        event(
            "delivery_attempt_failed",
            now,
            purpose=TEMPORARY,
            sender=senders[MAIN],
            reason="budget",
        ),
        event("sender_tampered", now, sender=senders[JUAN]),
        event("mail_sent", now, purpose=TEMPORARY, sender=senders[PEDRO]),
    ] == trail[-4:-1]
    assert ("temporary_password_issued", "immediate") == (
        trail[-1].kind,
        trail[-1].detail["delivery"],
    )


def test_a_sender_sealed_under_another_key_is_passed_over_and_audited(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A workstation with another key cannot open the SUPERVISOR's sender: it is audited
    ``secret_undecryptable`` under its id, and juan's own sender (sealed under that key)
    sends the mail."""
    other = make_service(secret_key=pr.generate_key())
    clock.advance(seconds=10)
    other.configure_sender("juan", sender_settings(JUAN, "envios@juan.mx"), SMTP_PASSWORD)
    senders = ids(other)
    clock.advance(minutes=1)
    now = clock.now()
    other.request_recovery("juan", origin=ORIGIN)
    assert JUAN == mailer.sent_through[-1].host
    assert [
        event(
            "delivery_attempt_failed",
            now,
            purpose=TEMPORARY,
            sender=senders[MAIN],
            reason="secret_undecryptable",
        ),
        event("mail_sent", now, purpose=TEMPORARY, sender=senders[JUAN]),
    ] == other.audit_trail("juan")[-3:-1]


def test_a_sender_sealed_under_an_older_key_is_resealed_when_it_sends(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    clock: pr.ManualClock,
    secret_key: str,
) -> None:
    """A delivery with a key list opens the sender sealed under the older key and seals it
    again under the first, audited ``sender_secret_resealed`` at that instant, before the
    mail it sends."""
    (main,) = ids(ready).values()
    rotated = make_service(secret_key=[pr.generate_key(), secret_key])
    clock.advance(minutes=3)
    now = clock.now()
    start = len(ready.audit_trail())
    rotated.request_recovery("juan", origin=ORIGIN)
    trail = ready.audit_trail()[start:]
    assert [
        event("sender_secret_resealed", now, None, None, sender=main),
        event("mail_sent", now, purpose=TEMPORARY, sender=main),
    ] == trail[:2]


def test_a_login_that_works_clears_the_senders_refusals_in_a_row(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Two mails meet the SUPERVISOR's sender's password refused (juan's sender takes them);
    once the password works again, the next mail through it clears the count, so later
    refusals start again from the first and no rest begins."""
    senders = with_juans_sender(ready, clock)
    mailer.passwords["envios@empresa.mx"] = "cambiada por el proveedor"
    for _ in range(2):
        ready.request_recovery("juan")
    assert 2 == row(store, senders[MAIN]).usage.auth_failures
    assert [JUAN, JUAN] == [settings.host for settings in mailer.sent_through[-2:]]
    mailer.passwords["envios@empresa.mx"] = SMTP_PASSWORD
    ready.request_recovery("juan")
    assert MAIN == mailer.sent_through[-1].host
    assert (0, None) == (
        row(store, senders[MAIN]).usage.auth_failures,
        row(store, senders[MAIN]).usage.cooldown_until,
    )
    assert () == ready.readiness().cooling_down_senders


def test_a_code_goes_first_through_the_requesters_own_sender(
    service: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Without a SUPERVISOR's sender, a verification code for juan goes through juan's own
    sender, although pedro's was verified more recently (first for nobody in particular)."""
    service.add_user("pedro", "Pedro sin correo 1")
    service.configure_sender("juan", sender_settings(JUAN, "envios@juan.mx"), SMTP_PASSWORD)
    clock.advance(minutes=1)
    service.configure_sender("pedro", sender_settings(PEDRO, "p@pedro.mx"), "clave p")
    assert [PEDRO, JUAN] == [account.settings.host for account in service.senders()]
    service.set_recovery_email("juan", "juan@empresa.mx")
    assert [JUAN] == [settings.host for settings in mailer.sent_through]


def test_a_mail_sent_with_a_message_token_carries_its_message_id(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """A mail handed a message token keeps it as its Message-ID (at the sender's domain),
    whichever send it is: sent twice, both carry the same one."""
    notice = MailContent(
        purpose=pr.Purpose.PASSWORD_CHANGED,
        to_address="juan@empresa.mx",
        to_name="Juan Pérez",
        login="juan",
    )
    for _ in range(2):
        outcome = ready._delivery.send(notice, clock.now(), ORIGIN, message_token="aviso-7f3a")
        assert outcome.sent
    assert ["<aviso-7f3a@empresa.mx>"] * 2 == [m["Message-ID"] for m in mailer.outbox[-2:]]


def test_a_notice_held_back_by_the_senders_budget_is_audited_as_rate_limited(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """With one SMTP login a minute, spent by the setup's mails, the password-changed notice
    logs in nowhere: the sender is audited ``budget`` and the notice ``notice_failed`` for
    ``rate_limited`` (a wait for the budget), not as a failed delivery."""
    (main,) = ids(ready).values()
    limited = make_service(policy=pr.Policy(smtp_logins_per_minute=1))
    clock.advance(seconds=30)
    now, logins = clock.now(), len(mailer.logins)
    limited.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD, origin=ORIGIN)
    assert logins == len(mailer.logins)
    changed = pr.Purpose.PASSWORD_CHANGED.value
    assert [
        event("delivery_attempt_failed", now, purpose=changed, sender=main, reason="budget"),
        event("delivery_failed", now, purpose=changed, attempts="0"),
        event("notice_failed", now, purpose=changed, reason="rate_limited"),
    ] == limited.audit_trail("juan")[-3:]


# -- the worker's login to a sender --------------------------------------------------------


def test_the_worker_passes_over_a_sender_removed_after_it_listed_them(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Another workstation removes the SUPERVISOR's sender just after the worker listed the
    senders: the worker finds it gone at its login, takes it out of the run without a
    word in the audit, and juan's own sender sends the mail."""
    senders = with_juans_sender(ready, clock)
    ready.request_recovery("juan", delivery="queued")
    listings = SenderListings(store)
    worker = make_service(store=listings)
    listings.remove_after_next = senders[MAIN]
    clock.advance(minutes=1)
    now = clock.now()
    assert pr.DeliveryReport(sent=1) == worker.deliver_pending()
    assert JUAN == mailer.sent_through[-1].host
    assert [senders[JUAN]] == [account.id for account in worker.senders()]
    sent = event("mail_sent", now, origin=None, purpose=TEMPORARY, sender=senders[JUAN])
    assert sent == worker.audit_trail("juan")[-2]
    assert "delivery_attempt_failed" not in [e.kind for e in worker.audit_trail("juan")]
