""" "Recuperar clave": a temporary password, mailed to the verified recovery address.

The vendor's rules, in the order they are checked: the user must exist and be
enabled; "a recovery address is required for the SUPERVISOR and for the user"
(else the warning says which is missing); at most
``recovery_requests_per_window`` requests per user; a sender account must be
configured. The request is *counted* in a conditional write before its mail
goes out (a failed delivery still counts), so concurrent presses can never
send more mails than the limit. "The temporary password is valid 7 days" and
only lets the user in to change the password (``signin``).

In ``disclosure="uniform"`` every login gets the same answer and costs the
same work (a temporary password hashed, the senders logged in to within their
budget), and every answer takes at least ``Policy.uniform_response_time``.
"""

from __future__ import annotations

from datetime import datetime

from pwrecovery._domain import accounts, throttle
from pwrecovery._domain.addresses import GENERIC_MASK, mask_address
from pwrecovery._domain.expiry import expiry
from pwrecovery._domain.logins import key_or_none, normalize_login, printable_identifier
from pwrecovery._domain.mail import MailContent
from pwrecovery._domain.tokens import generate_temporary_password
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery.exceptions import (
    MISSING_SUPERVISOR,
    MISSING_USER,
    AccountDisabled,
    NoSenderConfigured,
    PwRecoveryError,
    RateLimited,
    RecoveryEmailMissing,
    UnknownUser,
)
from pwrecovery.models import AuditEvent, Purpose, RecoverySent
from pwrecovery.records import TemporaryCredential, UserRecord


def _refusal(
    ctx: Context, user: UserRecord | None, login: object, now: datetime, supervisor_ready: bool
) -> PwRecoveryError | None:
    """Why this user cannot recover now, in the order the vendor's window says it."""
    if user is None:
        return UnknownUser(printable_identifier(login))
    if user.disabled:
        return AccountDisabled()
    missing = set()
    if not user.has_verified_address:
        missing.add(MISSING_USER)
    if not supervisor_ready:
        missing.add(MISSING_SUPERVISOR)
    if missing:
        return RecoveryEmailMissing(user.login, frozenset(missing))
    wait = throttle.recovery_retry_after(user.recovery_requests, now, ctx.policy)
    return RateLimited(wait) if wait is not None else None


def request_recovery(
    ctx: Context, delivery: Delivery, login: str, origin: object, *, queued: bool
) -> RecoverySent:
    """Mail a temporary password; see the module's docstring for the rules."""
    if ctx.policy.disclosure != "uniform":
        return _request(ctx, delivery, login, origin, queued=queued)
    started = ctx.monotonic()
    try:
        return _request(ctx, delivery, login, origin, queued=queued)
    finally:
        remaining = ctx.policy.uniform_response_time.total_seconds() - (ctx.monotonic() - started)
        if remaining > 0:
            ctx.sleep(remaining)


def _answer(ctx: Context, masked: str, expires_at: datetime) -> RecoverySent:
    return RecoverySent(masked, expires_at, texts=ctx.texts, zone=ctx.zone, locale=ctx.locale)


def _request(
    ctx: Context, delivery: Delivery, login: str, origin: object, *, queued: bool
) -> RecoverySent:
    now = ctx.now()
    uniform = ctx.policy.disclosure == "uniform"
    normalize_login(login)  # an empty or malformed login is the same mistake for everyone
    key = key_or_none(login)
    # Read for every login alike (no stored key is empty): the same work for all.
    user = ctx.store.get_user(key if key is not None else "")
    refusal = _refusal(ctx, user, login, now, ctx.store.has_verified_supervisor())
    label = user.login if user is not None else ctx.fingerprint(login)
    candidates = delivery.candidates(user.login if user is not None else None)
    if refusal is not None and not uniform:
        ctx.store.append_audit(
            (ctx.event("recovery_refused", label, now, origin, reason=refusal.code),)
        )
        raise refusal
    if not candidates:
        ctx.store.append_audit(
            (ctx.event("recovery_refused", label, now, origin, reason="no_sender_configured"),)
        )
        raise NoSenderConfigured
    keyless = ctx.box is None
    wait = None if queued or keyless else delivery.budget_wait(candidates, now)
    if wait is not None:  # every sender is over its budget: the same answer for every login
        ctx.store.append_audit(
            (ctx.event("recovery_refused", label, now, origin, reason="smtp_budget"),)
        )
        raise RateLimited(wait, reason="smtp_budget")
    expires_at = expiry(now, ctx.policy.temporary_password_ttl)
    generic = _answer(ctx, GENERIC_MASK, expires_at)
    # The temporary password is made (and hashed) before anything is written, for every
    # login alike; a service without the key leaves that to the worker.
    password = (
        None
        if queued or keyless
        else Secret(
            generate_temporary_password(ctx.randbelow, ctx.policy.temporary_password_length)
        )
    )
    credential = TemporaryCredential(
        id=ctx.new_id(),
        hash=ctx.hash(password) if password is not None else None,
        issued_at=now,
        expires_at=expires_at,
    )
    if refusal is not None or user is None:
        if not (queued or keyless):  # uniform: log in as a real delivery would; send nothing
            delivery.rehearse(candidates, now, origin)
        reason = refusal.code if refusal is not None else "unknown_user"
        ctx.store.append_audit((ctx.event("recovery_refused", label, now, origin, reason=reason),))
        return generic
    taken = _take_request(
        ctx, delivery, user.key, credential, now, origin=origin, queue=queued or keyless
    )
    if isinstance(taken, PwRecoveryError):  # a concurrent request took the last one
        if uniform:
            return generic
        raise taken
    address = taken.recovery_email
    assert address is not None  # noqa: S101 (_take_request checked it)
    answer = generic if uniform else _answer(ctx, mask_address(address), expires_at)
    if password is None:
        return answer  # queued with the request; the worker makes and mails the password
    content = _content(ctx, taken, address, expires_at)
    outcome = delivery.send(content, now, origin, candidates, secret=password)
    _settle(
        ctx, taken.key, credential if outcome.sent else None, outcome.events, now, origin=origin
    )
    if not outcome.sent and not uniform:
        raise outcome.failure()
    return answer


def _content(ctx: Context, user: UserRecord, address: str, expires_at: datetime) -> MailContent:
    return MailContent(
        purpose=Purpose.TEMPORARY_PASSWORD,
        to_address=address,
        to_name=user.display_name,
        login=user.login,
        expires_at=expires_at,
        locale=user.locale or ctx.locale,
    )


def _take_request(
    ctx: Context,
    delivery: Delivery,
    key: str,
    credential: TemporaryCredential,
    now: datetime,
    *,
    origin: object,
    queue: bool,
) -> UserRecord | PwRecoveryError:
    """Count the request before the mail goes out, re-checking on the fresh record. A
    queued request stores its (secret-less) credential and mail in the same write."""
    for attempt in ctx.uow.user(key):
        with attempt as user:
            refusal = _refusal(ctx, user, key, now, supervisor_ready=True)
            if refusal is not None or user is None or user.recovery_email is None:
                return refusal or UnknownUser(key)
            counted = accounts.request_taken(user, now, ctx.policy)
            if not queue:
                attempt.save(counted)
                return counted
            issued = accounts.temporary_issued(counted, credential)
            message = delivery.queued(
                _content(ctx, user, user.recovery_email, credential.expires_at),
                user.key,
                credential.id,
                now,
            )
            event = _issued_event(ctx, user.login, credential, now, origin=origin, how="queued")
            attempt.save(issued, events=(event,), enqueue=(message,))
            return issued
    raise AssertionError  # pragma: no cover


def _issued_event(
    ctx: Context,
    login: str,
    credential: TemporaryCredential,
    now: datetime,
    *,
    origin: object,
    how: str,
) -> AuditEvent:
    return ctx.event(
        "temporary_password_issued",
        login,
        now,
        origin,
        credential=credential.id,
        expires_at=credential.expires_at.isoformat(),
        delivery=how,
    )


def _settle(
    ctx: Context,
    key: str,
    credential: TemporaryCredential | None,
    delivered: tuple[AuditEvent, ...],
    now: datetime,
    *,
    origin: object,
) -> None:
    """After the mail: the new temporary password replaces any older one, or, when no
    mail went out, none is left active (the ordinary password is untouched)."""
    for attempt in ctx.uow.user(key):
        with attempt as user:
            if user is None:
                ctx.store.append_audit(delivered)
                return
            if credential is None:
                event = ctx.event(
                    "temporary_password_withdrawn",
                    user.login,
                    now,
                    origin,
                    reason="delivery_failed",
                )
                changed = accounts.recovery_undelivered(user)
            else:
                event = _issued_event(
                    ctx, user.login, credential, now, origin=origin, how="immediate"
                )
                changed = accounts.temporary_issued(user, credential)
            attempt.save(changed, events=(*delivered, event))
            return
