"""disclosure="uniform" (DESIGN §3): every login gets the same answer."""

from __future__ import annotations

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import (
    SMTP_PASSWORD,
    sender_settings,
    temporary_password_in,
)


@pytest.fixture
def uniform(make_service: ServiceFactory, ready: pr.RecoveryService) -> pr.RecoveryService:
    return make_service(policy=pr.Policy(disclosure="uniform"))


def test_same_answer_for_every_login(
    uniform: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Unknown user, user without address and real user get the identical RecoverySent."""
    uniform.add_user("sin.correo", "Clave sin correo 7")
    answers = {
        login: uniform.request_recovery(login) for login in ("juan", "nadie", "sin.correo", "")
    }
    assert 1 == len(set(answers.values()))
    assert "***@***" == answers["juan"].masked_address
    assert 1 == len(mailer.outbox)
    assert "juan@empresa.mx" in mailer.outbox[0]["To"]


def test_uniform_mail_still_works(uniform: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """Where it can, uniform mode mails a working temporary password."""
    uniform.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == uniform.authenticate("juan", temporary).status


def test_uniform_hides_rate_limit(uniform: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """A rate-limited request answers as any other and sends nothing."""
    answers = {uniform.request_recovery("juan") for _ in range(5)}
    assert 1 == len(answers)
    assert 3 == len(mailer.outbox)


def test_uniform_hides_delivery_failure(
    uniform: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A delivery failure answers as a success would, and leaves no temporary password."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    answer = uniform.request_recovery("juan")
    assert "***@***" == answer.masked_address
    assert "temporary_password_withdrawn" in [e.kind for e in uniform.audit_trail("juan")]


def test_uniform_refusals_are_audited(uniform: pr.RecoveryService) -> None:
    """The host still sees in the audit trail why nothing was sent."""
    uniform.request_recovery("nadie")
    event = uniform.audit_trail()[-1]
    assert ("recovery_refused", "unknown_user") == (event.kind, event.detail["reason"])


def test_uniform_reports_missing_configuration(
    make_service: ServiceFactory, service: pr.RecoveryService
) -> None:
    """No sender at all is a configuration fault, the same for every login: it is reported."""
    uniform = make_service(policy=pr.Policy(disclosure="uniform"))
    for login in ("juan", "nadie"):
        with pytest.raises(pr.NoSenderConfigured):
            uniform.request_recovery(login)
    uniform.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    assert "***@***" == uniform.request_recovery("nadie").masked_address
