"""How a user's record changes with each event (DESIGN §1.3, §1.4, §3).

Every function takes a record and returns the next one; none looks at a clock,
a store or a hasher.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from pwrecovery.domain import throttle
from pwrecovery.domain.expiry import is_expired
from pwrecovery.domain.model import PendingVerification, TemporaryCredential, UserRecord
from pwrecovery.domain.policy import Policy


def _cleared_failures(record: UserRecord) -> UserRecord:
    return attrs.evolve(record, failed_sign_ins=0, locked_until=None)


def signed_in_with_password(record: UserRecord, password_hash: str) -> UserRecord:
    """The ordinary password worked: it revokes any temporary password (§1.3)."""
    return attrs.evolve(_cleared_failures(record), password_hash=password_hash, temporary=None)


def signed_in_with_temporary(record: UserRecord) -> UserRecord:
    """The temporary password worked; it stays until the password is changed."""
    return _cleared_failures(record)


def sign_in_failed(record: UserRecord, now: datetime, policy: Policy) -> UserRecord:
    failures = record.failed_sign_ins + 1
    duration = throttle.lock_duration(failures, policy)
    locked_until = now + duration if duration is not None else record.locked_until
    return attrs.evolve(record, failed_sign_ins=failures, locked_until=locked_until)


def temporary_issued(
    record: UserRecord, credential: TemporaryCredential, now: datetime, policy: Policy
) -> UserRecord:
    """A newer temporary password replaces an older one; the ordinary one stays (§1.3)."""
    requests = throttle.with_request(record.recovery_requests, now, policy)
    return attrs.evolve(record, temporary=credential, recovery_requests=requests)


def recovery_undelivered(record: UserRecord, now: datetime, policy: Policy) -> UserRecord:
    """No mail went out: no temporary password is left active; the request still counts."""
    requests = throttle.with_request(record.recovery_requests, now, policy)
    return attrs.evolve(record, temporary=None, recovery_requests=requests)


def password_changed(record: UserRecord, password_hash: str) -> UserRecord:
    """Any change of password consumes or revokes the temporary one (§1.3, §1.4)."""
    return attrs.evolve(_cleared_failures(record), password_hash=password_hash, temporary=None)


def temporary_expired(credential: TemporaryCredential, now: datetime) -> bool:
    return is_expired(credential.expires_at, now)


def address_pending(record: UserRecord, address: str, pending: PendingVerification) -> UserRecord:
    """A new recovery address counts only once confirmed (§1.1)."""
    return attrs.evolve(
        record,
        recovery_email=address,
        recovery_email_verified=False,
        pending_verification=pending,
    )


def address_confirmed(record: UserRecord) -> UserRecord:
    return attrs.evolve(record, recovery_email_verified=True, pending_verification=None)


def verification_usable(pending: PendingVerification | None, now: datetime, policy: Policy) -> bool:
    return (
        pending is not None
        and not is_expired(pending.expires_at, now)
        and pending.attempts < policy.verification_code_attempts
    )


def verification_failed(record: UserRecord, policy: Policy) -> UserRecord:
    """A wrong code uses up one attempt; the last one discards the code."""
    pending = record.pending_verification
    if pending is None:
        return record
    attempts = pending.attempts + 1
    if attempts >= policy.verification_code_attempts:
        return attrs.evolve(record, pending_verification=None)
    return attrs.evolve(record, pending_verification=attrs.evolve(pending, attempts=attempts))
