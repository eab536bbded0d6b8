"""How a user's record changes with each event (DESIGN §1.1, §1.3, §1.4, §3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

import pwrecovery as pr
from pwrecovery import records
from pwrecovery._domain import accounts

POLICY = pr.Policy()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OLD_HASH = "$argon2id$v=19$m=8,t=1,p=1$b2xk$b2xkaGFzaA"
NEW_HASH = "$argon2id$v=19$m=8,t=1,p=1$bmV3$bmV3aGFzaA"


def record(**changes: object) -> records.UserRecord:
    values: dict[str, object] = {"login": "juan", "key": "juan", "password_hash": OLD_HASH}
    values.update(changes)
    return records.UserRecord(**values)  # type: ignore[arg-type]


def credential(name: str = "t1", issued_at: datetime = NOW) -> records.TemporaryCredential:
    return records.TemporaryCredential(
        id=name,
        hash=f"hash-of-{name}",
        issued_at=issued_at,
        expires_at=issued_at + POLICY.temporary_password_ttl,
    )


def pending(
    attempts: int = 0, expires_at: datetime = NOW + timedelta(hours=24)
) -> records.PendingVerification:
    return records.PendingVerification(code_hash="code-hash", expires_at=expires_at, attempts=attempts)


def test_temporary_issued_sets_the_credential_and_keeps_the_password() -> None:
    """Issuing a temporary password leaves the ordinary password hash untouched."""
    issued = credential()
    after = accounts.temporary_issued(record(), issued, NOW, POLICY)
    assert issued == after.temporary
    assert OLD_HASH == after.password_hash


def test_temporary_issued_replaces_an_older_credential() -> None:
    """A newer recovery request replaces the older temporary password."""
    older = credential("t1", NOW - timedelta(days=1))
    newer = credential("t2")
    after = accounts.temporary_issued(record(temporary=older), newer, NOW, POLICY)
    assert newer == after.temporary
    assert OLD_HASH == after.password_hash


def test_temporary_issued_counts_the_request() -> None:
    """Each issued temporary password counts toward the recovery rate limit."""
    after = accounts.temporary_issued(record(), credential(), NOW, POLICY)
    assert (NOW,) == after.recovery_requests


def test_signed_in_with_password_revokes_the_temporary() -> None:
    """A sign-in with the ordinary password revokes any temporary password."""
    before = record(temporary=credential(), failed_sign_ins=3)
    after = accounts.signed_in_with_password(before, OLD_HASH)
    assert after.temporary is None


def test_signed_in_with_password_resets_failures_and_lock() -> None:
    """A successful sign-in clears the failure count and any lock."""
    before = record(failed_sign_ins=7, locked_until=NOW - timedelta(minutes=1))
    after = accounts.signed_in_with_password(before, OLD_HASH)
    assert (0, None) == (after.failed_sign_ins, after.locked_until)


def test_signed_in_with_password_stores_a_rehash() -> None:
    """The hash passed in (a rehash after a parameter rise) is the one stored."""
    after = accounts.signed_in_with_password(record(), NEW_HASH)
    assert NEW_HASH == after.password_hash


def test_signed_in_with_temporary_keeps_it_until_the_change() -> None:
    """Signing in with the temporary password does not consume it yet."""
    issued = credential()
    after = accounts.signed_in_with_temporary(record(temporary=issued, failed_sign_ins=2))
    assert issued == after.temporary
    assert OLD_HASH == after.password_hash
    assert 0 == after.failed_sign_ins


def test_password_changed_consumes_the_temporary() -> None:
    """Changing the password consumes the temporary one and stores the new hash."""
    after = accounts.password_changed(record(temporary=credential()), NEW_HASH)
    assert after.temporary is None
    assert NEW_HASH == after.password_hash


def test_password_changed_resets_failures() -> None:
    """A password change clears failures and any lock."""
    before = record(failed_sign_ins=6, locked_until=NOW + timedelta(minutes=2))
    after = accounts.password_changed(before, NEW_HASH)
    assert (0, None) == (after.failed_sign_ins, after.locked_until)


@pytest.mark.parametrize("previous", [0, 1, 2, 3])
def test_sign_in_failed_below_the_threshold_does_not_lock(previous: int) -> None:
    """The first four failures only count; they set no lock."""
    after = accounts.sign_in_failed(record(failed_sign_ins=previous), NOW, POLICY)
    assert previous + 1 == after.failed_sign_ins
    assert after.locked_until is None


def test_fifth_failure_locks_for_the_base_duration() -> None:
    """The fifth failure in a row locks the account for one minute."""
    after = accounts.sign_in_failed(record(failed_sign_ins=4), NOW, POLICY)
    assert 5 == after.failed_sign_ins
    assert NOW + timedelta(minutes=1) == after.locked_until


def test_sixth_failure_doubles_the_lock() -> None:
    """Each failure after the fifth doubles the lock."""
    after = accounts.sign_in_failed(record(failed_sign_ins=5), NOW, POLICY)
    assert NOW + timedelta(minutes=2) == after.locked_until


def test_recovery_undelivered_leaves_no_temporary() -> None:
    """When no mail went out, no temporary password is left active."""
    after = accounts.recovery_undelivered(record(temporary=credential()), NOW, POLICY)
    assert after.temporary is None
    assert OLD_HASH == after.password_hash


def test_recovery_undelivered_still_counts_the_request() -> None:
    """An undelivered request counts toward the rate limit all the same."""
    after = accounts.recovery_undelivered(record(), NOW, POLICY)
    assert (NOW,) == after.recovery_requests


def test_temporary_expired_follows_its_expiry() -> None:
    """A temporary password is expired from its expires_at on, not before."""
    issued = credential()
    assert accounts.temporary_expired(issued, issued.expires_at - timedelta(seconds=1)) is False
    assert accounts.temporary_expired(issued, issued.expires_at) is True


def test_address_pending_is_unverified() -> None:
    """A newly set address counts only once confirmed."""
    before = record(recovery_email="viejo@empresa.mx", recovery_email_verified=True)
    after = accounts.address_pending(before, "juan@empresa.mx", pending())
    assert ("juan@empresa.mx", False) == (after.recovery_email, after.recovery_email_verified)
    assert pending() == after.pending_verification
    assert after.has_verified_address is False


def test_address_confirmed_verifies_and_drops_the_code() -> None:
    """Confirming the address marks it verified and discards the code."""
    before = accounts.address_pending(record(), "juan@empresa.mx", pending())
    after = accounts.address_confirmed(before)
    assert after.recovery_email_verified is True
    assert after.pending_verification is None
    assert after.has_verified_address is True


def test_verification_failed_uses_up_one_attempt() -> None:
    """A wrong code counts one attempt and keeps the code."""
    after = accounts.verification_failed(record(pending_verification=pending(1)), POLICY)
    assert after.pending_verification is not None
    assert 2 == after.pending_verification.attempts


def test_verification_failed_discards_the_code_on_the_last_attempt() -> None:
    """The last allowed wrong attempt discards the code."""
    last = POLICY.verification_code_attempts - 1
    after = accounts.verification_failed(record(pending_verification=pending(last)), POLICY)
    assert after.pending_verification is None


def test_verification_failed_without_a_code_changes_nothing() -> None:
    """With no pending code there is nothing to count."""
    before = record()
    assert before == accounts.verification_failed(before, POLICY)


def test_verification_usable_when_fresh() -> None:
    """A fresh code with attempts left is usable."""
    assert accounts.verification_usable(pending(), NOW, POLICY) is True


def test_verification_usable_until_just_before_expiry() -> None:
    """A code is usable up to the instant before it expires."""
    code = pending(expires_at=NOW + timedelta(seconds=1))
    assert accounts.verification_usable(code, NOW, POLICY) is True


@pytest.mark.parametrize(
    "code",
    [
        None,
        pending(expires_at=NOW),
        pending(expires_at=NOW - timedelta(seconds=1)),
        pending(attempts=POLICY.verification_code_attempts),
    ],
    ids=["absent", "expired-now", "expired-before", "exhausted"],
)
def test_verification_not_usable_when_absent_expired_or_exhausted(
    code: records.PendingVerification | None,
) -> None:
    """No code, an expired code or one with no attempts left is not usable."""
    assert accounts.verification_usable(code, NOW, POLICY) is False


def test_transitions_leave_the_input_record_unchanged() -> None:
    """Records are values: a transition returns a new record and keeps the old one."""
    before = record(temporary=credential())
    snapshot = attrs.asdict(before, recurse=False)
    accounts.password_changed(before, NEW_HASH)
    accounts.sign_in_failed(before, NOW, POLICY)
    assert snapshot == attrs.asdict(before, recurse=False)
