"""Users whose passwords nobody knows: their old hashes, made by each algorithm's own
reference (hashlib for Django's PBKDF2, the bcrypt package), sign them in, and the first
sign-in stores an Argon2id hash in the same transaction; on every store, and with two
workstations signing in at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.records import Attempts, QueuedMessage, UserRecord
from tests.conftest import ServiceFactory
from tests.contract.conftest import STORE_FACTORIES
from tests.helpers import NEW_PASSWORD, cheap_hasher
from tests.integration.workers import open_store, run_processes
from tests.legacy_hashes import (
    BARRIER_TIMEOUT,
    OLD_PASSWORD,
    bcrypt_hash,
    django_pbkdf2,
    legacy_hashers,
    legacy_workstation,
    sign_in_in_step,
    stores_of_every_kind,
)

ARGON2ID = "$argon2id$"


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """Each store kind in turn (MariaDB too, once it is in that table)."""
    yield from stores_of_every_kind(request, tmp_path)


@pytest.fixture
def reopen(
    store: pr.Store, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], pr.Store]]:
    """Another handle on the same store, as another workstation opens it (its own
    connection; the in-memory store is shared as it is)."""
    kind = request.node.callspec.params["store"]
    opened: list[pr.Store] = []

    def again() -> pr.Store:
        if kind == "memory":
            return store
        other = STORE_FACTORIES[kind](request, tmp_path)
        opened.append(other)
        return other

    yield again
    for other in opened:
        other.close()  # type: ignore[attr-defined]


@pytest.fixture
def legacy(make_service: ServiceFactory) -> pr.RecoveryService:
    """A service that still knows Django's and bcrypt hashes."""
    return make_service(legacy_hashers=legacy_hashers())


def imported(service: pr.RecoveryService, **hashes: str) -> None:
    rows = [pr.ImportedUser(login=login, password_hash=h) for login, h in hashes.items()]
    service.import_users(rows, origin="MIGRACION")


def stored_hash(store: pr.Store, key: str) -> str:
    record = store.get_user(key)
    assert record is not None
    return record.password_hash


def kinds(service: pr.RecoveryService, login: str) -> list[str]:
    return [event.kind for event in service.audit_trail(login)]


# -- the old hashes sign in, and are replaced -----------------------------------------


def test_a_django_hash_made_by_hashlib_signs_in_and_is_upgraded(
    legacy: pr.RecoveryService, store: pr.Store
) -> None:
    """A Django ``pbkdf2_sha256`` hash computed with hashlib signs its user in with the
    old password; the sign-in stores an Argon2id hash and audits the upgrade with the
    scheme only, never a hash."""
    old = django_pbkdf2(OLD_PASSWORD)
    imported(legacy, ana=old)
    assert pr.LoginStatus.OK == legacy.authenticate("ana", OLD_PASSWORD, origin="CAJA-01").status
    new = stored_hash(store, "ana")
    assert new.startswith(ARGON2ID)
    assert cheap_hasher().verify(new, OLD_PASSWORD)
    trail = legacy.audit_trail("ana")
    assert [
        ("user_imported", "MIGRACION", {"scheme": "Pbkdf2Hasher", "supervisor": "False"}),
        ("signed_in", "CAJA-01", {}),
        ("password_upgraded", "CAJA-01", {"scheme": "Pbkdf2Hasher"}),
    ] == [(e.kind, e.origin, dict(e.detail)) for e in trail]
    shown = repr(legacy.audit_trail())
    assert (old not in shown, new not in shown, old.split("$")[3] not in shown) == (
        True,
        True,
        True,
    )
    assert pr.LoginStatus.OK == legacy.authenticate("ana", OLD_PASSWORD).status
    assert 1 == kinds(legacy, "ana").count("password_upgraded")
    assert () == legacy.readiness().legacy_hash_users


@pytest.mark.parametrize("prefix", [b"2a", b"2b", b"2y"])
def test_a_bcrypt_hash_made_by_the_bcrypt_package_signs_in_and_is_upgraded(
    legacy: pr.RecoveryService, store: pr.Store, prefix: bytes
) -> None:
    """A bcrypt hash made by the bcrypt package ($2a$, $2b$, and PHP's $2y$ name for the
    same algorithm) signs its user in; the sign-in replaces it with Argon2id."""
    made = bcrypt_hash(OLD_PASSWORD, prefix=b"2b" if prefix == b"2y" else prefix)
    old = "$2y$" + made[4:] if prefix == b"2y" else made
    imported(legacy, bea=old)
    with pytest.raises(pr.InvalidCredentials):
        legacy.authenticate("bea", "Clave de 2020")
    assert old == stored_hash(store, "bea")
    assert pr.LoginStatus.OK == legacy.authenticate("bea", OLD_PASSWORD).status
    assert stored_hash(store, "bea").startswith(ARGON2ID)
    upgrades = [e for e in legacy.audit_trail("bea") if e.kind == "password_upgraded"]
    assert [{"scheme": "BcryptHasher"}] == [dict(e.detail) for e in upgrades]


def test_djangos_own_make_password_is_read(tmp_path: Path) -> None:
    """A hash made by Django's own ``make_password`` (its default PBKDF2, a million
    iterations) signs its user in and is upgraded; and Django's ``check_password``
    accepts what ``Pbkdf2Hasher`` writes: the formats are the same."""
    pytest.importorskip("django")
    from django.conf import settings  # noqa: PLC0415 (only where Django is installed)

    if not settings.configured:
        settings.configure()
    from django.contrib.auth.hashers import check_password, make_password  # noqa: PLC0415

    made = make_password(OLD_PASSWORD)
    assert made.startswith("pbkdf2_sha256$")
    assert check_password(OLD_PASSWORD, pr.Pbkdf2Hasher(iterations=1000).hash(OLD_PASSWORD))
    store = pr.SqliteStore(tmp_path / "django.db")
    service = pr.RecoveryService(
        store=store,
        mailer=pr.RecordingMailer(),
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
        legacy_hashers=legacy_hashers(),
    )
    imported(service, carlos=made)
    assert pr.LoginStatus.OK == service.authenticate("carlos", OLD_PASSWORD).status
    assert stored_hash(store, "carlos").startswith(ARGON2ID)
    store.close()


class TransactionLog:
    """A store that notes what each user write carried (the hash, the events' kinds);
    every call goes to the real store."""

    def __init__(self, inner: pr.Store) -> None:
        self._inner = inner
        self.writes: list[tuple[str, list[str]]] = []

    def update_user(
        self,
        record: UserRecord,
        *,
        expected_version: int,
        events: Sequence[pr.AuditEvent] = (),
        enqueue: Sequence[QueuedMessage] = (),
    ) -> bool:
        written = self._inner.update_user(
            record, expected_version=expected_version, events=events, enqueue=enqueue
        )
        if written:
            self.writes.append((record.password_hash, [event.kind for event in events]))
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_the_new_hash_is_stored_in_the_same_transaction_as_the_sign_in(
    make_service: ServiceFactory, store: pr.Store
) -> None:
    """The Argon2id hash is written by the very write that records the sign-in (one
    store transaction with its ``signed_in`` and ``password_upgraded`` events): no
    moment exists where the sign-in is recorded and the old hash still stored."""
    log = TransactionLog(store)
    service = make_service(store=log, legacy_hashers=legacy_hashers())
    imported(service, ana=django_pbkdf2(OLD_PASSWORD))
    log.writes.clear()
    service.authenticate("ana", OLD_PASSWORD)
    settled = [(h[: len(ARGON2ID)], kinds) for h, kinds in log.writes if kinds]
    assert [(ARGON2ID, ["signed_in", "password_upgraded"])] == settled


def test_a_wrong_password_against_a_legacy_hash_counts_as_any_failure(
    legacy: pr.RecoveryService, store: pr.Store, clock: pr.ManualClock
) -> None:
    """Wrong passwords against an imported hash are counted, audited and locked exactly as
    against any other; the lock holds even for the right password; nothing is upgraded."""
    old = django_pbkdf2(OLD_PASSWORD)
    imported(legacy, ana=old)
    for _ in range(4):
        with pytest.raises(pr.InvalidCredentials):
            legacy.authenticate("ana", "Clave de 2020")
    with pytest.raises(pr.TooManyAttempts):
        legacy.authenticate("ana", "Clave de 2020")
    with pytest.raises(pr.TooManyAttempts):
        legacy.authenticate("ana", OLD_PASSWORD)
    failures = [
        e.detail["failures"] for e in legacy.audit_trail("ana") if e.kind == "sign_in_failed"
    ]
    assert ["1", "2", "3", "4", "5"] == failures
    assert old == stored_hash(store, "ana")
    assert ("ana",) == legacy.readiness().legacy_hash_users
    clock.advance(timedelta(hours=2))
    assert pr.LoginStatus.OK == legacy.authenticate("ana", OLD_PASSWORD).status
    assert stored_hash(store, "ana").startswith(ARGON2ID)


def test_readiness_lists_who_is_still_on_a_legacy_hash_after_n_days(
    legacy: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """``readiness(legacy_older_than=N days).legacy_hash_users`` lists the users imported
    at least N days ago who have not signed in since (their old hash is still stored)."""
    imported(
        legacy,
        ana=django_pbkdf2(OLD_PASSWORD),
        bea=bcrypt_hash(OLD_PASSWORD),
        carlos=django_pbkdf2(OLD_PASSWORD),
    )
    clock.advance(timedelta(days=1))
    legacy.authenticate("ana", OLD_PASSWORD)
    clock.advance(timedelta(days=19))
    imported(legacy, diana=django_pbkdf2(OLD_PASSWORD))  # a late arrival, on day 20
    clock.advance(timedelta(days=10))  # day 30
    assert ("bea", "carlos") == legacy.readiness(
        legacy_older_than=timedelta(days=30)
    ).legacy_hash_users
    assert ("bea", "carlos", "diana") == legacy.readiness(
        legacy_older_than=timedelta(days=10)
    ).legacy_hash_users
    assert () == legacy.readiness(legacy_older_than=timedelta(days=31)).legacy_hash_users
    problems = legacy.readiness(legacy_older_than=timedelta(days=30)).problems()
    assert [{"count": "2", "older_than_seconds": str(30 * 86400)}] == [
        dict(p.params) for p in problems if p.code == "users_on_legacy_hash"
    ]


def test_the_legacy_hash_sentence_says_after_how_long(
    legacy: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """The readiness sentence about users still on a legacy hash says after how long
    (the ``{days}`` of the catalogs), not "… after ; …"."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD))
    clock.advance(timedelta(days=30))
    readiness = legacy.readiness(legacy_older_than=timedelta(days=30))
    (problem,) = [p for p in readiness.problems() if p.code == "users_on_legacy_hash"]
    assert (
        "1 user still has the password imported from another system after 30 days; it will "
        "be better protected once they sign in."
    ) == problem.message("en")
    assert (
        "1 usuario sigue con la clave importada de otro sistema después de 30 días; quedará "
        "mejor protegida en cuanto ingrese."
    ) == problem.message("es_MX")


def test_without_an_age_the_legacy_hash_sentence_names_none(legacy: pr.RecoveryService) -> None:
    """``readiness()`` without ``legacy_older_than`` counts every user on a legacy hash
    and its sentence claims no age."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD), bea=bcrypt_hash(OLD_PASSWORD))
    (problem,) = [p for p in legacy.readiness().problems() if p.code == "users_on_legacy_hash"]
    assert (
        "2 users still have the password imported from another system; each will be better "
        "protected once its user signs in."
    ) == problem.message("en")


def test_once_upgraded_a_user_needs_no_legacy_hasher(
    legacy: pr.RecoveryService, make_service: ServiceFactory
) -> None:
    """After the first sign-in the user's hash is the service's own: a service without
    any legacy hasher signs them in; a user who never signed in is then refused, which
    is why ``legacy_hash_users`` must be empty before the legacy hasher is dropped."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD), bea=bcrypt_hash(OLD_PASSWORD))
    legacy.authenticate("ana", OLD_PASSWORD)
    plain = make_service()
    assert pr.LoginStatus.OK == plain.authenticate("ana", OLD_PASSWORD).status
    with pytest.raises(pr.InvalidCredentials):
        plain.authenticate("bea", OLD_PASSWORD)
    assert ("bea",) == legacy.readiness().legacy_hash_users


# -- two workstations at the same instant ----------------------------------------------


def test_two_threads_signing_in_with_the_legacy_password_upgrade_it_once(
    legacy: pr.RecoveryService, store: pr.Store, reopen: Callable[[], pr.Store]
) -> None:
    """Two workstations (threads, each with its own connection) sign in with the old
    password, both checking the legacy hash before either writes: both are signed in,
    the hash is upgraded exactly once, and no sign-in is lost or counted as a failure."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD))
    barrier = threading.Barrier(2)
    key = pr.generate_key()
    outcomes: list[str] = []

    workstations = [legacy_workstation(reopen(), key, barrier) for _ in range(2)]

    def sign_in(workstation: pr.RecoveryService) -> None:
        try:
            workstation.authenticate("ana", OLD_PASSWORD)
        except pr.PwRecoveryError as error:
            outcomes.append(error.code)
        else:
            outcomes.append("ok")

    threads = [threading.Thread(target=sign_in, args=(w,)) for w in workstations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)
    assert ["ok", "ok"] == outcomes
    trail = kinds(legacy, "ana")
    assert (2, 1, 0) == (
        trail.count("signed_in"),
        trail.count("password_upgraded"),
        trail.count("sign_in_failed"),
    )
    record = store.get_user("ana")
    assert record is not None
    assert (True, True, Attempts()) == (
        record.password_hash.startswith(ARGON2ID),
        cheap_hasher().verify(record.password_hash, OLD_PASSWORD),
        record.sign_in,
    )


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the workstations' shared store is: a file path or a server URL."""
    if request.param == "sqlite":
        return str(tmp_path / "empresa.db")
    if request.param == "mariadb":
        request.getfixturevalue("mariadb_engine")  # a server with no tables left over
        maria: str = request.getfixturevalue("mariadb_url")
        return maria
    request.getfixturevalue("postgres_engine")  # a server with no tables left over
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_two_processes_signing_in_with_the_legacy_password_upgrade_it_once(
    location: str,
) -> None:
    """Two workstations (processes) on a SQLite file, a PostgreSQL or a MariaDB server
    sign in with the old password at the same instant, both checking the legacy hash
    before either writes: both are signed in and the hash is upgraded exactly once."""
    key = pr.generate_key()
    setup = pr.RecoveryService(
        store=open_store(location),
        mailer=pr.RecordingMailer(),
        secret_key=key,
        hasher=cheap_hasher(),
        legacy_hashers=legacy_hashers(),
    )
    imported(setup, ana=django_pbkdf2(OLD_PASSWORD))
    assert ["ok", "ok"] == run_processes(sign_in_in_step, [(location, key)] * 2)
    trail = kinds(setup, "ana")
    assert (2, 1, 0) == (
        trail.count("signed_in"),
        trail.count("password_upgraded"),
        trail.count("sign_in_failed"),
    )
    final = open_store(location).get_user("ana")
    assert final is not None
    assert cheap_hasher().verify(final.password_hash, OLD_PASSWORD)


class PausedAfterChecking:
    """A ``PasswordHasher`` around a real one: ``verify`` says it has checked, then waits
    until it is let go (another workstation acts in between)."""

    def __init__(self, inner: pr.PasswordHasher) -> None:
        self.inner = inner
        self.checked = threading.Event()
        self.go_on = threading.Event()

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        matched = self.inner.verify(encoded, password)
        self.checked.set()
        self.go_on.wait(BARRIER_TIMEOUT)
        return matched

    def identifies(self, encoded: str) -> bool:
        return self.inner.identifies(encoded)

    def needs_rehash(self, encoded: str) -> bool:
        return self.inner.needs_rehash(encoded)


def test_a_change_of_password_stands_when_a_sign_in_upgraded_the_hash_meanwhile(
    legacy: pr.RecoveryService,
    make_service: ServiceFactory,
    store: pr.Store,
    reopen: Callable[[], pr.Store],
) -> None:
    """A user changes the password with the old one at one workstation while signing in
    at another: the sign-in upgrades the hash between the change's check and its write.
    The old password was right, so the change stands (and the new password works)."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD))
    paused = PausedAfterChecking(pr.Pbkdf2Hasher())
    changing = make_service(store=reopen(), legacy_hashers=(paused,))
    outcome: list[str] = []

    def change() -> None:
        try:
            changing.change_password("ana", OLD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
        except pr.PwRecoveryError as error:
            outcome.append(error.code)
        else:
            outcome.append("ok")

    thread = threading.Thread(target=change)
    thread.start()
    assert paused.checked.wait(BARRIER_TIMEOUT)
    assert pr.LoginStatus.OK == legacy.authenticate("ana", OLD_PASSWORD).status  # upgrades
    paused.go_on.set()
    thread.join(BARRIER_TIMEOUT)
    assert ["ok"] == outcome
    assert pr.LoginStatus.OK == legacy.authenticate("ana", NEW_PASSWORD).status
    with pytest.raises(pr.InvalidCredentials):
        legacy.authenticate("ana", OLD_PASSWORD)
    assert ["password_upgraded", "password_changed"] == [
        k for k in kinds(legacy, "ana") if k in {"password_upgraded", "password_changed"}
    ]


def test_a_password_changed_meanwhile_still_refuses_the_old_one(
    legacy: pr.RecoveryService, make_service: ServiceFactory, reopen: Callable[[], pr.Store]
) -> None:
    """If the password was *changed* (not upgraded) between a sign-in's check and its
    write, the old password no longer stands: that sign-in is refused."""
    imported(legacy, ana=django_pbkdf2(OLD_PASSWORD))
    paused = PausedAfterChecking(pr.Pbkdf2Hasher())
    signing_in = make_service(store=reopen(), legacy_hashers=(paused,))
    outcome: list[str] = []

    def sign_in() -> None:
        try:
            signing_in.authenticate("ana", OLD_PASSWORD)
        except pr.PwRecoveryError as error:
            outcome.append(error.code)
        else:
            outcome.append("ok")

    thread = threading.Thread(target=sign_in)
    thread.start()
    assert paused.checked.wait(BARRIER_TIMEOUT)
    legacy.change_password("ana", OLD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    paused.go_on.set()
    thread.join(BARRIER_TIMEOUT)
    assert ["invalid_credentials"] == outcome
    assert pr.LoginStatus.OK == legacy.authenticate("ana", NEW_PASSWORD).status


@pytest.mark.parametrize(
    "typed",
    [
        "Clave nº 1",  # "º" from a Spanish keyboard: NFKC makes it "o"
        "Año 2ª vez",  # "ª": NFKC makes it "a"
        "Contrasen\u0303a 7",  # "ñ" typed as n + combining tilde (NFD)
        "Fácil´´ 2019",  # the acute accent typed twice: NFKC makes it " ́"
    ],
)
@pytest.mark.parametrize("scheme", ["django", "bcrypt"])
def test_a_legacy_hash_of_a_password_nfkc_would_change_signs_in(
    legacy: pr.RecoveryService, store: pr.Store, typed: str, scheme: str
) -> None:
    """The old application hashed the password exactly as typed. A password that NFKC
    changes ("º", "ª", a decomposed "ñ", a typed accent) still signs in against its
    legacy hash; the upgrade stores the service's own hash of it, which signs the same
    typing in from then on."""
    old = django_pbkdf2(typed) if scheme == "django" else bcrypt_hash(typed)
    imported(legacy, ana=old)
    assert pr.LoginStatus.OK == legacy.authenticate("ana", typed).status
    assert stored_hash(store, "ana").startswith(ARGON2ID)
    assert pr.LoginStatus.OK == legacy.authenticate("ana", typed).status
