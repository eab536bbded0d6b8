"""DESIGN §1.8 over real components: after the whole story, with logging at DEBUG, no secret
is in any log record, repr, audit event, exception text, or byte of the SQLite files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import SmtpServer
from tests.helpers import cheap_hasher

PASSWORDS = {"SUPERVISOR": "Supervisor de 2026", "juan": "Caballo azul 77"}
NEW_PASSWORD = "Tortuga verde 2026"
SMTP_USER, SMTP_PASSWORD, WRONG_SMTP = (
    "envios@empresa.mx",
    "clave-smtp-ultrasecreta",
    "clave-smtp-mala",
)


def texts_of(error: BaseException) -> list[str]:
    """Everything an exception shows, down its chain of causes."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(vars(current)), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


def play_the_story(
    service: pr.RecoveryService, server: SmtpServer, secrets: list[str], seen: list[str]
) -> None:
    """Every step of DESIGN §1, the failures included; secrets met on the way are noted."""

    def expect_error(action: Callable[[], object]) -> None:
        with pytest.raises(pr.PwRecoveryError) as caught:
            action()
        seen.extend(texts_of(caught.value))

    for login, password in PASSWORDS.items():
        service.add_user(login, password, supervisor=login == "SUPERVISOR")
    settings = server.settings(SMTP_USER)
    expect_error(lambda: service.configure_sender("SUPERVISOR", settings, WRONG_SMTP))
    service.configure_sender("SUPERVISOR", settings, SMTP_PASSWORD)
    for login in PASSWORDS:
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        code = verification_code_in(server.outbox[-1].message)
        secrets.append(code)
        wrong = "00000000" if code != "00000000" else "11111111"
        expect_error(lambda login=login, wrong=wrong: service.confirm_recovery_email(login, wrong))
        service.confirm_recovery_email(login, code)
    service.request_recovery("juan")
    temporary = temporary_password_in(server.outbox[-1].message)
    secrets.append(temporary)
    expect_error(lambda: service.authenticate("juan", "Caballo azul 78"))
    service.authenticate("juan", temporary)
    mismatch = NEW_PASSWORD + "!"
    expect_error(lambda: service.change_password("juan", temporary, NEW_PASSWORD, mismatch))
    expect_error(lambda: service.change_password("juan", temporary, temporary, temporary))
    service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    expect_error(lambda: service.authenticate("juan", temporary))
    service.request_recovery("juan")
    secrets.append(temporary_password_in(server.outbox[-1].message))
    server.reject_data = True
    expect_error(lambda: service.request_recovery("SUPERVISOR"))
    server.accounts[SMTP_USER] = "changed on the server"
    expect_error(lambda: service.set_recovery_email("juan", "nuevo@empresa.mx"))
    service.readiness(verify_senders=True)


def test_no_secret_anywhere(
    db_path: Path,
    pwrecovery_smtp_server: SmtpServer,
    pwrecovery_smtp_mailer: pr.SmtpMailer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Passwords, temporary passwords, codes, the SMTP password and the key never leak."""
    caplog.set_level(logging.DEBUG)
    pwrecovery_smtp_server.accounts[SMTP_USER] = SMTP_PASSWORD
    key = pr.generate_key()
    store = pr.SqliteStore(db_path)
    service = pr.RecoveryService(
        store=store, mailer=pwrecovery_smtp_mailer, secret_key=key, hasher=cheap_hasher()
    )
    secrets = [*PASSWORDS.values(), NEW_PASSWORD, SMTP_PASSWORD, WRONG_SMTP, key]
    seen: list[str] = []
    play_the_story(service, pwrecovery_smtp_server, secrets, seen)

    seen += [repr(service), repr(store), repr(pwrecovery_smtp_mailer)]
    seen += [repr(x) for x in (*store.list_users(), *store.list_senders(), *service.users())]
    seen += [repr(x) for x in (*service.senders(), *service.audit_trail())]
    seen += [str(dict(e.detail)) for e in service.audit_trail()]
    # aiosmtpd ("mail.log") is the receiving mail server: it logs the mails it receives,
    # secrets included, as any mail server may. Every other logger is searched.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    seen += [f"{r.name} {r.getMessage()} {r.args!r}" for r in ours]
    text = "\n".join(seen)
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(f"{db_path.name}*"))
    assert len(service.audit_trail()) > 20
    assert [] != caplog.records
    store.close()
    for secret in secrets:
        assert secret not in text, f"a secret of {len(secret)} characters is in a text"
        assert secret.encode() not in raw, f"a secret of {len(secret)} characters is in the file"
