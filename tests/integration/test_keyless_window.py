"""Security review, findings 2 and 3: login windows without the key, one worker with it.

Finding 2 was "anyone with the key reads queued temporary passwords": release 1
made the temporary password when the button was pressed and queued the mail
with the password sealed under the key. Release 2 queues mails that hold no
secret at all: the worker makes the temporary password or the code when it
sends, and stores only its hash.

Finding 3: a service built with ``secret_key=None`` is a full login window
(sign-in, forced change, "Recuperar clave", address change and confirmation),
its mails queued; only the worker, another process holding the key, sends them.
Release 1 could not build a service without a key at all.

Everything is real: SQLite files and a PostgreSQL server, the worker in another
process (spawn), the loopback SMTP server with STARTTLS and AUTH.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

import pwrecovery as pr
from pwrecovery.adapters.secretbox import SecretBox
from pwrecovery.records import QueuedMessage
from pwrecovery.testing.plugin import SMTP_PASSWORD as SMTP_TEST_PASSWORD
from pwrecovery.testing.plugin import SMTP_USERNAME
from pwrecovery.testing.smtp import Certificates, SmtpServer
from tests.helpers import (
    NEW_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    temporary_password_in,
    verification_code_in,
)
from tests.integration import keyless_worker
from tests.integration.leaks import none_held, store_bytes
from tests.integration.workers import open_store, run_processes

PAYLOAD_FIELDS = {
    "purpose",
    "to_address",
    "to_name",
    "login",
    "expires_at",
    "locale",
    "new_address",
    "message_token",
}
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
_TEMPORARY, _CODE = pr.Purpose.TEMPORARY_PASSWORD, pr.Purpose.EMAIL_VERIFICATION


def queued_messages(store: pr.Store) -> list[QueuedMessage]:
    return store.due_messages(FAR_FUTURE, 1000)


def secrets_mailed(server: SmtpServer) -> list[str]:
    """Every temporary password and code the mails received so far carried."""
    found: list[str] = []
    for received in server.outbox:
        purpose = received.message["X-PwRecovery-Purpose"]
        if purpose == pr.Purpose.TEMPORARY_PASSWORD.value:
            found.append(temporary_password_in(received.message))
        elif purpose == pr.Purpose.EMAIL_VERIFICATION.value:
            found.append(verification_code_in(received.message))
    return found


def mail_to(server: SmtpServer, address: str, purpose: pr.Purpose) -> str:
    """The secret of the last mail of ``purpose`` to ``address``."""
    for received in reversed(server.outbox):
        if received.rcpt_tos == [address] and received.message["X-PwRecovery-Purpose"] == (
            purpose.value
        ):
            if purpose is pr.Purpose.TEMPORARY_PASSWORD:
                return temporary_password_in(received.message)
            return verification_code_in(received.message)
    msg = f"no {purpose.value} mail to {address}"
    raise AssertionError(msg)


def assert_holds_no_secret(message: QueuedMessage) -> None:
    """A queued mail is plain JSON with the mail's addresses, names and dates: no field
    could carry a secret, sealed or not."""
    payload = json.loads(message.payload.decode("utf-8"))
    assert PAYLOAD_FIELDS == set(payload)
    assert all(isinstance(value, str | None) for value in payload.values())


# -- finding 2: queued mails hold no secret -------------------------------------------------


@pytest.fixture
def smtp(pwrecovery_smtp_server: SmtpServer) -> SmtpServer:
    return pwrecovery_smtp_server


def keyed(store: pr.Store, mailer: pr.Mailer, key: str) -> pr.RecoveryService:
    return pr.RecoveryService(store=store, mailer=mailer, secret_key=key, hasher=cheap_hasher())


def keyless(store: pr.Store) -> pr.RecoveryService:
    """A login window: no key; its mailer is never used (every mail is queued)."""
    window_mailer = pr.RecordingMailer()
    return pr.RecoveryService(
        store=store, mailer=window_mailer, secret_key=None, hasher=cheap_hasher()
    )


def company(store: pr.Store, mailer: pr.Mailer, key: str, smtp: SmtpServer) -> pr.RecoveryService:
    """The administrator's service: users, the sender, the SUPERVISOR's address verified."""
    admin = keyed(store, mailer, key)
    admin.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    admin.add_user("juan", USER_PASSWORD)
    admin.add_user("maria", "Maria sin correo 2026")
    admin.configure_sender("SUPERVISOR", smtp.settings(SMTP_USERNAME), SMTP_TEST_PASSWORD)
    for login in ("SUPERVISOR", "juan"):
        admin.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        admin.confirm_recovery_email(login, verification_code_in(smtp.outbox[-1].message))
    smtp.reset()
    return admin


def test_queued_mails_hold_no_secret(
    db_path: Path, smtp: SmtpServer, pwrecovery_smtp_mailer: pr.SmtpMailer
) -> None:
    """After a keyless window's ``request_recovery`` and ``set_recovery_email`` (a new
    address, and a change of a verified one), the store's files (db, -wal, -shm) and every
    queued payload hold none of the temporary passwords or codes the mails then carried,
    in any encoding: the secrets did not exist until the worker sent them (the credentials
    the window wrote have no hash). After delivery the store holds only their hashes.
    Release 1 fails: it cannot build a keyless service, and a queued request stored the
    temporary password's hash at once and the password itself, sealed, in the outbox."""
    key = pr.generate_key()
    store = pr.SqliteStore(db_path)
    company(store, pwrecovery_smtp_mailer, key, smtp)
    window = keyless(pr.SqliteStore(db_path))
    window.request_recovery("juan", delivery="queued")
    window.set_recovery_email("maria", "maria@empresa.mx")
    window.set_recovery_email("SUPERVISOR", "jefa@empresa.mx")  # a change: old address told
    before = store_bytes(db_path)
    queued = queued_messages(store)
    juan, maria = store.get_user("juan"), store.get_user("maria")
    assert juan is not None
    assert juan.temporary is not None
    assert maria is not None
    assert maria.pending_verification is not None
    assert (None, None) == (juan.temporary.hash, maria.pending_verification.code_hash)
    for message in queued:
        assert_holds_no_secret(message)

    worker = keyed(pr.SqliteStore(db_path), pwrecovery_smtp_mailer, key)
    assert pr.DeliveryReport(sent=4) == worker.deliver_pending()
    carried = secrets_mailed(smtp)
    assert 3 == len(carried)  # juan's temporary password, maria's and the SUPERVISOR's codes
    assert [] == none_held(before, carried)
    assert [] == none_held(b"".join(m.payload for m in queued), carried)
    assert [] == none_held(store_bytes(db_path), carried)
    hasher = cheap_hasher()
    juan = store.get_user("juan")
    assert juan is not None
    assert juan.temporary is not None
    assert juan.temporary.hash is not None
    assert hasher.verify(juan.temporary.hash, mail_to(smtp, "juan@empresa.mx", _TEMPORARY))
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == window.authenticate("juan", carried[0]).status
    window.confirm_recovery_email("maria", mail_to(smtp, "maria@empresa.mx", _CODE))
    window.confirm_recovery_email("SUPERVISOR", mail_to(smtp, "jefa@empresa.mx", _CODE))


def test_keyed_queued_request_holds_no_secret(
    db_path: Path, smtp: SmtpServer, pwrecovery_smtp_mailer: pr.SmtpMailer
) -> None:
    """A service holding the key that queues a request (``delivery="queued"``) queues no
    secret either: the key opens nothing in the outbox, since nothing there is sealed.
    Release 1 fails: its queued payload was the temporary password sealed under the key."""
    key = pr.generate_key()
    store = pr.SqliteStore(db_path)
    admin = company(store, pwrecovery_smtp_mailer, key, smtp)
    admin.request_recovery("juan", delivery="queued")
    before = store_bytes(db_path)
    (message,) = queued_messages(store)
    assert_holds_no_secret(message)
    juan = store.get_user("juan")
    assert juan is not None
    assert juan.temporary is not None
    assert juan.temporary.hash is None
    box = SecretBox(key)
    for sender in store.list_senders():
        with pytest.raises(pr.SecretUndecryptable):
            box.open(message.payload, sender.account)
    assert pr.DeliveryReport(sent=1) == admin.deliver_pending()
    assert [] == none_held(before, secrets_mailed(smtp))


# -- finding 3: a keyless login window, and a worker in another process ------------------------


@attrs.frozen
class Deployment:
    location: Path | str  # the SQLite file or the PostgreSQL URL every process opens
    files: Path | None  # the SQLite file, to read its bytes


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "sqlite":
        path = tmp_path / "empresa.db"
        yield Deployment(path, path)
        return
    engine: sa.Engine = request.getfixturevalue("postgres_engine")
    yield Deployment(engine.url.render_as_string(hide_password=False), None)


def run_worker(deployment: Deployment, key: str, certificates: Certificates) -> dict[str, int]:
    """``pwrecovery deliver``, as the scheduler would start it: another process, the key."""
    (report,) = run_processes(
        keyless_worker.deliver, [(deployment.location, key, certificates.ca_file)]
    )
    counts: dict[str, int] = json.loads(report)
    return counts


def test_keyless_window_is_a_full_login_window(
    deployment: Deployment,
    smtp: SmtpServer,
    pwrecovery_smtp_mailer: pr.SmtpMailer,
    pwrecovery_certificates: Certificates,
) -> None:
    """With ``secret_key=None``: addresses set and confirmed, sign-in, "Recuperar clave",
    the forced change and an address change all work, every mail queued; a worker holding
    the key, in another process on the same store, sends them; the secrets it mailed work
    at the window. The window's mailer is never used. Release 1 fails at once: it refused
    to build a service without a key."""
    key = pr.generate_key()
    admin = keyed(open_store(deployment.location), pwrecovery_smtp_mailer, key)
    admin.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    admin.add_user("juan", USER_PASSWORD)
    admin.configure_sender("SUPERVISOR", smtp.settings(SMTP_USERNAME), SMTP_TEST_PASSWORD)
    smtp.reset()
    window_mailer = pr.RecordingMailer()
    window = pr.RecoveryService(
        store=open_store(deployment.location),
        mailer=window_mailer,
        secret_key=None,
        hasher=cheap_hasher(),
    )

    window.set_recovery_email("SUPERVISOR", "supervisor@empresa.mx")
    window.set_recovery_email("juan", "juan@empresa.mx")
    assert {"sent": 2, "retried": 0, "abandoned": 0, "dropped": 0} == run_worker(
        deployment, key, pwrecovery_certificates
    )
    for login in ("SUPERVISOR", "juan"):
        code = mail_to(smtp, f"{login.lower()}@empresa.mx", _CODE)
        window.confirm_recovery_email(login, code)
    assert pr.LoginStatus.OK == window.authenticate("juan", USER_PASSWORD).status

    sent = window.request_recovery("juan")  # queued: the window cannot send
    assert "j***@empresa.mx" == sent.masked_address
    assert 1 == run_worker(deployment, key, pwrecovery_certificates)["sent"]
    temporary = mail_to(smtp, "juan@empresa.mx", _TEMPORARY)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == window.authenticate("juan", temporary).status
    window.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    window.set_recovery_email("juan", "juan.perez@empresa.mx")  # the old address is told
    assert 3 == run_worker(deployment, key, pwrecovery_certificates)["sent"]
    purposes = [(r.rcpt_tos[0], r.message["X-PwRecovery-Purpose"]) for r in smtp.outbox[-3:]]
    assert sorted(purposes) == sorted(
        [
            ("juan@empresa.mx", pr.Purpose.PASSWORD_CHANGED.value),
            ("juan.perez@empresa.mx", pr.Purpose.EMAIL_VERIFICATION.value),
            ("juan@empresa.mx", pr.Purpose.ADDRESS_CHANGED.value),
        ]
    )
    window.confirm_recovery_email("juan", mail_to(smtp, "juan.perez@empresa.mx", _CODE))
    assert pr.LoginStatus.OK == window.authenticate("juan", NEW_PASSWORD).status
    with pytest.raises(pr.InvalidCredentials):
        window.authenticate("juan", temporary)
    assert ([], []) == (window_mailer.outbox, window_mailer.logins)
    assert "juan.perez@empresa.mx" == window.get_user("juan").recovery_email


def test_keyless_window_refuses_what_needs_the_key(
    deployment: Deployment, smtp: SmtpServer, pwrecovery_smtp_mailer: pr.SmtpMailer
) -> None:
    """``configure_sender`` and ``deliver_pending`` need the key: a keyless window raises
    ``SecretKeyMissing`` (before any connection) and ``readiness()`` says the key is
    missing, while still counting the window as ready for requests. Release 1 fails: no
    keyless service existed."""
    key = pr.generate_key()
    admin = company(open_store(deployment.location), pwrecovery_smtp_mailer, key, smtp)
    del admin
    window = keyless(open_store(deployment.location))
    with pytest.raises(pr.SecretKeyMissing):
        window.configure_sender("juan", smtp.settings(SMTP_USERNAME), SMTP_TEST_PASSWORD)
    with pytest.raises(pr.SecretKeyMissing):
        window.deliver_pending()
    readiness = window.readiness()
    assert (False, True) == (readiness.key_present, readiness.ready)
    assert "secret_key_missing" in [p.code for p in readiness.problems()]
    assert ([], []) == (smtp.logins, smtp.outbox)


def test_nothing_the_window_writes_decrypts(
    deployment: Deployment,
    smtp: SmtpServer,
    pwrecovery_smtp_mailer: pr.SmtpMailer,
    pwrecovery_certificates: Certificates,
) -> None:
    """What a keyless window writes can never be turned into a usable secret, even with the
    key: its credentials have no hash yet, its queued mails are plain JSON that no key
    opens, and the sender rows are exactly as before (the window cannot seal anything).
    The worker then makes secrets the window never saw, and they work. Release 1 fails:
    no keyless window, and its queued mails carried the sealed password."""
    key = pr.generate_key()
    store = open_store(deployment.location)
    company(store, pwrecovery_smtp_mailer, key, smtp)
    senders_before = store.list_senders()
    bytes_before = store_bytes(deployment.files) if deployment.files is not None else b""
    window = keyless(open_store(deployment.location))
    window.request_recovery("juan")
    window.set_recovery_email("maria", "maria@empresa.mx")
    window.set_recovery_email("juan", "juan.nuevo@empresa.mx")  # replaces nothing yet

    assert senders_before == store.list_senders()
    box = SecretBox(key)
    queued = queued_messages(store)
    assert 4 == len(queued)
    for message in queued:
        assert_holds_no_secret(message)
        for sender in senders_before:
            with pytest.raises(pr.SecretUndecryptable):
                box.open(message.payload, sender.account)
    for user in store.list_users():
        assert user.temporary is None or user.temporary.hash is None
        pending = user.pending_verification
        assert pending is None or pending.code_hash is None
    written = store_bytes(deployment.files) if deployment.files is not None else b""

    assert 4 == run_worker(deployment, key, pwrecovery_certificates)["sent"]
    carried = secrets_mailed(smtp)
    assert 3 == len(carried)
    assert [] == none_held(bytes_before + written, carried)
    temporary = mail_to(smtp, "juan@empresa.mx", _TEMPORARY)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == window.authenticate("juan", temporary).status


def test_a_stale_worker_mail_is_dropped_not_sent(
    db_path: Path, smtp: SmtpServer, pwrecovery_smtp_mailer: pr.SmtpMailer
) -> None:
    """Two presses at a keyless window queue two mails; the worker sends one temporary
    password (the newer request's) and drops the other, so exactly one secret is valid."""
    key = pr.generate_key()
    company(pr.SqliteStore(db_path), pwrecovery_smtp_mailer, key, smtp)
    window = keyless(pr.SqliteStore(db_path))
    window.request_recovery("juan")
    window.request_recovery("juan")
    worker = keyed(pr.SqliteStore(db_path), pwrecovery_smtp_mailer, key)
    assert pr.DeliveryReport(sent=1, dropped=1) == worker.deliver_pending()
    (temporary,) = secrets_mailed(smtp)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == window.authenticate("juan", temporary).status
