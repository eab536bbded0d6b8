"""The sender's SMTP budget and rest: what a flood of requests can cost the mail provider.

Release 1, in uniform mode, logged in to the mail server for every request, even for a
login that does not exist (a "rehearsal" of the delivery, so that every login costs the
same): a script asking for unknown logins made the provider lock the company's sender
account. Now every SMTP login, rehearsal or real mail, takes one from the sender's
budget (``Policy.smtp_logins_per_minute``) in a conditional write first; beyond it every
login gets the same RateLimited. A sender whose credentials were refused
``sender_failures_before_cooldown`` times in a row rests ``sender_cooldown``.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, sender_settings
from tests.racing import BARRIER_SECONDS, StillClock, answer

UNIFORM = pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))
BUDGET = UNIFORM.smtp_logins_per_minute
MAIN, BACKUP = "smtp.empresa.mx", "smtp.respaldo.mx"


@pytest.fixture
def two_senders(ready: pr.RecoveryService) -> tuple[str, str]:
    """The supervisor's sender (tried first) and juan's backup sender: their ids."""
    ready.configure_sender("juan", sender_settings(BACKUP, "envios@respaldo.mx"), SMTP_PASSWORD)
    ready.add_user("pedro", "Pedro sin correo 1")  # a user without a recovery address
    main, backup = (account.id for account in ready.senders())
    return main, backup


def hosts(mailer: pr.RecordingMailer, since: int) -> list[str]:
    """The servers logged in to since the ``since``-th login."""
    return [host for host, _ in mailer.logins[since:]]


def test_480_unknown_logins_a_minute_make_at_most_the_budget_of_smtp_logins(
    make_service: ServiceFactory,
    two_senders: tuple[str, str],
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Attack: SMTP logins for unknown logins (release 1: 480 uniform-mode requests a
    minute for logins that do not exist made 480 logins to the company's mail server, and
    the provider locked the account). 8 threads ask 60 times each over one minute: each
    sender is logged in to at most its budget (20), every answer is the generic one or
    RateLimited, and once the budget is spent a real user, a user without an address and
    an unknown login get the same RateLimited, with the same wait."""
    still = StillClock(clock.now() + timedelta(hours=1))  # the setup's logins long past
    services = [make_service(policy=UNIFORM, clock=still) for _ in range(8)]
    rounds = threading.Barrier(len(services), action=lambda: still.advance(seconds=1))
    before = len(mailer.logins)
    answers: list[str] = []

    def ask(number: int, service: pr.RecoveryService) -> None:
        for turn in range(60):  # the clock moves one second as each round starts
            rounds.wait(timeout=BARRIER_SECONDS)
            answers.append(answer(lambda t=turn: service.request_recovery(f"nadie{number}-{t}")))

    threads = [threading.Thread(target=ask, args=item) for item in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter({MAIN: BUDGET, BACKUP: BUDGET}) == Counter(hosts(mailer, before))
    seen = Counter(answer.split()[0] for answer in answers)
    assert {"recovery_sent", "rate_limited"} == set(seen)
    assert (480, 2 * BUDGET) <= (seen.total(), seen["recovery_sent"])
    spent = len(mailer.logins)
    same = {
        answer(lambda login=login: services[0].request_recovery(login))
        for login in ("juan", "pedro", "nadie")
    }
    assert 1 == len(same)
    assert same.pop().startswith("rate_limited ")
    assert spent == len(mailer.logins)
    still.advance(minutes=1)
    assert "recovery_sent" == answer(lambda: services[0].request_recovery("nadie"))
    assert [MAIN] == hosts(mailer, spent)


def test_rehearsals_and_real_mails_share_one_budget(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A rehearsal (uniform mode, a login that does not exist) takes from the same budget
    as a real mail: five unknown logins spend a budget of five, and juan's real request
    is then RateLimited, with no SMTP login, until the minute has passed."""
    detailed = make_service(policy=pr.Policy(smtp_logins_per_minute=5))
    uniform = make_service(policy=pr.Policy(smtp_logins_per_minute=5, disclosure="uniform"))
    clock.advance(minutes=1)  # the setup's logins are past
    before = len(mailer.logins)
    for number in range(5):
        uniform.request_recovery(f"nadie{number}")
    assert [MAIN] * 5 == hosts(mailer, before)
    with pytest.raises(pr.RateLimited) as caught:
        detailed.request_recovery("juan")
    assert 5 == len(mailer.logins) - before
    clock.advance(caught.value.retry_after)
    detailed.request_recovery("juan")
    assert "juan@empresa.mx" in mailer.outbox[-1]["To"]


def test_a_sender_refused_three_times_in_a_row_rests_then_comes_back(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    two_senders: tuple[str, str],
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """Attack: a flood of requests while the provider refuses the sender's password
    (release 1 kept logging in with it, until the provider locked the account for good).
    After sender_failures_before_cooldown (3) refusals in a row the sender rests for
    sender_cooldown (15 minutes): audited sender_cooling_down, listed by readiness(),
    skipped by every delivery (rehearsal or real mail) meanwhile, and tried again after."""
    main, backup = two_senders
    uniform = make_service(policy=UNIFORM)
    mailer.passwords["envios@empresa.mx"] = "cambiada por el proveedor"
    before = len(mailer.logins)
    for number in range(3):
        uniform.request_recovery(f"nadie{number}")
    assert [MAIN, BACKUP] * 3 == hosts(mailer, before)
    until = clock.now() + ready.policy.sender_cooldown
    resting = [
        (event.detail["sender"], event.detail["until"])
        for event in ready.audit_trail()
        if event.kind == "sender_cooling_down"
    ]
    assert [(main, until.isoformat())] == resting
    assert ((main, until),) == ready.readiness().cooling_down_senders
    assert (backup,) == ready.readiness().usable_senders
    before = len(mailer.logins)
    uniform.request_recovery("nadie3")
    ready.request_recovery("juan")
    assert [BACKUP, BACKUP] == hosts(mailer, before)
    assert BACKUP == mailer.sent_through[-1].host
    mailer.passwords["envios@empresa.mx"] = SMTP_PASSWORD  # the company fixed the password
    clock.advance(ready.policy.sender_cooldown)
    assert () == ready.readiness().cooling_down_senders
    before = len(mailer.logins)
    uniform.request_recovery("nadie4")
    assert [MAIN] == hosts(mailer, before)


def test_while_the_only_sender_rests_every_login_gets_the_same_wait(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """With one sender, resting after three refused logins, no request logs in anywhere:
    a real user, a user without an address and an unknown login all get RateLimited with
    the rest's remaining time, in both disclosure modes."""
    ready.add_user("pedro", "Pedro sin correo 1")
    uniform = make_service(policy=UNIFORM)
    mailer.passwords["envios@empresa.mx"] = "cambiada por el proveedor"
    for number in range(3):
        uniform.request_recovery(f"nadie{number}")
    clock.advance(minutes=5)
    before = len(mailer.logins)
    asked = [(uniform, "juan"), (uniform, "pedro"), (uniform, "nadie"), (ready, "juan")]
    answers = [answer(lambda s=s, typed=typed: s.request_recovery(typed)) for s, typed in asked]
    assert [f"rate_limited {timedelta(minutes=10).total_seconds():g}"] * 4 == answers
    assert before == len(mailer.logins)


def test_the_budgets_refusal_says_what_it_is(
    make_service: ServiceFactory, ready: pr.RecoveryService
) -> None:
    """A refusal for the senders' budget says that too many mails are going out, not that
    this user asked too often."""
    busy = make_service(policy=pr.Policy(smtp_logins_per_minute=1))  # spent by `ready`
    with pytest.raises(pr.RateLimited) as caught:
        busy.request_recovery("juan")
    assert "smtp_budget" == caught.value.reason
    assert caught.value.message("en").startswith("No more mails can be sent right now")
