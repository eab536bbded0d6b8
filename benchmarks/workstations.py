"""Workstations signing in at once, on every shared store: the throughput of 4 processes
against the 2-core KDF ceiling. Real Argon2id (the default parameters); printed figures,
not a test.

Run from the repository root, after ``pip install -e '.[dev]'`` (PostgreSQL and MariaDB
server binaries installed, as CI installs them)::

    python benchmarks/workstations.py            # the figure of docs/performance.md
    python benchmarks/workstations.py --smoke    # a few sign-ins, target not judged
    python benchmarks/workstations.py --stores sqlite postgresql

For each store (a SQLite file; PostgreSQL and MariaDB servers on loopback, started from
the same private instances the tests use), four processes, each a workstation with its
own ``RecoveryService`` and its own connection, sign the same user in over and over,
starting together. The figure is their sign-ins per second divided by the KDF ceiling:
``cores / one verify`` (the median of one Argon2id verify in this process, taken just
before), i.e. what the machine could do if a sign-in were nothing but its hash. Target
>= 0.8: the store's work (reads, the conditional write, the audit row, and the database
server's own CPU on the same machine) costs at most a fifth of it.

The private PostgreSQL server runs with ``fsync=off`` (the test fixture's setting) and
MariaDB with its defaults (``innodb_flush_log_at_trx_commit = 1``); SQLite with
``synchronous = FULL``. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' server helpers

from tests.mariadb import running_mariadb
from tests.postgres import running_postgres

import pwrecovery as pr

PASSWORD = "Caballo azul 77"
PROCESSES = 4
NO_LIMITS = pr.Policy(max_failed_sign_ins=10**9, recovery_requests_per_window=10**9)
STORES = ("sqlite", "postgresql", "mariadb")


def _store(where: str) -> pr.Store:
    if where.startswith(("postgresql", "mysql")):
        import sqlalchemy as sa  # noqa: PLC0415 (only for the server stores)

        return pr.SqlAlchemyStore(sa.create_engine(where))
    return pr.SqliteStore(where)


def _service(where: str, key: str) -> pr.RecoveryService:
    return pr.RecoveryService(
        store=_store(where), mailer=pr.RecordingMailer(), secret_key=key, policy=NO_LIMITS
    )


def _workstation(
    where: str, key: str, count: int, barrier: Barrier, results: Queue[tuple[float, float]]
) -> None:
    service = _service(where, key)
    service.authenticate("juan", PASSWORD)  # connect and warm up before the start
    barrier.wait()
    started = time.monotonic()
    for _ in range(count):
        service.authenticate("juan", PASSWORD)
    results.put((started, time.monotonic()))


def _one_verify(rounds: int) -> float:
    hasher = pr.Argon2idHasher()
    encoded = hasher.hash(PASSWORD)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.verify(encoded, PASSWORD)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(where: str, count: int) -> tuple[float, float, float]:
    """Sign-ins per second of 4 workstations, the KDF ceiling, and their ratio."""
    key = pr.generate_key()
    _service(where, key).add_user("juan", PASSWORD)
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[float, float]] = context.Queue()
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_workstation, args=(where, key, count, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    throughput = PROCESSES * count / elapsed
    cores = min(PROCESSES, os.cpu_count() or 1)
    ceiling = cores / _one_verify(max(20, count))
    return throughput, ceiling, throughput / ceiling


@contextlib.contextmanager
def _location(store: str, folder: Path) -> Iterator[str]:
    if store == "sqlite":
        yield str(folder / "workstations.db")
    elif store == "postgresql":
        with running_postgres() as url:
            yield url
    else:
        with running_mariadb() as server:
            yield server.pymysql_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a few sign-ins each, target not judged"
    )
    parser.add_argument("--count", type=int, default=100, help="sign-ins per workstation")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    args = parser.parse_args()
    count = 3 if args.smoke else args.count
    missed = 0
    with tempfile.TemporaryDirectory(prefix="pwrecovery-bench-") as name:
        for store in args.stores:
            with _location(store, Path(name)) as where:
                throughput, ceiling, ratio = measure(where, count)
            met = ratio >= 0.8  # noqa: PLR2004 (the target)
            missed += not met
            verdict = "ok" if met else "MISSED"
            print(
                f"{store:<11} {PROCESSES} workstations: {throughput:6.1f} sign-ins/s,"
                f" KDF ceiling {ceiling:6.1f}/s, ratio {ratio:5.3f}"
                f"  (target >= 0.80)  {'not judged' if args.smoke else verdict}"
            )
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
