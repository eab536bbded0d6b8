"""Several workstations on one store (a SQLite file or a server database): the setup,
the process runner, and the work each process does.

The work is in top-level functions so that the spawn start method can import them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pwrecovery as pr
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    sender_settings,
    verify_address,
)

BUSY_POLICY = pr.Policy(
    recovery_requests_per_window=100_000,
    max_failed_sign_ins=100_000,
    recovery_window=timedelta(hours=1),
    smtp_logins_per_minute=100_000,
)


def open_store(location: Path | str) -> pr.Store:
    """A SQLite file by path, or a server database by SQLAlchemy URL."""
    if isinstance(location, str) and "://" in location:
        import sqlalchemy as sa  # noqa: PLC0415 (only the server tests need it)

        # NullPool: every connection closes after use, so nothing is left open at exit.
        engine = sa.create_engine(location, poolclass=sa.pool.NullPool)
        store: pr.Store = pr.SqlAlchemyStore(engine)
        return store
    return pr.SqliteStore(location)


def workstation(path: Path | str, key: str, policy: pr.Policy | None = None) -> pr.RecoveryService:
    return pr.RecoveryService(
        store=open_store(path),
        mailer=pr.RecordingMailer(),
        secret_key=key,
        hasher=cheap_hasher(),
        policy=policy,
    )


def race_to_change(
    path: Path | str, key: str, temporary: str, number: int, barrier: Barrier, results: Queue[str]
) -> None:
    """Wait for the others, then try to change the password with the temporary one."""
    service = workstation(path, key)
    new = f"Nueva clave numero {number}"
    barrier.wait()
    try:
        service.change_password("juan", temporary, new, new)
    except pr.PwRecoveryError as error:
        results.put(error.code)
    else:
        results.put("ok")


def busy_workstation(
    path: Path | str, key: str, rounds: int, barrier: Barrier, results: Queue[str]
) -> None:
    """Sign in, fail a sign-in and ask for a recovery, ``rounds`` times, as fast as it can."""
    service = workstation(path, key, BUSY_POLICY)
    barrier.wait()
    try:
        for _ in range(rounds):
            service.authenticate("juan", USER_PASSWORD)
            with contextlib.suppress(pr.InvalidCredentials):
                service.authenticate("juan", "no es la clave")
            service.request_recovery("juan")
    except Exception as error:  # noqa: BLE001 (any failure is reported to the parent)
        results.put(f"{type(error).__name__}: {error}")
    else:
        results.put("ok")


def sign_in_once(
    path: Path | str, key: str, password: str, barrier: Barrier, results: Queue[str]
) -> None:
    """One sign-in from another process: "ok" or the error code (with retry_after)."""
    service = workstation(path, key)
    barrier.wait()
    try:
        service.authenticate("juan", password)
    except pr.TooManyAttempts as error:
        results.put(f"{error.code} {error.retry_after.total_seconds():.0f}")
    except pr.PwRecoveryError as error:
        results.put(error.code)
    else:
        results.put("ok")


def deliver_worker(path: Path | str, key: str, barrier: Barrier, results: Queue[str]) -> None:
    """Run deliver_pending until nothing is due; report how many mails this process sent."""
    service = workstation(path, key, BUSY_POLICY)
    barrier.wait()
    sent = 0
    while True:
        report = service.deliver_pending(limit=3)
        sent += report.sent
        if report == pr.DeliveryReport():
            break
    results.put(str(sent))


def deliver_batches(
    path: Path | str, key: str, limit: int, barrier: Barrier, results: Queue[str]
) -> None:
    """Run deliver_pending in batches of up to ``limit`` until nothing is due; report the
    recipients of the mails this process sent, one per line."""
    mailer = pr.RecordingMailer()
    service = pr.RecoveryService(
        store=open_store(path),
        mailer=mailer,
        secret_key=key,
        hasher=cheap_hasher(),
        policy=BUSY_POLICY,
    )
    barrier.wait()
    try:
        while service.deliver_pending(limit=limit) != pr.DeliveryReport():
            pass
    except Exception as error:  # noqa: BLE001 (any failure is reported to the parent)
        results.put(f"error {type(error).__name__}: {error}")
        return
    results.put("\n".join(m["To"].addresses[0].addr_spec for m in mailer.outbox))


def open_and_count(location: str, barrier: Barrier, results: Queue[str]) -> None:
    """Open a new server store at the same instant as another process: report its users."""
    barrier.wait()
    try:
        results.put(str(len(open_store(location).list_users())))
    except pr.PwRecoveryError as error:
        results.put(error.code)


def prepared(location: Path | str, key: str, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    """A store (file or server URL) with a supervisor, juan, a sender, addresses verified."""
    service = pr.RecoveryService(
        store=open_store(location), mailer=mailer, secret_key=key, hasher=cheap_hasher()
    )
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", USER_PASSWORD)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(service, mailer, "juan", "juan@empresa.mx")
    return service


def run_processes(target: Callable[..., None], args_for: list[tuple[object, ...]]) -> list[str]:
    """Start one spawned process per argument tuple, released together; their reports."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    barrier = context.Barrier(len(args_for))
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for args in args_for
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert 0 == process.exitcode
    return outcomes
