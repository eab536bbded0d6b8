"""Queued delivery on a real SQLite file: over real SMTP, and with two worker processes."""

from __future__ import annotations

from pathlib import Path

import pwrecovery as pr
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import SmtpServer
from tests.helpers import SMTP_PASSWORD, cheap_hasher


def test_queued_recovery_over_real_smtp(
    db_path: Path, starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """The request commits, the worker sends through the loopback server, the password works."""
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=smtp_mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    service.configure_sender("SUPERVISOR", starttls_server.settings(), SMTP_PASSWORD)
    for login in ("SUPERVISOR", "juan"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        service.confirm_recovery_email(
            login, verification_code_in(starttls_server.outbox[-1].message)
        )
    received = len(starttls_server.outbox)
    service.request_recovery("juan", delivery="queued")
    assert received == len(starttls_server.outbox)
    assert pr.DeliveryReport(sent=1) == service.deliver_pending()
    temporary = temporary_password_in(starttls_server.outbox[-1].message)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
