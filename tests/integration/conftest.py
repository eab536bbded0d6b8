"""Fixtures with real components: SMTP servers on loopback and SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pwrecovery as pr
from tests.helpers import SMTP_PASSWORD
from tests.smtp_server import Certificates, SmtpTestServer, make_certificates, running_server

ACCOUNTS = {"envios@empresa.mx": SMTP_PASSWORD, "respaldo@empresa.mx": "clave-respaldo-ñ"}


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def _starttls_server(certificates: Certificates) -> Iterator[SmtpTestServer]:
    with running_server("starttls", certificates, ACCOUNTS) as server:
        yield server


@pytest.fixture(scope="session")
def _ssl_server(certificates: Certificates) -> Iterator[SmtpTestServer]:
    with running_server("ssl", certificates, ACCOUNTS) as server:
        yield server


@pytest.fixture(scope="session")
def _plain_server(certificates: Certificates) -> Iterator[SmtpTestServer]:
    with running_server("plain", certificates, ACCOUNTS) as server:
        yield server


@pytest.fixture
def starttls_server(_starttls_server: SmtpTestServer) -> SmtpTestServer:
    """STARTTLS + AUTH on loopback, fresh outbox and switches for each test."""
    _starttls_server.reset()
    return _starttls_server


@pytest.fixture
def ssl_server(_ssl_server: SmtpTestServer) -> SmtpTestServer:
    """Implicit TLS + AUTH on loopback."""
    _ssl_server.reset()
    return _ssl_server


@pytest.fixture
def plain_server(_plain_server: SmtpTestServer) -> SmtpTestServer:
    """No TLS at all (no STARTTLS offered), AUTH allowed: for Security.NONE on loopback."""
    _plain_server.reset()
    return _plain_server


@pytest.fixture
def smtp_mailer(certificates: Certificates) -> pr.SmtpMailer:
    """The real mailer, trusting the test CA, with a short timeout."""
    return pr.SmtpMailer(timeout=5.0, ssl_context=certificates.client_context())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "empresa.db"
