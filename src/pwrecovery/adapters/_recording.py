"""``RecordingMailer``: a ``SessionMailer`` that keeps what it sends, for host tests.

It runs the same checks as ``SmtpMailer`` (``adapters.outgoing``), so the fake
refuses exactly what the real one does, and switches make it fail as real
servers do. Importable from ``pwrecovery`` and ``pwrecovery.adapters.memory``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Final

from pwrecovery.adapters.outgoing import (
    check_credentials,
    needs_smtputf8,
    recipients_of,
    refusal,
    smtputf8_refused,
)
from pwrecovery.exceptions import (
    BasicAuthDisabled,
    SenderAddressRefused,
    SenderAuthenticationFailed,
    SenderUnreachable,
)
from pwrecovery.models import Authentication, SenderSettings

# The replies RecordingMailer's switches stand for, as real servers give them.
_NOT_OWNED: Final = 553  # Postfix: 5.7.1 Sender address rejected: not owned by user
_REFUSED_FOR_GOOD: Final = 550
_REFUSED_FOR_NOW: Final = 451
_CLOSING: Final = 421


class RecordingMailer:
    """A ``Mailer`` (with sessions: a ``SessionMailer``) that keeps every message in
    ``outbox`` instead of sending it.

    It checks messages and credentials as ``SmtpMailer`` does, records every login
    in ``logins`` and every session in ``sessions``, and can be told to fail as real
    servers do, for tests:

    - ``passwords``: username → the only password its server accepts (other
      usernames accept any non-empty password); for XOAUTH2 senders, the only
      access token accepted;
    - ``unreachable_hosts``: hosts that cannot be reached;
    - ``basic_auth_disabled_hosts``: hosts that refuse every username and password
      (Microsoft 365's ``535 5.7.139``): ``BasicAuthDisabled``; XOAUTH2 still works;
    - ``refused_from_addresses``: From addresses the servers refuse at MAIL FROM
      (Postfix's ``553 5.7.1 … not owned by user``): ``verify`` raises
      ``SenderAddressRefused``, ``send`` ``DeliveryRejected``;
    - ``rejecting_hosts``: hosts that accept the login but refuse every message for
      now (``451``): ``DeliveryFailed``;
    - ``permanently_rejecting_hosts``: the same, for good (``550``): ``DeliveryRejected``;
    - ``hosts_without_smtputf8``: hosts that do not offer SMTPUTF8, so a recipient with a
      non-ASCII local part is refused for good (``DeliveryRejected``, 555);
    - ``messages_per_session``: how many messages one session takes before the server
      answers ``421`` and closes it (None: no limit).
    """

    def __init__(
        self,
        *,
        passwords: Mapping[str, str] | None = None,
        unreachable_hosts: Iterable[str] = (),
        rejecting_hosts: Iterable[str] = (),
        permanently_rejecting_hosts: Iterable[str] = (),
        basic_auth_disabled_hosts: Iterable[str] = (),
        refused_from_addresses: Iterable[str] = (),
        hosts_without_smtputf8: Iterable[str] = (),
        messages_per_session: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.outbox: list[EmailMessage] = []
        self.sent_through: list[SenderSettings] = []
        self.passwords: dict[str, str] = dict(passwords or {})
        self.unreachable_hosts: set[str] = set(unreachable_hosts)
        self.rejecting_hosts: set[str] = set(rejecting_hosts)
        self.permanently_rejecting_hosts: set[str] = set(permanently_rejecting_hosts)
        self.basic_auth_disabled_hosts: set[str] = set(basic_auth_disabled_hosts)
        self.refused_from_addresses: set[str] = set(refused_from_addresses)
        self.hosts_without_smtputf8: set[str] = set(hosts_without_smtputf8)
        self.messages_per_session = messages_per_session
        self.logins: list[tuple[str, str]] = []
        self.sessions: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"RecordingMailer(<{len(self.outbox)} messages>)"

    def _log_in(self, settings: SenderSettings, password: str) -> None:
        check_credentials(settings, password)
        if settings.host in self.unreachable_hosts:
            raise SenderUnreachable(settings.host, settings.port, "connection")
        self.logins.append((settings.host, settings.username))
        basic = settings.authentication is not Authentication.XOAUTH2
        if basic and settings.host in self.basic_auth_disabled_hosts:
            raise BasicAuthDisabled(settings.host)
        expected = self.passwords.get(settings.username)
        if not password or (expected is not None and password != expected):
            raise SenderAuthenticationFailed(settings.host)

    def verify(self, settings: SenderSettings, password: str) -> None:
        with self._lock:
            self._log_in(settings, password)
            if settings.from_address in self.refused_from_addresses:
                raise SenderAddressRefused(settings.host, settings.from_address, _NOT_OWNED)

    def send(self, settings: SenderSettings, password: str, message: EmailMessage) -> None:
        recipients_of(message)
        with self._lock:
            self._log_in(settings, password)
            self._deliver(settings, message)

    @contextmanager
    def session(self, settings: SenderSettings, password: str) -> Iterator[RecordingSession]:
        """Log in once; every message sent through the session lands in ``outbox``."""
        with self._lock:
            self._log_in(settings, password)
            self.sessions.append((settings.host, settings.username))
        yield RecordingSession(self, settings)

    def _deliver(self, settings: SenderSettings, message: EmailMessage) -> None:
        """Under the lock: refuse as the switches say, or keep the message."""
        (recipient,) = recipients_of(message)
        # In the order an SMTP client meets them: its own SMTPUTF8 check, MAIL, RCPT/DATA.
        if settings.host in self.hosts_without_smtputf8 and needs_smtputf8(recipient):
            raise smtputf8_refused()
        if settings.from_address in self.refused_from_addresses:
            raise refusal(_NOT_OWNED)
        if settings.host in self.permanently_rejecting_hosts:
            raise refusal(_REFUSED_FOR_GOOD)
        if settings.host in self.rejecting_hosts:
            raise refusal(_REFUSED_FOR_NOW)
        self.outbox.append(message)
        self.sent_through.append(settings)


class RecordingSession:
    """A ``RecordingMailer`` session: ``send`` keeps the message, or refuses it as its
    mailer's switches say; past ``messages_per_session`` the session is closed."""

    def __init__(self, mailer: RecordingMailer, settings: SenderSettings) -> None:
        self._mailer = mailer
        self._settings = settings
        self._sent = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"RecordingSession({self._settings.host})"

    def send(self, message: EmailMessage) -> None:
        recipients_of(message)
        settings, mailer = self._settings, self._mailer
        with mailer._lock:  # noqa: SLF001 (the session is part of its mailer)
            if self._closed or settings.host in mailer.unreachable_hosts:
                self._closed = True
                raise SenderUnreachable(settings.host, settings.port, "connection")
            limit = mailer.messages_per_session
            if limit is not None and self._sent >= limit:
                self._closed = True  # as a server does: 421 to MAIL FROM, and it hangs up
                raise refusal(_CLOSING)
            self._sent += 1
            mailer._deliver(settings, message)  # noqa: SLF001
