"""Signing in at the login window, and the check of every typed password.

"When you sign in with the temporary password you are asked to enter the new
one and confirm it": ``authenticate`` answers ``MUST_CHANGE_PASSWORD``, and
``password_change.change_password`` ("Confirmar clave de acceso") makes the new
password the ordinary one, after ``check_credentials`` as here. Every check of a
typed password goes the same way:

1. **take** one attempt before anything is checked (a conditional write on
   the user, or on the fingerprint of a login that does not exist), so
   concurrent guesses can never exceed ``max_failed_sign_ins``; the attempt
   that reaches it takes the lock;
2. **check** exactly one hash, whatever the state (unknown login, locked,
   disabled, temporary password pending or not): the text's *form* says which
   hash, since a temporary password looks like no ordinary one;
3. **settle**: a success clears the attempt and does its work in one
   conditional write; a failure is only audited (it was counted in step 1).
"""

from __future__ import annotations

import threading
import weakref
from datetime import datetime, timedelta
from typing import Final, Literal

import attrs

from pwrecovery._domain import accounts, throttle
from pwrecovery._domain.accounts import Counted, Route
from pwrecovery._domain.logins import key_or_none
from pwrecovery._domain.passwords import typed_password
from pwrecovery._domain.tokens import temporary_form
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._transaction import Attempt
from pwrecovery.exceptions import (
    AccountDisabled,
    InvalidCredentials,
    TemporaryPasswordExpired,
    TooManyAttempts,
)
from pwrecovery.models import LoginResult, LoginStatus
from pwrecovery.records import Attempts, Throttle, UserRecord

Action = Literal["sign_in", "password_change"]
MAX_FINGERPRINTS: Final = 10_000  # logins that do not exist, counted at once at most
PRUNE_EVERY: Final = timedelta(minutes=1)  # how often a service forgets idle fingerprints
_next_prune: weakref.WeakKeyDictionary[Context, datetime] = weakref.WeakKeyDictionary()
_prune_lock = threading.Lock()


@attrs.frozen
class Typed:
    """A typed password: its normalised text (None when it cannot be anyone's), the
    route its form sends it down, and the text exactly as typed (for legacy hashes)."""

    text: Secret | None
    route: Route
    as_typed: Secret | None = None

    @classmethod
    def of(cls, password: object, ctx: Context) -> Typed:
        normalized = typed_password(password, ctx.policy)
        if normalized is None or not isinstance(password, str):
            return cls(None, "password")
        canonical = temporary_form(normalized)
        if canonical is not None:
            return cls(Secret(canonical), "temporary", Secret(password))
        return cls(Secret(normalized), "password", Secret(password))

    def against(self, ctx: Context, encoded: str | None) -> Secret | None:
        """The text to check against ``encoded``: exactly as typed for a legacy hash,
        since the old application hashed what was typed (an "º" or a decomposed "ñ"
        that NFKC would change); normalised for the service's own hashes."""
        if encoded is not None and self.as_typed is not None and ctx.is_legacy(encoded):
            return self.as_typed
        return self.text


@attrs.frozen
class Checked:
    """A typed password that matched: the user as read when it was checked, and which
    password it was."""

    user: UserRecord
    via: Route
    route: Route
    # The user as this sign-in stored it when it took its attempt (None: it stored nothing),
    # where the settling write starts from: a read fewer, if no one wrote in between.
    taken: UserRecord | None = None


@attrs.frozen
class _Taken:
    """Step 1's outcome: the user the attempt was taken on (None for a login that does
    not exist) and the attempts as they now stand, or the wait when a lock refused it."""

    user: UserRecord | None
    attempts: Attempts
    wait: timedelta | None
    label: str | None  # the login, or the fingerprint of one that does not exist
    saved: UserRecord | None = None  # the user as stored with the attempt taken


def _take(
    attempt: Attempt[Counted],
    record: Counted,
    route: Route,
    ctx: Context,
    now: datetime,
) -> tuple[Attempts, timedelta | None]:
    counted = throttle.current(accounts.attempts_on(record, route), now, ctx.policy)
    wait = throttle.lock_remaining(counted, now)
    if wait is not None:
        return counted, wait
    taken = throttle.reserve_attempt(counted, now, ctx.policy)
    attempt.save(accounts.with_attempts(record, route, taken))
    return taken, None


def take_attempt(ctx: Context, login: object, route: Route, now: datetime) -> _Taken:
    """Step 1: one attempt taken on the user or on the unknown login's fingerprint."""
    key = key_or_none(login)
    fingerprint = ctx.fingerprint(login)
    for attempt in ctx.uow.user(key):
        with attempt as user:
            if user is None:
                break
            taken, wait = _take(attempt, user, route, ctx, now)
            # As many reads as for a login that does not exist, which reads its counters
            # after finding no user: on a server each read is a round trip.
            ctx.store.get_throttle(fingerprint)
            return _Taken(user, taken, wait, user.login, attempt.saved)
    for unknown in ctx.uow.throttle(fingerprint):
        with unknown as counters:
            touched = (
                Throttle(fingerprint=fingerprint, touched_at=now)
                if counters is None
                else attrs.evolve(counters, touched_at=now)
            )
            taken, wait = _take(unknown, touched, route, ctx, now)
            return _Taken(None, taken, wait, fingerprint)
    raise AssertionError  # pragma: no cover (the loops return or raise)


def prune_when_due(ctx: Context, now: datetime) -> None:
    """Forget idle fingerprints, so that the table stays small: at most once per
    ``PRUNE_EVERY`` for each service, on whichever sign-in comes then. Which sign-in pays
    for it depends on the clock, never on the login (pruning when a login was first
    counted told that it did not exist). The table holds at most ``MAX_FINGERPRINTS``
    after a prune, and the new unknown logins of one interval more.

    A row last touched when it took a lock holds it at most ``lockout_max``: only past
    that, and past ``failure_memory``, does it count for nothing (as ``throttle.current``
    says of a user's), so only then may it go."""
    with _prune_lock:
        due = _next_prune.get(ctx)
        if due is not None and now < due:
            return
        _next_prune[ctx] = now + PRUNE_EVERY
    idle = max(ctx.policy.failure_memory, ctx.policy.lockout_max)
    ctx.store.prune_throttles(now - idle, MAX_FINGERPRINTS)


@attrs.frozen
class _Target:
    """The stored hash a typed text is checked against (hidden from ``repr``, as in the
    records: a traceback's locals must not carry it to an error reporter), and which
    password that is."""

    hash: str | None = attrs.field(repr=False)
    via: Route


def _target(user: UserRecord | None, typed: Typed) -> _Target:
    """Which stored hash the typed text is checked against, and which password that is:
    the form of the text decides, not the state, so every state costs one check."""
    if user is None:
        return _Target(None, "password")
    temporary = user.temporary
    if typed.route == "temporary" and temporary is not None and temporary.hash is not None:
        return _Target(temporary.hash, "temporary")
    return _Target(user.password_hash, "password")


def check_credentials(
    ctx: Context, login: object, typed: Typed, now: datetime, *, origin: object, action: Action
) -> Checked:
    """Steps 1 and 2, and the settling of every refusal; a match is returned for the
    caller to settle with its own write."""
    taken = take_attempt(ctx, login, typed.route, now)
    prune_when_due(ctx, now)
    user = taken.user
    target = _target(user, typed)
    if taken.wait is not None:
        ctx.check(None, typed.text)  # the same work as any other answer
        ctx.store.append_audit(
            (ctx.event(f"{action}_refused", taken.label, now, origin, reason="locked"),)
        )
        raise TooManyAttempts(taken.wait)
    matched = ctx.check(target.hash, typed.against(ctx, target.hash))
    if user is None or not matched:
        raise _refusal(ctx, taken, typed.route, now, origin=origin, action=action)
    if user.disabled:
        _clear(
            ctx,
            user,
            typed.route,
            now,
            origin=origin,
            kind=f"{action}_refused",
            reason="account_disabled",
        )
        raise AccountDisabled
    if (
        target.via == "temporary"
        and user.temporary is not None
        and accounts.temporary_expired(user.temporary, now)
    ):
        _clear(
            ctx,
            user,
            typed.route,
            now,
            origin=origin,
            kind=f"{action}_refused",
            reason="temporary_password_expired",
        )
        raise TemporaryPasswordExpired
    return Checked(user, target.via, typed.route, taken.saved)


def _refusal(
    ctx: Context, taken: _Taken, route: Route, now: datetime, *, origin: object, action: Action
) -> InvalidCredentials | TooManyAttempts:
    """A wrong password (counted in step 1): audited; the attempt that took the lock says
    so at once, the same for a login that exists and one that does not."""
    attempts = taken.attempts
    detail = {"reason": "invalid_credentials", "route": route, "failures": str(attempts.failures)}
    wait = throttle.lock_remaining(attempts, now)
    if wait is not None and attempts.locked_until is not None:
        detail["locked_until"] = attempts.locked_until.isoformat()
    ctx.store.append_audit((ctx.event(f"{action}_failed", taken.label, now, origin, **detail),))
    return TooManyAttempts(wait) if wait is not None else InvalidCredentials()


def _clear(
    ctx: Context,
    user: UserRecord,
    route: Route,
    now: datetime,
    *,
    origin: object,
    kind: str,
    **detail: str,
) -> None:
    """Settle an attempt whose password was right although the action is refused: it
    does not count as a failure."""
    for attempt in ctx.uow.user(user.key):
        with attempt as current:
            if current is None:
                return
            cleared = accounts.with_attempts(current, route, Attempts())
            attempt.save(cleared, events=(ctx.event(kind, current.login, now, origin, **detail),))
            return


def _unchanged(current: UserRecord, checked: Checked) -> bool:
    """Whether what was checked is still what is stored (no change of password meanwhile)."""
    if checked.via == "password":
        return current.password_hash == checked.user.password_hash
    before, now_stored = checked.user.temporary, current.temporary
    return (
        before is not None
        and now_stored is not None
        and (before.id, before.hash)
        == (
            now_stored.id,
            now_stored.hash,
        )
    )


def _still_valid(ctx: Context, current: UserRecord, checked: Checked, typed: Typed) -> bool:
    """Whether the typed password still stands against what is stored now. Another
    workstation's sign-in may have replaced the ordinary password's hash meanwhile by
    an upgrade (or rehash) of the same password: then the typed text is checked against
    the new hash (one more KDF run, only in that race), so that both sign-ins succeed.
    A password changed meanwhile does not match, and the sign-in is refused."""
    if _unchanged(current, checked):
        return True
    return (
        checked.via == "password"
        and typed.text is not None
        and ctx.check(current.password_hash, typed.against(ctx, current.password_hash))
    )


def _stale(ctx: Context, login: str, now: datetime, origin: object, action: Action) -> None:
    ctx.store.append_audit(
        (ctx.event(f"{action}_failed", login, now, origin, reason="changed_meanwhile"),)
    )
    raise InvalidCredentials


def authenticate(ctx: Context, login: str, password: str, origin: object) -> LoginResult:
    """Sign in: ``OK`` with the ordinary password, ``MUST_CHANGE_PASSWORD`` with a temporary."""
    now = ctx.now()
    typed = Typed.of(password, ctx)
    del password  # from here on the password travels only as a Secret
    checked = check_credentials(ctx, login, typed, now, origin=origin, action="sign_in")
    user = checked.user
    new_hash = None
    if (
        checked.via == "password"
        and typed.text is not None
        and ctx.needs_new_hash(user.password_hash)
    ):
        new_hash = ctx.hash(typed.text)  # the rehash or upgrade: computed once, before the write
    for attempt in ctx.uow.user(user.key, known=checked.taken):
        with attempt as current:
            if current is None or not _still_valid(ctx, current, checked, typed):
                _stale(ctx, user.login, now, origin, "sign_in")
            assert current is not None  # noqa: S101 (for mypy: _stale raises)
            if current.password_hash != checked.user.password_hash:
                checked = attrs.evolve(checked, user=current)  # upgraded meanwhile: it stands
            cleared = accounts.with_attempts(current, checked.route, Attempts())
            if checked.via == "temporary":
                temporary = current.temporary
                assert temporary is not None  # noqa: S101 (_unchanged checked it)
                event = ctx.event("signed_in_with_temporary", current.login, now, origin)
                attempt.save(accounts.signed_in_with_temporary(cleared), events=(event,))
                return LoginResult(LoginStatus.MUST_CHANGE_PASSWORD, temporary.expires_at)
            # Only a hash still in need of it is replaced: a concurrent sign-in may have
            # stored the upgrade already, and that one stays.
            if new_hash is not None and not ctx.needs_new_hash(current.password_hash):
                new_hash = None
            events = [ctx.event("signed_in", current.login, now, origin)]
            if new_hash is not None and ctx.is_legacy(current.password_hash):
                events.append(
                    ctx.event(
                        "password_upgraded",
                        current.login,
                        now,
                        origin,
                        scheme=ctx.scheme(current.password_hash),
                    )
                )
            if current.temporary is not None:
                events.append(
                    ctx.event(
                        "temporary_password_revoked",
                        current.login,
                        now,
                        origin,
                        reason="signed_in_with_password",
                    )
                )
            signed = accounts.signed_in_with_password(cleared, new_hash or current.password_hash)
            attempt.save(signed, events=tuple(events))
            return LoginResult(LoginStatus.OK)
    raise AssertionError  # pragma: no cover
