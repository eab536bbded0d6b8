"""What one request can cost the machine is bounded, whatever a stranger types or plants.

- A planted Argon2 hash with parameters at release 1's maximum (m=262144) is refused
  without being computed: the sign-in checks the dummy hash instead.
- A 3 MB login or password (U+FDFA expands 18-fold under NFKC) is refused before it is
  normalised: tracemalloc shows the peak memory of the call staying under a few MiB
  (memory is deterministic enough to assert; time is measured in benchmarks/).
- The table of unknown logins' counters stays small: idle fingerprints are forgotten,
  and the store keeps at most a bound of them; yet a fingerprint is never forgotten
  while its lock holds (else an unknown login would unlock before a real one).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._service.signin import PRUNE_EVERY
from pwrecovery.records import Throttle
from tests.conftest import ServiceFactory
from tests.helpers import NEW_PASSWORD, USER_PASSWORD
from tests.racing import HashLedger

# -- a planted hash ------------------------------------------------------------------------

# Release 1 computed any Argon2id hash up to 256 MiB; release 2's default hasher refuses
# parameters beyond four times its own (19 MiB): 76 MiB.
PLANTED = (
    "$argon2id$v=19$m=262144,t=3,p=4"
    "$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
)


def test_the_default_hasher_does_not_identify_a_hash_at_the_old_maximum() -> None:
    """Attack: a planted hash at release 1's maximum (m=262144, 256 MiB per check). The
    default Argon2idHasher bounds stored parameters at four times its own, so it does not
    identify that hash: a service never gives it to the key derivation."""
    hasher = pr.Argon2idHasher()
    assert (19456 * 4, False) == (hasher.max_memory_cost, hasher.identifies(PLANTED))
    assert hasher.identifies(hasher.hash(USER_PASSWORD))  # its own hashes, of course


@pytest.mark.parametrize("password", [USER_PASSWORD, "no es la clave"])
def test_a_planted_hash_at_the_old_maximum_is_never_computed(
    make_service: ServiceFactory, store: pr.InMemoryStore, password: str
) -> None:
    """Attack: a co-worker with write access to the store plants a costly hash in a user's
    row, then signs in as that user in a loop to exhaust the machine (release 1 ran the
    256 MiB derivation each time). Now the planted hash is not checked at all: one run of
    the dummy hash, and InvalidCredentials, whatever password is typed."""
    ledger = HashLedger()
    service = make_service(hasher=ledger)
    service.add_user("juan", USER_PASSWORD)
    record = store.get_user("juan")
    assert record is not None
    store.update_user(attrs.evolve(record, password_hash=PLANTED), expected_version=record.version)
    ledger.reset()
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", password)
    assert (0, 1, 0) == (ledger.checks_of(PLANTED), ledger.verifies, ledger.hashes)


# -- 3 MB of text -------------------------------------------------------------------------

# One million U+FDFA: 3 MB of UTF-8, 2 MB in memory, and 18 million characters (36 MB or
# more) if it were normalised to NFKC.
HUGE = "\ufdfa" * 1_000_000
PEAK_LIMIT = 4 * 2**20


def peak_of(action: Callable[[], object]) -> tuple[str, int]:
    """What ``action`` raised (its error's code) and the peak memory it allocated."""
    tracemalloc.start()
    try:
        action()
    except pr.PwRecoveryError as error:
        outcome = error.code
    else:
        outcome = "ok"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda s: s.authenticate(HUGE, USER_PASSWORD), "invalid_credentials"),
        (lambda s: s.authenticate("juan", HUGE), "invalid_credentials"),
        (lambda s: s.request_recovery(HUGE), "invalid_login"),
        (
            lambda s: s.change_password(HUGE, USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
            "invalid_credentials",
        ),
        (
            lambda s: s.change_password("juan", HUGE, NEW_PASSWORD, NEW_PASSWORD),
            "invalid_credentials",
        ),
        (lambda s: s.confirm_recovery_email(HUGE, "12345678"), "unknown_user"),
    ],
    ids=[
        "sign-in login",
        "sign-in password",
        "recovery login",
        "change login",
        "change current password",
        "confirmation login",
    ],
)
def test_three_megabytes_typed_are_refused_before_normalisation(
    ready: pr.RecoveryService, call: Callable[[pr.RecoveryService], object], expected: str
) -> None:
    """Attack: a 3 MB login or password of U+FDFA at the login window (release 1 ran NFKC
    on it first: 18 million characters, tens of MiB per request). Now the length is
    checked first: the usual answer, and the call's peak memory stays under 4 MiB."""
    outcome, peak = peak_of(lambda: call(ready))
    assert expected == outcome
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("confirmation", [HUGE, HUGE[:-1] + "x"], ids=["same", "different"])
def test_a_three_megabyte_new_password_is_refused_before_normalisation(
    service: pr.RecoveryService, confirmation: str
) -> None:
    """Attack: a 3 MB new password (and its confirmation) at "Confirmar clave de acceso".
    It is refused as too long, or as not matching its confirmation, without normalising
    either: the call's peak memory stays under 4 MiB, and the password is unchanged."""
    outcome, peak = peak_of(
        lambda: service.change_password("juan", USER_PASSWORD, HUGE, confirmation)
    )
    expected = "password_policy" if confirmation == HUGE else "password_mismatch"
    assert expected == outcome
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


# -- the table of unknown logins -------------------------------------------------------------

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    if request.param == "memory":
        yield pr.InMemoryStore()
        return
    with pr.SqliteStore(tmp_path / "empresa.db") as store:
        yield store


def test_the_store_keeps_at_most_the_bound_it_is_given(any_store: pr.Store) -> None:
    """The store method the service calls after counting a new unknown login: fingerprints
    idle since ``idle_before`` go, and of the rest only the ``keep`` most recently touched
    stay, however many distinct logins were counted (three times the bound here)."""
    keep = 10
    names = [f"#{number:016x}" for number in range(3 * keep + 5)]
    for minute, name in enumerate(names):
        record = Throttle(fingerprint=name, touched_at=AT + timedelta(minutes=minute))
        assert any_store.put_throttle(record, expected_version=0)
    gone = any_store.prune_throttles(AT + timedelta(minutes=5), keep)
    kept = [name for name in names if any_store.get_throttle(name) is not None]
    assert (len(names) - keep, names[-keep:]) == (gone, kept)


def fingerprint_of(service: pr.RecoveryService, login: str) -> str:
    label = service.audit_trail(login)[-1].login
    assert label is not None
    return label


def test_idle_unknown_logins_are_forgotten_by_the_service(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """Attack: filling the store with the counters of unknown logins (one row per distinct
    login typed). 300 distinct unknown logins, one a second for five minutes, with a
    failure memory and longest lock of one minute: every login of the last minute is
    still counted, and none idle for longer than that and one PRUNE_EVERY (the service
    forgets idle ones once a minute, whoever signs in)."""
    minute = timedelta(minutes=1)
    service = make_service(policy=pr.Policy(failure_memory=minute, lockout_max=minute))
    logins = [f"desconocido{number:03d}" for number in range(300)]
    for login in logins:
        with pytest.raises(pr.InvalidCredentials):
            service.authenticate(login, "no es la clave")
        clock.advance(seconds=1)
    ages = {login: 300 - number for number, login in enumerate(logins)}  # in seconds
    counted = {login for login in logins if store.get_throttle(fingerprint_of(service, login))}
    forgettable = minute + PRUNE_EVERY
    assert {login for login, age in ages.items() if age <= minute.seconds} <= counted
    assert not {login for login, age in ages.items() if age > forgettable.seconds} & counted


def test_an_unknown_login_is_not_forgotten_while_its_lock_holds(
    make_service: ServiceFactory, clock: pr.ManualClock
) -> None:
    """Attack: enumeration through forgetting. With failures remembered 30 minutes but
    locks doubling up to an hour, juan and an unknown login are driven to a 32-minute
    lock together; 31 minutes on, a new unknown login makes the service prune the table.
    A real login still answers TooManyAttempts, and so must the unknown one: pruning may
    not forget a fingerprint whose lock still holds."""
    service = make_service(policy=pr.Policy(failure_memory=timedelta(minutes=30)))
    service.add_user("juan", USER_PASSWORD)
    waits: list[timedelta] = []
    for _ in range(10):  # five to the first lock, then one as each lock ends
        clock.advance(waits[0] if waits else timedelta(0))
        waits = []
        for login in ("juan", "nadie"):
            with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)) as caught:
                service.authenticate(login, "no es la clave")
            waits.append(getattr(caught.value, "retry_after", timedelta(0)))
    assert [timedelta(minutes=32)] * 2 == waits
    clock.advance(minutes=31)
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("otro desconocido", "no es la clave")  # a new row: prune
    answers = []
    for login in ("juan", "nadie"):
        with pytest.raises(pr.PwRecoveryError) as caught:
            service.authenticate(login, "no es la clave")
        answers.append((caught.value.code, getattr(caught.value, "retry_after", None)))
    assert [("too_many_attempts", timedelta(minutes=1))] * 2 == answers
