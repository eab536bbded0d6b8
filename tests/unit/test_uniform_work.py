"""Uniform mode does equal work (DESIGN §3): counted, as Django's timing test counts hashes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, cheap_hasher, sender_settings, verify_address

READS = {"get_user", "list_users", "has_verified_supervisor", "list_senders", "audit_trail"}
WRITES = {"add_user", "update_user", "put_sender", "remove_sender", "append_audit"}


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


def work(store: Counting, hasher: Counting, mailer: Counting) -> dict[str, int]:
    return {
        "store reads": sum(n for name, n in store.calls.items() if name in READS),
        "store writes": sum(n for name, n in store.calls.items() if name in WRITES),
        "hasher calls": sum(hasher.calls.values()),
        "mailer calls": sum(mailer.calls.values()),
    }


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

    def run(login: str) -> tuple[dict[str, int], pr.RecoverySent]:
        counted = Counting(store), Counting(cheap_hasher()), Counting(mailer)
        service = make_service(
            store=counted[0],
            hasher=counted[1],
            mailer=counted[2],
            policy=pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0)),
        )
        answer = service.request_recovery(login)
        return work(*counted), answer

    return run


LOGINS = ["juan", "nadie", "", "pedro", "maria", "rosa"]


def test_every_login_costs_the_same(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]],
) -> None:
    """Real user, unknown login, malformed login, no address, unverified address, rate-limited:
    the same store reads and writes, hasher calls and mailer calls, and the same answer."""
    results = {login: measure(login) for login in LOGINS}
    expected = {"store reads": 3, "store writes": 1, "hasher calls": 1, "mailer calls": 1}
    assert dict.fromkeys(LOGINS, expected) == {login: r[0] for login, r in results.items()}
    assert 1 == len({r[1] for r in results.values()})


def test_equal_work_when_senders_fail(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]],
    mailer: pr.RecordingMailer,
    ready: pr.RecoveryService,
) -> None:
    """With the first sender down, the real user and the unknown login both move to the second."""
    ready.configure_sender(
        "juan", sender_settings("smtp.respaldo.mx", "r@respaldo.mx"), SMTP_PASSWORD
    )
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    real, unknown = measure("juan"), measure("nadie")
    assert real == unknown
    assert 2 == real[0]["mailer calls"]
    mailer.unreachable_hosts.add("smtp.respaldo.mx")  # now every delivery fails
    assert measure("juan") == measure("nadie")


def test_real_user_still_gets_the_mail(
    measure: Callable[[str], tuple[dict[str, int], pr.RecoverySent]], mailer: pr.RecordingMailer
) -> None:
    """Equal work does not mean no work: the real user's mail goes out, the others' do not."""
    before = len(mailer.outbox)
    for login in LOGINS:
        measure(login)
    assert 1 == len(mailer.outbox) - before
    assert "juan@empresa.mx" in mailer.outbox[-1]["To"]
