"""SmtpMailer against a real SMTP server on loopback (aiosmtpd), faults included."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, compose
from pwrecovery._secret import Secret
from pwrecovery.adapters.smtp import GREETING_WAIT, TRANSLATIONS, Step, Where, translation
from pwrecovery.testing import cheap_hasher
from pwrecovery.testing.smtp import (
    HOST,
    Certificates,
    SmtpServer,
    free_port,
    make_certificates,
    running_smtp_server,
    silent_server,
)
from tests.helpers import SMTP_PASSWORD, temporary_password_in

NOW = pr.ManualClock().now()
TEMPORARY = "Kx7P-mQ2z-H9aB"
SENDER = "envios@empresa.mx"
M365_TENANT_OFF = (
    "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for"
    " the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."
)
M365_CLIENT_SUBMISSION_OFF = (
    "550 5.7.30 Basic authentication is not supported for Client Submission."
)
NOT_OWNED = "553 5.7.1 <envios@empresa.mx>: Sender address rejected: not owned by user otro"


def mail(settings: pr.SenderSettings, to: str = "juan@empresa.mx") -> EmailMessage:
    content = MailContent(
        purpose=pr.Purpose.TEMPORARY_PASSWORD,
        to_address=to,
        to_name="Juan Pérez",
        login="juan",
        expires_at=NOW,
    )
    return compose(
        content, settings, now=NOW, message_token="0123456789abcdef", secret=Secret(TEMPORARY)
    )


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def either_server(starttls_server: SmtpServer, request: pytest.FixtureRequest) -> SmtpServer:
    """The STARTTLS server, once offering PIPELINING (as Postfix, Exchange Online and Gmail
    do) and once not: every exchange and fault below holds on both paths."""
    starttls_server.pipelining = request.param
    return starttls_server


@pytest.fixture
def cram_server(certificates: Certificates) -> Iterator[SmtpServer]:
    """STARTTLS with CRAM-MD5 only: the mailer falls back to smtplib's ``login``."""
    with running_smtp_server(
        "starttls",
        certificates,
        {SENDER: SMTP_PASSWORD},
        without_auth=("PLAIN", "LOGIN"),
        with_auth=("CRAM-MD5",),
    ) as server:
        yield server


@pytest.fixture
def login_only_server(certificates: Certificates) -> Iterator[SmtpServer]:
    """STARTTLS offering AUTH LOGIN and no PLAIN."""
    with running_smtp_server(
        "starttls", certificates, {SENDER: SMTP_PASSWORD}, without_auth=("PLAIN",)
    ) as server:
        yield server


# -- sending and verifying ---------------------------------------------------------------


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_send_over_tls(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """STARTTLS and implicit TLS both log in and deliver the message intact to one recipient."""
    server: SmtpServer = request.getfixturevalue(server_name)
    settings = server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    (received,) = server.outbox
    assert (SENDER, ["juan@empresa.mx"]) == (received.mail_from, received.rcpt_tos)
    assert TEMPORARY == temporary_password_in(received.message)
    assert "temporary-password" == received.message["X-PwRecovery-Purpose"]
    assert [SENDER] == server.logins


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_verify_logs_in_offers_the_from_address_and_sends_nothing(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """verify() logs in and offers the From address at MAIL FROM (then RSET): the login
    and the address are seen, no mail is sent."""
    server: SmtpServer = request.getfixturevalue(server_name)
    smtp_mailer.verify(server.settings(), SMTP_PASSWORD)
    assert ([SENDER], [SENDER], []) == (server.logins, server.mail_from, server.outbox)


def test_verify_refused_from_address(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A From address the server refuses at MAIL FROM (Postfix's
    reject_sender_login_mismatch: 553 5.7.1) is SenderAddressRefused with the reply code."""
    starttls_server.refused_senders[SENDER] = NOT_OWNED
    with pytest.raises(pr.SenderAddressRefused) as caught:
        smtp_mailer.verify(starttls_server.settings(), SMTP_PASSWORD)
    assert (HOST, SENDER, 553) == (caught.value.host, caught.value.address, caught.value.reply_code)
    assert "(respuesta del servidor: 553)" in str(caught.value)
    assert [] == starttls_server.outbox


@pytest.mark.parametrize("server_name", ["starttls_server", "ssl_server"])
def test_wrong_password(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str
) -> None:
    """A 535 5.7.8 from the server is SenderAuthenticationFailed, and nothing is sent."""
    server: SmtpServer = request.getfixturevalue(server_name)
    settings = server.settings()
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.send(settings, "wrong", mail(settings))
    assert (HOST, pr.SenderAuthenticationFailed) == (caught.value.host, type(caught.value))
    assert [] == server.outbox


def test_non_ascii_password(starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """A password with ñ logs in (AUTH in UTF-8; smtplib alone would fail on it)."""
    smtp_mailer.verify(starttls_server.settings("respaldo@empresa.mx"), "clave-respaldo-ñ")
    assert ["respaldo@empresa.mx"] == starttls_server.logins


def test_cram_md5_through_smtplib_login(
    cram_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A server offering neither PLAIN nor LOGIN is logged in to by smtplib's own login
    (CRAM-MD5 here), and a wrong password there is SenderAuthenticationFailed."""
    settings = cram_server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.verify(settings, "wrong")
    assert pr.SenderAuthenticationFailed is type(caught.value)
    assert ([SENDER, SENDER], 1) == (cram_server.logins, len(cram_server.outbox))


# -- Microsoft 365 with basic authentication off --------------------------------------------


@pytest.mark.parametrize("reply", [M365_TENANT_OFF, M365_CLIENT_SUBMISSION_OFF])
@pytest.mark.parametrize("server_name", ["starttls_server", "login_only_server", "cram_server"])
def test_basic_auth_disabled(
    request: pytest.FixtureRequest, smtp_mailer: pr.SmtpMailer, server_name: str, reply: str
) -> None:
    """535 5.7.139 and 550 5.7.30 (Microsoft 365 with basic authentication off) are
    BasicAuthDisabled, a SenderAuthenticationFailed, whether the login went by AUTH
    PLAIN, AUTH LOGIN or smtplib's own login (CRAM-MD5)."""
    server: SmtpServer = request.getfixturevalue(server_name)
    server.auth_reply = reply
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.verify(server.settings(), SMTP_PASSWORD)
    assert (pr.BasicAuthDisabled, HOST) == (type(caught.value), caught.value.host)
    assert "OAuth 2.0" in str(caught.value)
    assert [] == server.mail_from


def test_other_enhanced_codes_are_a_wrong_password(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A 535 with another enhanced status (5.7.3, 5.7.8) stays a plain wrong password."""
    starttls_server.auth_reply = "535 5.7.3 Authentication unsuccessful"
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.verify(starttls_server.settings(), SMTP_PASSWORD)
    assert pr.SenderAuthenticationFailed is type(caught.value)


def test_xoauth2_refused_with_5_7_139_is_not_basic_auth(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """An OAuth 2.0 sender refused with 5.7.139 is told its login failed, not to switch to
    OAuth 2.0, which it already uses (the tenant refuses SMTP AUTH altogether)."""
    settings = pr.SenderSettings(
        HOST,
        starttls_server.port,
        pr.Security.STARTTLS,
        SENDER,
        SENDER,
        authentication=pr.Authentication.XOAUTH2,
    )
    starttls_server.tokens[SENDER] = "token"
    smtp_mailer.verify(settings, "token")
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        smtp_mailer.verify(settings, "expired")
    assert pr.SenderAuthenticationFailed is type(caught.value)


# -- certificates, TLS modes and ports ---------------------------------------------------


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


@pytest.mark.parametrize("security", [pr.Security.STARTTLS, pr.Security.NONE])
def test_starttls_on_an_implicit_tls_port_is_named_in_seconds(
    ssl_server: SmtpServer, certificates: Certificates, security: pr.Security
) -> None:
    """STARTTLS (or no TLS) pointed at an implicit-TLS port: no greeting comes, the port
    answers a TLS handshake, so the error says the port expects SSL, after the short
    greeting wait and not after the 30 s timeout."""
    mailer = pr.SmtpMailer(timeout=30.0, ssl_context=certificates.client_context())
    started = time.monotonic()
    with pytest.raises(pr.SenderUnreachable) as caught:
        mailer.verify(ssl_server.settings(security=security), SMTP_PASSWORD)
    elapsed = time.monotonic() - started
    assert ("expects_ssl", []) == (caught.value.reason, ssl_server.logins)
    assert GREETING_WAIT <= elapsed < GREETING_WAIT + 2.0
    assert f"el puerto {ssl_server.port} espera una conexión SSL" in str(caught.value)


def test_ssl_on_a_starttls_port_is_named_at_once(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """Security.SSL pointed at a STARTTLS port: the TLS handshake meets a plaintext
    greeting, and the error says the port expects STARTTLS, at once."""
    started = time.monotonic()
    with pytest.raises(pr.SenderUnreachable) as caught:
        smtp_mailer.verify(starttls_server.settings(security=pr.Security.SSL), SMTP_PASSWORD)
    assert ("expects_starttls", []) == (caught.value.reason, starttls_server.logins)
    assert time.monotonic() - started < 2.0


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
    """A server that accepts and stays silent (and speaks no TLS either) ends in
    SenderUnreachable(timeout), in time."""
    with silent_server() as port:
        settings = pr.SenderSettings(HOST, port, security, "a@b.mx", "a@b.mx")
        started = time.monotonic()
        with pytest.raises(pr.SenderUnreachable) as caught:
            pr.SmtpMailer(timeout=0.5).verify(settings, SMTP_PASSWORD)
    assert "timeout" == caught.value.reason
    assert time.monotonic() - started < 5.0


# -- refusals: for good or for now ---------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "reply", "expected"),
    [
        ("recipient", "550 5.1.1 <juan@empresa.mx>: Recipient address rejected", 550),
        ("recipient", "450 4.2.1 <juan@empresa.mx>: Mailbox busy, try later", 450),
        ("data", "554 5.6.0 Message refused by policy", 554),
        ("data", "451 4.3.0 Temporary failure, try later", 451),
        ("sender", NOT_OWNED, 553),
        ("sender", "451 4.3.0 <envios@empresa.mx>: Temporary lookup failure", 451),
    ],
)
def test_refusal_is_for_good_on_5xx_and_for_now_on_4xx(
    either_server: SmtpServer, smtp_mailer: pr.SmtpMailer, switch: str, reply: str, expected: int
) -> None:
    """A 5xx refusal of MAIL, RCPT or DATA is DeliveryRejected (retrying will not help), a
    4xx one DeliveryFailed (it may pass later); both carry the server's reply code."""
    if switch == "recipient":
        either_server.refused_recipients["juan@empresa.mx"] = reply
    elif switch == "data":
        either_server.data_reply = reply
    else:
        either_server.refused_senders[SENDER] = reply
    settings = either_server.settings()
    with pytest.raises(pr.DeliveryFailed) as caught:
        smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    permanent = expected >= 500
    assert (expected, permanent, 1) == (
        caught.value.reply_code,
        isinstance(caught.value, pr.DeliveryRejected),
        caught.value.attempts,
    )
    assert [] == either_server.outbox


def test_utf8_recipient_without_smtputf8_is_refused_for_good(certificates: Certificates) -> None:
    """A recipient with a UTF-8 local part, on a server that does not offer SMTPUTF8:
    refused for good (DeliveryRejected, 555, reason smtputf8_unsupported) before MAIL
    FROM, and the sentence says why."""
    with running_smtp_server(
        "starttls", certificates, {SENDER: SMTP_PASSWORD}, smtputf8=False
    ) as server:
        mailer = pr.SmtpMailer(timeout=5.0, ssl_context=certificates.client_context())
        settings = server.settings()
        with pytest.raises(pr.DeliveryRejected) as caught:
            mailer.send(settings, SMTP_PASSWORD, mail(settings, to="josé@empresa.mx"))
        mailer.send(settings, SMTP_PASSWORD, mail(settings))  # an ASCII one still goes
        assert ([SENDER], 1) == (server.mail_from, len(server.outbox))
    assert (555, "smtputf8_unsupported") == (caught.value.reply_code, caught.value.reason)
    assert "no ofrece SMTPUTF8" in str(caught.value)


def test_utf8_from_address_is_checked_with_smtputf8(certificates: Certificates) -> None:
    """A From address with a UTF-8 local part is offered with SMTPUTF8 when the server has
    it, and refused on save (SenderAddressRefused, 555) when it has not."""
    utf8_sender = "envíos@empresa.mx"
    for smtputf8 in (True, False):
        with running_smtp_server(
            "starttls", certificates, {SENDER: SMTP_PASSWORD}, smtputf8=smtputf8
        ) as server:
            mailer = pr.SmtpMailer(timeout=5.0, ssl_context=certificates.client_context())
            settings = pr.SenderSettings(
                HOST, server.port, pr.Security.STARTTLS, SENDER, utf8_sender
            )
            if smtputf8:
                mailer.verify(settings, SMTP_PASSWORD)
                assert [utf8_sender] == server.mail_from
            else:
                with pytest.raises(pr.SenderAddressRefused) as caught:
                    mailer.verify(settings, SMTP_PASSWORD)
                assert (utf8_sender, 555, []) == (
                    caught.value.address,
                    caught.value.reply_code,
                    server.mail_from,
                )


def test_internationalised_recipient(either_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """An SMTPUTF8 recipient is delivered when the server offers SMTPUTF8."""
    settings = either_server.settings()
    smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings, to="josé@empresa.mx"))
    assert ["josé@empresa.mx"] == either_server.outbox[0].rcpt_tos


def test_connection_dropped_mid_data(either_server: SmtpServer, smtp_mailer: pr.SmtpMailer) -> None:
    """A connection dropped during DATA is SenderUnreachable, never an smtplib error."""
    either_server.drop_during_data = True
    settings = either_server.settings()
    with pytest.raises(pr.SenderUnreachable) as caught:
        smtp_mailer.send(settings, SMTP_PASSWORD, mail(settings))
    assert "connection" == caught.value.reason
    assert [] == either_server.outbox


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


# -- sessions ------------------------------------------------------------------------------


def test_session_sends_many_messages_with_one_login(
    either_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A session logs in once and sends each message as its own transaction."""
    settings = either_server.settings()
    recipients = ["juan@empresa.mx", "ana@empresa.mx", "pedro@empresa.mx"]
    assert isinstance(smtp_mailer, pr.SessionMailer)
    with smtp_mailer.session(settings, SMTP_PASSWORD) as session:
        for recipient in recipients:
            session.send(mail(settings, to=recipient))
    assert [SENDER] == either_server.logins
    assert [[r] for r in recipients] == [m.rcpt_tos for m in either_server.outbox]


def test_envelope_goes_in_one_write_when_the_server_offers_pipelining(
    either_server: SmtpServer, smtp_mailer: pr.SmtpMailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PIPELINING, MAIL FROM, RCPT TO and DATA leave together and the message after
    the 354: two writes and one wait for the envelope; without it, one write per command."""
    writes: list[bytes] = []
    original = smtplib.SMTP.send

    def recorded(smtp: smtplib.SMTP, data: bytes | str) -> None:
        writes.append(data if isinstance(data, bytes) else data.encode())
        original(smtp, data)

    settings = either_server.settings()
    with smtp_mailer.session(settings, SMTP_PASSWORD) as session:
        message = mail(settings)
        monkeypatch.setattr(smtplib.SMTP, "send", recorded)
        session.send(message)
        monkeypatch.undo()
    size = len(either_server.outbox[0].raw)
    envelope = f"MAIL FROM:<{SENDER}> SIZE={size}\r\nRCPT TO:<juan@empresa.mx>\r\nDATA\r\n"
    if either_server.pipelining:
        assert [envelope.encode()] == writes[:1]
        assert 2 == len(writes)
    else:
        # smtplib's own spelling of the commands changes between Python versions.
        one_by_one = [f"mail from:<{SENDER}> size={size}", "rcpt to:<juan@empresa.mx>", "data"]
        assert [line.encode() + b"\r\n" for line in one_by_one] == [w.lower() for w in writes[:3]]
        assert 4 == len(writes)
    assert writes[-1].endswith(b"\r\n.\r\n")


@pytest.mark.parametrize("switch", ["recipient", "data"])
def test_refused_message_leaves_the_session_usable(
    either_server: SmtpServer, smtp_mailer: pr.SmtpMailer, switch: str
) -> None:
    """A message refused at RCPT or at DATA does not stop the next one in the session."""
    settings = either_server.settings()
    with smtp_mailer.session(settings, SMTP_PASSWORD) as session:
        session.send(mail(settings, to="juan@empresa.mx"))
        if switch == "recipient":
            either_server.refused_recipients["ana@empresa.mx"] = "550 5.1.1 unknown"
        else:
            either_server.data_reply = "554 5.7.1 spam"
        with pytest.raises(pr.DeliveryRejected):
            session.send(mail(settings, to="ana@empresa.mx"))
        either_server.data_reply = None
        session.send(mail(settings, to="pedro@empresa.mx"))
    assert [["juan@empresa.mx"], ["pedro@empresa.mx"]] == [m.rcpt_tos for m in either_server.outbox]
    assert [SENDER] == either_server.logins


def test_session_closed_by_the_server(
    either_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """A server that takes two messages per connection answers the third MAIL FROM with
    421 and hangs up: that message failed for now, and the session is lost."""
    either_server.messages_per_session = 2
    settings = either_server.settings()
    with smtp_mailer.session(settings, SMTP_PASSWORD) as session:
        session.send(mail(settings))
        session.send(mail(settings))
        with pytest.raises(pr.DeliveryFailed) as closing:
            session.send(mail(settings))
        with pytest.raises(pr.SenderUnreachable) as lost:
            session.send(mail(settings))
    assert (421, False) == (
        closing.value.reply_code,
        isinstance(closing.value, pr.DeliveryRejected),
    )
    assert ("connection", 2) == (lost.value.reason, len(either_server.outbox))


def test_caller_errors_inside_a_session_are_not_translated(
    starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """An error raised by the caller inside the with block leaves as it is; the session
    still quits."""
    with (
        pytest.raises(ConnectionResetError),
        smtp_mailer.session(starttls_server.settings(), SMTP_PASSWORD),
    ):
        raise ConnectionResetError
    assert [SENDER] == starttls_server.logins


# -- the translation table ---------------------------------------------------------------


SETTINGS = pr.SenderSettings("smtp.empresa.mx", 587, pr.Security.STARTTLS, SENDER, SENDER)


def _translate(error: BaseException, step: Step = Step.LOG_IN) -> pr.PwRecoveryError:
    factory = translation(error)
    assert factory is not None
    return factory(error, Where(SETTINGS, step))


def _every_exception_type(root: type[BaseException]) -> list[type[BaseException]]:
    found, waiting = [], [root]
    while waiting:
        kind = waiting.pop()
        found.append(kind)
        waiting.extend(kind.__subclasses__())
    return found


@pytest.mark.parametrize(
    "kind",
    sorted(
        {k for k in _every_exception_type(OSError) if k.__module__ in {"smtplib", "ssl", "socket"}}
        | {TimeoutError, ConnectionRefusedError, UnicodeEncodeError, ValueError},
        key=lambda k: k.__name__,
    ),
    ids=lambda k: k.__name__,
)
def test_every_smtplib_ssl_and_socket_error_has_a_translation(kind: type[BaseException]) -> None:
    """Whatever smtplib, ssl or socket raise, the table holds a translation for it."""
    assert translation(kind.__new__(kind)) is not None


@pytest.mark.parametrize(
    ("error", "step", "expected"),
    [
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Error"), Step.LOG_IN, "sender_auth_failed"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.139 off"), Step.LOG_IN, "basic_auth_disabled"),
        (smtplib.SMTPAuthenticationError(550, b"5.7.30 Basic"), Step.LOG_IN, "basic_auth_disabled"),
        (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temp"), Step.LOG_IN, "protocol"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 no", SENDER), Step.CHECK_FROM, "553"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 no", SENDER), Step.SEND, "rejected 553"),
        (smtplib.SMTPSenderRefused(452, b"4.3.1 full", SENDER), Step.SEND, "failed 452"),
        (smtplib.SMTPRecipientsRefused({"a@b.mx": (550, b"no")}), Step.SEND, "rejected 550"),
        (smtplib.SMTPDataError(451, b"later"), Step.SEND, "failed 451"),
        (smtplib.SMTPNotSupportedError(), Step.SEND, "rejected 555"),
        (smtplib.SMTPNotSupportedError(), Step.LOG_IN, "auth_unsupported"),
        (smtplib.SMTPServerDisconnected(), Step.SEND, "connection"),
        (smtplib.SMTPConnectError(554, b"go away"), Step.CONNECT, "protocol"),
        (ssl.SSLCertVerificationError(), Step.CONNECT, "certificate"),
        (ssl.SSLError(), Step.CONNECT, "tls"),
        (TimeoutError(), Step.CONNECT, "timeout"),
        (socket.gaierror(), Step.CONNECT, "connection"),
        (ConnectionRefusedError(), Step.CONNECT, "connection"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_the_most_specific_translation_wins(
    error: BaseException, step: Step, expected: str
) -> None:
    """Each exception gets the translation of the most specific type the table holds:
    a certificate error is not a TLS error, a timeout not a connection error."""
    translated = _translate(error, step)
    if isinstance(translated, pr.DeliveryFailed):
        kind = "rejected" if isinstance(translated, pr.DeliveryRejected) else "failed"
        actual = f"{kind} {translated.reply_code}"
    elif isinstance(translated, pr.SenderAddressRefused):
        actual = str(translated.reply_code)
    elif isinstance(translated, pr.SenderUnreachable):
        actual = translated.reason
    else:
        actual = translated.code
    assert expected == actual


def test_the_table_is_one_mapping_of_types() -> None:
    """The translations are one table, exception type to factory, with no two entries
    for one type and smtplib's root error among them."""
    assert smtplib.SMTPException in TRANSLATIONS
    assert all(isinstance(kind, type) for kind in TRANSLATIONS)


def test_unknown_exceptions_are_not_translated() -> None:
    """What is not an smtplib, ssl or socket error (a bug) is left as it is."""
    assert translation(KeyError("x")) is None


# -- through the service -----------------------------------------------------------------


def service_over(
    db_path: Path, server: SmtpServer, mailer: pr.SmtpMailer, **options: object
) -> pr.RecoveryService:
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
        **options,  # type: ignore[arg-type]
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    del server
    return service


def test_saving_a_sender_with_a_refused_from_address(
    db_path: Path, starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """configure_sender proves the From address: refused at MAIL FROM, nothing is saved
    and the refusal is audited with the server's reply code."""
    service = service_over(db_path, starttls_server, smtp_mailer)
    starttls_server.refused_senders[SENDER] = NOT_OWNED
    with pytest.raises(pr.SenderAddressRefused) as caught:
        service.configure_sender("SUPERVISOR", starttls_server.settings(), SMTP_PASSWORD)
    assert (553, []) == (caught.value.reply_code, service.senders())
    refused = service.audit_trail()[-1]
    assert ("sender_refused", "sender_address_refused", "553") == (
        refused.kind,
        refused.detail["reason"],
        refused.detail["reply"],
    )


def test_readiness_reports_a_refused_from_address(
    db_path: Path, starttls_server: SmtpServer, smtp_mailer: pr.SmtpMailer
) -> None:
    """readiness(verify_senders=True) checks the From address too: a sender whose address
    the server now refuses is failing."""
    service = service_over(db_path, starttls_server, smtp_mailer)
    account = service.configure_sender("SUPERVISOR", starttls_server.settings(), SMTP_PASSWORD)
    starttls_server.refused_senders[SENDER] = NOT_OWNED
    readiness = service.readiness(verify_senders=True)
    assert ((account.id, "sender_address_refused"),) == readiness.failing_senders
