"""Helpers shared by the tests, on top of the shipped test kit (pwrecovery.testing)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from os import PathLike
from typing import TypeVar

import attrs
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._secret import Secret
from pwrecovery.adapters.secretbox import SecretBox
from pwrecovery.records import SenderRecord, UserRecord
from pwrecovery.testing import (
    cheap_hasher,
    temporary_password_in,
    text_of,
    verification_code_in,
)

T = TypeVar("T")

__all__ = [
    "cheap_hasher",
    "half_and_half",
    "html_of",
    "race_to_change",
    "resave",
    "sender_settings",
    "temporary_password_in",
    "text_of",
    "verification_code_in",
    "verify_address",
]

SUPERVISOR_PASSWORD = "Supervisor de 2026"
USER_PASSWORD = "Caballo azul 77"
NEW_PASSWORD = "Tortuga verde 2026"
SMTP_PASSWORD = "smtp-app-password"


def sender_settings(
    host: str = "smtp.empresa.mx", username: str = "envios@empresa.mx", **changes: object
) -> pr.SenderSettings:
    values: dict[str, object] = {
        "host": host,
        "port": 587,
        "security": pr.Security.STARTTLS,
        "username": username,
        "from_address": username,
        "display_name": "Contabilidad",
    }
    values.update(changes)
    return pr.SenderSettings(**values)  # type: ignore[arg-type]


def verify_address(
    svc: pr.RecoveryService, mailer: pr.RecordingMailer, login: str, address: str
) -> None:
    """Set and confirm a recovery address with the code mailed to it."""
    svc.set_recovery_email(login, address)
    svc.confirm_recovery_email(login, verification_code_in(mailer.outbox[-1]))


def race_to_change(services: Sequence[pr.RecoveryService], login: str, temporary: str) -> list[str]:
    """Let every service try, at the same instant, to change ``login``'s password with the
    temporary one; return each outcome ("ok" or an error code)."""
    barrier = threading.Barrier(len(services))
    outcomes: list[str] = []

    def change(service: pr.RecoveryService, number: int) -> None:
        new = f"Nueva clave numero {number}"
        barrier.wait()
        try:
            service.change_password(login, temporary, new, new)
        except pr.PwRecoveryError as error:
            outcomes.append(error.code)
        else:
            outcomes.append("ok")

    threads = [threading.Thread(target=change, args=(s, n)) for n, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def resave(
    store: pr.Store,
    record: SenderRecord,
    key: str,
    settings: pr.SenderSettings,
    password: str,
) -> None:
    """What re-saving a sender with the key stores: the row pointing at ``settings``, its
    secret sealed for them (an edit without the key would be tampering, never used)."""
    account = attrs.evolve(record.account, settings=settings)
    sealed = SecretBox(key).seal(Secret(password), account)
    store.put_sender(attrs.evolve(record, account=account, secret=sealed))


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def half_and_half(
    first: st.SearchStrategy[T], second: st.SearchStrategy[T]
) -> st.SearchStrategy[T]:
    """``first`` in about half the examples and ``second`` in the others, so that a property
    drawn from it meets both its sides often. (``st.one_of`` shares the examples among its
    branches and takes a nested ``one_of``'s branches as its own: ``one_of(a, one_of(b, c))``
    gives ``a`` a third.)"""
    return st.booleans().flatmap(lambda second_one: second if second_one else first)


@contextlib.contextmanager
def raw_sqlite(path: str | PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A plain connection to a store's file, as a co-worker's script would open it: what the
    block does is committed, and the connection is closed after it (``sqlite3``'s own
    ``with`` only commits)."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


class VanishesAfterFirstRead:
    """An ``InMemoryStore`` on which another workstation removes juan right after the
    service first reads him."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self._removed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_user(self, key: str) -> UserRecord | None:
        found = self._inner.get_user(key)
        if found is not None and key == "juan" and not self._removed:
            self._removed = True
            self._inner.remove_user(key, expected_version=found.version)
        return found
