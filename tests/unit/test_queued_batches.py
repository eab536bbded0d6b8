"""Queued delivery in batches: a sender's share of a run is claimed, given its secrets and
settled in one transaction each, and held by one worker for as long as it runs."""

from __future__ import annotations

import collections
from email.message import EmailMessage
from typing import Any

import pytest

import pwrecovery as pr
from pwrecovery._service import _session as _session_module
from tests.conftest import ServiceFactory
from tests.helpers import temporary_password_in, verification_code_in
from tests.unit.outbox_kit import (
    Breaking,
    WatchedSessions,
    crash,
    pending,
    queue_for,
    recipients,
    with_users,
)


@pytest.fixture
def queued(ready: pr.RecoveryService) -> pr.RecoveryService:
    return ready


class CountingStore:
    """Wraps a store and counts the calls to each of its methods."""

    def __init__(self, inner: pr.Store) -> None:
        self._inner = inner
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            return value(*args, **kwargs)

        return counted


def test_a_batch_is_one_transaction_per_step(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """Five mails through one sender: one claim of the batch, one write of its secrets,
    one delete of what was sent (with the audit events), one read of its users; no
    write per mail."""
    logins = with_users(queued, mailer, 5)
    queue_for(queued, logins)
    counting = CountingStore(store)
    assert pr.DeliveryReport(sent=5) == make_service(store=counting).deliver_pending()
    batch = {"update_messages", "update_users", "delete_messages", "get_users"}
    per_mail = {"update_message", "update_user", "delete_message", "get_user"}
    assert dict.fromkeys(sorted(batch), 1) == {name: counting.calls[name] for name in batch}
    assert dict.fromkeys(sorted(per_mail), 0) == {name: counting.calls[name] for name in per_mail}
    for login in logins:
        kinds = [e.kind for e in queued.audit_trail(login)][-2:]
        assert ["mail_sent", "queued_mail_sent"] == kinds


def test_every_secret_of_a_batch_is_stored_before_the_first_send(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """When the first mail of a batch leaves, the hashes of every temporary password of
    the batch are already stored; each mailed password matches its stored hash."""
    logins = with_users(queued, mailer, 5)
    queue_for(queued, logins)
    hasher = queued._ctx.hasher
    stored_at_first_send: list[bool] = []

    def check(message: EmailMessage, sent_before: int) -> None:
        users = [store.get_user(login) for login in logins]
        if sent_before == 0:
            stored_at_first_send.extend(
                u is not None and u.temporary is not None and u.temporary.hash is not None
                for u in users
            )
        login = message["To"].addresses[0].username
        record = store.get_user(login)
        assert record is not None
        assert record.temporary is not None
        assert record.temporary.hash is not None
        assert hasher.verify(record.temporary.hash, temporary_password_in(message))

    watched = WatchedSessions(mailer, check)
    assert pr.DeliveryReport(sent=5) == make_service(mailer=watched).deliver_pending()
    assert [True] * 5 == stored_at_first_send


def test_a_batch_is_written_before_its_first_mail_is_sent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker composes every mail of a sender's batch, then sends them one after the
    other: no composing between two sends, where the server's side would go idle."""
    logins = with_users(queued, mailer, 4)
    queue_for(queued, logins)
    steps: list[str] = []
    compose = _session_module.compose

    def composing(*args: Any, **kwargs: Any) -> EmailMessage:
        steps.append("write")
        return compose(*args, **kwargs)

    monkeypatch.setattr(_session_module, "compose", composing)
    watched = WatchedSessions(mailer, lambda _message, _sent_before: steps.append("send"))
    assert pr.DeliveryReport(sent=4) == make_service(mailer=watched).deliver_pending()
    assert ["write"] * 4 + ["send"] * 4 == steps


def test_crash_while_storing_the_secrets_sends_nothing(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Stopped while storing the batch's secrets: no mail has left and no hash is stored;
    after the lease every mail goes once, with a temporary password that works."""
    logins = with_users(queued, mailer, 3)
    queue_for(queued, logins)
    crash(make_service(store=Breaking(store, "update_users")).deliver_pending)
    hashes = [store.get_user(login) for login in logins]
    assert ([], [None] * 3) == (
        mailer.outbox,
        [u.temporary.hash if u is not None and u.temporary else "?" for u in hashes],
    )
    assert pr.DeliveryReport() == queued.deliver_pending()  # still leased
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=3) == queued.deliver_pending()
    for message in mailer.outbox:
        login = message["To"].addresses[0].username
        status = queued.authenticate(login, temporary_password_in(message)).status
        assert pr.LoginStatus.MUST_CHANGE_PASSWORD == status


def test_a_long_batch_is_held_for_as_long_as_it_runs(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
    clock: pr.ManualClock,
) -> None:
    """Ten mails that take a minute each, under a 5-minute lease: the batch is claimed
    whole, and past half its lease it settles what it sent and renews the rest. A second
    worker started at minutes 3 and 7 takes none of it; every mail is sent exactly once,
    and the store is empty at the end."""
    logins = with_users(queued, mailer, 10)
    queue_for(queued, logins)
    second = make_service()
    reports: list[pr.DeliveryReport] = []

    def slow(message: EmailMessage, sent_before: int) -> None:
        del message
        clock.advance(minutes=1)
        if sent_before in {3, 7}:
            reports.append(second.deliver_pending())

    first = make_service(mailer=WatchedSessions(mailer, slow))
    assert pr.DeliveryReport(sent=10) == first.deliver_pending()
    assert [pr.DeliveryReport()] * 2 == reports
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(recipients(mailer))
    assert [] == pending(store, clock)


class Failing(Exception):
    """A host's mailer failing in a way it should not (not a SenderError)."""


def test_an_unexpected_error_settles_what_was_sent(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A host's mailer that raises something unexpected at the third mail of five: the
    error reaches the caller, the two mails sent before it are settled (never sent
    again), and the three others go after the lease, once each."""
    logins = with_users(queued, mailer, 5)
    queue_for(queued, logins)

    def third_fails(message: EmailMessage, sent_before: int) -> None:
        del message
        if sent_before == 2:
            raise Failing

    with pytest.raises(Failing):
        make_service(mailer=WatchedSessions(mailer, third_fails)).deliver_pending()
    assert 2 == len(mailer.outbox)
    assert pr.DeliveryReport() == queued.deliver_pending()  # the rest is leased
    clock.advance(minutes=5)
    assert pr.DeliveryReport(sent=3) == queued.deliver_pending()
    assert sorted(f"{login}@empresa.mx" for login in logins) == sorted(recipients(mailer))


def test_a_batch_with_two_secrets_for_one_user_stores_both(
    make_service: ServiceFactory,
    queued: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> None:
    """At a keyless window one user asks for a temporary password and then gives a new
    address: its code, the notice to the old address and the temporary password go in
    one batch, both hashes in the batch's one write to the user, and both secrets work."""
    window = make_service(secret_key=None)
    window.request_recovery("juan")
    window.set_recovery_email("juan", "juan.nuevo@empresa.mx")
    before = store.get_user("juan")
    assert pr.DeliveryReport(sent=3) == queued.deliver_pending()
    after = store.get_user("juan")
    assert before is not None
    assert after is not None
    assert before.version + 1 == after.version  # one write for both hashes
    by_purpose = {m["X-PwRecovery-Purpose"]: m for m in mailer.outbox}
    temporary = temporary_password_in(by_purpose[pr.Purpose.TEMPORARY_PASSWORD.value])
    code = verification_code_in(by_purpose[pr.Purpose.EMAIL_VERIFICATION.value])
    window.confirm_recovery_email("juan", code)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == window.authenticate("juan", temporary).status
