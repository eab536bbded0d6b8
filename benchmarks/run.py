"""Benchmarks of pwrecovery: prints each figure as a ratio against its target.

Run from the repository root, after ``pip install -e '.[dev]'``::

    python benchmarks/run.py            # the figures of docs/performance.md
    python benchmarks/run.py --quick    # fewer rounds, for a smoke run

Ratios, not seconds, so that the figures mean the same on any machine:

1. ``authenticate`` / one Argon2id verify (default parameters), on SQLite.
2. ``request_recovery`` / (one Argon2id hash + one STARTTLS send to a loopback
   SMTP server), on SQLite.
3. median at 100,000 users / median at 100 users, on SQLite, for
   ``authenticate`` and ``request_recovery`` with a cheap hasher (so that the
   store, not the KDF, is what is measured).
4. sign-ins per second of 2 processes on one SQLite file / the 2-core KDF
   ceiling (2 / one verify).
5. with ``disclosure="uniform"``, the slowest / the fastest median of
   ``request_recovery`` for a real user, an unknown login and a user without
   a verified address (real Argon2id, SQLite, loopback STARTTLS): without a
   response floor (for information: the work is equal, a sent mail is not)
   and with ``uniform_response_time`` at 0.2 s.
6. throughput of ``deliver_pending`` on 200 queued mails through one loopback
   STARTTLS sender, store work included (SQLite file, cheap hasher so that the
   KDF is not what is measured) / throughput of plain smtplib sending the same
   200 messages, one fresh session each (connect, STARTTLS, AUTH, send, QUIT).
   ``--queue-breakdown`` also says where a run's time goes.

Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import multiprocessing
import smtplib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import attrs

import pwrecovery as pr
from pwrecovery import records
from pwrecovery._domain.logins import login_key
from pwrecovery._domain.mail import MailContent, compose
from pwrecovery._secret import Secret
from pwrecovery._service import _session as _session_module
from pwrecovery.adapters import _rows, _schema
from pwrecovery.adapters import smtp as smtp_module
from pwrecovery.adapters._smtp_send import as_sent
from pwrecovery.adapters.outgoing import recipients_of
from pwrecovery.testing import cheap_hasher
from pwrecovery.testing.smtp import (
    Certificates,
    SmtpServer,
    make_certificates,
    running_smtp_server,
)

PASSWORD = "Caballo azul 77"
SMTP_USER, SMTP_PASSWORD = "envios@empresa.mx", "clave-smtp"
NO_LIMITS = pr.Policy(
    recovery_requests_per_window=10**9, max_failed_sign_ins=10**9, smtp_logins_per_minute=10**9
)


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    action()  # warm up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ratio_of_medians(
    measured: Callable[[], object], reference: Callable[[], object], rounds: int
) -> float:
    """median(measured) / median(reference), timed in alternating turns so that drift of
    the machine (caches, clock speed, other load) falls on both alike."""
    measured()
    reference()
    times: tuple[list[float], list[float]] = ([], [])
    for turn in range(rounds):
        pair = ((0, measured), (1, reference)) if turn % 2 else ((1, reference), (0, measured))
        for slot, action in pair:
            started = time.perf_counter()
            action()
            times[slot].append(time.perf_counter() - started)
    return statistics.median(times[0]) / statistics.median(times[1])


@contextmanager
def smtp(folder: Path) -> Iterator[tuple[SmtpServer, pr.SmtpMailer]]:
    certificates = make_certificates(folder)
    with running_smtp_server("starttls", certificates, {SMTP_USER: SMTP_PASSWORD}) as server:
        yield server, pr.SmtpMailer(timeout=10.0, ssl_context=certificates.client_context())


def ready_service(
    path: Path,
    mailer: pr.Mailer,
    server: SmtpServer | None,
    hasher: pr.PasswordHasher | None = None,
    key: str | None = None,
) -> pr.RecoveryService:
    """SUPERVISOR and juan with verified addresses, a sender; on a SQLite file."""
    service = pr.RecoveryService(
        store=pr.SqliteStore(path),
        mailer=mailer,
        secret_key=key or pr.generate_key(),
        hasher=hasher,
        policy=NO_LIMITS,
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", PASSWORD)
    settings = (
        server.settings(SMTP_USER)
        if server is not None
        else pr.SenderSettings("smtp.empresa.mx", 587, pr.Security.STARTTLS, SMTP_USER, SMTP_USER)
    )
    service.configure_sender("SUPERVISOR", settings, SMTP_PASSWORD)
    store = pr.SqliteStore(path)
    for login in ("supervisor", "juan"):
        record = store.get_user(login)
        assert record is not None
        # Setup only: mark the address verified without the mail round trip.
        verified = attrs.evolve(
            record, recovery_email=f"{login}@empresa.mx", recovery_email_verified=True
        )
        store.update_user(verified, expected_version=record.version)
    store.close()
    return service


def bulk_users(path: Path, count: int) -> None:
    """Add ``count`` users (and their audit events) in one transaction, as a big catalog."""
    hashed = cheap_hasher().hash(PASSWORD)
    now = datetime.now(UTC)
    users, events = [], []
    for number in range(count):
        login = f"usuario{number:06d}"
        record = records.UserRecord(login=login, key=login_key(login), password_hash=hashed)
        users.append(_rows.user_row(record, 1))
        events.append(_rows.event_row(pr.AuditEvent("user_added", login, now)))
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany(_schema.insert(_schema.USERS), users)
        connection.executemany(_schema.insert(_schema.AUDIT), events)


def bench_authenticate(folder: Path, rounds: int) -> float:
    service = ready_service(folder / "auth.db", pr.RecordingMailer(), None)
    hasher = pr.Argon2idHasher()
    encoded = hasher.hash(PASSWORD)
    return ratio_of_medians(
        lambda: service.authenticate("juan", PASSWORD),
        lambda: hasher.verify(encoded, PASSWORD),
        rounds,
    )


def bench_request_recovery(folder: Path, rounds: int) -> float:
    with smtp(folder) as (server, mailer):
        service = ready_service(folder / "recovery.db", mailer, server)
        hasher = pr.Argon2idHasher()
        settings = server.settings(SMTP_USER)
        content = MailContent(
            purpose=pr.Purpose.TEMPORARY_PASSWORD,
            to_address="juan@empresa.mx",
            to_name="",
            login="juan",
            expires_at=datetime.now(UTC),
        )

        def baseline() -> None:
            hasher.hash("Kx7P-mQ2z-H9aB")
            message = compose(
                content,
                settings,
                now=datetime.now(UTC),
                message_token="0" * 32,
                secret=Secret("Kx7P-mQ2z-H9aB"),
            )
            mailer.send(settings, SMTP_PASSWORD, message)

        ratio = ratio_of_medians(lambda: service.request_recovery("juan"), baseline, rounds)
        server.outbox.clear()
    return ratio


def bench_scale(folder: Path, rounds: int, big: int) -> dict[str, float]:
    """The same operations on a 100-user and a ``big``-user store, measured in turns so
    that drift of the machine (caches, clock speed) falls on both alike."""
    services = {}
    for size in (100, big):
        path = folder / f"scale-{size}.db"
        services[size] = ready_service(path, pr.RecordingMailer(), None, hasher=cheap_hasher())
        bulk_users(path, size - 2)
    operations: dict[str, Callable[[pr.RecoveryService], object]] = {
        "authenticate": lambda s: s.authenticate("juan", PASSWORD),
        "request_recovery": lambda s: s.request_recovery("juan"),
    }
    return {
        name: ratio_of_medians(
            lambda op=operation: op(services[big]),
            lambda op=operation: op(services[100]),
            rounds * 20,
        )
        for name, operation in operations.items()
    }


def bench_uniform(folder: Path, rounds: int, floor: timedelta) -> float:
    """Slowest / fastest median of a uniform request for a real user, an unknown login and a
    user without a verified address, with ``uniform_response_time`` set to ``floor``."""
    with smtp(folder) as (server, mailer):
        key = pr.generate_key()
        path = folder / f"uniform-{floor.total_seconds()}.db"
        service = ready_service(path, mailer, server, key=key)
        service.add_user("pedro", "Pedro sin correo 1")
        uniform = pr.RecoveryService(
            store=pr.SqliteStore(path),
            mailer=mailer,
            secret_key=key,
            policy=attrs.evolve(NO_LIMITS, disclosure="uniform", uniform_response_time=floor),
        )
        logins = ("juan", "nadie", "pedro")
        for login in logins:
            uniform.request_recovery(login)  # warm up
        times: dict[str, list[float]] = {login: [] for login in logins}
        for turn in range(rounds):
            for login in logins[turn % 3 :] + logins[: turn % 3]:
                started = time.perf_counter()
                uniform.request_recovery(login)
                times[login].append(time.perf_counter() - started)
        server.outbox.clear()
    medians = [statistics.median(t) for t in times.values()]
    return max(medians) / min(medians)


QUEUED_MAILS = 200


class _Timed:
    """Wraps a port and adds up the seconds spent in each of its methods."""

    def __init__(self, inner: object, spent: collections.Counter[str], prefix: str) -> None:
        self._inner, self._spent, self._prefix = inner, spent, prefix

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 (a proxy gives what it wraps)
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("__"):
            return value
        spent, label = self._spent, f"{self._prefix}.{name}"

        def timed(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return timed


class _TimedMailer(_Timed):
    """The mailer, with the sessions' sends timed too."""

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        started = time.perf_counter()
        opened = self._inner.session(settings, password)  # type: ignore[attr-defined]
        session = opened.__enter__()
        self._spent["smtp.connect+starttls+auth"] += time.perf_counter() - started
        try:
            yield _Timed(session, self._spent, "smtp.session")
        finally:
            started = time.perf_counter()
            opened.__exit__(None, None, None)
            self._spent["smtp.quit"] += time.perf_counter() - started


def _queue_service(
    path: Path, server: _ServerProcess, mailer: pr.Mailer, count: int, key: str
) -> list[str]:
    """On a SQLite file: ``count`` users whose addresses are verified, and the
    supervisor's sender on the loopback server; their logins."""
    service = ready_service(path, mailer, server, hasher=cheap_hasher(), key=key)  # type: ignore[arg-type]
    logins = [f"usuario{number:03d}" for number in range(count)]
    store = pr.SqliteStore(path)
    for login in logins:
        service.add_user(login, PASSWORD)
        record = store.get_user(login_key(login))
        assert record is not None
        verified = attrs.evolve(
            record, recovery_email=f"{login}@empresa.mx", recovery_email_verified=True
        )
        store.update_user(verified, expected_version=record.version)
    store.close()
    return logins


def _worker(store: pr.Store, mailer: pr.Mailer, key: str) -> pr.RecoveryService:
    return pr.RecoveryService(
        store=store, mailer=mailer, secret_key=key, hasher=cheap_hasher(), policy=NO_LIMITS
    )


def _same_messages(settings: pr.SenderSettings, logins: list[str]) -> list[EmailMessage]:
    """The mails deliver_pending sends, composed alike (a temporary password each)."""
    now = datetime.now(UTC)
    return [
        compose(
            MailContent(
                purpose=pr.Purpose.TEMPORARY_PASSWORD,
                to_address=f"{login}@empresa.mx",
                to_name="",
                login=login,
                expires_at=now + timedelta(days=1),
            ),
            settings,
            now=now,
            message_token=f"{number:032x}",
            secret=Secret("Kx7P-mQ2z-H9aB"),
        )
        for number, login in enumerate(logins)
    ]


def _fresh_sessions(port: int, certificates: Certificates, messages: list[EmailMessage]) -> None:
    """Plain smtplib: a session of its own for each message."""
    context = certificates.client_context()
    for message in messages:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.login(SMTP_USER, SMTP_PASSWORD)
            smtp.send_message(message)


def _serve(certificates: Certificates, commands: Connection) -> None:
    """The test server in a process of its own, as a real MTA is: its work does not take
    the GIL from the client being measured. Answers "count" and "clear"; ends on "stop"."""
    with running_smtp_server("starttls", certificates, {SMTP_USER: SMTP_PASSWORD}) as server:
        commands.send(server.port)
        while (command := commands.recv()) != "stop":
            commands.send(len(server.outbox))
            if command == "clear":
                server.outbox.clear()


@attrs.define
class _ServerProcess:
    """The parent's handle on ``_serve``: its port and its outbox count."""

    port: int
    commands: Connection

    def settings(self, username: str) -> pr.SenderSettings:
        return pr.SenderSettings(
            "127.0.0.1", self.port, pr.Security.STARTTLS, username, username, "Contabilidad"
        )

    def received(self, *, clear: bool = False) -> int:
        self.commands.send("clear" if clear else "count")
        return int(self.commands.recv())


@contextmanager
def _server_process(certificates: Certificates) -> Iterator[_ServerProcess]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(certificates, theirs), daemon=True)
    process.start()
    try:
        yield _ServerProcess(int(ours.recv()), ours)
    finally:
        ours.send("stop")
        process.join(timeout=10)


def bench_queued_delivery(
    folder: Path, rounds: int, count: int = QUEUED_MAILS, *, breakdown: bool = False
) -> float:
    """Throughput of deliver_pending over ``count`` queued mails / throughput of plain
    smtplib with one fresh session per message, medians of alternating rounds. The
    loopback server runs in a process of its own."""
    certificates = make_certificates(folder)
    key = pr.generate_key()
    path = folder / "queue.db"
    with _server_process(certificates) as server:
        mailer = pr.SmtpMailer(timeout=10.0, ssl_context=certificates.client_context())
        logins = _queue_service(path, server, mailer, count, key)
        service = _worker(pr.SqliteStore(path), mailer, key)
        messages = _same_messages(server.settings(SMTP_USER), logins)
        worker, plain = [], []
        for turn in range(rounds + 1):  # the first round warms up and is not counted
            for login in logins:
                service.request_recovery(login, delivery="queued")
            for side in (0, 1) if turn % 2 else (1, 0):
                server.received(clear=True)
                started = time.perf_counter()
                if side == 0:
                    report = service.deliver_pending(limit=count)
                    assert report == pr.DeliveryReport(sent=count), report
                else:
                    _fresh_sessions(server.port, certificates, messages)
                seconds = time.perf_counter() - started
                assert server.received() == count
                if turn:
                    (worker if side == 0 else plain).append(seconds)
        if breakdown:
            _breakdown(path, mailer, service, logins, key, statistics.median(plain))
        server.received(clear=True)
    return statistics.median(plain) / statistics.median(worker)


class _NoNetworkMailer:
    """NOT a real mailer: sessions that do what ``SmtpSession.send`` does before the
    network (the header re-check, the message's bytes) and send nothing, to measure
    the worker without its SMTP exchanges."""

    def verify(self, settings: pr.SenderSettings, password: str) -> None:
        del settings, password

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        del settings, password
        yield self

    def send(self, message: EmailMessage) -> None:
        recipients_of(message)
        as_sent(message, utf8=False)


@contextmanager
def _timed_globals(spent: collections.Counter[str]) -> Iterator[None]:
    """For the breakdown only: time the worker's composing, the mailer's header re-check,
    the message's bytes and the SMTP exchanges (replaced here, put back after)."""
    patched: list[tuple[object, str, Any]] = [
        (_session_module, "compose", "compose the mail"),
        (smtp_module, "recipients_of", "smtp: the header re-check (recipients_of)"),
        (smtp_module, "as_sent", "smtp: the message's bytes (as_sent)"),
        (smtp_module, "transmit", "smtp: MAIL+RCPT+DATA pipelined, then the message"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, label in patched:
        original = getattr(owner, name)

        def timed(
            *args: object,
            _original: Callable[..., object] = original,
            _label: str = label,
            **kwargs: object,
        ) -> object:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started

        setattr(owner, name, timed)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _breakdown(  # noqa: PLR0917 (a private step of one benchmark)
    path: Path,
    mailer: pr.SmtpMailer,
    service: pr.RecoveryService,
    logins: list[str],
    key: str,
    plain: float,
) -> None:
    """A run with every store and mailer call timed (and the worker's composing, the
    re-check and smtplib's exchanges): where its time goes; then what a run would take
    with no store work, or with no SMTP exchange at all."""
    count = len(logins)
    spent: collections.Counter[str] = collections.Counter()
    timed = _worker(
        _Timed(pr.SqliteStore(path), spent, "store"),  # type: ignore[arg-type]
        _TimedMailer(mailer, spent, "smtp"),  # type: ignore[arg-type]
        key,
    )
    for login in logins:
        service.request_recovery(login, delivery="queued")
    with _timed_globals(spent):
        started = time.perf_counter()
        timed.deliver_pending(limit=count)
        total = time.perf_counter() - started
    print(f"\nwhere one deliver_pending of {count} mails spends its time (ms per mail):")
    print("  (smtp.session.send holds the re-check, the message's bytes and the exchanges)")
    for label, seconds in spent.most_common():
        print(f"  {label:<50} {seconds / count * 1000:7.3f}")
    outside = sum(v for k, v in spent.items() if k.startswith(("store.", "compose", "smtp.")))
    rest = total - outside
    print(f"  {'everything else (secrets, events, Python)':<50} {rest / count * 1000:7.3f}")
    print(f"  {'total':<50} {total / count * 1000:7.3f}")
    print(f"  {'plain smtplib, one session per mail':<50} {plain / count * 1000:7.3f}")

    print("what if (not the shipped worker; ms per mail, and the ratio it would give):")
    memory = pr.InMemoryStore()
    source = pr.SqliteStore(path)
    memory.add_users(source.list_users())
    for sender in source.list_senders():
        memory.put_sender(sender)
    offline = _worker(source, _NoNetworkMailer(), key)  # type: ignore[arg-type]
    variants = [
        ("no store work (InMemoryStore)", _worker(memory, mailer, key)),
        ("no SMTP exchange (compose, re-check, serialise)", offline),
    ]
    for label, variant in variants:
        for login in logins:
            variant.request_recovery(login, delivery="queued")
        started = time.perf_counter()
        variant.deliver_pending(limit=count)
        seconds = (time.perf_counter() - started) / count
        print(f"  {label:<50} {seconds * 1000:7.3f}  ({plain / count / seconds:.2f})")
    print()


def _sign_in_worker(
    path: Path, key: str, count: int, barrier: Barrier, results: Queue[tuple[float, float]]
) -> None:
    service = pr.RecoveryService(
        store=pr.SqliteStore(path), mailer=pr.RecordingMailer(), secret_key=key, policy=NO_LIMITS
    )
    service.authenticate("juan", PASSWORD)  # warm up
    barrier.wait()
    started = time.monotonic()
    for _ in range(count):
        service.authenticate("juan", PASSWORD)
    results.put((started, time.monotonic()))


def bench_two_processes(folder: Path, rounds: int) -> float:
    key = pr.generate_key()
    path = folder / "two.db"
    ready_service(path, pr.RecordingMailer(), None, key=key)
    hasher = pr.Argon2idHasher()
    encoded = hasher.hash(PASSWORD)
    verify = median_seconds(lambda: hasher.verify(encoded, PASSWORD), rounds)
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[float, float]] = context.Queue()
    barrier = context.Barrier(2)
    count = rounds * 2
    workers = [
        context.Process(target=_sign_in_worker, args=(path, key, count, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    throughput = 2 * count / elapsed
    ceiling = 2 / verify
    return throughput / ceiling


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 10,000 users")
    parser.add_argument(
        "--smoke", action="store_true", help="a few rounds, 1,000 users, targets not judged (CI)"
    )
    parser.add_argument(
        "--only-queue", action="store_true", help="only the queued-delivery figure (6)"
    )
    parser.add_argument(
        "--queue-breakdown",
        action="store_true",
        help="also say where a deliver_pending run spends its time",
    )
    args = parser.parse_args()
    rounds = 3 if args.smoke else 10 if args.quick else 40
    big = 1_000 if args.smoke else 10_000 if args.quick else 100_000
    queue_rounds = 2 if args.smoke else 5 if args.quick else 9
    with tempfile.TemporaryDirectory(prefix="pwrecovery-bench-") as name:
        folder = Path(name)
        queue = (
            "deliver_pending of 200 queued / plain smtplib, session each",
            bench_queued_delivery(folder, queue_rounds, breakdown=args.queue_breakdown),
            ">=",
            4.0,
        )
        if args.only_queue:
            return _report([queue], judged=not args.smoke)
        scale = bench_scale(folder, rounds, big)
        figures = [
            # Five times the rounds: 40 turns of 30 ms spread 1.06 to 1.13 between runs on
            # a shared VM, 200 turns 1.080 to 1.083.
            (
                "authenticate / one Argon2id verify",
                bench_authenticate(folder, 5 * rounds),
                "<=",
                1.10,
            ),
            (
                "request_recovery / (one hash + one loopback STARTTLS send)",
                bench_request_recovery(folder, rounds),
                "<=",
                1.15,
            ),
            (f"authenticate median, {big:,} users / 100 users", scale["authenticate"], "<=", 1.2),
            (
                f"request_recovery median, {big:,} users / 100 users",
                scale["request_recovery"],
                "<=",
                1.2,
            ),
            (
                "2 processes on one SQLite file / 2-core KDF ceiling",
                bench_two_processes(folder, rounds),
                ">=",
                0.8,
            ),
            (
                "uniform, no response floor: slowest / fastest of 3 logins",
                bench_uniform(folder, rounds * 2, timedelta(0)),
                "info",
                0.0,
            ),
            (
                "uniform, 0.2 s response floor: slowest / fastest of 3 logins",
                bench_uniform(folder, max(12, rounds // 2), timedelta(seconds=0.2)),
                "<",
                1.05,
            ),
            queue,
        ]
    return _report(figures, judged=not args.smoke)


def _report(figures: list[tuple[str, float, str, float]], *, judged: bool) -> int:
    missed = 0
    for label, value, sense, target in figures:
        if sense == "info":
            print(f"{label:<62} {value:6.3f}  (for information)")
            continue
        met = {"<=": value <= target, "<": value < target, ">=": value >= target}[sense]
        missed += not met
        verdict = "ok" if met else "MISSED"
        print(f"{label:<62} {value:6.3f}  (target {sense} {target:.2f})  {verdict}")
    return 1 if missed and judged else 0


if __name__ == "__main__":
    sys.exit(main())
