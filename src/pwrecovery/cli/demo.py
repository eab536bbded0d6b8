"""``pwrecovery demo``: the vendor's whole story, end to end, with no setup.

A temporary SQLite store, an SMTP server it starts on loopback (STARTTLS,
AUTH, a certificate from a private CA it makes), a supervisor and a user, a
sender checked on save (one refused for a wrong password), verified
addresses, "Recuperar clave", the mail received, sign-in with the temporary
password, the forced change, sign-in with the new one, and the audit trail.
Every step is checked; the demo exits 0 only if all behaved as they should.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from pwrecovery._service import RecoveryService
from pwrecovery.adapters.secretbox import generate_key
from pwrecovery.adapters.smtp import SmtpMailer
from pwrecovery.adapters.sqlite import SqliteStore
from pwrecovery.exceptions import InvalidCredentials, PwRecoveryError, SenderAuthenticationFailed
from pwrecovery.models import LoginStatus
from pwrecovery.testing import temporary_password_in, verification_code_in

if TYPE_CHECKING:
    from pwrecovery.cli._console import Console
    from pwrecovery.testing.smtp import SmtpServer

SMTP_USER: Final = "envios@empresa.mx"
SMTP_PASSWORD: Final = "clave-de-aplicacion-smtp"  # noqa: S105 (the demo server's account)
PASSWORDS: Final = {"SUPERVISOR": "Supervisor de 2026", "juan": "Caballo azul 77"}
NEW_PASSWORD: Final = "Tortuga verde 2026"  # noqa: S105 (the demo user's new password)


class StepFailed(Exception):
    """A step of the demo did not behave as it should (the text is for developers; the
    console names the step by its number)."""


def _check(condition: bool, step: str) -> None:
    if not condition:
        raise StepFailed(step)


def run(console: Console, zone: ZoneInfo) -> int:
    """Run the demo, printing each step in the console's locale as it happens (times in
    ``zone``); 0 if every step behaved."""
    try:
        from pwrecovery.testing.smtp import (  # noqa: PLC0415 (aiosmtpd is an extra)
            make_certificates,
            running_smtp_server,
        )
    except ImportError:
        console.warn(console.text("demo.missing_aiosmtpd"))
        return 1
    step = 0

    def say(key: str, **params: object) -> None:
        nonlocal step
        step += 1
        console.line(f"{step:>2}. {console.text(key, **params)}", flush=True)

    def show(line: str) -> None:
        console.line(line, flush=True)

    console.line(console.text("demo.title"), flush=True)
    with tempfile.TemporaryDirectory(prefix="pwrecovery-demo-") as folder:
        certificates = make_certificates(Path(folder))
        with running_smtp_server("starttls", certificates, {SMTP_USER: SMTP_PASSWORD}) as server:
            say("demo.server", host=server.settings().host, port=server.port)
            store = SqliteStore(Path(folder) / "empresa.db")
            try:
                service = RecoveryService(
                    store=store,
                    mailer=SmtpMailer(timeout=10.0, ssl_context=certificates.client_context()),
                    secret_key=generate_key(),
                    locale=console.locale,
                    timezone=zone,
                )
                say("demo.store", path=Path(folder) / "empresa.db")
                _story(service, server, say, show, console)
            except StepFailed:
                console.warn(console.text("demo.failed", step=step + 1))
                return 1
            except PwRecoveryError as error:
                console.warn(console.text("demo.failed_error", step=step + 1, message=error))
                return 1
            finally:
                store.close()
    console.line(console.text("demo.ok"), flush=True)
    return 0


def _story(
    service: RecoveryService,
    server: SmtpServer,
    say: Callable[..., None],
    show: Callable[[str], None],
    console: Console,
) -> None:
    service.add_user("SUPERVISOR", PASSWORDS["SUPERVISOR"], supervisor=True)
    service.add_user("juan", PASSWORDS["juan"], display_name="Juan Pérez")
    say("demo.users")

    try:
        service.configure_sender("SUPERVISOR", server.settings(SMTP_USER), "clave-equivocada")
    except SenderAuthenticationFailed as refused:
        say("demo.sender_refused", message=refused)
    else:
        raise StepFailed("configure_sender with a wrong password was accepted")
    _check(service.senders() == [], "a refused sender was saved")
    account = service.configure_sender("SUPERVISOR", server.settings(SMTP_USER), SMTP_PASSWORD)
    say("demo.sender_saved", username=account.settings.username)

    for login, address in (("SUPERVISOR", "supervisor@empresa.mx"), ("juan", "juan@empresa.mx")):
        service.set_recovery_email(login, address)
        code = verification_code_in(server.outbox[-1].message)
        service.confirm_recovery_email(login, code)
        _check(service.get_user(login).recovery_email_verified, f"{login}'s address")
        say("demo.address", login=login, code=code)

    sent = service.request_recovery("juan", origin="DEMO")
    say("demo.recover", address=sent.masked_address)
    received = server.outbox[-1]
    _check(received.rcpt_tos == ["juan@empresa.mx"], "the recovery mail's recipient")
    temporary = temporary_password_in(received.message)
    say("demo.mail", secret=temporary)

    result = service.authenticate("juan", temporary, origin="DEMO")
    _check(result.status is LoginStatus.MUST_CHANGE_PASSWORD, "sign-in with the temporary")
    expires = console.texts.moment(console.locale, sent.expires_at, service.timezone)
    say("demo.temporary", expires=expires)

    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD, origin="DEMO")
    say("demo.changed")
    try:
        service.authenticate("juan", temporary)
    except InvalidCredentials as refused:
        say("demo.old_refused", message=refused)
    else:
        raise StepFailed("the temporary password still worked after the change")

    _check(
        service.authenticate("juan", NEW_PASSWORD).status is LoginStatus.OK,
        "sign-in with the new password",
    )
    say("demo.signed_in")
    notice = server.outbox[-1].message
    _check(notice["X-PwRecovery-Purpose"] == "password-changed", "the password-changed notice")
    say("demo.notice", address=sent.masked_address)

    say("demo.audit")
    for event in service.audit_trail("juan"):
        local = event.at.astimezone(service.timezone)
        show(f"      {local:%H:%M:%S} {console.describe(event.kind)}")
