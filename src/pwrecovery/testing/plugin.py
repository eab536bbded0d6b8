"""pytest fixtures for hosts' own tests. Enable them in ``conftest.py``::

    pytest_plugins = ["pwrecovery.testing.plugin"]

Fixtures:

- ``pwrecovery_mailer``: a fresh ``RecordingMailer``;
- ``pwrecovery_clock``: a ``ManualClock`` at 2026-01-01 00:00 UTC;
- ``pwrecovery_certificates``: a private CA and a certificate for
  localhost/127.0.0.1, made once per session;
- ``pwrecovery_smtp_server``: a real SMTP server on loopback (STARTTLS +
  AUTH), started once per session and reset for each test; its account
  ``SMTP_USERNAME`` / ``SMTP_PASSWORD`` logs in, add more to ``.accounts``;
- ``pwrecovery_smtp_mailer``: an ``SmtpMailer`` that trusts that CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from pwrecovery.adapters.memory import ManualClock, RecordingMailer
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.testing.smtp import Certificates, SmtpServer, make_certificates, running_smtp_server

SMTP_USERNAME: Final = "pwrecovery@example.com"
SMTP_PASSWORD: Final = "smtp-test-password"  # noqa: S105 (a test server's account)


@pytest.fixture
def pwrecovery_mailer() -> RecordingMailer:
    """A RecordingMailer: every message lands in ``.outbox``."""
    return RecordingMailer()


@pytest.fixture
def pwrecovery_clock() -> ManualClock:
    """A clock that moves only with ``.advance()``."""
    return ManualClock()


@pytest.fixture(scope="session")
def pwrecovery_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and a server certificate for the loopback SMTP server."""
    return make_certificates(tmp_path_factory.mktemp("pwrecovery-tls"))


@pytest.fixture(scope="session")
def _pwrecovery_smtp_session(pwrecovery_certificates: Certificates) -> Iterator[SmtpServer]:
    with running_smtp_server(
        "starttls", pwrecovery_certificates, {SMTP_USERNAME: SMTP_PASSWORD}
    ) as server:
        yield server


@pytest.fixture
def pwrecovery_smtp_server(_pwrecovery_smtp_session: SmtpServer) -> SmtpServer:
    """The loopback SMTP server (STARTTLS + AUTH), emptied and with every failure off."""
    _pwrecovery_smtp_session.reset()
    _pwrecovery_smtp_session.accounts.clear()
    _pwrecovery_smtp_session.tokens.clear()
    _pwrecovery_smtp_session.accounts[SMTP_USERNAME] = SMTP_PASSWORD
    return _pwrecovery_smtp_session


@pytest.fixture
def pwrecovery_smtp_mailer(pwrecovery_certificates: Certificates) -> SmtpMailer:
    """An SmtpMailer that trusts the test CA (certificates and host names still checked)."""
    return SmtpMailer(timeout=5.0, ssl_context=pwrecovery_certificates.client_context())
