"""import_users(dry_run=True): every check of a real import, and nothing written or sent."""

from __future__ import annotations

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, sender_settings

DJANGO = pr.Pbkdf2Hasher(iterations=1000)


@pytest.fixture
def importer(make_service: ServiceFactory) -> pr.RecoveryService:
    """A service that knows Django hashes, with a supervisor and a checked sender."""
    service = make_service(legacy_hashers=(pr.Pbkdf2Hasher(),))
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    return service


def rows() -> list[pr.ImportedUser]:
    return [
        pr.ImportedUser(
            login="ana",
            password_hash=DJANGO.hash("Clave de ana 2026"),
            display_name="Ana López",
            recovery_email="ana@empresa.mx",
            recovery_email_verified=True,
        ),
        pr.ImportedUser(
            login="pedro",
            password_hash=DJANGO.hash("Clave de pedro 2026"),
            recovery_email="pedro@empresa.mx",
            locale="en",
        ),
    ]


def test_dry_run_returns_the_users_and_writes_nothing(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A dry run answers the users a real import would create, and leaves the users,
    the audit trail and the outbox as they were."""
    users, trail, sent = importer.users(), importer.audit_trail(), len(mailer.outbox)
    would = importer.import_users(rows(), dry_run=True)
    assert (users, trail, sent) == (importer.users(), importer.audit_trail(), len(mailer.outbox))
    assert [
        pr.User("ana", "Ana López", False, "ana@empresa.mx", True),
        pr.User("pedro", "", False, "pedro@empresa.mx", False, locale="en"),
    ] == would
    assert would == importer.import_users(rows())
    assert sent + 1 == len(mailer.outbox)  # the real import mails pedro's code


def test_dry_run_refuses_what_a_real_import_refuses(importer: pr.RecoveryService) -> None:
    """A dry run raises the same ImportRejected, row by row, as the real import would."""
    bad = [*rows(), pr.ImportedUser(login="SUPERVISOR", password_hash="not a hash")]
    with pytest.raises(pr.ImportRejected) as dry:
        importer.import_users(bad, dry_run=True)
    with pytest.raises(pr.ImportRejected) as real:
        importer.import_users(bad)
    assert [(3, "SUPERVISOR", "unknown_hash")] == list(dry.value.rows)
    assert dry.value.rows == real.value.rows
    assert ["SUPERVISOR"] == [user.login for user in importer.users()]


def test_dry_run_must_be_a_bool(importer: pr.RecoveryService) -> None:
    """dry_run takes True or False only: a truthy text is a configuration error."""
    with pytest.raises(pr.InvalidConfiguration):
        importer.import_users(rows(), dry_run="no")  # type: ignore[arg-type]
    assert ["SUPERVISOR"] == [user.login for user in importer.users()]
