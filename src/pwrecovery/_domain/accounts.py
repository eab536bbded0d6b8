"""How a user's record changes with each event.

Every function takes a record and returns the next one; none looks at a clock,
a store or a hasher. The rule for each sentence of the vendor's note is here or
in ``throttle`` (limits) and ``passwords`` (new passwords).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

import attrs

from pwrecovery._domain import throttle
from pwrecovery._domain.expiry import is_expired
from pwrecovery._domain.policy import Policy
from pwrecovery.records import (
    Attempts,
    PendingVerification,
    TemporaryCredential,
    Throttle,
    UserRecord,
)

Route = Literal["password", "temporary"]
Counted = TypeVar("Counted", UserRecord, Throttle)  # what keeps sign-in attempts


def attempts_on(record: UserRecord | Throttle, route: Route) -> Attempts:
    """The attempts on one route: the ordinary password's, or the temporary one's."""
    return record.sign_in if route == "password" else record.temporary_sign_in


def with_attempts(record: Counted, route: Route, attempts: Attempts) -> Counted:
    if route == "password":
        return attrs.evolve(record, sign_in=attempts)
    return attrs.evolve(record, temporary_sign_in=attempts)


def signed_in_with_password(record: UserRecord, password_hash: str) -> UserRecord:
    """The ordinary password worked: its failures are forgotten and it revokes any
    temporary password ("the ordinary password keeps working until…")."""
    return attrs.evolve(record, sign_in=Attempts(), password_hash=password_hash, temporary=None)


def signed_in_with_temporary(record: UserRecord) -> UserRecord:
    """The temporary password worked, even while the ordinary one is locked: it stays
    until the password is changed."""
    return attrs.evolve(record, temporary_sign_in=Attempts())


def temporary_usable(credential: TemporaryCredential | None, now: datetime) -> bool:
    return (
        credential is not None
        and credential.hash is not None
        and not is_expired(credential.expires_at, now)
    )


def temporary_expired(credential: TemporaryCredential, now: datetime) -> bool:
    return is_expired(credential.expires_at, now)


def request_taken(record: UserRecord, now: datetime, policy: Policy) -> UserRecord:
    """A recovery request is counted before its mail goes out: a failed delivery counts."""
    return attrs.evolve(
        record, recovery_requests=throttle.with_request(record.recovery_requests, now, policy)
    )


def temporary_issued(record: UserRecord, credential: TemporaryCredential) -> UserRecord:
    """A newer temporary password replaces an older one; the ordinary one stays."""
    return attrs.evolve(record, temporary=credential)


def recovery_undelivered(record: UserRecord) -> UserRecord:
    """No mail went out: no temporary password is left active."""
    return attrs.evolve(record, temporary=None)


def password_changed(record: UserRecord, password_hash: str) -> UserRecord:
    """Any change of password consumes or revokes the temporary one and clears every
    lock: the owner who recovered is never kept out by a stranger's guesses."""
    return attrs.evolve(
        record,
        password_hash=password_hash,
        temporary=None,
        sign_in=Attempts(),
        temporary_sign_in=Attempts(),
    )


def address_pending(record: UserRecord, address: str, pending: PendingVerification) -> UserRecord:
    """A new recovery address counts only once confirmed with the code mailed to it."""
    return attrs.evolve(
        record,
        recovery_email=address,
        recovery_email_verified=False,
        pending_verification=pending,
    )


def address_vouched(record: UserRecord, address: str) -> UserRecord:
    """The host vouches for the address (an import): it counts at once."""
    return attrs.evolve(
        record, recovery_email=address, recovery_email_verified=True, pending_verification=None
    )


def address_confirmed(record: UserRecord) -> UserRecord:
    return attrs.evolve(record, recovery_email_verified=True, pending_verification=None)


def verification_usable(pending: PendingVerification | None, now: datetime, policy: Policy) -> bool:
    return (
        pending is not None
        and pending.code_hash is not None
        and not is_expired(pending.expires_at, now)
        and pending.attempts < policy.verification_code_attempts
    )


def verification_taken(record: UserRecord) -> UserRecord:
    """One try at the code is taken before the code is checked."""
    pending = record.pending_verification
    if pending is None:
        return record
    return attrs.evolve(
        record, pending_verification=attrs.evolve(pending, attempts=pending.attempts + 1)
    )


def verification_spent(record: UserRecord, policy: Policy, now: datetime) -> UserRecord:
    """After a wrong code: a code with no tries left, or expired, is discarded."""
    pending = record.pending_verification
    if pending is None:
        return record
    if pending.attempts >= policy.verification_code_attempts or is_expired(pending.expires_at, now):
        return attrs.evolve(record, pending_verification=None)
    return record


def disabled(record: UserRecord) -> UserRecord:
    """A disabled user can neither sign in nor recover: what is pending is revoked."""
    return attrs.evolve(record, disabled=True, temporary=None, pending_verification=None)


def unlocked(record: UserRecord) -> UserRecord:
    return attrs.evolve(record, sign_in=Attempts(), temporary_sign_in=Attempts())
