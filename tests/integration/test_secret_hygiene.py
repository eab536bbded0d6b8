"""docs/design.md §1.8 over real components: after the whole story, with logging at DEBUG, no
secret is in any log record, repr, audit event, exception text, queued mail, or byte of the
SQLite files, in any encoding (``tests/integration/leaks.py``); once with a service holding
the key, once with a keyless login window and a worker holding it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import SmtpServer
from tests.helpers import cheap_hasher
from tests.integration.leaks import none_held, store_bytes

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
    """Every step of the recovery story, the failures included; secrets met on the way are noted."""

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
    assert [] == none_held(text.encode("utf-8"), secrets), "a secret is in a text (length shown)"
    assert [] == none_held(raw, secrets), "a secret is in the files (its length is shown)"


def play_the_keyless_story(
    window: pr.RecoveryService,
    worker: pr.RecoveryService,
    server: SmtpServer,
    secrets: list[str],
    seen: list[str],
) -> None:
    """The same story at a login window without the key, a worker with it sending what the
    window queued; the failures included, and the window's refusals of what needs the key."""

    def expect_error(action: Callable[[], object]) -> None:
        with pytest.raises(pr.PwRecoveryError) as caught:
            action()
        seen.extend(texts_of(caught.value))

    def deliver() -> None:
        report = worker.deliver_pending()
        seen.append(repr(report))

    settings = server.settings(SMTP_USER)
    expect_error(lambda: window.configure_sender("SUPERVISOR", settings, SMTP_PASSWORD))
    expect_error(window.deliver_pending)
    for login in PASSWORDS:
        window.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        deliver()
        code = verification_code_in(server.outbox[-1].message)
        secrets.append(code)
        wrong = "00000000" if code != "00000000" else "11111111"
        expect_error(lambda login=login, wrong=wrong: window.confirm_recovery_email(login, wrong))
        window.confirm_recovery_email(login, code)
    window.request_recovery("juan")
    deliver()
    temporary = temporary_password_in(server.outbox[-1].message)
    secrets.append(temporary)
    expect_error(lambda: window.authenticate("juan", "Caballo azul 78"))
    window.authenticate("juan", temporary)
    mismatch = NEW_PASSWORD + "!"
    expect_error(lambda: window.change_password("juan", temporary, NEW_PASSWORD, mismatch))
    expect_error(lambda: window.change_password("juan", temporary, temporary, temporary))
    window.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    deliver()
    expect_error(lambda: window.authenticate("juan", temporary))
    window.request_recovery("juan")
    server.data_reply = "451 4.3.0 Mail system busy, try again later"
    report = worker.deliver_pending()  # refused for now: kept for a later try, with a new secret
    assert pr.DeliveryReport(retried=1) == report
    server.data_reply = None
    window.set_recovery_email("juan", "juan.nuevo@empresa.mx")
    seen.append(repr(window.readiness()))
    seen.extend(p.message() for p in window.readiness().problems())


def test_no_secret_anywhere_with_a_keyless_window(
    db_path: Path,
    pwrecovery_smtp_server: SmtpServer,
    pwrecovery_smtp_mailer: pr.SmtpMailer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A keyless login window and a worker holding the key, on one SQLite file: no
    password, temporary password, code, SMTP password or key in any log record, repr,
    audit event, exception text, queued mail, or byte of the files (in any encoding)."""
    caplog.set_level(logging.DEBUG)
    pwrecovery_smtp_server.accounts[SMTP_USER] = SMTP_PASSWORD
    key = pr.generate_key()
    admin = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=pwrecovery_smtp_mailer,
        secret_key=key,
        hasher=cheap_hasher(),
    )
    for login, password in PASSWORDS.items():
        admin.add_user(login, password, supervisor=login == "SUPERVISOR")
    secrets = [*PASSWORDS.values(), NEW_PASSWORD, SMTP_PASSWORD, WRONG_SMTP, key]
    seen: list[str] = []
    with pytest.raises(pr.SenderAuthenticationFailed) as refused:
        admin.configure_sender("SUPERVISOR", pwrecovery_smtp_server.settings(SMTP_USER), WRONG_SMTP)
    seen.extend(texts_of(refused.value))
    admin.configure_sender("SUPERVISOR", pwrecovery_smtp_server.settings(SMTP_USER), SMTP_PASSWORD)
    store = pr.SqliteStore(db_path)
    window = pr.RecoveryService(
        store=store, mailer=pr.RecordingMailer(), secret_key=None, hasher=cheap_hasher()
    )
    worker = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=pwrecovery_smtp_mailer,
        secret_key=key,
        hasher=cheap_hasher(),
    )
    play_the_keyless_story(window, worker, pwrecovery_smtp_server, secrets, seen)

    queued = store.due_messages(datetime(2100, 1, 1, tzinfo=UTC), 100)
    assert 3 == len(queued)  # the refused mail, the address change's code and notice
    seen += [repr(m) for m in queued] + [m.payload.decode("utf-8") for m in queued]
    seen += [repr(window), repr(worker), repr(store)]
    seen += [repr(x) for x in (*store.list_users(), *store.list_senders(), *window.users())]
    seen += [repr(x) for x in (*window.senders(), *window.audit_trail())]
    seen += [str(dict(e.detail)) for e in window.audit_trail()]
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    seen += [f"{r.name} {r.getMessage()} {r.args!r}" for r in ours]
    text = "\n".join(seen).encode("utf-8")
    raw = store_bytes(db_path)
    assert len(window.audit_trail()) > 20
    store.close()
    assert [] == none_held(text, secrets), "a secret is in a text (its length is shown)"
    assert [] == none_held(raw, secrets), "a secret is in the files (its length is shown)"
