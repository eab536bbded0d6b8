"""How a host tests its own login window with pwrecovery's test kit."""

from datetime import timedelta

import pytest

import pwrecovery as pr
from pwrecovery.testing import cheap_hasher, temporary_password_in, verification_code_in
from pwrecovery.testing.plugin import SMTP_PASSWORD, SMTP_USERNAME
from pwrecovery.testing.smtp import SmtpServer


@pytest.fixture
def service(
    pwrecovery_smtp_server: SmtpServer,
    pwrecovery_smtp_mailer: pr.SmtpMailer,
    pwrecovery_clock: pr.ManualClock,
) -> pr.RecoveryService:
    """The host's service, wired to the real SMTP server on loopback and a manual clock."""
    service = pr.RecoveryService(
        store=pr.InMemoryStore(),
        mailer=pwrecovery_smtp_mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),  # only for tests
        clock=pwrecovery_clock,
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("ana", "Clave de Ana 2026")
    service.configure_sender(
        "SUPERVISOR", pwrecovery_smtp_server.settings(SMTP_USERNAME), SMTP_PASSWORD
    )
    for login in ("SUPERVISOR", "ana"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        code = verification_code_in(pwrecovery_smtp_server.outbox[-1].message)
        service.confirm_recovery_email(login, code)
    return service


def test_temporary_password_expires_after_seven_days(
    service: pr.RecoveryService,
    pwrecovery_smtp_server: SmtpServer,
    pwrecovery_clock: pr.ManualClock,
) -> None:
    service.request_recovery("ana")
    temporary = temporary_password_in(pwrecovery_smtp_server.outbox[-1].message)
    pwrecovery_clock.advance(timedelta(days=7))
    with pytest.raises(pr.TemporaryPasswordExpired):
        service.authenticate("ana", temporary)


def test_mail_server_down_is_reported(
    service: pr.RecoveryService, pwrecovery_smtp_server: SmtpServer
) -> None:
    pwrecovery_smtp_server.data_reply = "451 4.3.0 Mail system busy, try again later"
    with pytest.raises(pr.DeliveryFailed) as caught:
        service.request_recovery("ana")
    assert "inténtalo más tarde" in str(caught.value)
