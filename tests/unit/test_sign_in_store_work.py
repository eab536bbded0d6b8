"""Equal store work, counted: every sign-in that gets the same answer makes the same
number of reads and write transactions, whether the login exists, has been tried before,
or has a temporary password pending. (Key derivations are counted alike in
test_uniform_work.py; benchmarks/limits.py times the whole.)

A write transaction is the costly part of a sign-in after the key derivation: on a SQLite
file it ends with an fsync, on a server with a round trip. One more of them for some
logins than for others would let a stranger time which logins exist.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import USER_PASSWORD, verify_address
from tests.racing import StoreWork

REFUSED = {
    "wrong password": "juan",
    "temporary pending, wrong password": "pendiente",
    "unknown login, first attempt": "nunca visto",
    "unknown login, tried before": "nadie",
}
LOCKED = {"locked": "bloqueado", "unknown login, locked": "cerrado"}


@pytest.fixture(params=["detailed", "uniform"])
def measure(
    request: pytest.FixtureRequest,
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
) -> Callable[[str], tuple[str, dict[str, int]]]:
    """juan, pendiente (a temporary password pending), bloqueado and the unknown "cerrado"
    locked, "nadie" tried once: what one wrong sign-in as a login answers, and its store
    work, on a service that has already served a sign-in (its one-time work done)."""
    ready.add_user("pendiente", USER_PASSWORD)
    verify_address(ready, mailer, "pendiente", "pendiente@empresa.mx")
    ready.request_recovery("pendiente")
    ready.add_user("bloqueado", USER_PASSWORD)
    for login in ("bloqueado", "cerrado", "nadie"):
        for _ in range(5 if login != "nadie" else 1):
            with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
                ready.authenticate(login, "no es la clave")
    work = StoreWork(store)
    service = make_service(store=work, policy=pr.Policy(disclosure=request.param))
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", "no es la clave")  # warm up

    def run(login: str) -> tuple[str, dict[str, int]]:
        work.calls.clear()
        with pytest.raises(pr.PwRecoveryError) as caught:
            service.authenticate(login, "no es la clave")
        return caught.value.code, work.tally()

    return run


def test_every_refused_sign_in_makes_the_same_writes(
    measure: Callable[[str], tuple[str, dict[str, int]]],
) -> None:
    """Attack: enumeration through timing, by the store. A login that does not exist and
    was never tried must cost the same write transactions as a real one (release 2 first
    pruned the table of unknown logins exactly then: one write more, only for them)."""
    seen = {state: measure(login) for state, login in REFUSED.items()}
    writes = {state: (code, work["writes"]) for state, (code, work) in seen.items()}
    assert dict.fromkeys(REFUSED, ("invalid_credentials", 2)) == writes
    locked = {state: measure(login) for state, login in LOCKED.items()}
    assert dict.fromkeys(LOCKED, ("too_many_attempts", 1)) == {
        state: (code, work["writes"]) for state, (code, work) in locked.items()
    }


def test_every_refused_sign_in_makes_the_same_reads(
    measure: Callable[[str], tuple[str, dict[str, int]]],
) -> None:
    """Attack: enumeration through timing, by the store. A login that does not exist
    reads its counters after finding no user; a real one must read as much (on a server
    each read is a round trip)."""
    every = {**REFUSED, **LOCKED}
    reads = {state: measure(login)[1]["reads"] for state, login in every.items()}
    assert dict.fromkeys(every, 2) == reads
