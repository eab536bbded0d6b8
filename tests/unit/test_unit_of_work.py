"""The unit of work (_service/_transaction.py): a change decided on a read is written only
over the version read; when another workstation wrote first, the change is decided again
on a fresh read, after a random wait that doubles up to a tenth of a second, at most 24
times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._service._transaction import MAX_ATTEMPTS, UnitOfWork
from pwrecovery.records import Attempts, QueuedMessage, Throttle, UserRecord
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, USER_PASSWORD, sender_settings

NOW = pr.ManualClock().now()  # the instant every ManualClock starts at
EVENT = pr.AuditEvent(kind="user_enabled", login="juan", at=NOW)


class Overtaken:
    """An ``InMemoryStore`` on which another workstation changes the user (``race``) just
    before each of the service's next ``times`` writes of it: each of those finds a newer
    version than the one it read, as it would on a shared store."""

    def __init__(
        self, inner: pr.InMemoryStore, times: int, race: Callable[[UserRecord], UserRecord]
    ) -> None:
        self._inner = inner
        self.times = times
        self.race = race
        self.writes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[pr.AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        self.writes += 1
        if self.times > 0:
            self.times -= 1
            current = self._inner.get_user(record.key)
            assert current is not None
            self._inner.update_user(self.race(current), expected_version=current.version)
        return self._inner.update_user(
            record, expected_version=expected_version, events=events, enqueue=enqueue
        )


def another_failure(user: UserRecord) -> UserRecord:
    """What another workstation's wrong password writes, at the same instant: one failure
    more."""
    failures = user.sign_in.failures + 1
    return attrs.evolve(user, sign_in=Attempts(failures=failures, last_failure_at=NOW))


@pytest.fixture
def racing(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> Callable[[int], tuple[pr.RecoveryService, Overtaken, list[float], list[int]]]:
    """A service over a store where ``times`` writes of juan are overtaken; the waits it
    takes and the bounds it asks randbelow for are recorded (randbelow answers 999)."""

    def build(times: int) -> tuple[pr.RecoveryService, Overtaken, list[float], list[int]]:
        make_service().add_user("juan", USER_PASSWORD)
        overtaken = Overtaken(store, times, another_failure)
        service = make_service(store=overtaken)
        waits: list[float] = []
        asked: list[int] = []
        service._ctx.sleep = waits.append

        def randbelow(below: int) -> int:
            asked.append(below)
            return below - 1

        service._ctx.randbelow = randbelow
        return service, overtaken, waits, asked

    return build


def test_a_lost_write_is_decided_again_on_a_fresh_read(
    racing: Callable[[int], tuple[pr.RecoveryService, Overtaken, list[float], list[int]]],
) -> None:
    """A wrong password whose write was overtaken by another workstation's is counted on
    top of it: the second failure, not a second first one."""
    service, overtaken, _, _ = racing(1)
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", "no es la clave")
    events = service.audit_trail("juan")
    assert (2, "2") == (overtaken.writes, events[-1].detail["failures"])


def test_the_wait_after_each_lost_write_doubles_up_to_a_tenth_of_a_second(
    racing: Callable[[int], tuple[pr.RecoveryService, Overtaken, list[float], list[int]]],
) -> None:
    """After the n-th lost write the service waits a random part (randbelow(1000)
    thousandths) of 2 ms doubled n - 1 times, at most 0.1 s; then it writes."""
    service, overtaken, waits, asked = racing(8)
    with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
        service.authenticate("juan", "no es la clave")
    ceilings = [0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.1, 0.1]
    assert (9, [1000] * 8) == (overtaken.writes, asked)
    assert [ceiling * 999 / 1000 for ceiling in ceilings] == pytest.approx(waits)


def test_after_24_lost_writes_the_service_gives_up(
    racing: Callable[[int], tuple[pr.RecoveryService, Overtaken, list[float], list[int]]],
) -> None:
    """A record changed under every one of 24 tries is ConcurrentModification, after 24
    writes tried and 24 waits."""
    service, overtaken, waits, _ = racing(1000)
    with pytest.raises(pr.ConcurrentModification):
        service.authenticate("juan", "no es la clave")
    assert (24, 24) == (overtaken.writes, len(waits))


def test_a_change_that_changes_nothing_writes_only_its_event(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """Saving a record equal to the one read appends the events and leaves the record and
    its version alone (here: enabling a user who is enabled)."""
    service = make_service()
    service.add_user("juan", USER_PASSWORD)
    before = store.get_user("juan")
    service.enable_user("juan")
    assert (before, "user_enabled") == (store.get_user("juan"), store.audit_trail()[-1].kind)


class CountsReads:
    """An ``InMemoryStore`` that counts the service's reads of users."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_user(self, key: str) -> UserRecord | None:
        self.reads += 1
        return self._inner.get_user(key)


def test_a_sign_in_settles_from_what_it_saved_without_reading_again(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """A sign-in reads the user once: the settling write starts from the record as the
    attempt's write stored it (its version included), and that write, conditional like
    any other, succeeds when no one wrote in between."""
    make_service().add_user("juan", USER_PASSWORD)
    counting = CountsReads(store)
    service = make_service(store=counting)
    before = store.get_user("juan")
    assert before is not None
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status
    after = store.get_user("juan")
    assert after is not None
    assert (1, before.version + 2, Attempts()) == (counting.reads, after.version, after.sign_in)


class OvertakenAfterFirstWrite(Overtaken):
    """The first write of juan goes through; another workstation writes right after it."""

    def update_user(self, record: UserRecord, **kwargs: Any) -> bool:
        written = self._inner.update_user(record, **kwargs)
        self.writes += 1
        if self.writes == 1:
            current = self._inner.get_user(record.key)
            assert current is not None
            self._inner.update_user(self.race(current), expected_version=current.version)
        return written


def test_a_record_changed_since_it_was_saved_is_read_again_without_a_wait(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """When another workstation writes between the attempt's write and the settling one,
    the handed-over record loses its write; the service reads the user and settles at
    once, without the wait that steps aside from a collision, and the other
    workstation's failure is cleared with the rest."""
    make_service().add_user("juan", USER_PASSWORD)
    overtaken = OvertakenAfterFirstWrite(store, 0, another_failure)
    service = make_service(store=overtaken)
    waits: list[float] = []
    service._ctx.sleep = waits.append
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status
    user = store.get_user("juan")
    assert user is not None
    assert (3, [], Attempts()) == (overtaken.writes, waits, user.sign_in)


def unit_of_work(store: object, waits: list[float] | None = None) -> UnitOfWork:
    """The unit of work over ``store``, its waits recorded in ``waits``; randbelow answers
    its bound less one."""
    recorded: list[float] = [] if waits is None else waits
    return UnitOfWork(cast("pr.Store", store), recorded.append, lambda below: below - 1)


def test_an_attempt_starts_neither_lost_nor_saved_and_audits_without_writing(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """Before its block runs an attempt offers the record as read, has lost no race and
    saved nothing; ``audit`` appends its events and leaves the record alone."""
    make_service().add_user("juan", USER_PASSWORD)
    juan = store.get_user("juan")
    attempt = next(unit_of_work(store).user("juan"))
    assert (juan, False, None) == (attempt.current, attempt.lost, attempt.saved)
    attempt.audit([EVENT])
    assert (EVENT, juan) == (store.audit_trail()[-1], store.get_user("juan"))


def test_what_an_attempt_saved_is_what_the_store_holds(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """``saved`` is the record as the store holds it after the save, version included:
    a new login's first counters (stored with their events), and a user saved unchanged."""
    uow = unit_of_work(store)
    fingerprint = "#0123456789abcdef"
    for unknown in uow.throttle(fingerprint):
        with unknown as counters:
            assert counters is None
            unknown.save(Throttle(fingerprint=fingerprint, touched_at=NOW), events=[EVENT])
    make_service().add_user("juan", USER_PASSWORD)
    for attempt in uow.user("juan"):
        with attempt as user:
            assert user is not None
            attempt.save(user)
    stored = (store.get_throttle(fingerprint), store.get_user("juan"))
    assert ((unknown.saved, attempt.saved), EVENT) == (stored, store.audit_trail()[0])


def test_a_handed_over_record_saved_unchanged_is_still_a_conditional_write(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """A record handed over (``known``) and saved as it is still goes through the
    conditional write: when the store holds a newer version the write is lost, and the
    next attempt starts from a fresh read. Events audited on either attempt are kept."""
    service = make_service()
    service.add_user("juan", USER_PASSWORD)
    stale = store.get_user("juan")
    service.disable_user("juan")
    fresh = store.get_user("juan")
    assert stale is not None
    before = len(store.audit_trail())
    waits: list[float] = []
    seen: list[UserRecord | None] = []
    for attempt in unit_of_work(store, waits).user("juan", known=stale):
        with attempt as user:
            seen.append(user)
            attempt.audit([EVENT])
            assert user is not None
            attempt.save(user)
    assert ([stale, fresh], [], [EVENT, EVENT]) == (seen, waits, store.audit_trail()[before:])
    assert fresh == store.get_user("juan")


def test_a_login_that_cannot_exist_is_not_read_and_cannot_be_saved(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """``user(None)`` (a malformed login) offers no record without asking the store, and
    saving a user over it is a programming error that says so."""
    make_service().add_user("juan", USER_PASSWORD)
    juan = store.get_user("juan")
    assert juan is not None
    counting = CountsReads(store)
    attempt = next(unit_of_work(counting).user(None))
    with pytest.raises(ValueError, match=r"^a user that was not read cannot be saved$"):
        attempt.save(juan)
    assert (None, 0, juan) == (attempt.current, counting.reads, store.get_user("juan"))


def test_a_sender_that_is_not_stored_cannot_be_saved(
    service: pr.RecoveryService, store: pr.InMemoryStore
) -> None:
    """Saving over a sender the store does not hold (another workstation removed it)
    loses every write: after 24 tries it is ConcurrentModification, and nothing is
    stored."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    [sender] = store.list_senders()
    waits: list[float] = []

    def save_over_another() -> None:
        for attempt in unit_of_work(store, waits).sender("otro"):
            with attempt as current:
                assert current is None
                attempt.save(sender)

    with pytest.raises(pr.ConcurrentModification):
        save_over_another()
    assert (MAX_ATTEMPTS, [sender]) == (len(waits), store.list_senders())
