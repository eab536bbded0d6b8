"""The recovery story over real components: SQLite file, SMTP on loopback, Argon2id."""

from __future__ import annotations

import contextlib
from pathlib import Path

import attrs
import pytest

import pwrecovery as pr
from pwrecovery.testing.smtp import HOST, SmtpServer, free_port, silent_server
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    cheap_hasher,
    resave,
    temporary_password_in,
    verification_code_in,
)


def confirm_by_mail(
    service: pr.RecoveryService, server: SmtpServer, login: str, address: str
) -> None:
    service.set_recovery_email(login, address)
    service.confirm_recovery_email(login, verification_code_in(server.outbox[-1].message))


def ready_over_smtp(
    db_path: Path, mailer: pr.SmtpMailer, server: SmtpServer, key: str
) -> pr.RecoveryService:
    """SUPERVISOR and juan on a SQLite file, the supervisor's sender on the loopback server,
    both addresses confirmed with the codes the server received."""
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path), mailer=mailer, secret_key=key, hasher=cheap_hasher()
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    service.configure_sender("SUPERVISOR", server.settings(), SMTP_PASSWORD)
    confirm_by_mail(service, server, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_by_mail(service, server, "juan", "juan@empresa.mx")
    return service


def test_seed_flow_end_to_end(
    db_path: Path, starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """Users, a sender checked on save, verified addresses, Recuperar clave, forced change."""
    key = pr.generate_key()
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path), mailer=smtp_mailer, secret_key=key
    )  # the default hasher: real Argon2id parameters
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77", display_name="Juan Pérez")
    with pytest.raises(pr.SenderAuthenticationFailed):
        service.configure_sender("SUPERVISOR", starttls_server.settings(), "wrong")
    assert [] == service.senders()
    service.configure_sender("SUPERVISOR", starttls_server.settings(), SMTP_PASSWORD)
    confirm_by_mail(service, starttls_server, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_by_mail(service, starttls_server, "juan", "juan@empresa.mx")

    # Another workstation opens the same file: the mail configuration comes with it.
    workstation = pr.RecoveryService(
        store=pr.SqliteStore(db_path), mailer=smtp_mailer, secret_key=key
    )
    sent = workstation.request_recovery("juan", origin="CAJA-02")
    assert "j***@empresa.mx" == sent.masked_address
    received = starttls_server.outbox[-1]
    assert ["juan@empresa.mx"] == received.rcpt_tos
    temporary = temporary_password_in(received.message)

    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == workstation.authenticate("juan", temporary).status
    workstation.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == service.authenticate("juan", NEW_PASSWORD).status
    assert "password-changed" == starttls_server.outbox[-1].message["X-PwRecovery-Purpose"]
    stored = pr.SqliteStore(db_path).get_user("juan")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    kinds = [e.kind for e in service.audit_trail("juan")]
    assert kinds[-4:] == ["signed_in_with_temporary", "password_changed", "mail_sent", "signed_in"]


def test_failover_from_dead_supervisor_sender(
    db_path: Path,
    starttls_server: SmtpServer,
    ssl_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
) -> None:
    """§1.7: the supervisor's server is down, so the mail goes through the next sender."""
    key = pr.generate_key()
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=smtp_mailer,
        secret_key=key,
        hasher=cheap_hasher(),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    service.configure_sender("juan", ssl_server.settings("respaldo@empresa.mx"), "clave-respaldo-ñ")
    service.configure_sender("SUPERVISOR", starttls_server.settings(), SMTP_PASSWORD)
    confirm_by_mail(service, starttls_server, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_by_mail(service, starttls_server, "juan", "juan@empresa.mx")
    assert 2 == len(starttls_server.outbox)  # the supervisor's sender went first

    # The supervisor's server disappears: its saved settings now point at a closed port.
    dead = pr.SenderSettings(
        HOST, free_port(), pr.Security.STARTTLS, "envios@empresa.mx", "envios@empresa.mx"
    )
    store = pr.SqliteStore(db_path)
    (record,) = [r for r in store.list_senders() if r.account.owner == "SUPERVISOR"]
    resave(store, record, key, dead, SMTP_PASSWORD)
    service.request_recovery("juan")
    (received,) = ssl_server.outbox
    assert "temporary-password" == received.message["X-PwRecovery-Purpose"]
    failures = [e for e in service.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert ["sender_unreachable"] == [e.detail["reason"] for e in failures]


FAULTS = [
    "wrong_password",
    "untrusted_certificate",
    "server_gone",
    "timeout",
    "data_rejected",
    "dropped_mid_data",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_delivery_faults_lose_nothing(
    db_path: Path,
    starttls_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
    fault: str,
) -> None:
    """Whatever breaks on the way to the mail server, recovery fails cleanly over real SMTP:
    DeliveryFailed, no temporary password left, the old password works, the failure audited."""
    key = pr.generate_key()
    service = ready_over_smtp(db_path, smtp_mailer, starttls_server, key)
    service.request_recovery("juan")
    earlier = temporary_password_in(starttls_server.outbox[-1].message)

    mailer = smtp_mailer
    store = pr.SqliteStore(db_path)
    (record,) = store.list_senders()
    settings = record.account.settings
    silent = contextlib.ExitStack()
    if fault == "wrong_password":
        starttls_server.accounts["envios@empresa.mx"] = "changed on the server"
    elif fault == "untrusted_certificate":
        mailer = pr.SmtpMailer(timeout=5.0)
    elif fault == "server_gone":
        settings = attrs.evolve(settings, port=free_port())
    elif fault == "timeout":
        mailer = pr.SmtpMailer(timeout=0.5)
        settings = attrs.evolve(settings, port=silent.enter_context(silent_server()))
    elif fault == "data_rejected":
        starttls_server.reject_data = True
    else:
        starttls_server.drop_during_data = True
    resave(store, record, key, settings, SMTP_PASSWORD)
    broken = pr.RecoveryService(store=store, mailer=mailer, secret_key=key, hasher=cheap_hasher())
    received = len(starttls_server.outbox)
    try:
        with pytest.raises(pr.DeliveryFailed):
            broken.request_recovery("juan")
    finally:
        silent.close()
        starttls_server.accounts["envios@empresa.mx"] = SMTP_PASSWORD

    assert received == len(starttls_server.outbox)
    with pytest.raises(pr.InvalidCredentials):
        broken.authenticate("juan", earlier)
    assert pr.LoginStatus.OK == broken.authenticate("juan", "Caballo azul 77").status
    kinds = [e.kind for e in broken.audit_trail("juan")]
    assert {"delivery_attempt_failed", "delivery_failed", "temporary_password_withdrawn"} <= set(
        kinds
    )


def test_queued_recovery_over_real_smtp(
    db_path: Path, starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """The request commits, the worker sends through the loopback server, the password works."""
    service = ready_over_smtp(db_path, smtp_mailer, starttls_server, pr.generate_key())
    received = len(starttls_server.outbox)
    service.request_recovery("juan", delivery="queued")
    assert received == len(starttls_server.outbox)
    assert pr.DeliveryReport(sent=1) == service.deliver_pending()
    temporary = temporary_password_in(starttls_server.outbox[-1].message)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
