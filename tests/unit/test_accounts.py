"""How a user's record changes with each event (release 2 rules).

Every transition is checked against the whole record: the fields it is meant to
change take their new values and every other field (a busy record has them all
set) stays as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import records
from pwrecovery._domain import accounts
from pwrecovery.records import Attempts, PendingVerification, TemporaryCredential, Throttle

POLICY = pr.Policy()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
OLD_HASH = "$argon2id$v=19$m=8,t=1,p=1$b2xkc2FsdHNhbHQ$b2xkaGFzaG9sZGhhc2hvbGRoYXNo"
NEW_HASH = "$argon2id$v=19$m=8,t=1,p=1$bmV3c2FsdHNhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNo"
LOCKED = Attempts(failures=6, locked_until=NOW + timedelta(minutes=2), last_failure_at=NOW)
COUNTING = Attempts(failures=2, locked_until=None, last_failure_at=NOW - timedelta(minutes=3))


def credential(name: str = "t1", issued_at: datetime = NOW) -> TemporaryCredential:
    return TemporaryCredential(
        id=name,
        hash=f"hash-of-{name}",
        issued_at=issued_at,
        expires_at=issued_at + POLICY.temporary_password_ttl,
    )


def pending(
    attempts: int = 0,
    expires_at: datetime = NOW + timedelta(hours=24),
    code_hash: str | None = "code-hash",
) -> PendingVerification:
    return PendingVerification(
        code_hash=code_hash, expires_at=expires_at, attempts=attempts, id="v1"
    )


def busy(**changes: object) -> records.UserRecord:
    """A record with every field set away from its default, so that a transition that
    touches a field it should not is seen."""
    values: dict[str, object] = {
        "login": "Juan",
        "key": "juan",
        "display_name": "Juan Pérez",
        "supervisor": True,
        "password_hash": OLD_HASH,
        "recovery_email": "viejo@empresa.mx",
        "recovery_email_verified": True,
        "pending_verification": pending(1),
        "temporary": credential(),
        "sign_in": LOCKED,
        "temporary_sign_in": COUNTING,
        "recovery_requests": (NOW - timedelta(minutes=90), NOW - timedelta(minutes=10)),
        "disabled": False,
        "locale": "en",
        "created_at": NOW - timedelta(days=30),
        "version": 7,
    }
    values.update(changes)
    return records.UserRecord(**values)  # type: ignore[arg-type]


def unknown(**changes: object) -> Throttle:
    values: dict[str, object] = {
        "fingerprint": "#0123456789abcdef",
        "sign_in": LOCKED,
        "temporary_sign_in": COUNTING,
        "touched_at": NOW,
        "version": 3,
    }
    values.update(changes)
    return Throttle(**values)  # type: ignore[arg-type]


# -- attempts on each route ----------------------------------------------------------


@pytest.mark.parametrize("holder", [busy(), unknown()], ids=["user", "unknown-login"])
def test_attempts_on_reads_each_route_separately(holder: records.UserRecord | Throttle) -> None:
    """The ordinary password's attempts and the temporary password's are kept apart, on a
    user and on an unknown login's fingerprint alike."""
    expected = (LOCKED, COUNTING)
    actual = (accounts.attempts_on(holder, "password"), accounts.attempts_on(holder, "temporary"))
    assert expected == actual


def test_with_attempts_sets_only_its_route_on_a_user() -> None:
    """Writing one route's attempts leaves the other route and the rest of the record."""
    fresh = Attempts(failures=1, last_failure_at=NOW)
    before = busy()
    assert attrs.evolve(before, sign_in=fresh) == accounts.with_attempts(before, "password", fresh)
    assert attrs.evolve(before, temporary_sign_in=fresh) == accounts.with_attempts(
        before, "temporary", fresh
    )


def test_with_attempts_sets_only_its_route_on_an_unknown_login() -> None:
    """A fingerprint's counters change the same way, and stay a Throttle with their
    fingerprint, touched_at and version."""
    fresh = Attempts(failures=1, last_failure_at=NOW)
    before = unknown()
    after = accounts.with_attempts(before, "temporary", fresh)
    assert attrs.evolve(before, temporary_sign_in=fresh) == after
    assert Throttle is type(after)


ATTEMPTS = st.builds(
    Attempts,
    failures=st.integers(min_value=0, max_value=50),
    locked_until=st.none() | st.just(NOW + timedelta(minutes=5)),
    last_failure_at=st.none() | st.just(NOW),
)


@given(
    route=st.sampled_from(["password", "temporary"]),
    attempts=ATTEMPTS,
    holder=st.sampled_from([busy(), unknown()]),
)
def test_attempts_written_are_the_attempts_read(
    route: accounts.Route, attempts: Attempts, holder: records.UserRecord | Throttle
) -> None:
    """For either route and holder: what with_attempts writes, attempts_on reads back, and
    the other route is unchanged."""
    other: accounts.Route = "temporary" if route == "password" else "password"
    after = accounts.with_attempts(holder, route, attempts)
    assert attempts == accounts.attempts_on(after, route)
    assert accounts.attempts_on(holder, other) == accounts.attempts_on(after, other)


# -- signing in ---------------------------------------------------------------------


def test_signed_in_with_password_forgets_its_failures_and_revokes_the_temporary() -> None:
    """The ordinary password worked: its route's failures and lock are gone, the hash
    passed in (perhaps a rehash) is stored and the temporary password is revoked; the
    temporary route's attempts and everything else stay."""
    before = busy()
    expected = attrs.evolve(before, sign_in=Attempts(), password_hash=NEW_HASH, temporary=None)
    assert expected == accounts.signed_in_with_password(before, NEW_HASH)


def test_signed_in_with_temporary_keeps_it_and_the_ordinary_lock() -> None:
    """The temporary password worked (even while the ordinary one is locked): only the
    temporary route's attempts are cleared; the temporary password stays until the
    password is changed, and the ordinary route's lock stays."""
    before = busy()
    expected = attrs.evolve(before, temporary_sign_in=Attempts())
    assert expected == accounts.signed_in_with_temporary(before)


# -- recovery -------------------------------------------------------------------------


def test_request_taken_remembers_the_recent_requests_and_this_one() -> None:
    """A request is counted before its mail goes out: the requests still in the window and
    this one are kept, an older one is dropped, nothing else changes."""
    before = busy()
    expected = attrs.evolve(before, recovery_requests=(NOW - timedelta(minutes=10), NOW))
    assert expected == accounts.request_taken(before, NOW, POLICY)


def test_temporary_issued_replaces_the_credential_and_counts_nothing() -> None:
    """A newer temporary password replaces the older one; the ordinary password, the
    attempts and the requests (counted by request_taken) stay."""
    before = busy(temporary=credential("t1", NOW - timedelta(days=1)))
    newer = credential("t2")
    assert attrs.evolve(before, temporary=newer) == accounts.temporary_issued(before, newer)


def test_recovery_undelivered_leaves_no_temporary_but_keeps_the_count() -> None:
    """No mail went out: no temporary password is left active, yet the request still
    counts toward the limit."""
    before = busy()
    assert attrs.evolve(before, temporary=None) == accounts.recovery_undelivered(before)


def test_password_changed_clears_both_routes_and_the_temporary() -> None:
    """Any change of password stores the new hash, consumes the temporary password and
    clears the attempts and locks of both routes; the address and the code stay."""
    before = busy()
    expected = attrs.evolve(
        before,
        password_hash=NEW_HASH,
        temporary=None,
        sign_in=Attempts(),
        temporary_sign_in=Attempts(),
    )
    assert expected == accounts.password_changed(before, NEW_HASH)


@pytest.mark.parametrize(
    ("credential_", "now", "expected"),
    [
        (None, NOW, False),
        (attrs.evolve(credential(), hash=None), NOW, False),
        (credential(), NOW, True),
        (credential(), credential().expires_at - MICROSECOND, True),
        (credential(), credential().expires_at, False),
    ],
    ids=["absent", "not-yet-made", "fresh", "last-instant", "expired"],
)
def test_temporary_usable(
    credential_: TemporaryCredential | None, now: datetime, expected: bool
) -> None:
    """A temporary password is usable when it exists, has been made (its hash is set by
    the worker that mails it) and has not expired."""
    assert expected == accounts.temporary_usable(credential_, now)


def test_temporary_expired_follows_its_expiry() -> None:
    """A temporary password is expired from its expires_at on, not a microsecond before."""
    issued = credential()
    expected = (False, True)
    actual = (
        accounts.temporary_expired(issued, issued.expires_at - MICROSECOND),
        accounts.temporary_expired(issued, issued.expires_at),
    )
    assert expected == actual


# -- the recovery address ---------------------------------------------------------


def test_address_pending_replaces_the_address_unverified() -> None:
    """A new address counts only once confirmed: it is kept unverified with its code, and
    the user no longer has a verified address."""
    before = busy()
    code = pending(0)
    after = accounts.address_pending(before, "juan@empresa.mx", code)
    expected = attrs.evolve(
        before,
        recovery_email="juan@empresa.mx",
        recovery_email_verified=False,
        pending_verification=code,
    )
    assert expected == after
    assert False is after.has_verified_address


def test_address_vouched_counts_at_once() -> None:
    """An address the host vouches for (an import) is verified at once and any pending
    code is dropped."""
    before = busy(recovery_email_verified=False)
    expected = attrs.evolve(
        before,
        recovery_email="juan@empresa.mx",
        recovery_email_verified=True,
        pending_verification=None,
    )
    assert expected == accounts.address_vouched(before, "juan@empresa.mx")


def test_address_confirmed_verifies_the_pending_address() -> None:
    """The right code makes the pending address verified and discards the code."""
    before = accounts.address_pending(busy(), "juan@empresa.mx", pending())
    expected = attrs.evolve(before, recovery_email_verified=True, pending_verification=None)
    after = accounts.address_confirmed(before)
    assert expected == after
    assert True is after.has_verified_address


def test_verification_taken_counts_one_try() -> None:
    """One try at the code is taken before the code is checked; nothing else changes."""
    before = busy(pending_verification=pending(2))
    expected = attrs.evolve(before, pending_verification=pending(3))
    assert expected == accounts.verification_taken(before)


@pytest.mark.parametrize(
    "transition",
    [
        accounts.verification_taken,
        lambda record: accounts.verification_spent(record, POLICY, NOW),
    ],
    ids=["taken", "spent"],
)
def test_no_code_no_change(transition: Callable[[records.UserRecord], records.UserRecord]) -> None:
    """With no pending code there is nothing to count or discard."""
    before = busy(pending_verification=None)
    assert before == transition(before)


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        (pending(POLICY.verification_code_attempts - 1), True),
        (pending(POLICY.verification_code_attempts), False),
        (pending(POLICY.verification_code_attempts + 3), False),
        (pending(1, expires_at=NOW + MICROSECOND), True),
        (pending(1, expires_at=NOW), False),
    ],
    ids=["tries-left", "last-try-used", "beyond", "not-yet-expired", "expired"],
)
def test_verification_spent_discards_a_code_with_no_tries_left_or_expired(
    code: PendingVerification, kept: bool
) -> None:
    """After a wrong code: the code stays while it has tries left and time; a code whose
    tries are used up, or that has expired, is discarded."""
    before = busy(pending_verification=code)
    expected = before if kept else attrs.evolve(before, pending_verification=None)
    assert expected == accounts.verification_spent(before, POLICY, NOW)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, False),
        (pending(code_hash=None), False),
        (pending(), True),
        (pending(expires_at=NOW + MICROSECOND), True),
        (pending(expires_at=NOW), False),
        (pending(POLICY.verification_code_attempts - 1), True),
        (pending(POLICY.verification_code_attempts), False),
    ],
    ids=[
        "absent",
        "not-yet-made",
        "fresh",
        "last-instant",
        "expired",
        "last-try-left",
        "no-try-left",
    ],
)
def test_verification_usable(code: PendingVerification | None, expected: bool) -> None:
    """A code can be tried when it exists, has been made (hash set), has not expired and
    has tries left."""
    assert expected == accounts.verification_usable(code, NOW, POLICY)


@given(limit=st.integers(min_value=1, max_value=12))
def test_a_code_can_be_tried_exactly_the_allowed_number_of_times(limit: int) -> None:
    """Taking a try while usable, then spending it on a wrong code, allows exactly
    verification_code_attempts wrong tries for any setting, and then the code is gone."""
    policy = pr.Policy(verification_code_attempts=limit)
    record = busy(pending_verification=pending(0))
    tries = 0
    while accounts.verification_usable(record.pending_verification, NOW, policy):
        record = accounts.verification_spent(accounts.verification_taken(record), policy, NOW)
        tries += 1
        assert tries <= limit  # a bug that never spends the code would loop for ever
    assert (limit, None) == (tries, record.pending_verification)


# -- the host's actions ----------------------------------------------------------------


def test_disabled_revokes_what_is_pending() -> None:
    """A disabled user can neither sign in nor recover: the temporary password and the
    pending code are revoked; the address, the hash and the attempts stay."""
    before = busy()
    expected = attrs.evolve(before, disabled=True, temporary=None, pending_verification=None)
    assert expected == accounts.disabled(before)


def test_unlocked_clears_both_routes() -> None:
    """The host's unlock clears the attempts and locks of both routes and nothing else."""
    before = busy()
    expected = attrs.evolve(before, sign_in=Attempts(), temporary_sign_in=Attempts())
    assert expected == accounts.unlocked(before)


# -- values ---------------------------------------------------------------------------


TRANSITIONS: dict[str, Callable[[records.UserRecord], object]] = {
    "with_attempts": lambda r: accounts.with_attempts(r, "password", Attempts(failures=1)),
    "signed_in_with_password": lambda r: accounts.signed_in_with_password(r, NEW_HASH),
    "signed_in_with_temporary": accounts.signed_in_with_temporary,
    "request_taken": lambda r: accounts.request_taken(r, NOW, POLICY),
    "temporary_issued": lambda r: accounts.temporary_issued(r, credential("t9")),
    "recovery_undelivered": accounts.recovery_undelivered,
    "password_changed": lambda r: accounts.password_changed(r, NEW_HASH),
    "address_pending": lambda r: accounts.address_pending(r, "nuevo@empresa.mx", pending()),
    "address_vouched": lambda r: accounts.address_vouched(r, "nuevo@empresa.mx"),
    "address_confirmed": accounts.address_confirmed,
    "verification_taken": accounts.verification_taken,
    "verification_spent": lambda r: accounts.verification_spent(r, POLICY, NOW),
    "disabled": accounts.disabled,
    "unlocked": accounts.unlocked,
}


@given(
    name=st.sampled_from(sorted(TRANSITIONS)),
    temporary=st.none() | st.just(credential()),
    code=st.none() | st.builds(pending, st.integers(min_value=0, max_value=9)),
    sign_in=ATTEMPTS,
    requests=st.lists(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)), max_size=5
    ),
)
def test_transitions_never_change_their_input(
    name: str,
    temporary: TemporaryCredential | None,
    code: PendingVerification | None,
    sign_in: Attempts,
    requests: list[timedelta],
) -> None:
    """Records are values: every transition returns a new record and leaves the one it
    was given exactly as it was, whatever that record holds."""
    before = busy(
        temporary=temporary,
        pending_verification=code,
        sign_in=sign_in,
        recovery_requests=tuple(NOW - ago for ago in requests),
    )
    snapshot = copy.deepcopy(before)
    after = TRANSITIONS[name](before)
    event("changed" if after != before else "unchanged")
    assert snapshot == before


def test_transitions_cover_the_module() -> None:
    """Every public transition of accounts is in the table the value test runs."""
    readers = {"attempts_on", "temporary_usable", "temporary_expired", "verification_usable"}
    public = {
        name
        for name, value in vars(accounts).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == accounts.__name__
    }
    assert public - readers == set(TRANSITIONS)
