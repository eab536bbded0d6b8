"""Fixtures with real components: SMTP servers on loopback and SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing.smtp import Certificates, SmtpServer, running_smtp_server
from tests.helpers import SMTP_PASSWORD

ACCOUNTS = {"envios@empresa.mx": SMTP_PASSWORD, "respaldo@empresa.mx": "clave-respaldo-ñ"}


@pytest.fixture(scope="session")
def certificates(pwrecovery_certificates: Certificates) -> Certificates:
    return pwrecovery_certificates


@pytest.fixture(scope="session")
def _ssl_server(certificates: Certificates) -> Iterator[SmtpServer]:
    with running_smtp_server("ssl", certificates, ACCOUNTS) as server:
        yield server


@pytest.fixture(scope="session")
def _plain_server(certificates: Certificates) -> Iterator[SmtpServer]:
    with running_smtp_server("plain", certificates, ACCOUNTS) as server:
        yield server


@pytest.fixture
def starttls_server(pwrecovery_smtp_server: SmtpServer) -> SmtpServer:
    """STARTTLS + AUTH on loopback (the test kit's server), with our accounts."""
    pwrecovery_smtp_server.accounts.update(ACCOUNTS)
    return pwrecovery_smtp_server


@pytest.fixture
def ssl_server(_ssl_server: SmtpServer) -> SmtpServer:
    """Implicit TLS + AUTH on loopback."""
    _ssl_server.reset()
    return _ssl_server


@pytest.fixture
def plain_server(_plain_server: SmtpServer) -> SmtpServer:
    """No TLS at all (no STARTTLS offered), AUTH allowed: for Security.NONE on loopback."""
    _plain_server.reset()
    return _plain_server


@pytest.fixture
def smtp_mailer(pwrecovery_smtp_mailer: pr.SmtpMailer) -> pr.SmtpMailer:
    """The real mailer, trusting the test CA, with a short timeout."""
    return pwrecovery_smtp_mailer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "empresa.db"
