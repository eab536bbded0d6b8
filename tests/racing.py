"""Racing the service: threads released together, a clock that stands still, and a
hasher that says which stored hash each check was against. Shared by the tests that
prove every limit holds under concurrency (tests/integration/test_limits_under_concurrency.py)
and the unit tests of the sender budget and of bounded cost."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pwrecovery as pr
from pwrecovery.testing import CountingHasher, cheap_hasher

BARRIER_SECONDS = 60.0


class StillClock:
    """A ``Clock`` that stands at one instant until moved. Unlike ``ManualClock`` it has no
    ``sleep``: the random step-aside after a lost race waits for real, instead of moving
    the time that every racer reads (and the waits they answer)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **amount: float) -> None:
        self.at += timedelta(**amount)


def mark(encoded: str) -> str:
    """A short digest of a stored hash, to tally checks without writing the hash out."""
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


class HashLedger(CountingHasher):
    """A ``CountingHasher`` that also tallies, per stored hash, how many checks were made
    against it; with ``path`` each check is appended to that file too, so that processes
    can be tallied together (``checks_in``)."""

    def __init__(self, inner: pr.PasswordHasher | None = None, path: Path | None = None) -> None:
        super().__init__(inner if inner is not None else cheap_hasher())
        self.checked: Counter[str] = Counter()
        self._path = path

    def verify(self, encoded: str, password: str) -> bool:
        noted = mark(encoded)
        with self._lock:
            self.checked[noted] += 1
        if self._path is not None:
            # One write of one short line with O_APPEND: lines of processes never mix.
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, f"{noted}\n".encode())
            finally:
                os.close(descriptor)
        return super().verify(encoded, password)

    def checks_of(self, encoded: str | None) -> int:
        """Checks made against ``encoded`` so far."""
        return self.checked[mark(encoded)] if encoded is not None else 0


def checks_in(path: Path, encoded: str | None) -> int:
    """Checks against ``encoded`` that the ledgers of every process appended to ``path``."""
    if encoded is None or not path.exists():
        return 0
    return path.read_text().split().count(mark(encoded))


def answer(action: Callable[[], object]) -> str:
    """What a call answered, as a short text: a result's kind, or the error's code with
    its wait in seconds when it has one. Anything not a library error is "unexpected"."""
    try:
        result = action()
    except pr.PwRecoveryError as error:
        wait = getattr(error, "retry_after", None)
        return f"{error.code} {wait.total_seconds():g}" if wait is not None else error.code
    except Exception as error:  # noqa: BLE001 (reported, so the assertion shows it)
        return f"unexpected {type(error).__name__}: {error}"
    if isinstance(result, pr.LoginResult):
        return result.status.value
    if isinstance(result, pr.RecoverySent):
        return "recovery_sent"
    return "ok" if result is None else type(result).__name__


def race_threads(actions: Sequence[Callable[[], object]]) -> list[str]:
    """Run every action in its own thread, released together; their answers, in order."""
    barrier = threading.Barrier(len(actions))
    answers = [""] * len(actions)

    def run(number: int, action: Callable[[], object]) -> None:
        barrier.wait(timeout=BARRIER_SECONDS)
        answers[number] = answer(action)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# Store methods that only read; every other call is a write transaction.
STORE_READS = frozenset(
    {
        "get_user",
        "list_users",
        "has_verified_supervisor",
        "get_throttle",
        "list_senders",
        "due_messages",
        "audit_trail",
    }
)


class StoreWork:
    """A ``Store`` that passes every call to another and tallies them: reads and write
    transactions (``fingerprint_key``, read once per service, is neither)."""

    def __init__(self, inner: pr.Store) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or name == "fingerprint_key":
            return attribute

        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted

    def tally(self) -> dict[str, int]:
        reads = sum(n for name, n in self.calls.items() if name in STORE_READS)
        return {"reads": reads, "writes": self.calls.total() - reads}
