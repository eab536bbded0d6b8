"""Every limit holds when workstations race for it, on each shared store: a SQLite file
(one file, many connections) and a real PostgreSQL server.

Release 1 checked a limit on a read and counted it after the action, so racing
workstations all read "under the limit" and all acted: the security review sent a
dozen mails for one user and checked forty guessed passwords against one hash. Release 2
*takes* each limit in a conditional write before the action. These tests race threads
(each with its own connection) and spawned processes, released together by a barrier,
and count what went through: mails handed to the mailer, checks against the stored hash
(``HashLedger``, a ``CountingHasher`` that notes which hash), audit events. Every racer
reads a clock standing at one instant, so the waits answered are exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing import verification_code_in
from tests.helpers import USER_PASSWORD
from tests.integration import limits_workers
from tests.integration.limits_workers import Workstations, close, connect, prepare, workstation
from tests.racing import HashLedger, checks_in, race_threads

PROCESSES = 8
THREADS_PER_PROCESS = 5
LIMIT = pr.Policy()  # the defaults: 3 requests an hour, 5 failures, 5 tries of a code
LOCKED = f"too_many_attempts {LIMIT.lockout_base.total_seconds():g}"
REQUESTS_FULL = f"rate_limited {LIMIT.recovery_window.total_seconds():g}"
# Forty wrong passwords at once, for a login that exists or not: four say so, the fifth
# takes the lock and says so, the other thirty-five find the lock.
FORTY_WRONG = Counter({"invalid_credentials": 4, LOCKED: 36})


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the workstations' shared store is: a file path or a server URL."""
    if request.param == "sqlite":
        return str(tmp_path / "empresa.db")
    request.getfixturevalue("postgres_engine")  # a server with no tables left over
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="module", autouse=True)
def workstations() -> Iterator[Workstations]:
    """Eight spawned processes for the whole module (spawning costs more than a race),
    started with the module so that they start up while the threads race."""
    started = Workstations(PROCESSES)
    yield started
    started.close()


@pytest.fixture
def key() -> str:
    return pr.generate_key()


@pytest.fixture
def racers(location: str) -> Iterator[Callable[[int], list[pr.Store]]]:
    """Stores for racing threads, each with a connection of its own; closed afterwards."""
    opened: list[pr.Store] = []

    def make(count: int) -> list[pr.Store]:
        stores = connect(location, count)
        opened.extend(stores)
        return stores

    yield make
    close(opened)


@pytest.fixture
def store(racers: Callable[[int], list[pr.Store]], key: str) -> pr.Store:
    """A supervisor, juan with a verified address and a sender, on the shared store."""
    prepared = racers(1)[0]
    prepare(prepared, key)
    return prepared


@pytest.fixture
def at() -> datetime:
    """The instant every racer's clock stands at."""
    return datetime.now(UTC)


def audited(events: list[pr.AuditEvent], kind: str, **detail: str) -> int:
    """How many of ``events`` are of ``kind``, with ``detail``."""
    return sum(
        1
        for event in events
        if event.kind == kind and all(event.detail.get(k) == v for k, v in detail.items())
    )


def wrong_passwords(count: int) -> list[str]:
    return [f"no es la clave {number}" for number in range(count)]


# -- 1. "Recuperar clave" pressed at once ------------------------------------------------


def test_twenty_threads_pressing_at_once_send_at_most_three_mails(
    racers: Callable[[int], list[pr.Store]], key: str, store: pr.Store, at: datetime
) -> None:
    """Attack: the rate-limit race (release 1 sent a mail to every one of 20 workstations
    pressing "Recuperar clave" together: each read "no request yet"). Now each request is
    counted before its mail: recovery_requests_per_window (3) mails, and every other
    press is RateLimited with the window's wait, nothing else."""
    mailers = [pr.RecordingMailer() for _ in range(20)]
    services = [
        workstation(racer, key, at, mailer=mailer)
        for racer, mailer in zip(racers(20), mailers, strict=True)
    ]
    answers = race_threads([lambda s=s: s.request_recovery("juan") for s in services])
    assert Counter({"recovery_sent": 3, REQUESTS_FULL: 17}) == Counter(answers)
    assert 3 == sum(len(mailer.outbox) for mailer in mailers)
    assert 3 == audited(store.audit_trail("juan"), "mail_sent", purpose="temporary-password")


def test_failed_deliveries_still_count_under_a_race(
    racers: Callable[[int], list[pr.Store]], key: str, store: pr.Store, at: datetime
) -> None:
    """Attack: the rate-limit race with a mail server that refuses the message (release 1
    counted a request only once its mail went out, so a failing server let every press
    log in to it). Now a request counts before its mail: three presses reach the server
    (DeliveryFailed), the rest are RateLimited, and a later press is still refused."""
    mailers = [pr.RecordingMailer(rejecting_hosts={"smtp.empresa.mx"}) for _ in range(20)]
    services = [
        workstation(racer, key, at, mailer=mailer)
        for racer, mailer in zip(racers(20), mailers, strict=True)
    ]
    answers = race_threads([lambda s=s: s.request_recovery("juan") for s in services])
    assert Counter({"delivery_failed": 3, REQUESTS_FULL: 17}) == Counter(answers)
    assert (0, 3) == (
        sum(len(m.outbox) for m in mailers),
        sum(len(m.logins) for m in mailers),
    )
    user = store.get_user("juan")
    assert user is not None
    assert (3, None) == (len(user.recovery_requests), user.temporary)
    working = workstation(store, key, at)
    with pytest.raises(pr.RateLimited):
        working.request_recovery("juan")


@pytest.mark.parametrize("failing", [False, True], ids=["delivered", "delivery-fails"])
def test_eight_processes_pressing_at_once_send_at_most_three_mails(
    workstations: Workstations,
    location: str,
    key: str,
    store: pr.Store,
    at: datetime,
    failing: bool,
) -> None:
    """Attack: the rate-limit race across processes (release 1: each workstation program
    read the shared store, saw room, and sent). 8 processes × 3 threads press at once:
    three requests reach the mail server (sent, or DeliveryFailed when it refuses them,
    which still counts); the other 21 are RateLimited."""
    report = workstations.run(limits_workers.press_recover, (location, key, at, 3, failing))
    reached = "delivery_failed" if failing else "recovery_sent"
    assert Counter({reached: 3, REQUESTS_FULL: 21}) == Counter(report["answers"])
    assert (0 if failing else 3, 3) == (report["mails"], report["smtp_logins"])
    user = store.get_user("juan")
    assert user is not None
    assert 3 == len(user.recovery_requests)


# -- 2. The sign-in lock, raced ----------------------------------------------------------


def test_forty_threads_guessing_at_once_check_the_hash_five_times(
    racers: Callable[[int], list[pr.Store]], key: str, store: pr.Store, at: datetime
) -> None:
    """Attack: the lockout race (release 1 checked all 40 guesses typed at once against
    juan's hash before counting any). Now each guess takes an attempt first: exactly
    max_failed_sign_ins (5) are checked against the hash, the 5th takes the lock, the
    other 35 are refused unchecked; yet every answer costs one key derivation."""
    ledger = HashLedger()
    services = [workstation(racer, key, at, hasher=ledger) for racer in racers(40)]
    password_hash = store.get_user("juan").password_hash  # type: ignore[union-attr]
    ledger.reset()  # the dummy hashes each service made when built
    answers = race_threads(
        [
            lambda s=s, p=p: s.authenticate("juan", p)
            for s, p in zip(services, wrong_passwords(40), strict=True)
        ]
    )
    assert FORTY_WRONG == Counter(answers)
    assert (5, 40, 0) == (ledger.checks_of(password_hash), ledger.verifies, ledger.hashes)
    assert 5 == audited(store.audit_trail("juan"), "sign_in_failed", reason="invalid_credentials")
    assert 35 == audited(store.audit_trail("juan"), "sign_in_refused", reason="locked")


def test_a_right_password_racing_wrong_ones_takes_an_attempt_too(
    racers: Callable[[int], list[pr.Store]], key: str, store: pr.Store, at: datetime
) -> None:
    """Attack: the lockout race with the right password among the guesses (release 1
    checked it whatever its place, so a dictionary typed at once found it). Now it takes an
    attempt like the others: refused unchecked if five attempts were taken first; checked
    (and signed in) only if it was among them, and then its success ends that run of
    failures, so at most 4 wrong ones before it and 5 after were checked."""
    wrong, right = HashLedger(), HashLedger()
    *others, own = racers(40)
    services = [workstation(racer, key, at, hasher=wrong) for racer in others]
    owner = workstation(own, key, at, hasher=right)
    password_hash = store.get_user("juan").password_hash  # type: ignore[union-attr]
    wrong.reset()
    right.reset()
    actions = [
        lambda s=s, p=p: s.authenticate("juan", p)
        for s, p in zip(services, wrong_passwords(39), strict=True)
    ]
    actions.insert(17, lambda: owner.authenticate("juan", USER_PASSWORD))
    answers = race_threads(actions)
    owners = answers.pop(17)
    assert {"invalid_credentials", LOCKED} >= set(answers)
    assert owners in {"ok", LOCKED}
    assert 40 == wrong.verifies + right.verifies  # one key derivation per answer
    if owners == "ok":
        assert 1 == right.checks_of(password_hash)
        assert wrong.checks_of(password_hash) <= 4 + 5
    else:
        assert (0, 5) == (right.checks_of(password_hash), wrong.checks_of(password_hash))
    failures = [
        int(e.detail["failures"]) for e in store.audit_trail("juan") if e.kind == "sign_in_failed"
    ]
    assert max(failures) <= LIMIT.max_failed_sign_ins


def test_eight_processes_guessing_at_once_check_the_hash_five_times(
    workstations: Workstations,
    location: str,
    key: str,
    store: pr.Store,
    at: datetime,
    tmp_path: Path,
) -> None:
    """Attack: the lockout race across processes, for a login that exists and for one that
    does not (release 1 checked every guess; and an unknown login never locked). 8
    processes × 5 threads guess at once: 5 checks against juan's hash (the ledger every
    process appends to), 5 audited invalid_credentials and 35 audited locked refusals, and
    the unknown login answers exactly the same."""
    password_hash = store.get_user("juan").password_hash  # type: ignore[union-attr]
    passwords = wrong_passwords(PROCESSES * THREADS_PER_PROCESS)
    seen, checked = {}, {}
    for login in ("juan", "nadie"):
        ledger = tmp_path / f"{login}.ledger"
        report = workstations.run_each(
            limits_workers.guess_passwords,
            [(location, key, at, login, passwords[n::PROCESSES], ledger) for n in range(PROCESSES)],
        )
        seen[login] = Counter(report["answers"])
        checked[login] = checks_in(ledger, password_hash)
    assert FORTY_WRONG == seen["juan"] == seen["nadie"]
    assert {"juan": 5, "nadie": 0} == checked
    trail = workstation(store, key, at).audit_trail
    for login in ("juan", "nadie"):
        assert (5, 35) == (
            audited(trail(login), "sign_in_failed", reason="invalid_credentials"),
            audited(trail(login), "sign_in_refused", reason="locked"),
        )


# -- 2b. The tries at a verification code, raced ------------------------------------------


@pytest.fixture
def pending_code(key: str, store: pr.Store) -> tuple[str, str]:
    """juan has asked to change his recovery address: the code mailed, and its hash."""
    mailer = pr.RecordingMailer()
    service = pr.RecoveryService(store=store, mailer=mailer, secret_key=key, hasher=HashLedger())
    service.set_recovery_email("juan", "juan.nuevo@empresa.mx")  # the code, then a notice
    user = store.get_user("juan")
    assert user is not None
    assert user.pending_verification is not None
    assert user.pending_verification.code_hash is not None
    return verification_code_in(mailer.outbox[0]), user.pending_verification.code_hash


def wrong_codes(count: int, right: str) -> list[str]:
    codes = [f"{number:08d}" for number in range(1, count + 2)]
    return [code for code in codes if code != right][:count]


def test_forty_threads_trying_codes_at_once_check_five(
    racers: Callable[[int], list[pr.Store]],
    key: str,
    store: pr.Store,
    at: datetime,
    pending_code: tuple[str, str],
) -> None:
    """Attack: the verification-code race (release 1 checked every one of 40 codes typed
    at once). Now each try is taken before its code is checked: verification_code_attempts
    (5) are checked against the code's hash, every answer is VerificationFailed, and the
    spent code no longer confirms even when right."""
    code, code_hash = pending_code
    ledger = HashLedger()
    services = [workstation(racer, key, at, hasher=ledger) for racer in racers(40)]
    ledger.reset()
    answers = race_threads(
        [
            lambda s=s, c=c: s.confirm_recovery_email("juan", c)
            for s, c in zip(services, wrong_codes(40, code), strict=True)
        ]
    )
    assert ["verification_failed"] * 40 == answers
    assert (5, 40) == (ledger.checks_of(code_hash), ledger.verifies)
    with pytest.raises(pr.VerificationFailed):
        services[0].confirm_recovery_email("juan", code)
    user = store.get_user("juan")
    assert user is not None
    assert (None, False) == (user.pending_verification, user.recovery_email_verified)


def test_eight_processes_trying_codes_at_once_check_five(
    workstations: Workstations,
    location: str,
    key: str,
    at: datetime,
    pending_code: tuple[str, str],
    tmp_path: Path,
) -> None:
    """Attack: the verification-code race across processes. 8 processes × 5 threads try a
    code at once: 5 checks against the code's hash in the ledger every process appends
    to, and 40 VerificationFailed."""
    code, code_hash = pending_code
    ledger = tmp_path / "codes.ledger"
    codes = wrong_codes(PROCESSES * THREADS_PER_PROCESS, code)
    report = workstations.run_each(
        limits_workers.guess_codes,
        [(location, key, at, "juan", codes[n::PROCESSES], ledger) for n in range(PROCESSES)],
    )
    assert ["verification_failed"] * 40 == report["answers"]
    assert 5 == checks_in(ledger, code_hash)


# -- 3. Enumeration through the lock, raced ------------------------------------------------


@pytest.mark.parametrize("disclosure", ["detailed", "uniform"])
def test_a_real_and_an_unknown_login_lock_alike_under_a_race(
    racers: Callable[[int], list[pr.Store]],
    key: str,
    store: pr.Store,
    at: datetime,
    disclosure: str,
) -> None:
    """Attack: enumeration through the lock (release 1 locked only logins that exist, so
    guessing until "too many attempts" told which exist). Forty guesses at once for juan
    and forty for a login that does not exist (whose fingerprint row the racers all try
    to insert at version 0): the same answers with the same waits, in both disclosure
    modes; and one key derivation per answer either way."""
    policy = pr.Policy(disclosure=disclosure)  # type: ignore[arg-type]
    seen, work = {}, {}
    stores = racers(40)
    for login in ("juan", "nadie"):
        ledger = HashLedger()
        services = [workstation(racer, key, at, hasher=ledger, policy=policy) for racer in stores]
        answers = race_threads(
            [
                lambda s=s, p=p, typed=login: s.authenticate(typed, p)
                for s, p in zip(services, wrong_passwords(40), strict=True)
            ]
        )
        seen[login], work[login] = Counter(answers), ledger.verifies
    assert FORTY_WRONG == seen["juan"] == seen["nadie"]
    assert {"juan": 40, "nadie": 40} == work  # one key derivation per answer, either way
    fingerprint = workstation(store, key, at).audit_trail("nadie")[-1].login
    assert fingerprint is not None
    assert fingerprint.startswith("#")
    throttle = store.get_throttle(fingerprint)
    assert throttle is not None
    assert (5, 5) == (throttle.sign_in.failures, store.get_user("juan").sign_in.failures)  # type: ignore[union-attr]
