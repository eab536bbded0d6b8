"""Password hashes as an older application made them, by each algorithm's own reference
(``hashlib``, the ``bcrypt`` package), not by pwrecovery; and the pieces that let two
workstations sign in with one of them at the same instant.

The process worker is a top-level function so that the spawn start method can import it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import bcrypt
import pytest

import pwrecovery as pr
from tests.contract.conftest import STORE_FACTORIES
from tests.helpers import cheap_hasher
from tests.integration.workers import open_store

OLD_PASSWORD = "Clave de 2019"
BARRIER_TIMEOUT = 60.0


def django_pbkdf2(
    password: str, salt: str = "sQ1pWl0sT4kXw9b7Ew3mHc", iterations: int = 1000
) -> str:
    """Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``, made with hashlib."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def bcrypt_hash(password: str, *, rounds: int = 4, prefix: bytes = b"2b") -> str:
    """A bcrypt hash made by the ``bcrypt`` package."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds, prefix)).decode("ascii")


def legacy_hashers() -> tuple[pr.PasswordHasher, ...]:
    return (pr.Pbkdf2Hasher(), pr.BcryptHasher())


def stores_of_every_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """A new, empty store of the kind ``request.param`` names (tests/contract/conftest.py)."""
    made = STORE_FACTORIES[request.param](request, tmp_path)
    yield made
    close = getattr(made, "close", None)
    if callable(close):
        close()


class Rendezvous:
    """A ``PasswordHasher`` around a real one whose ``verify`` returns only once every
    party has checked: two sign-ins then both hold the hash they read before either
    writes. The waiting is what a slow KDF on two busy workstations does by chance."""

    def __init__(self, inner: pr.PasswordHasher, barrier: threading.Barrier | Barrier) -> None:
        self.inner = inner
        self.barrier = barrier

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        matched = self.inner.verify(encoded, password)
        self.barrier.wait(BARRIER_TIMEOUT)
        return matched

    def identifies(self, encoded: str) -> bool:
        return self.inner.identifies(encoded)

    def needs_rehash(self, encoded: str) -> bool:
        return self.inner.needs_rehash(encoded)


def legacy_workstation(
    store: pr.Store, key: str, barrier: threading.Barrier | Barrier
) -> pr.RecoveryService:
    """A workstation whose legacy hashes are checked in step with the others'."""
    return pr.RecoveryService(
        store=store,
        mailer=pr.RecordingMailer(),
        secret_key=key,
        hasher=cheap_hasher(),
        legacy_hashers=(Rendezvous(pr.Pbkdf2Hasher(), barrier),),
    )


def sign_in_in_step(location: str, key: str, barrier: Barrier, results: Queue[str]) -> None:
    """One workstation (a process): wait for the other, then sign in with the old password,
    both checking the legacy hash before either stores its upgrade. Reports "ok" or the
    error's code."""
    service = legacy_workstation(open_store(location), key, barrier)
    barrier.wait(BARRIER_TIMEOUT)
    try:
        service.authenticate("ana", OLD_PASSWORD, origin="CAJA")
    except pr.PwRecoveryError as error:
        results.put(error.code)
    except threading.BrokenBarrierError:
        results.put("barrier broken")
    else:
        results.put("ok")
