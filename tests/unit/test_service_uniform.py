"""disclosure="uniform": every login gets the same answer."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import (
    SMTP_PASSWORD,
    sender_settings,
    temporary_password_in,
)

# No response-time floor here: these tests count answers and mails, not time.
UNIFORM = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))


@pytest.fixture
def uniform(make_service: ServiceFactory, ready: pr.RecoveryService) -> pr.RecoveryService:
    return make_service(policy=UNIFORM)


def test_same_answer_for_every_login(
    uniform: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Unknown user, user without address and real user get the identical RecoverySent."""
    uniform.add_user("sin.correo", "Clave sin correo 7")
    answers = {login: uniform.request_recovery(login) for login in ("juan", "nadie", "sin.correo")}
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
    uniform = make_service(policy=UNIFORM)
    for login in ("juan", "nadie"):
        with pytest.raises(pr.NoSenderConfigured):
            uniform.request_recovery(login)
    uniform.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    assert "***@***" == uniform.request_recovery("nadie").masked_address


def test_uniform_answers_take_the_response_time(
    make_service: ServiceFactory, ready: pr.RecoveryService
) -> None:
    """Every uniform answer takes at least Policy.uniform_response_time, whoever asks."""
    floor = timedelta(milliseconds=80)
    uniform = make_service(
        policy=pr.Policy(disclosure="uniform", uniform_response_time=floor), clock=pr.SystemClock()
    )
    for login in ("juan", "nadie", ""):
        started = time.monotonic()
        with contextlib.suppress(pr.InvalidLogin):
            uniform.request_recovery(login)
        assert time.monotonic() - started >= floor.total_seconds()


def test_manual_clock_waits_without_blocking(
    make_service: ServiceFactory, ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """With a ManualClock the wait moves the clock instead of blocking the test."""
    uniform = make_service(
        policy=pr.Policy(disclosure="uniform", uniform_response_time=timedelta(hours=1))
    )
    before = clock.now()
    started = time.monotonic()
    uniform.request_recovery("nadie")
    assert time.monotonic() - started < 5
    assert timedelta(minutes=59) < clock.now() - before <= timedelta(hours=1)


def test_detailed_mode_does_not_wait(
    make_service: ServiceFactory, ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """The floor belongs to uniform mode only."""
    before = clock.now()
    make_service().request_recovery("juan")
    assert before == clock.now()
