"""The unit of work (_service/_transaction.py): a change decided on a read is written only
over the version read; when another workstation wrote first, the change is decided again
on a fresh read, after a random wait that doubles up to a tenth of a second, at most 24
times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery.records import Attempts, QueuedMessage, UserRecord
from tests.conftest import ServiceFactory
from tests.helpers import USER_PASSWORD

NOW = pr.ManualClock().now()  # the instant every ManualClock starts at


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
