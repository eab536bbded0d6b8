"""What a ``Store`` keeps: the records it reads and writes.

Hosts need these only to write a store of their own (and then run
``pwrecovery.testing.contract`` against it). Secrets appear here only as
hashes and sealed blobs, and never in a ``repr``.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from pwrecovery.models import Purpose, SenderAccount, User


@attrs.frozen
class TemporaryCredential:
    """A temporary password, known only by its hash.

    ``hash`` is None while the password is still to be made: a service without
    the key asked for it and the delivery worker makes it when it sends the mail.
    """

    id: str
    hash: str | None = attrs.field(repr=False)
    issued_at: datetime
    expires_at: datetime


@attrs.frozen
class PendingVerification:
    """A verification code for the recovery address, known only by its hash.

    ``hash`` (``code_hash``) is None while the worker has yet to make and mail
    it; ``attempts`` counts tries taken, each before its code was checked.
    """

    code_hash: str | None = attrs.field(repr=False)
    expires_at: datetime
    attempts: int = 0
    id: str = ""


@attrs.frozen
class Attempts:
    """Failed sign-ins in a row on one route (ordinary or temporary password).

    ``failures`` includes attempts taken but not yet settled; ``locked_until`` is
    the lock they earned; ``last_failure_at`` lets old failures be forgotten.
    """

    failures: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None


@attrs.frozen(kw_only=True)
class UserRecord:
    """Everything a store keeps about one user.

    ``key`` is the case-insensitive form of ``login`` that lookups use;
    ``version`` grows by one with every stored change, so a store can refuse an
    update made from a stale read.
    """

    login: str
    key: str
    display_name: str = ""
    supervisor: bool = False
    password_hash: str = attrs.field(repr=False)
    recovery_email: str | None = None
    recovery_email_verified: bool = False
    pending_verification: PendingVerification | None = None
    temporary: TemporaryCredential | None = None
    sign_in: Attempts = Attempts()
    temporary_sign_in: Attempts = Attempts()
    recovery_requests: tuple[datetime, ...] = ()
    disabled: bool = False
    locale: str | None = None
    created_at: datetime | None = None
    version: int = 0

    def to_user(self) -> User:
        return User(
            login=self.login,
            display_name=self.display_name,
            supervisor=self.supervisor,
            recovery_email=self.recovery_email,
            recovery_email_verified=self.recovery_email_verified,
            disabled=self.disabled,
            locale=self.locale,
        )

    @property
    def has_verified_address(self) -> bool:
        return self.recovery_email is not None and self.recovery_email_verified

    # Release 1 names, kept for stores and tests written against them.
    @property
    def failed_sign_ins(self) -> int:
        return self.sign_in.failures

    @property
    def locked_until(self) -> datetime | None:
        return self.sign_in.locked_until


@attrs.frozen(kw_only=True)
class Throttle:
    """Sign-in attempts on a login that does not exist, kept under its keyed
    fingerprint so that unknown logins lock exactly as known ones do."""

    fingerprint: str
    sign_in: Attempts = Attempts()
    temporary_sign_in: Attempts = Attempts()
    touched_at: datetime
    version: int = 0


@attrs.frozen
class SenderUsage:
    """How a sender account has been used lately: the SMTP logins of the last
    minute (the budget), refusals of its credentials in a row, and a rest."""

    logins: tuple[datetime, ...] = ()
    auth_failures: int = 0
    cooldown_until: datetime | None = None


@attrs.frozen(kw_only=True)
class SenderRecord:
    """A sender account as a store keeps it: the password only as an AES-GCM blob.

    ``owner_supervisor`` is the owner's role now (a store fills it in on reading).
    """

    account: SenderAccount
    secret: bytes = attrs.field(repr=False)
    owner_supervisor: bool = False
    usage: SenderUsage = SenderUsage()
    version: int = 0


@attrs.frozen(kw_only=True)
class QueuedMessage:
    """A mail waiting in the outbox. It never holds a secret: a temporary password or
    a code is made by the worker when it sends.

    ``payload`` is the mail's content as UTF-8 JSON (addresses, names, the
    locale); ``credential_id`` names the temporary password or code it is for,
    so that a newer request makes it obsolete. ``version`` grows with every
    stored change.
    """

    id: str
    user_key: str
    purpose: Purpose
    credential_id: str | None
    payload: bytes = attrs.field(repr=False)
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str | None = None
    version: int = 0
