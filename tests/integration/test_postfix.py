"""The library against a real MTA: Postfix 3.7 with Dovecot SASL, private to the tests
(tests/mta.py), on its submission (STARTTLS) and implicit-TLS listeners.

Only the public API is used on the library's side. The probes at the end record what
the real server answers, byte for byte, and what the library makes of it, so that work
on the library is measured against a real server and not against our own fake.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.adapters.smtp import GREETING_WAIT
from pwrecovery.testing import cheap_hasher, temporary_password_in, verification_code_in
from tests.mta import MTA_ACCOUNTS, Mta, PortKind, running_mta

SENDER = "envios@empresa.mx"
SENDER_PASSWORD = MTA_ACCOUNTS[SENDER]
OTHER_SENDER = "respaldo@empresa.mx"
SUPERVISOR_PASSWORD = "Supervisor de 2026"
USER_PASSWORD = "Caballo azul 77"
NEW_PASSWORD = "Tortuga verde 2026"
VERIFICATION_SUBJECT = "Código para autenticar tu correo de recuperación de la aplicación"


def service_on(db_path: Path, mta: Mta, *, timeout: float = 5.0) -> pr.RecoveryService:
    """A service over a SQLite file whose mailer trusts the MTA's private CA;
    SUPERVISOR and juan exist, nothing else is configured."""
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=pr.SmtpMailer(timeout=timeout, ssl_context=mta.ca.client_context()),
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
    )
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", USER_PASSWORD, display_name="Juan Pérez")
    return service


def confirm_through_mailbox(
    service: pr.RecoveryService, mta: Mta, login: str, address: str
) -> None:
    """Set the recovery address and confirm it with the code delivered to its Maildir."""
    service.set_recovery_email(login, address)
    service.confirm_recovery_email(login, verification_code_in(mta.next_message(address)))


@contextmanager
def smtp_session(
    mta: Mta, port_kind: PortKind = "starttls", *, login: str | None = None
) -> Iterator[smtplib.SMTP]:
    """A raw smtplib session on one listener, TLS up, logged in as ``login`` if given."""
    context = mta.ca.client_context()
    smtp: smtplib.SMTP
    if port_kind == "ssl":
        smtp = smtplib.SMTP_SSL(mta.host, mta.ssl_port, timeout=5, context=context)
    else:
        smtp = smtplib.SMTP(mta.host, mta.port(port_kind), timeout=5)
        smtp.starttls(context=context)
    try:
        smtp.ehlo()
        if login is not None:
            smtp.login(login, MTA_ACCOUNTS[login])
        yield smtp
    finally:
        smtp.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def raw_header_lines(raw: bytes, name: str) -> list[str]:
    """The header ``name`` as stored, with its continuation lines, undecoded."""
    head = raw.partition(b"\n\n")[0].decode("utf-8")
    found: list[str] = []
    current: str | None = None
    for line in head.split("\n"):
        if line[:1] in {" ", "\t"} and current is not None:
            current += "\n" + line
            continue
        if current is not None:
            found.append(current)
        current = line if line.lower().startswith(name.lower() + ":") else None
    if current is not None:
        found.append(current)
    return found


def live_processes_in(groups: set[int]) -> list[int]:
    """The processes, zombies aside, whose process group is one of ``groups``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group in groups and state not in {"Z", "X"}:
            found.append(int(stat.parent.name))
    return found


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the TCP sockets listening on ``port``; an IPv6 one as
    it is written in /proc/net/tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                ipv4 = len(address) == 8  # little-endian hex
                found.append(str(IPv4Address(bytes.fromhex(address)[::-1])) if ipv4 else address)
    return found


def files_under(*folders: str) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_mtime_ns, path.stat().st_size)
        for folder in folders
        for path in Path(folder).rglob("*")
        if path.is_file()
    }


# The instance itself ---------------------------------------------------------------


def test_instance_starts_fast_and_leaves_nothing_behind(mta: Mta) -> None:
    """A second private instance starts in under 5 s beside the first, listens on
    127.0.0.1 only, and on exit leaves no process, no listener and no folder behind;
    nothing under /etc/postfix or /etc/dovecot changes."""
    etc = files_under("/etc/postfix", "/etc/dovecot")
    folder = Path(tempfile.mkdtemp(prefix="pwrecovery-mta-"))
    started = time.monotonic()
    with running_mta(folder, {"otro@empresa.mx": "otra clave"}) as other:
        elapsed = time.monotonic() - started
        assert other.master_pid is not None
        assert other.dovecot_pid is not None
        groups = {other.master_pid, other.dovecot_pid}
        running = live_processes_in(groups)
        assert {other.master_pid, other.dovecot_pid} <= set(running)
        ports = [other.starttls_port, other.ssl_port, other.no_smtputf8_port]
        assert [["127.0.0.1"]] * 3 == [listening_addresses(port) for port in ports]
    assert elapsed < 5.0
    assert [] == live_processes_in(groups)
    assert [[]] * 3 == [listening_addresses(port) for port in ports]
    assert not folder.exists()
    assert etc == files_under("/etc/postfix", "/etc/dovecot")


def test_submission_listener_wants_starttls_before_auth_or_mail(mta: Mta) -> None:
    """The STARTTLS listener offers no AUTH in clear and refuses MAIL before STARTTLS;
    after it, AUTH PLAIN LOGIN and SMTPUTF8 are offered."""
    with smtplib.SMTP(mta.host, mta.starttls_port, timeout=5) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")
        assert (530, b"5.7.0 Must issue a STARTTLS command first") == smtp.mail(SENDER)
        smtp.starttls(context=mta.ca.client_context())
        smtp.ehlo()
        assert " PLAIN LOGIN" == smtp.esmtp_features["auth"]
        assert smtp.has_extn("smtputf8")
        assert not smtp.has_extn("starttls")


def test_implicit_tls_listener_speaks_tls_from_the_first_byte(mta: Mta) -> None:
    """The implicit-TLS listener offers AUTH PLAIN LOGIN at once and no STARTTLS."""
    with smtp_session(mta, "ssl") as smtp:
        assert " PLAIN LOGIN" == smtp.esmtp_features["auth"]
        assert not smtp.has_extn("starttls")


def test_nothing_is_sent_without_login_and_nothing_is_relayed(empty_mta: Mta) -> None:
    """Without AUTH, MAIL FROM is refused; logged in, an unknown mailbox and an outside
    domain are refused at RCPT TO (no relaying, no DNS)."""
    with smtp_session(empty_mta) as smtp:
        expected = (553, b"5.7.1 <envios@empresa.mx>: Sender address rejected: not logged in")
        assert expected == smtp.mail(SENDER)
    with smtp_session(empty_mta, login=SENDER) as smtp:
        assert (250, b"2.1.0 Ok") == smtp.mail(SENDER)
        unknown = (
            550,
            b"5.1.1 <nadie@empresa.mx>: Recipient address rejected:"
            b" User unknown in virtual mailbox table",
        )
        assert unknown == smtp.rcpt("nadie@empresa.mx")
        outside = (
            550,
            b"5.7.1 <alguien@example.com>: Recipient address rejected:"
            b" nothing is relayed from here",
        )
        assert outside == smtp.rcpt("alguien@example.com")


# The whole story through Postfix ------------------------------------------------------


@pytest.mark.parametrize("port_kind", ["starttls", "ssl"])
def test_recovery_story_through_postfix(empty_mta: Mta, db_path: Path, port_kind: PortKind) -> None:
    """The seed flow against a real MTA: a wrong SMTP password is refused on save, the
    right one saved, both addresses confirmed with the codes from Maildir, Recuperar
    clave, the temporary password from the delivered mail, the forced change, and
    sign-in with the new password."""
    mta = empty_mta
    service = service_on(db_path, mta)
    settings = mta.settings(SENDER, port_kind=port_kind)
    with pytest.raises(pr.SenderAuthenticationFailed):
        service.configure_sender("SUPERVISOR", settings, "not the password")
    assert [] == service.senders()
    service.configure_sender("SUPERVISOR", settings, SENDER_PASSWORD)
    confirm_through_mailbox(service, mta, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_through_mailbox(service, mta, "juan", "juan@empresa.mx")

    sent = service.request_recovery("juan", origin="CAJA-02")
    assert "j***@empresa.mx" == sent.masked_address
    mail = mta.next_message("juan@empresa.mx")
    assert "temporary-password" == mail["X-PwRecovery-Purpose"]
    assert "<envios@empresa.mx>" == mail["Return-Path"]
    assert "juan@empresa.mx" == mail["Delivered-To"]
    temporary = temporary_password_in(mail)

    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status
    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    assert pr.LoginStatus.OK == service.authenticate("juan", NEW_PASSWORD).status
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("juan", temporary)
    notice = mta.next_message("juan@empresa.mx")
    assert "password-changed" == notice["X-PwRecovery-Purpose"]
    assert [] == mta.messages("supervisor@empresa.mx")[1:]  # only its verification code


def test_delivered_mail_is_clean(empty_mta: Mta, db_path: Path) -> None:
    """What Postfix delivers to an ASCII address is 7-bit clean: a non-ASCII Subject as
    RFC 2047 encoded-words, text and HTML alternatives in UTF-8, Auto-Submitted, sent
    over TLS by an authenticated client, envelope sender = the sender account."""
    mta = empty_mta
    service = service_on(db_path, mta)
    service.configure_sender("SUPERVISOR", mta.settings(SENDER), SENDER_PASSWORD)
    service.set_recovery_email("juan", "juan@empresa.mx")
    (mail,) = mta.wait_for("juan@empresa.mx")
    (raw,) = mta.raw_messages("juan@empresa.mx")

    assert raw.isascii()
    (subject_line,) = raw_header_lines(raw, "Subject")
    assert subject_line.startswith("Subject: =?utf-8?q?C=C3=B3digo_para_autenticar")
    assert VERIFICATION_SUBJECT == mail["Subject"]
    assert "auto-generated" == mail["Auto-Submitted"]
    assert "multipart/alternative" == mail.get_content_type()
    parts = [(part.get_content_type(), part.get_content_charset()) for part in mail.iter_parts()]
    assert [("text/plain", "utf-8"), ("text/html", "utf-8")] == parts
    assert ["Contabilidad <envios@empresa.mx>"] == mail.get_all("From")
    assert ["Juan Pérez <juan@empresa.mx>"] == mail.get_all("To")
    assert ["To: =?utf-8?q?Juan_P=C3=A9rez?= <juan@empresa.mx>"] == raw_header_lines(raw, "To")
    assert "<envios@empresa.mx>" == mail["Return-Path"]
    (received,) = mail.get_all("Received", [])
    assert "(using TLS" in received
    assert "by mta.pwrecovery.test (Postfix) with ESMTPSA id" in received
    assert str(mail["Message-ID"]).endswith("@empresa.mx>")


def test_utf8_local_part_is_delivered_with_smtputf8(empty_mta: Mta, db_path: Path) -> None:
    """A recovery address with a UTF-8 local part (josé@) goes out with SMTPUTF8 and is
    delivered to its own Maildir; the address is UTF-8 in the To header (RFC 6532), the
    words are RFC 2047 encoded-words as in every mail, and the temporary password in it
    works."""
    mta = empty_mta
    service = service_on(db_path, mta)
    service.configure_sender("SUPERVISOR", mta.settings(SENDER), SENDER_PASSWORD)
    confirm_through_mailbox(service, mta, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_through_mailbox(service, mta, "juan", "josé@empresa.mx")
    service.request_recovery("juan")
    mail = mta.next_message("josé@empresa.mx")

    assert "josé@empresa.mx" == mail["Delivered-To"]
    (received,) = mail.get_all("Received", [])
    assert "with UTF8SMTPSA id" in received
    assert "for <josé@empresa.mx>" in received
    (to,) = mail["To"].addresses
    assert ("Juan Pérez", "josé", "empresa.mx") == (to.display_name, to.username, to.domain)
    raw = mta.raw_messages("josé@empresa.mx")[-1]
    assert ["Subject: =?utf-8?q?Tu_clave_temporal_para_la_aplicaci=C3=B3n?="] == (
        raw_header_lines(raw, "Subject")
    )
    assert ["To: =?utf-8?q?Juan_P=C3=A9rez?= <josé@empresa.mx>"] == raw_header_lines(raw, "To")
    temporary = temporary_password_in(mail)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == service.authenticate("juan", temporary).status


def test_idn_domain_is_delivered_under_its_ascii_form(empty_mta: Mta, db_path: Path) -> None:
    """A recovery address at an IDN domain (compañía.mx) needs no SMTPUTF8: the envelope
    and the To header carry the A-label, and the mail reaches the mailbox."""
    mta = empty_mta
    service = service_on(db_path, mta)
    service.configure_sender("SUPERVISOR", mta.settings(SENDER), SENDER_PASSWORD)
    service.set_recovery_email("juan", "ana@compañía.mx")
    mail = mta.next_message("ana@compañía.mx")

    assert "ana@xn--compaa-7va5a.mx" == mail["Delivered-To"]
    assert "Juan Pérez <ana@xn--compaa-7va5a.mx>" == mail["To"]
    (received,) = mail.get_all("Received", [])
    assert "with ESMTPSA id" in received
    assert mta.raw_messages("ana@compañía.mx")[0].isascii()
    service.confirm_recovery_email("juan", verification_code_in(mail))


# Probes: what the real server answers, and what the library makes of it ----------------


def test_probe_from_address_not_owned_by_login(empty_mta: Mta, db_path: Path) -> None:
    """Postfix refuses, at MAIL FROM, a From address the login does not own: 553 5.7.1.
    Saving such a sender offers the address after AUTH, so it is refused on save:
    SenderAddressRefused with the reply code, nothing saved, the reply audited."""
    mta = empty_mta
    with smtp_session(mta, login=SENDER) as smtp:
        expected = (
            553,
            b"5.7.1 <respaldo@empresa.mx>: Sender address rejected:"
            b" not owned by user envios@empresa.mx",
        )
        assert expected == smtp.mail(OTHER_SENDER)

    service = service_on(db_path, mta)
    mismatched = mta.settings(SENDER, from_address=OTHER_SENDER)
    started = time.monotonic()
    with pytest.raises(pr.SenderAddressRefused) as refused:
        service.configure_sender("SUPERVISOR", mismatched, SENDER_PASSWORD)
    assert time.monotonic() - started < 2.0
    assert (mta.host, OTHER_SENDER, 553) == (
        refused.value.host,
        refused.value.address,
        refused.value.reply_code,
    )
    assert [] == service.senders()
    audited = service.audit_trail()[-1]
    assert ("sender_refused", "sender_address_refused", "553") == (
        audited.kind,
        audited.detail["reason"],
        audited.detail["reply"],
    )
    service.configure_sender("SUPERVISOR", mta.settings(OTHER_SENDER), MTA_ACCOUNTS[OTHER_SENDER])
    assert [OTHER_SENDER] == [account.settings.from_address for account in service.senders()]


def test_probe_utf8_recipient_without_smtputf8(empty_mta: Mta, db_path: Path) -> None:
    """Through the listener with SMTPUTF8 off, a UTF-8 local part cannot go: SMTPUTF8 is
    not offered, and the server itself answers 555 5.5.4 to MAIL FROM ... SMTPUTF8 (yet
    takes a raw UTF-8 RCPT TO sent without declaring SMTPUTF8: 250 2.1.5, which the
    library never sends). The library refuses before MAIL FROM, for good:
    DeliveryRejected, reply 555, reason smtputf8_unsupported; a queued mail is abandoned
    in the first run, not retried. Nothing is delivered."""
    mta = empty_mta
    with smtp_session(mta, "no_smtputf8", login=SENDER) as smtp:
        assert not smtp.has_extn("smtputf8")
        expected = (555, b"5.5.4 Unsupported option: SMTPUTF8")
        assert expected == smtp.docmd("MAIL", f"FROM:<{SENDER}> SMTPUTF8")
        smtp.rset()
        smtp.command_encoding = "utf-8"  # send the raw UTF-8 address anyway
        assert (250, b"2.1.0 Ok") == smtp.mail(SENDER)
        assert (250, b"2.1.5 Ok") == smtp.rcpt("josé@empresa.mx")
        smtp.rset()

    service = service_on(db_path, mta)
    no_utf8 = service.configure_sender(
        "SUPERVISOR", mta.settings(SENDER, port_kind="no_smtputf8"), SENDER_PASSWORD
    )
    with pytest.raises(pr.DeliveryRejected) as rejected:
        service.set_recovery_email("juan", "josé@empresa.mx")
    assert (555, "smtputf8_unsupported") == (rejected.value.reply_code, rejected.value.reason)
    failures = [e for e in service.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert [("delivery_rejected", "555", "smtputf8_unsupported")] == [
        (e.detail["reason"], e.detail["reply"], e.detail["cause"]) for e in failures
    ]

    # The address confirmed through the listener that offers SMTPUTF8, then queued
    # through the one that does not: refused for good, so abandoned at once.
    service.remove_sender(no_utf8.id)
    with_utf8 = service.configure_sender("SUPERVISOR", mta.settings(SENDER), SENDER_PASSWORD)
    confirm_through_mailbox(service, mta, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_through_mailbox(service, mta, "juan", "josé@empresa.mx")
    service.remove_sender(with_utf8.id)
    service.configure_sender(
        "SUPERVISOR", mta.settings(SENDER, port_kind="no_smtputf8"), SENDER_PASSWORD
    )
    service.request_recovery("juan", delivery="queued")
    assert pr.DeliveryReport(abandoned=1) == service.deliver_pending()
    assert pr.DeliveryReport() == service.deliver_pending()
    mta.wait_idle()
    assert 1 == len(mta.messages("josé@empresa.mx"))  # its verification code only


def test_probe_starttls_client_on_implicit_tls_port(mta: Mta, db_path: Path) -> None:
    """Security.STARTTLS pointed at the implicit-TLS port: each side waits for the other
    to speak (the client for a greeting, the server for a TLS hello). The library waits
    GREETING_WAIT (5 s), finds the port answers a TLS handshake, and names the mistake:
    SenderUnreachable "expects_ssl", within seconds and not after the 30 s timeout."""
    service = service_on(db_path, mta, timeout=30.0)
    wrong = pr.SenderSettings(mta.host, mta.ssl_port, pr.Security.STARTTLS, SENDER, SENDER)
    started = time.monotonic()
    with pytest.raises(pr.SenderUnreachable) as refused:
        service.configure_sender("SUPERVISOR", wrong, SENDER_PASSWORD)
    elapsed = time.monotonic() - started
    assert "expects_ssl" == refused.value.reason
    assert GREETING_WAIT <= elapsed < GREETING_WAIT + 2.0
    assert [] == service.senders()


def test_probe_implicit_tls_client_on_starttls_port(mta: Mta, db_path: Path) -> None:
    """Security.SSL pointed at the STARTTLS port: the server answers the TLS hello with
    its plaintext greeting; the library sees a plaintext SMTP greeting on a second
    connection and names the mistake at once: SenderUnreachable "expects_starttls"."""
    with socket.create_connection((mta.host, mta.starttls_port), timeout=5) as plain:
        assert b"220 mta.pwrecovery.test ESMTP\r\n" == plain.recv(1024)
    service = service_on(db_path, mta, timeout=30.0)
    wrong = pr.SenderSettings(mta.host, mta.starttls_port, pr.Security.SSL, SENDER, SENDER)
    started = time.monotonic()
    with pytest.raises(pr.SenderUnreachable) as refused:
        service.configure_sender("SUPERVISOR", wrong, SENDER_PASSWORD)
    elapsed = time.monotonic() - started
    assert "expects_starttls" == refused.value.reason
    assert elapsed < 1.0
    assert [] == service.senders()


@pytest.mark.parametrize("port_kind", ["starttls", "ssl"])
def test_probe_wrong_password(mta: Mta, db_path: Path, port_kind: PortKind) -> None:
    """A wrong SMTP password: Postfix answers 535 5.7.8 to AUTH PLAIN and to AUTH LOGIN,
    and the library reports SenderAuthenticationFailed (not BasicAuthDisabled: 5.7.8 is
    not Microsoft's 5.7.139 or 5.7.30)."""
    refused = (535, b"5.7.8 Error: authentication failed: (reason unavailable)")
    with smtp_session(mta, port_kind) as smtp:
        assert refused == smtp.docmd("AUTH", "PLAIN " + b64(f"\0{SENDER}\0wrong"))
        assert (334, b"UGFzc3dvcmQ6") == smtp.docmd("AUTH", "LOGIN " + b64(SENDER))  # "Password:"
        assert refused == smtp.docmd(b64("wrong"))
    service = service_on(db_path, mta)
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        service.configure_sender("SUPERVISOR", mta.settings(SENDER, port_kind=port_kind), "wrong")
    assert pr.SenderAuthenticationFailed is type(caught.value)


def test_probe_queued_mails_share_one_session(empty_mta: Mta, db_path: Path) -> None:
    """The worker sends the due mails of one sender through one SMTP session: Postfix logs
    one connection with one AUTH and a MAIL, RCPT and DATA per mail."""
    mta = empty_mta
    service = service_on(db_path, mta)
    service.configure_sender("SUPERVISOR", mta.settings(SENDER), SENDER_PASSWORD)
    confirm_through_mailbox(service, mta, "SUPERVISOR", "supervisor@empresa.mx")
    confirm_through_mailbox(service, mta, "juan", "juan@empresa.mx")
    log = mta.folder / "postfix.log"
    mta.wait_idle()
    before = log.read_text("utf-8", "replace")
    service.request_recovery("juan", delivery="queued")
    service.request_recovery("SUPERVISOR", delivery="queued")
    assert pr.DeliveryReport(sent=2) == service.deliver_pending()
    temporary_password_in(mta.next_message("juan@empresa.mx"))
    temporary_password_in(mta.next_message("supervisor@empresa.mx"))
    deadline = time.monotonic() + 5.0
    while True:
        new = log.read_text("utf-8", "replace")[len(before) :]
        sessions = [line for line in new.splitlines() if "disconnect from" in line]
        if sessions or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (session,) = sessions
    assert " auth=1 mail=2 rcpt=2 data=2 " in session


def test_every_account_logs_in_with_its_own_password(mta: Mta) -> None:
    """Each account of the passwd-file logs in, a non-ASCII password included (UTF-8)."""
    for login in MTA_ACCOUNTS:
        with smtp_session(mta, "ssl") as smtp:
            code, _ = smtp.docmd("AUTH", "PLAIN " + b64(f"\0{login}\0{MTA_ACCOUNTS[login]}"))
            assert 235 == code
