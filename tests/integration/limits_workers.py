"""Racing workstations at the limits, in threads and in processes, on a shared store.

The work done in other processes is in top-level functions, so that the spawn start
method can import them. ``Workstations`` keeps its processes up for a whole test module:
each round sends every process one task, and the tasks pass one barrier together.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pwrecovery as pr
from pwrecovery.testing import cheap_hasher
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    verify_address,
)
from tests.racing import BARRIER_SECONDS, HashLedger, StillClock, answer


def connect(location: Path | str, count: int) -> list[pr.Store]:
    """Stores for ``count`` racers: a SQLite file opened ``count`` times (a connection
    each), or one server store whose pool gives each racer a connection of its own."""
    if isinstance(location, str) and "://" in location:
        import sqlalchemy as sa  # noqa: PLC0415 (only the server tests need it)

        engine = sa.create_engine(location, pool_size=count, max_overflow=0, pool_timeout=60)
        return [pr.SqlAlchemyStore(engine)] * count
    return [pr.SqliteStore(location) for _ in range(count)]


def close(stores: Sequence[pr.Store]) -> None:
    """Close each store once (a server store's pool, a file's connection)."""
    for store in {id(store): store for store in stores}.values():
        closing = getattr(store, "close", None)
        if callable(closing):
            closing()


def workstation(
    store: pr.Store,
    key: str,
    at: datetime,
    *,
    mailer: pr.Mailer | None = None,
    hasher: pr.PasswordHasher | None = None,
    policy: pr.Policy | None = None,
) -> pr.RecoveryService:
    """One workstation on ``store``, with a clock standing at ``at``."""
    return pr.RecoveryService(
        store=store,
        mailer=mailer if mailer is not None else pr.RecordingMailer(),
        secret_key=key,
        hasher=hasher if hasher is not None else cheap_hasher(),
        clock=StillClock(at),
        policy=policy,
    )


def prepare(store: pr.Store, key: str) -> None:
    """A supervisor and juan, both with a verified address, and the supervisor's sender."""
    mailer = pr.RecordingMailer()
    service = pr.RecoveryService(store=store, mailer=mailer, secret_key=key, hasher=cheap_hasher())
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", USER_PASSWORD)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")


# -- the work each process does -------------------------------------------------------


def _threads_after(barrier: Barrier, actions: Sequence[Callable[[], object]]) -> list[str]:
    """Start one thread per action, then release them when every process is ready."""
    local = threading.Barrier(len(actions) + 1)
    answers = [""] * len(actions)

    def run(number: int, action: Callable[[], object]) -> None:
        local.wait(timeout=BARRIER_SECONDS)
        answers[number] = answer(action)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=BARRIER_SECONDS)
    local.wait(timeout=BARRIER_SECONDS)
    for thread in threads:
        thread.join()
    return answers


def press_recover(
    location: str, key: str, at: datetime, presses: int, failing: bool, barrier: Barrier
) -> dict[str, Any]:
    """``presses`` threads press "Recuperar clave" for juan; with ``failing`` the mail
    server takes the login and refuses every message."""
    rejecting = ("smtp.empresa.mx",) if failing else ()
    mailers = [pr.RecordingMailer(rejecting_hosts=rejecting) for _ in range(presses)]
    stores = connect(location, presses)
    services = [workstation(st, key, at, mailer=m) for st, m in zip(stores, mailers, strict=True)]
    try:
        answers = _threads_after(
            barrier, [lambda s=s: s.request_recovery("juan") for s in services]
        )
    finally:
        close(stores)
    return {
        "answers": answers,
        "mails": sum(len(m.outbox) for m in mailers),
        "smtp_logins": sum(len(m.logins) for m in mailers),
    }


def guess_passwords(
    location: str,
    key: str,
    at: datetime,
    login: str,
    passwords: Sequence[str],
    ledger: Path,
    barrier: Barrier,
) -> dict[str, Any]:
    """One thread per password signs in as ``login``; every hash check goes to ``ledger``."""
    stores = connect(location, len(passwords))
    services = [workstation(store, key, at, hasher=HashLedger(path=ledger)) for store in stores]
    try:
        answers = _threads_after(
            barrier,
            [
                lambda s=s, p=p: s.authenticate(login, p)
                for s, p in zip(services, passwords, strict=True)
            ],
        )
    finally:
        close(stores)
    return {"answers": answers}


def guess_codes(
    location: str,
    key: str,
    at: datetime,
    login: str,
    codes: Sequence[str],
    ledger: Path,
    barrier: Barrier,
) -> dict[str, Any]:
    """One thread per code tries to confirm ``login``'s recovery address with it."""
    stores = connect(location, len(codes))
    services = [workstation(store, key, at, hasher=HashLedger(path=ledger)) for store in stores]
    try:
        answers = _threads_after(
            barrier,
            [
                lambda s=s, c=c: s.confirm_recovery_email(login, c)
                for s, c in zip(services, codes, strict=True)
            ],
        )
    finally:
        close(stores)
    return {"answers": answers}


def _serve(tasks: Queue[Any], barrier: Barrier, results: Queue[Any]) -> None:
    """A workstation process: run each task it is sent until it is sent None. The server
    store's driver is imported at once, while the parent is still busy with other tests."""
    with contextlib.suppress(ImportError):
        import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401, PLC0415
    while True:
        job = tasks.get()
        if job is None:
            return
        task, args = job
        try:
            results.put(task(*args, barrier))
        except BaseException as error:  # noqa: BLE001 (the parent reports it)
            barrier.abort()  # the others stop waiting at once
            results.put({"answers": [f"crashed {type(error).__name__}: {error}"]})


class Workstations:
    """``count`` spawned processes, started once, each running one task per round."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = count
        self._barrier = context.Barrier(count)
        self._results: Queue[Any] = context.Queue()
        self._tasks: list[Queue[Any]] = [context.Queue() for _ in range(count)]
        self._processes = [
            context.Process(target=_serve, args=(tasks, self._barrier, self._results), daemon=True)
            for tasks in self._tasks
        ]
        for process in self._processes:
            process.start()

    def run(self, task: Callable[..., dict[str, Any]], args: tuple[object, ...]) -> dict[str, Any]:
        """Every process runs ``task(*args, barrier)`` at once; their reports, merged."""
        return self.run_each(task, [args] * self.count)

    def run_each(
        self, task: Callable[..., dict[str, Any]], args_for: Sequence[tuple[object, ...]]
    ) -> dict[str, Any]:
        """Process ``n`` runs ``task(*args_for[n], barrier)``, all at once; their reports,
        merged: answers concatenated, numbers added."""
        if len(args_for) != self.count:
            msg = f"one argument tuple per process ({self.count}), not {len(args_for)}"
            raise ValueError(msg)
        self._barrier.reset()
        for tasks, args in zip(self._tasks, args_for, strict=True):
            tasks.put((task, args))
        merged: dict[str, Any] = {"answers": []}
        for _ in self._processes:
            report = self._results.get(timeout=180)
            for name, value in report.items():
                merged[name] = merged.get(name, 0 if not isinstance(value, list) else []) + value
        return merged

    def close(self) -> None:
        for tasks in self._tasks:
            tasks.put(None)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
