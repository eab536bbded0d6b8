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
what four processes doing nothing but the sign-in's Argon2id verify do per second on the
same machine, timed just before and just after each run (the median of three runs).
Target >= 0.8: the store's work (reads, the conditional writes, the audit row, and the
database server's own CPU on the same cores) costs at most a fifth of the machine.

Printed for information: the same throughput against the ideal ``cores / one verify``
(one verify timed alone), which even the hash alone does not reach with four processes
on two cores (memory bandwidth, switching): 0.84 to 0.96 of it on the project's machine.

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
from collections.abc import Callable, Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' server helpers

from tests.mariadb import running_mariadb
from tests.postgres import running_postgres

import pwrecovery as pr

PASSWORD = "Caballo azul 77"
PROCESSES = 4
NO_LIMITS = pr.Policy(max_failed_sign_ins=10**9, recovery_requests_per_window=10**9)
# MariaDB through mysqlclient (C) and through PyMySQL (pure Python: its own CPU per round
# trip is what the workstation pays on top of the hash).
STORES = ("sqlite", "postgresql", "mariadb", "mariadb-pymysql")


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


def _hasher_only(
    encoded: str, count: int, barrier: Barrier, results: Queue[tuple[float, float]]
) -> None:
    """A process that does nothing but the sign-in's hash: the KDF ceiling's side."""
    hasher = pr.Argon2idHasher()
    hasher.verify(encoded, PASSWORD)
    barrier.wait()
    started = time.monotonic()
    for _ in range(count):
        hasher.verify(encoded, PASSWORD)
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


def _per_second(target: Callable[..., None], args: tuple[object, ...], count: int) -> float:
    """What 4 processes running ``target`` at once do per second, all starting together."""
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[float, float]] = context.Queue()
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=target, args=(*args, count, barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return PROCESSES * count / elapsed


@attrs.frozen
class Figure:
    signins: float  # sign-ins per second of the 4 workstations
    hashes: float  # verifies per second of 4 processes doing nothing else
    ideal: float  # cores / one verify timed alone
    ratio: float  # signins / hashes: the target
    of_ideal: float  # signins / ideal: for information


def measure(where: str, count: int, rounds: int) -> Figure:
    """Medians of ``rounds`` runs, each against the ceilings timed just before and after
    it, so that a machine whose speed drifts (a shared virtual machine) drifts on both
    sides of every ratio."""
    key = pr.generate_key()
    _service(where, key).add_user("juan", PASSWORD)
    encoded = pr.Argon2idHasher().hash(PASSWORD)
    cores = min(PROCESSES, os.cpu_count() or 1)
    verify_rounds = max(20, count // 2)

    def ceilings() -> tuple[float, float]:
        return _per_second(_hasher_only, (encoded,), count), cores / _one_verify(verify_rounds)

    before = ceilings()
    runs = []
    for _ in range(rounds):
        signins = _per_second(_workstation, (where, key), count)
        after = ceilings()
        hashes, ideal = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        runs.append(Figure(signins, hashes, ideal, signins / hashes, signins / ideal))
        before = after
    median = statistics.median
    return Figure(
        *(median(getattr(run, name) for run in runs) for name in attrs.fields_dict(Figure))
    )


@contextlib.contextmanager
def _location(store: str, folder: Path) -> Iterator[str]:
    if store == "sqlite":
        yield str(folder / "workstations.db")
    elif store == "postgresql":
        with running_postgres() as url:
            yield url
    else:
        with running_mariadb() as server:
            yield server.pymysql_url if store.endswith("pymysql") else server.mysqldb_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a few sign-ins each, target not judged"
    )
    parser.add_argument("--count", type=int, default=100, help="sign-ins per workstation")
    parser.add_argument("--rounds", type=int, default=3, help="runs per store (the median)")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    args = parser.parse_args()
    count = 3 if args.smoke else args.count
    rounds = 1 if args.smoke else args.rounds
    missed = 0
    with tempfile.TemporaryDirectory(prefix="pwrecovery-bench-") as name:
        for store in args.stores:
            with _location(store, Path(name)) as where:
                figure = measure(where, count, rounds)
            met = figure.ratio >= 0.8  # noqa: PLR2004 (the target)
            missed += not met
            verdict = "ok" if met else "MISSED"
            print(
                f"{store:<15} {PROCESSES} workstations: {figure.signins:6.1f} sign-ins/s,"
                f" KDF ceiling {figure.hashes:6.1f}/s, ratio {figure.ratio:5.3f}"
                f"  (target >= 0.80)  {'not judged' if args.smoke else verdict};"
                f" of the ideal {figure.ideal:5.1f}/s: {figure.of_ideal:5.3f}"
            )
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
