"""What the queued-delivery tests share: fault injection (a process that dies at a given
call, a mailer without sessions) and users with queued mails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

import pwrecovery as pr
from pwrecovery import records
from tests.helpers import USER_PASSWORD, verify_address


class Crash(BaseException):
    """The process dies here: nothing after this line runs, nothing catches it."""


class Breaking:
    """Wraps a port; the ``n``-th call to method ``name`` crashes the process."""

    def __init__(self, inner: object, name: str, n: int = 1) -> None:
        self._inner, self._name, self._left = inner, name, n

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if attribute != self._name:
            return value

        def maybe_crash(*args: object, **kwargs: object) -> object:
            self._left -= 1
            if self._left == 0:
                raise Crash
            return value(*args, **kwargs)

        return maybe_crash


class CrashingSessions:
    """Wraps a RecordingMailer; the ``n``-th message sent through its sessions crashes
    the process (before it is sent, or, with ``after=True``, once it is)."""

    def __init__(self, inner: pr.RecordingMailer, n: int = 1, *, after: bool = False) -> None:
        self._inner, self._left, self._after = inner, n, after

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        with self._inner.session(settings, password) as session:
            yield _CrashingSession(session, self)

    def count_down(self) -> bool:
        self._left -= 1
        return self._left == 0


class _CrashingSession:
    def __init__(self, inner: pr.MailSession, owner: CrashingSessions) -> None:
        self._inner, self._owner = inner, owner

    def send(self, message: EmailMessage) -> None:
        crashing = self._owner.count_down()
        if crashing and not self._owner._after:
            raise Crash
        self._inner.send(message)
        if crashing:
            raise Crash


class SendOnly:
    """A host's own mailer without sessions: verify and send, nothing else."""

    def __init__(self, inner: pr.RecordingMailer) -> None:
        self._inner = inner

    def verify(self, settings: pr.SenderSettings, password: str) -> None:
        self._inner.verify(settings, password)

    def send(self, settings: pr.SenderSettings, password: str, message: EmailMessage) -> None:
        self._inner.send(settings, password, message)


def with_users(service: pr.RecoveryService, mailer: pr.RecordingMailer, count: int) -> list[str]:
    """``count`` more users with verified addresses (usuario0@…); their logins."""
    logins = [f"usuario{number}" for number in range(count)]
    for login in logins:
        service.add_user(login, USER_PASSWORD)
        verify_address(service, mailer, login, f"{login}@empresa.mx")
    mailer.outbox.clear()
    mailer.sent_through.clear()
    mailer.logins.clear()
    mailer.sessions.clear()
    return logins


def queue_for(service: pr.RecoveryService, logins: list[str]) -> None:
    for login in logins:
        service.request_recovery(login, delivery="queued")


def recipients(mailer: pr.RecordingMailer) -> list[str]:
    return [message["To"].addresses[0].addr_spec for message in mailer.outbox]


def pending(store: pr.Store, clock: pr.ManualClock) -> list[records.QueuedMessage]:
    return store.due_messages(clock.now() + timedelta(days=30), 100)


def crash(action: Callable[[], object]) -> None:
    with pytest.raises(Crash):
        action()


class WatchedSessions:
    """Wraps a RecordingMailer; before each message sent through its sessions it calls
    ``before_each`` with the message (and the number of messages sent before it)."""

    def __init__(
        self, inner: pr.RecordingMailer, before_each: Callable[[EmailMessage, int], None]
    ) -> None:
        self._inner, self._before_each = inner, before_each
        self.sent = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def session(self, settings: pr.SenderSettings, password: str) -> Iterator[object]:
        with self._inner.session(settings, password) as session:
            yield _WatchedSession(session, self)


class _WatchedSession:
    def __init__(self, inner: pr.MailSession, owner: WatchedSessions) -> None:
        self._inner, self._owner = inner, owner

    def send(self, message: EmailMessage) -> None:
        self._owner._before_each(message, self._owner.sent)
        self._inner.send(message)
        self._owner.sent += 1
