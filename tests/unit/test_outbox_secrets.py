"""The delivery worker's secrets: each claimed mail's temporary password or code is made
once, its hash stored on the credential the mail is for (on a fresh read when another
workstation wrote the user first), and a mail whose request no longer stands is dropped
unsent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import pwrecovery as pr
from pwrecovery._service import outbox
from pwrecovery._service._outbox_batch import Mail, Run, claim, make_secrets
from tests.conftest import ServiceFactory
from tests.helpers import sender_settings, temporary_password_in
from tests.unit.outbox_kit import queue_for, recipients, with_users


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


class DuringLogin:
    """Wraps a RecordingMailer; ``action`` runs once, while the worker logs in to the first
    sender (another workstation acting between the claim and the making of the secrets)."""

    def __init__(self, inner: pr.RecordingMailer, action: Callable[[], object]) -> None:
        self._inner = inner
        self._action: Callable[[], object] | None = action

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        with self._inner.session(settings, password) as session:
            action, self._action = self._action, None
            if action is not None:
                action()
            yield session


class ExtraAnswer:
    """Wraps a store whose ``update_users`` answers one result more than it was given."""

    def __init__(self, inner: pr.Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def update_users(self, records: list[Any]) -> list[bool]:
        return [*self._inner.update_users(records), True]


def kinds(service: pr.RecoveryService, login: str, kind: str) -> int:
    return sum(1 for event in service.audit_trail(login) if event.kind == kind)


# -- through the worker ------------------------------------------------------------------


def test_a_mail_moved_to_its_next_sender_keeps_its_secret(
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """A mail the first sender refuses for now goes through the next one with the secret
    made for it: its hash is written once, issued when the worker made it, and the
    password mailed works."""
    queued.configure_sender("juan", sender_settings("smtp.juan.mx", "juan@juan.mx"), "otra clave")
    mailer.rejecting_hosts.add("smtp.empresa.mx")
    queued.request_recovery("juan", delivery="queued")
    clock.advance(minutes=3)
    before = store.get_user("juan")
    assert pr.DeliveryReport(sent=1) == queued.deliver_pending()
    after = store.get_user("juan")
    assert before is not None
    assert after is not None
    assert after.temporary is not None
    assert (before.version + 1, clock.now()) == (after.version, after.temporary.issued_at)
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == queued.authenticate("juan", temporary).status


def test_a_user_written_while_the_worker_logs_in_gets_its_hash_on_a_fresh_read(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Another workstation changes the user after the claim: the batch's write of the
    hash loses, the hash is stored alone over the new version (which keeps the other
    change), issued when the worker made it, and the mail goes with a password that
    works."""
    queued.request_recovery("juan", delivery="queued")
    clock.advance(minutes=3)
    other = make_service()
    worker = make_service(
        mailer=DuringLogin(mailer, lambda: other.set_display_name("juan", "Juan P."))
    )
    assert pr.DeliveryReport(sent=1) == worker.deliver_pending()
    after = store.get_user("juan")
    assert after is not None
    assert after.temporary is not None
    assert ("Juan P.", clock.now()) == (after.display_name, after.temporary.issued_at)
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == queued.authenticate("juan", temporary).status


def test_a_temporary_password_replaced_while_the_worker_logs_in_is_dropped_unsent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A temporary password whose request is replaced after the claim is dropped unsent,
    and its hash is stored nowhere: the newer one still waits for its own mail."""
    queued.request_recovery("juan", delivery="queued")
    other = make_service()
    worker = make_service(
        mailer=DuringLogin(mailer, lambda: other.request_recovery("juan", delivery="queued"))
    )
    assert (pr.DeliveryReport(dropped=1), []) == (worker.deliver_pending(), mailer.outbox)
    after = store.get_user("juan")
    assert after is not None
    assert after.temporary is not None
    assert None is after.temporary.hash
    assert 1 == kinds(queued, "juan", "queued_mail_dropped")


def test_a_code_replaced_while_the_worker_logs_in_is_dropped_unsent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A verification code whose address is set again after the claim is dropped unsent,
    and its hash is stored nowhere; the notice to the old address still goes."""
    window = make_service(secret_key=None)
    window.set_recovery_email("juan", "juan.nuevo@empresa.mx")
    worker = make_service(
        mailer=DuringLogin(
            mailer, lambda: window.set_recovery_email("juan", "juan.otro@empresa.mx")
        )
    )
    assert pr.DeliveryReport(sent=1, dropped=1) == worker.deliver_pending()
    assert ["juan@empresa.mx"] == recipients(mailer)
    after = store.get_user("juan")
    assert after is not None
    assert after.pending_verification is not None
    assert ("juan.otro@empresa.mx", None) == (
        after.recovery_email,
        after.pending_verification.code_hash,
    )
    assert 1 == kinds(queued, "juan", "queued_mail_dropped")


def test_a_user_removed_while_the_worker_logs_in_gets_nothing(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A user removed after the claim: its mail is dropped unsent, nothing is written
    back for it."""
    queued.request_recovery("juan", delivery="queued")
    other = make_service()
    worker = make_service(mailer=DuringLogin(mailer, lambda: other.remove_user("juan")))
    assert pr.DeliveryReport(dropped=1) == worker.deliver_pending()
    assert (None, []) == (store.get_user("juan"), mailer.outbox)


def test_an_expired_verification_code_is_dropped_unsent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A code queued for a new address that expires before the worker runs is not made
    nor mailed; the notice to the old address still goes."""
    make_service(secret_key=None).set_recovery_email("juan", "juan.nuevo@empresa.mx")
    clock.advance(hours=24, seconds=1)
    assert pr.DeliveryReport(sent=1, dropped=1) == queued.deliver_pending()
    assert ["juan@empresa.mx"] == recipients(mailer)


def test_a_disabled_users_verification_code_is_dropped_unsent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
) -> None:
    """A code queued for a user disabled before the worker runs is not mailed; the notice
    to the old address still goes."""
    make_service(secret_key=None).set_recovery_email("juan", "juan.nuevo@empresa.mx")
    queued.disable_user("juan")
    assert pr.DeliveryReport(sent=1, dropped=1) == queued.deliver_pending()
    assert ["juan@empresa.mx"] == recipients(mailer)


def test_a_store_answering_more_writes_than_it_was_given_is_not_trusted(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """A store whose batch write answers for more users than it was given stops the run
    before anything is sent."""
    queued.request_recovery("juan", delivery="queued")
    with pytest.raises(ValueError, match="zip"):
        make_service(store=ExtraAnswer(store)).deliver_pending()
    assert [] == mailer.outbox


# -- the batch's own steps (what the worker's order of steps never hands them) ----------


def claimed(service: pr.RecoveryService, store: pr.Store) -> tuple[Run, list[Mail]]:
    """A run of ``service``'s worker with every due mail read and claimed."""
    ctx = service._ctx
    run = Run(ctx, service._delivery, ctx.now())
    senders = store.list_senders()
    mails = [outbox._read(run, message, senders) for message in store.due_messages(run.now, 100)]
    claim(run, mails)
    return run, mails


def in_sync(run: Run, store: pr.Store) -> bool:
    """Every user the run holds is the one stored, version included."""
    return {key: store.get_user(key) for key in run.users} == run.users


def test_only_claimed_mails_without_a_secret_get_one(
    queued: pr.RecoveryService, store: pr.Store
) -> None:
    """Given a batch with a mail dropped at the claim (its request replaced) and a mail
    not claimed, ``make_secrets`` makes only the claimed mail's secret and settles
    nothing again."""
    queued.request_recovery("juan", delivery="queued")
    queued.request_recovery("juan", delivery="queued")
    run, mails = claimed(queued, store)
    user = store.get_user("juan")
    assert user is not None
    assert user.temporary is not None
    (new,) = [mail for mail in mails if mail.message.credential_id == user.temporary.id]
    (old,) = [mail for mail in mails if mail is not new]
    assert ("done", "claimed", 1) == (old.state, new.state, run.counts["dropped"])
    waiting = outbox._read(run, new.message, [])
    make_secrets(run, [old, new, waiting])
    assert (None, "due", None) == (old.secret, waiting.state, waiting.secret)
    assert new.secret is not None
    assert (1, 1) == (run.counts["dropped"], len(run.settled))


def test_the_run_reads_a_user_it_does_not_hold(queued: pr.RecoveryService, store: pr.Store) -> None:
    """``make_secrets`` for a claimed mail whose user the run does not hold reads it,
    stores the hash on it and keeps the stored record."""
    queued.request_recovery("juan", delivery="queued")
    run, (mail,) = claimed(queued, store)
    run.users.clear()
    make_secrets(run, [mail])
    after = store.get_user("juan")
    assert after is not None
    assert after.temporary is not None
    assert mail.secret is not None
    assert queued._ctx.hasher.verify(after.temporary.hash or "", mail.secret.reveal())
    assert ({"juan": after}, "claimed") == (run.users, mail.state)


def test_mails_whose_requests_are_gone_are_dropped_and_the_rest_go_on(
    queued: pr.RecoveryService, mailer: pr.RecordingMailer, store: pr.Store
) -> None:
    """In a batch whose users the run reads anew, a mail whose user was removed and one
    whose request was replaced are dropped, once each, and the mail after them still
    gets its secret."""
    (login,) = with_users(queued, mailer, 1)
    queue_for(queued, ["juan", "SUPERVISOR", login])
    run, batch = claimed(queued, store)
    order = ["juan", "supervisor", login]
    mails = sorted(batch, key=lambda mail: order.index(mail.message.user_key))
    assert ["claimed"] * 3 == [mail.state for mail in mails]
    queued.remove_user("juan")
    queued.request_recovery("SUPERVISOR", delivery="queued")
    run.users.clear()
    make_secrets(run, mails)
    assert ["done", "done", "claimed"] == [mail.state for mail in mails]
    assert [False, False, True] == [mail.secret is not None for mail in mails]
    assert 2 == run.counts["dropped"]
    assert [mail.message.id for mail in mails[:2]] == [settled for settled, _ in run.settled]


def test_a_mail_whose_request_is_replaced_after_the_claim_forgets_its_secret(
    queued: pr.RecoveryService, store: pr.Store
) -> None:
    """The batch's write loses to a newer request and the fresh read finds the mail's
    temporary password replaced: the mail is dropped without its secret, and the run
    keeps no stale copy of the user."""
    queued.request_recovery("juan", delivery="queued")
    run, (mail,) = claimed(queued, store)
    queued.request_recovery("juan", delivery="queued")
    make_secrets(run, [mail])
    assert ("done", None, 1) == (mail.state, mail.secret, run.counts["dropped"])
    assert in_sync(run, store)
