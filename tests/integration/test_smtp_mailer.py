"""SmtpMailer against a real SMTP server on loopback (aiosmtpd), faults included."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, compose
from pwrecovery.testing.smtp import (
    HOST,
    SmtpServer,
    free_port,
    make_certificates,
    running_smtp_server,
    silent_server,
)
from tests.helpers import SMTP_PASSWORD, temporary_password_in

NOW = pr.ManualClock().now()


def mail(settings: pr.SenderSettings, to: str = "juan@empresa.mx") -> EmailMessage:
    content = MailContent(
        purpose=pr.Purpose.TEMPORARY_PASSWORD,
        to_address=to,
        to_name="Juan Pérez",
        login="juan",
        secret="Ab3dEf7hJk9m",
        expires_at=NOW,
    )
    return compose(content, settings, now=NOW, message_token="0123456789abcdef")


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_send_over_tls(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """STARTTLS and implicit TLS both log in and deliver the message intact to one recipient."""
    server: SmtpServer = request.getfixturevalue(server_name)
    settings = server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    (received,) = server.outbox
    assert ("envios@empresa.mx", ["juan@empresa.mx"]) == (received.mail_from, received.rcpt_tos)
    assert "Ab3dEf7hJk9m" == temporary_password_in(received.message)
    assert "temporary-password" == received.message["X-PwRecovery-Purpose"]
    assert ["envios@empresa.mx"] == server.logins


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_verify_logs_in_and_sends_nothing(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """verify() logs in and quits: the login is seen, no mail is sent."""
    server: SmtpServer = request.getfixturevalue(server_name)
    smtp_mailer.verify(server.settings(), SMTP_PASSWORD)
    assert (["envios@empresa.mx"], []) == (server.logins, server.outbox)


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_wrong_password(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """A 535 from the server is SenderAuthenticationFailed, and nothing is sent."""
    server: SmtpServer = request.getfixturevalue(server_name)
    settings = server.settings()
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.send(settings, "wrong", mail(settings))
    assert HOST == caught.value.host
    assert [] == server.outbox


def test_non_ascii_password(starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """A password with ñ logs in (AUTH in UTF-8; smtplib alone would fail on it)."""
    smtp_mailer.verify(starttls_server.settings("respaldo@empresa.mx"), "clave-respaldo-ñ")
    assert ["respaldo@empresa.mx"] == starttls_server.logins


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_untrusted_certificate(request: pytest.FixtureRequest, server_name: str) -> None:
    """The default context verifies certificates: a private CA is refused, no login is tried."""
    server: SmtpServer = request.getfixturevalue(server_name)
    with pytest.raises(pr.SenderUnreachable) as caught:
        pr.SmtpMailer(timeout=5.0).verify(server.settings(), SMTP_PASSWORD)
    assert "certificate" == caught.value.reason
    assert [] == server.logins


def test_hostname_is_checked(tmp_path: Path) -> None:
    """A certificate from a trusted CA but for another name is refused: hostnames are checked."""
    other = make_certificates(tmp_path, names=("mail.example.invalid",))
    with running_smtp_server("starttls", other, {"a@b.mx": SMTP_PASSWORD}) as server:
        mailer = pr.SmtpMailer(timeout=5.0, ssl_context=other.client_context())
        with pytest.raises(pr.SenderUnreachable) as caught:
            mailer.verify(server.settings("a@b.mx"), SMTP_PASSWORD)
        assert "certificate" == caught.value.reason
        assert [] == server.logins


def test_starttls_not_offered(plain_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """STARTTLS mode refuses a server that does not offer it; it never falls back to plaintext."""
    settings = plain_server.settings(security=pr.Security.STARTTLS)
    with pytest.raises(pr.SenderUnreachable) as caught:
        smtp_mailer.verify(settings, SMTP_PASSWORD)
    assert "starttls_unsupported" == caught.value.reason
    assert [] == plain_server.logins


def test_plaintext_to_loopback(plain_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """Security.NONE works against a loopback server (for local relays)."""
    settings = plain_server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    assert 1 == len(plain_server.outbox)


def test_plaintext_to_remote_refused_before_connecting(smtp_mailer: pr.SmtpMailer) -> None:
    """Security.NONE to a non-loopback host is refused without opening a connection."""
    settings = pr.SenderSettings("192.0.2.1", 25, pr.Security.NONE, "a@b.mx", "a@b.mx")
    started = time.monotonic()
    with pytest.raises(pr.SenderUnreachable) as caught:
        smtp_mailer.verify(settings, SMTP_PASSWORD)
    assert "plaintext_refused" == caught.value.reason
    assert time.monotonic() - started < 1.0


def test_server_gone(smtp_mailer: pr.SmtpMailer) -> None:
    """Nothing listening: SenderUnreachable(connection)."""
    settings = pr.SenderSettings(HOST, free_port(), pr.Security.SSL, "a@b.mx", "a@b.mx")
    with pytest.raises(pr.SenderUnreachable) as caught:
        smtp_mailer.verify(settings, SMTP_PASSWORD)
    assert "connection" == caught.value.reason


@pytest.mark.parametrize("security", [pr.Security.STARTTLS, pr.Security.SSL])
def test_server_that_never_answers(security: pr.Security) -> None:
    """A server that accepts and stays silent ends in SenderUnreachable(timeout), in time."""
    with silent_server() as port:
        settings = pr.SenderSettings(HOST, port, security, "a@b.mx", "a@b.mx")
        started = time.monotonic()
        with pytest.raises(pr.SenderUnreachable) as caught:
            pr.SmtpMailer(timeout=0.5).verify(settings, SMTP_PASSWORD)
    assert "timeout" == caught.value.reason
    assert time.monotonic() - started < 5.0


def test_data_rejected(starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """A refusal of the message is DeliveryFailed, so the service moves to the next sender."""
    starttls_server.reject_data = True
    settings = starttls_server.settings()
    with pytest.raises(pr.DeliveryFailed):
        smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    assert [] == starttls_server.outbox


def test_connection_dropped_mid_data(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A connection dropped during DATA is a pwrecovery error, never an smtplib one."""
    starttls_server.drop_during_data = True
    settings = starttls_server.settings()
    with pytest.raises(pr.PwRecoveryError) as caught:
        smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    assert caught.value.code in {"sender_unreachable", "delivery_failed"}
    assert [] == starttls_server.outbox


def test_internationalised_recipient(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """An SMTPUTF8 recipient is delivered when the server offers SMTPUTF8."""
    settings = starttls_server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings, to="josé@empresa.mx"))
    assert ["josé@empresa.mx"] == starttls_server.outbox[0].rcpt_tos


def test_message_with_two_recipients_is_refused(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """The mailer refuses a message with a second recipient before connecting."""
    settings = starttls_server.settings()
    message = mail(settings)
    message["Cc"] = "otro@empresa.mx"
    with pytest.raises(pr.DeliveryFailed):
        smtp_mailer.send(settings, SMTP_PASSWORD, message)
    assert ([], []) == (starttls_server.logins, starttls_server.outbox)
