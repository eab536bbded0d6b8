"""RecordingMailer: records what it sends, refuses what SmtpMailer does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, compose
from pwrecovery._secret import Secret
from tests.helpers import SMTP_PASSWORD, sender_settings

USERNAME = "envios@empresa.mx"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _mailer(**options: object) -> pr.RecordingMailer:
    return pr.RecordingMailer(passwords={USERNAME: SMTP_PASSWORD}, **options)  # type: ignore[arg-type]


def _message(to_address: str = "juan@empresa.mx") -> EmailMessage:
    content = MailContent(
        purpose=pr.Purpose.TEMPORARY_PASSWORD,
        to_address=to_address,
        to_name="Juan",
        login="juan",
        expires_at=NOW + timedelta(days=7),
    )
    return compose(
        content, sender_settings(), now=NOW, message_token="tok", secret=Secret("Kx7P-mQ2z-H9aB")
    )


def _nothing_recorded(mailer: pr.RecordingMailer) -> bool:
    return [] == mailer.outbox and [] == mailer.sent_through


def test_send_records_the_message_and_the_settings() -> None:
    """A sent message lands in .outbox, and the sender settings used in .sent_through."""
    mailer = _mailer()
    settings = sender_settings()
    message = _message()
    mailer.send(settings, SMTP_PASSWORD, message)
    assert ([message], [settings]) == (mailer.outbox, mailer.sent_through)


def test_messages_are_kept_in_order() -> None:
    """The outbox keeps every message, oldest first."""
    mailer = _mailer()
    first, second = _message("juan@empresa.mx"), _message("ana@empresa.mx")
    mailer.send(sender_settings(), SMTP_PASSWORD, first)
    mailer.send(sender_settings(), SMTP_PASSWORD, second)
    assert [first, second] == mailer.outbox


def test_verify_records_nothing_in_the_outbox() -> None:
    """Checking a sender account logs in and sends nothing."""
    mailer = _mailer()
    mailer.verify(sender_settings(), SMTP_PASSWORD)
    assert _nothing_recorded(mailer)


@pytest.mark.parametrize("host", ["smtp.empresa.mx", "10.0.0.5", "192.168.1.1", "::2"])
def test_plaintext_to_a_remote_host_is_refused(host: str) -> None:
    """Security.NONE sends credentials in the clear, so only to a loopback address."""
    mailer = _mailer()
    settings = sender_settings(host=host, port=25, security=pr.Security.NONE)
    for action in (
        lambda: mailer.verify(settings, SMTP_PASSWORD),
        lambda: mailer.send(settings, SMTP_PASSWORD, _message()),
    ):
        with pytest.raises(pr.SenderUnreachable) as caught:
            action()
        assert ("plaintext_refused", host) == (caught.value.reason, caught.value.host)
    assert (True, []) == (_nothing_recorded(mailer), mailer.logins)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "LOCALHOST", "127.0.0.2"])
def test_plaintext_to_a_loopback_host_is_allowed(host: str) -> None:
    """Security.NONE to a loopback address is accepted."""
    mailer = _mailer()
    settings = sender_settings(host=host, port=25, security=pr.Security.NONE)
    mailer.verify(settings, SMTP_PASSWORD)
    mailer.send(settings, SMTP_PASSWORD, _message())
    assert [settings] == mailer.sent_through


@pytest.mark.parametrize("security", [pr.Security.SSL, pr.Security.STARTTLS])
def test_encrypted_connection_to_a_remote_host_is_allowed(security: pr.Security) -> None:
    """SSL and STARTTLS may carry credentials to any host."""
    mailer = _mailer()
    mailer.send(sender_settings(security=security), SMTP_PASSWORD, _message())
    assert 1 == len(mailer.outbox)


def test_wrong_password_is_refused_and_nothing_is_recorded() -> None:
    """A username listed in .passwords accepts only its password."""
    mailer = _mailer()
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        mailer.verify(sender_settings(), "wrong")
    assert "smtp.empresa.mx" == caught.value.host
    with pytest.raises(pr.SenderAuthenticationFailed):
        mailer.send(sender_settings(), "wrong", _message())
    assert _nothing_recorded(mailer)


def test_other_usernames_accept_any_non_empty_password() -> None:
    """A username not listed in .passwords accepts any password but an empty one."""
    mailer = _mailer()
    settings = sender_settings(username="otro@empresa.mx")
    mailer.send(settings, "anything", _message())
    with pytest.raises(pr.SenderAuthenticationFailed):
        mailer.send(settings, "", _message())
    assert [settings] == mailer.sent_through


def test_unreachable_host_is_refused() -> None:
    """A host in .unreachable_hosts cannot be reached, for verify and for send."""
    mailer = _mailer(unreachable_hosts={"smtp.empresa.mx"})
    for action in (
        lambda: mailer.verify(sender_settings(), SMTP_PASSWORD),
        lambda: mailer.send(sender_settings(), SMTP_PASSWORD, _message()),
    ):
        with pytest.raises(pr.SenderUnreachable) as caught:
            action()
        assert ("smtp.empresa.mx", 587) == (caught.value.host, caught.value.port)
    assert _nothing_recorded(mailer)


def test_rejecting_host_fails_delivery_for_now_and_records_nothing() -> None:
    """A host in .rejecting_hosts accepts the login but refuses the message for now (451):
    DeliveryFailed, not DeliveryRejected."""
    mailer = _mailer(rejecting_hosts={"smtp.empresa.mx"})
    mailer.verify(sender_settings(), SMTP_PASSWORD)
    with pytest.raises(pr.DeliveryFailed) as caught:
        mailer.send(sender_settings(), SMTP_PASSWORD, _message())
    assert (451, False) == (caught.value.reply_code, isinstance(caught.value, pr.DeliveryRejected))
    assert _nothing_recorded(mailer)


def test_permanently_rejecting_host_refuses_for_good() -> None:
    """A host in .permanently_rejecting_hosts refuses the message for good (550)."""
    mailer = _mailer(permanently_rejecting_hosts={"smtp.empresa.mx"})
    mailer.verify(sender_settings(), SMTP_PASSWORD)
    with pytest.raises(pr.DeliveryRejected) as caught:
        mailer.send(sender_settings(), SMTP_PASSWORD, _message())
    assert (550, 1) == (caught.value.reply_code, caught.value.attempts)
    assert _nothing_recorded(mailer)


def test_basic_auth_disabled_host() -> None:
    """A host in .basic_auth_disabled_hosts refuses every password (Microsoft 365's
    535 5.7.139): BasicAuthDisabled, a SenderAuthenticationFailed; OAuth 2.0 still logs in."""
    mailer = _mailer(basic_auth_disabled_hosts={"smtp.empresa.mx"})
    for action in (
        lambda: mailer.verify(sender_settings(), SMTP_PASSWORD),
        lambda: mailer.send(sender_settings(), SMTP_PASSWORD, _message()),
    ):
        with pytest.raises(pr.SenderAuthenticationFailed) as caught:
            action()
        assert (pr.BasicAuthDisabled, "smtp.empresa.mx") == (type(caught.value), caught.value.host)
    oauth = sender_settings(authentication=pr.Authentication.XOAUTH2)
    mailer.send(oauth, SMTP_PASSWORD, _message())  # the access token, for XOAUTH2
    assert [oauth] == mailer.sent_through


def test_refused_from_address() -> None:
    """A From address in .refused_from_addresses is refused at MAIL FROM: verify says
    SenderAddressRefused (553), a send DeliveryRejected (553); nothing is recorded."""
    mailer = _mailer(refused_from_addresses={USERNAME})
    with pytest.raises(pr.SenderAddressRefused) as refused:
        mailer.verify(sender_settings(), SMTP_PASSWORD)
    assert ("smtp.empresa.mx", USERNAME, 553) == (
        refused.value.host,
        refused.value.address,
        refused.value.reply_code,
    )
    with pytest.raises(pr.DeliveryRejected) as rejected:
        mailer.send(sender_settings(), SMTP_PASSWORD, _message())
    assert 553 == rejected.value.reply_code
    assert _nothing_recorded(mailer)
    mailer.verify(sender_settings(from_address="otra@empresa.mx"), SMTP_PASSWORD)


def test_host_without_smtputf8() -> None:
    """A host in .hosts_without_smtputf8 refuses a recipient with a UTF-8 local part for
    good (555, smtputf8_unsupported) and takes an ASCII one."""
    mailer = _mailer(hosts_without_smtputf8={"smtp.empresa.mx"})
    with pytest.raises(pr.DeliveryRejected) as caught:
        mailer.send(sender_settings(), SMTP_PASSWORD, _message("josé@empresa.mx"))
    assert (555, "smtputf8_unsupported") == (caught.value.reply_code, caught.value.reason)
    mailer.send(sender_settings(), SMTP_PASSWORD, _message("jose@empresa.mx"))
    assert 1 == len(mailer.outbox)


# -- sessions ------------------------------------------------------------------------------


def test_session_logs_in_once_for_many_messages() -> None:
    """A session is one login (in .logins and .sessions) for every message sent through it."""
    mailer = _mailer()
    messages = [_message(f"usuario{n}@empresa.mx") for n in range(3)]
    with mailer.session(sender_settings(), SMTP_PASSWORD) as session:
        for message in messages:
            session.send(message)
    assert (messages, 1, 1) == (mailer.outbox, len(mailer.logins), len(mailer.sessions))


def test_session_refuses_as_send_does() -> None:
    """A session checks the login as verify does and refuses messages as send does; a
    refused message leaves the session usable."""
    mailer = _mailer(hosts_without_smtputf8={"smtp.empresa.mx"})
    with pytest.raises(pr.SenderAuthenticationFailed), mailer.session(sender_settings(), "x"):
        pass
    with mailer.session(sender_settings(), SMTP_PASSWORD) as session:
        with pytest.raises(pr.DeliveryRejected):
            session.send(_message("josé@empresa.mx"))
        with pytest.raises(pr.DeliveryFailed):
            session.send(_two_in_to())
        session.send(_message())
    assert (1, 1) == (len(mailer.outbox), len(mailer.sessions))


def test_session_closed_after_messages_per_session() -> None:
    """Past .messages_per_session the server answers 421 (DeliveryFailed, for now) and
    hangs up: every later send in that session is SenderUnreachable."""
    mailer = _mailer(messages_per_session=2)
    with mailer.session(sender_settings(), SMTP_PASSWORD) as session:
        session.send(_message())
        session.send(_message())
        with pytest.raises(pr.DeliveryFailed) as closing:
            session.send(_message())
        with pytest.raises(pr.SenderUnreachable):
            session.send(_message())
    assert (421, 2) == (closing.value.reply_code, len(mailer.outbox))
    with mailer.session(sender_settings(), SMTP_PASSWORD) as again:
        again.send(_message())
    assert 3 == len(mailer.outbox)


def test_session_lost_when_the_host_becomes_unreachable() -> None:
    """A host that becomes unreachable during a session loses it: SenderUnreachable."""
    mailer = _mailer()
    with mailer.session(sender_settings(), SMTP_PASSWORD) as session:
        session.send(_message())
        mailer.unreachable_hosts.add("smtp.empresa.mx")
        with pytest.raises(pr.SenderUnreachable):
            session.send(_message())
    assert 1 == len(mailer.outbox)


def _two_in_to() -> EmailMessage:
    message = _message()
    message.replace_header("To", "juan@empresa.mx, otro@intruso.mx")
    return message


def _cc_added() -> EmailMessage:
    message = _message()
    message["Cc"] = "otro@intruso.mx"
    return message


def _bcc_added() -> EmailMessage:
    message = _message()
    message["Bcc"] = "otro@intruso.mx"
    return message


def _no_recipient() -> EmailMessage:
    message = _message()
    del message["To"]
    return message


def _no_sender() -> EmailMessage:
    message = _message()
    del message["From"]
    return message


@pytest.mark.parametrize(
    "build",
    [_two_in_to, _cc_added, _bcc_added, _no_recipient, _no_sender],
    ids=lambda f: f.__name__,
)
def test_message_without_exactly_one_recipient_is_refused(build: object) -> None:
    """A message must have one recipient and a sender; otherwise it is not sent."""
    mailer = _mailer()
    with pytest.raises(pr.DeliveryFailed):
        mailer.send(sender_settings(), SMTP_PASSWORD, build())  # type: ignore[operator]
    assert (True, []) == (_nothing_recorded(mailer), mailer.logins)


def _added_with_trailing_newline() -> EmailMessage:
    message = _message()
    message.add_header("X-Note", "harmless\n")
    return message


def _subject_replaced_with_trailing_newline() -> EmailMessage:
    message = _message()
    message.replace_header("Subject", "Tu clave temporal de acceso\r\n")
    return message


def _to_replaced_with_trailing_newline() -> EmailMessage:
    message = _message()
    message.replace_header("To", "juan@empresa.mx\n")
    return message


def _from_replaced_with_trailing_newline() -> EmailMessage:
    message = _message()
    message.replace_header("From", "Contabilidad <envios@empresa.mx>\n")
    return message


def _encoded_word_hiding_a_newline() -> EmailMessage:
    message = _message()
    message.add_header("X-Note", "=?utf-8?q?a=0D=0ABcc:_otro@intruso.mx?=")
    return message


def _line_separator() -> EmailMessage:
    message = _message()
    message.add_header("X-Note", "harmless\u2028")
    return message


@pytest.mark.parametrize(
    "build",
    [
        _added_with_trailing_newline,
        _subject_replaced_with_trailing_newline,
        _to_replaced_with_trailing_newline,
        _from_replaced_with_trailing_newline,
        _encoded_word_hiding_a_newline,
        _line_separator,
    ],
    ids=lambda f: f.__name__,
)
def test_smuggled_line_break_in_a_header_is_refused(build: object) -> None:
    """A header that could start a new header is refused, however it got into the message."""
    mailer = _mailer()
    with pytest.raises(pr.PwRecoveryError) as caught:
        mailer.send(sender_settings(), SMTP_PASSWORD, build())  # type: ignore[operator]
    assert isinstance(caught.value, (pr.InvalidHeaderValue, pr.DeliveryFailed))
    assert (True, []) == (_nothing_recorded(mailer), mailer.logins)


def test_recording_mailer_is_a_mailer() -> None:
    """RecordingMailer implements the Mailer port, sessions included."""
    assert isinstance(_mailer(), pr.Mailer)
    assert isinstance(_mailer(), pr.SessionMailer)


def test_repr_counts_messages_and_shows_no_password() -> None:
    """The repr of a mailer says how many messages it holds, never a password."""
    mailer = _mailer()
    mailer.send(sender_settings(), SMTP_PASSWORD, _message())
    assert ("RecordingMailer(<1 messages>)", False) == (repr(mailer), SMTP_PASSWORD in repr(mailer))
