"""Equal work, counted (as Django's timing tests count hashes).

- ``authenticate`` checks exactly one hash in every state (unknown login, wrong password,
  temporary password pending, locked, disabled, typed text shaped like a temporary
  password or not), in both disclosure modes: no state can be told by timing a sign-in.
- ``request_recovery`` in uniform mode hashes one temporary password and makes the same
  SMTP logins for every login.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import pwrecovery as pr
from pwrecovery.testing import CountingHasher
from tests.conftest import ServiceFactory
from tests.helpers import (
    SMTP_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    sender_settings,
    temporary_password_in,
    verify_address,
)


class Counting:
    """Wraps a port and counts the calls made to it, by method name."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


# -- sign-in ------------------------------------------------------------------------------

STATES = [
    "unknown login",
    "wrong password",
    "temporary pending, wrong password",
    "temporary pending, wrong temporary",
    "no temporary, temporary-shaped guess",
    "locked",
    "disabled",
    "over-long password",
]


@pytest.mark.parametrize("disclosure", ["detailed", "uniform"])
def test_every_sign_in_checks_exactly_one_hash(
    make_service: ServiceFactory, mailer: pr.RecordingMailer, disclosure: str
) -> None:
    """A wrong sign-in costs one key derivation, whatever the state: the dummy hash stands
    in for what there is nothing to check against, and the typed text's form (not the
    state) picks which hash."""
    counter = CountingHasher(cheap_hasher())
    policy = pr.Policy(disclosure=disclosure, uniform_response_time=timedelta(0))  # type: ignore[arg-type]
    service = make_service(hasher=counter, policy=policy)
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    for login in ("juan", "pendiente", "bloqueado", "apagado"):
        service.add_user(login, USER_PASSWORD)
        verify_address(service, mailer, login, f"{login}@empresa.mx")
    service.request_recovery("pendiente")
    temporary = temporary_password_in(mailer.outbox[-1])
    for _ in range(5):
        with pytest.raises(pr.PwRecoveryError):
            service.authenticate("bloqueado", "no es la clave")
    service.disable_user("apagado")
    attempts = {
        "unknown login": ("nadie", "no es la clave"),
        "wrong password": ("juan", "no es la clave"),
        "temporary pending, wrong password": ("pendiente", "no es la clave"),
        "temporary pending, wrong temporary": ("pendiente", "Abcd-Efgh-Jkmn"),
        "no temporary, temporary-shaped guess": ("juan", "Abcd-Efgh-Jkmn"),
        "locked": ("bloqueado", USER_PASSWORD),
        "disabled": ("apagado", "no es la clave"),
        "over-long password": ("juan", "x" * 100_000),
    }
    runs = {}
    for state in STATES:
        counter.reset()
        with pytest.raises(pr.PwRecoveryError):
            service.authenticate(*attempts[state])
        runs[state] = (counter.hashes, counter.verifies)
    assert dict.fromkeys(STATES, (0, 1)) == runs
    counter.reset()
    assert (
        pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("pendiente", temporary).status
    )
    assert (0, 1) == (counter.hashes, counter.verifies)


def test_a_planted_expensive_hash_costs_no_more_than_a_normal_sign_in(
    make_service: ServiceFactory, store: pr.InMemoryStore
) -> None:
    """A hash planted with parameters far above the service's is not computed: the sign-in
    checks the dummy hash instead (one cheap run)."""
    import attrs  # noqa: PLC0415

    counter = CountingHasher(cheap_hasher())
    service = make_service(hasher=counter)
    service.add_user("juan", USER_PASSWORD)
    record = store.get_user("juan")
    assert record is not None
    planted = (
        "$argon2id$v=19$m=4194304,t=64,p=8"
        "$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
    )
    store.update_user(attrs.evolve(record, password_hash=planted), expected_version=record.version)
    counter.reset()
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", USER_PASSWORD)
    assert (0, 1) == (counter.hashes, counter.verifies)


# -- "Recuperar clave" in uniform mode ------------------------------------------------------


def work(store: Counting, hasher: CountingHasher, mailer: Counting) -> dict[str, int]:
    """The work that takes time: key derivations and SMTP logins. (The store's few small
    transactions differ between a real request and a refused one by about a millisecond,
    which uniform_response_time hides: test_service_uniform.py proves the floor.)"""
    del store
    return {"key derivations": hasher.runs, "mailer calls": sum(mailer.calls.values())}


@pytest.fixture
def measure(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.Store,
) -> Callable[[str], tuple[dict[str, int], pr.RecoverySent]]:
    """Counts what one uniform request_recovery does for a login."""
    ready.add_user("pedro", "Pedro sin correo 1")
    ready.add_user("maria", "Maria sin verificar 2")
    ready.set_recovery_email("maria", "maria@empresa.mx")  # never confirmed
    ready.add_user("rosa", "Rosa ya pidio tres 3")
    verify_address(ready, mailer, "rosa", "rosa@empresa.mx")
    for _ in range(3):
        ready.request_recovery("rosa")
    ready.add_user("apagado", "Apagado sin acceso 4")
    verify_address(ready, mailer, "apagado", "apagado@empresa.mx")
    ready.disable_user("apagado")

    def run(login: str) -> tuple[dict[str, int], pr.RecoverySent]:
        counted = Counting(store), CountingHasher(cheap_hasher()), Counting(mailer)
        service = make_service(
            store=counted[0],
            hasher=counted[1],
            mailer=counted[2],
            policy=pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0)),
        )
        counted[1].reset()  # the dummy hash, made once when the service is built
        answer = service.request_recovery(login)
        return work(*counted), answer

    return run


LOGINS = ["juan", "nadie", "pedro", "maria", "rosa", "apagado"]


def test_every_login_costs_the_same(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]],
) -> None:
    """Real user, unknown login, no address, unverified address, rate-limited, disabled:
    the same key derivations and SMTP logins, and the same answer."""
    results = {login: measure(login) for login in LOGINS}
    expected = {"key derivations": 1, "mailer calls": 1}
    assert dict.fromkeys(LOGINS, expected) == {login: r[0] for login, r in results.items()}
    assert 1 == len({(r[1].masked_address, r[1].expires_at) for r in results.values()})


def test_equal_work_when_senders_fail(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]],
    mailer: pr.RecordingMailer,
    ready: pr.RecoveryService,
) -> None:
    """With the first sender down, the real user and the unknown login both move to the
    second."""
    ready.configure_sender(
        "juan", sender_settings("smtp.respaldo.mx", "r@respaldo.mx"), SMTP_PASSWORD
    )
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    real, unknown = measure("juan"), measure("nadie")
    assert real[0] == unknown[0]
    assert 2 == real[0]["mailer calls"]
    mailer.unreachable_hosts.add("smtp.respaldo.mx")  # now every delivery fails
    assert measure("juan")[0] == measure("nadie")[0]


def test_real_user_still_gets_the_mail(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]], mailer: pr.RecordingMailer
) -> None:
    """Equal work does not mean no work: the real user's mail goes out, the others' do not."""
    before = len(mailer.outbox)
    for login in LOGINS:
        measure(login)
    assert 1 == len(mailer.outbox) - before
    assert "juan@empresa.mx" in mailer.outbox[-1]["To"]
