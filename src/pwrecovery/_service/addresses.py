"""The recovery address: "once you have authenticated the recovery e-mail".

Setting an address mails it an 8-digit code; the address counts only once
confirmed with that code (``Policy.verification_code_ttl``, at most
``verification_code_attempts`` tries, each taken before the code is checked).
A service without the key queues the mail and the worker makes the code.
Changing a verified address tells the old one, so a co-worker cannot do it
unseen.
"""

from __future__ import annotations

from datetime import datetime

from pwrecovery._domain import accounts
from pwrecovery._domain.addresses import mask_address, normalize_address
from pwrecovery._domain.expiry import expiry
from pwrecovery._domain.logins import key_or_none, printable_identifier
from pwrecovery._domain.mail import MailContent
from pwrecovery._domain.tokens import generate_verification_code, normalize_code
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery.exceptions import AccountDisabled, UnknownUser, VerificationFailed
from pwrecovery.models import AuditEvent, Purpose
from pwrecovery.records import PendingVerification, QueuedMessage, UserRecord


def require_user(ctx: Context, login: object) -> UserRecord:
    key = key_or_none(login)
    user = ctx.store.get_user(key) if key is not None else None
    if user is None:
        raise UnknownUser(printable_identifier(login))
    return user


def _content(
    ctx: Context,
    user: UserRecord,
    purpose: Purpose,
    to: str,
    *,
    expires_at: datetime | None = None,
    new_address: str = "",
) -> MailContent:
    return MailContent(
        purpose=purpose,
        to_address=to,
        to_name=user.display_name,
        login=user.login,
        expires_at=expires_at,
        locale=user.locale or ctx.locale,
        new_address=new_address,
    )


def queued_code(
    ctx: Context, delivery: Delivery, user: UserRecord, address: str, now: datetime
) -> tuple[PendingVerification, QueuedMessage]:
    """A code still to be made, and its mail for the outbox: the worker makes both."""
    expires_at = expiry(now, ctx.policy.verification_code_ttl)
    pending = PendingVerification(code_hash=None, expires_at=expires_at, id=ctx.new_id())
    content = _content(ctx, user, Purpose.EMAIL_VERIFICATION, address, expires_at=expires_at)
    return pending, delivery.queued(content, user.key, pending.id, now)


def mail_code(
    ctx: Context,
    delivery: Delivery,
    user: UserRecord,
    address: str,
    now: datetime,
    *,
    origin: object,
    raise_failure: bool = True,
) -> None:
    """Make a code, mail it, and only then store the address as pending; a service
    without the key stores the address with a code still to be made and queues the mail,
    in one write."""
    enqueue: tuple[QueuedMessage, ...] = ()
    events: tuple[AuditEvent, ...] = ()
    if ctx.box is None:
        pending, message = queued_code(ctx, delivery, user, address, now)
        enqueue = (message,)
    else:
        expires_at = expiry(now, ctx.policy.verification_code_ttl)
        code = Secret(generate_verification_code(ctx.randbelow))
        pending = PendingVerification(
            code_hash=ctx.hash(code), expires_at=expires_at, id=ctx.new_id()
        )
        content = _content(ctx, user, Purpose.EMAIL_VERIFICATION, address, expires_at=expires_at)
        outcome = delivery.send(content, now, origin, secret=code)
        events = outcome.events
        if not outcome.sent:
            ctx.store.append_audit(events)
            if raise_failure:
                raise outcome.failure()
            return
    for attempt in ctx.uow.user(user.key):
        with attempt as current:
            if current is None:
                ctx.store.append_audit(events)
                raise UnknownUser(user.login)
            event = ctx.event(
                "recovery_email_set", current.login, now, origin, address=mask_address(address)
            )
            changed = accounts.address_pending(current, address, pending)
            attempt.save(changed, events=(*events, event), enqueue=enqueue)
            return


def set_recovery_email(
    ctx: Context, delivery: Delivery, login: str, address: str, origin: object
) -> str:
    """Store ``address`` unverified and mail it a verification code; return it normalised."""
    now = ctx.now()
    normalized = normalize_address(address, allow_private=ctx.policy.allow_private_domains)
    user = require_user(ctx, login)
    if user.disabled:
        raise AccountDisabled
    if user.recovery_email == normalized and user.recovery_email_verified:
        return normalized
    mail_code(ctx, delivery, user, normalized, now, origin=origin)
    old = user.recovery_email
    if user.recovery_email_verified and old is not None and old != normalized:
        notice = _content(
            ctx, user, Purpose.ADDRESS_CHANGED, old, new_address=mask_address(normalized)
        )
        delivery.notify(notice, user.key, now, origin)
    return normalized


def confirm_recovery_email(ctx: Context, login: str, code: str, origin: object) -> None:
    """Confirm the recovery address with the code mailed to it (``VerificationFailed``)."""
    now = ctx.now()
    typed = Secret(normalize_code(code)) if isinstance(code, str) else None
    del code
    user = require_user(ctx, login)
    taken = _take_try(ctx, user.key, now)
    pending = taken.pending_verification if taken is not None else None
    matched = ctx.check(pending.code_hash if pending is not None else None, typed)
    for attempt in ctx.uow.user(user.key):
        with attempt as current:
            if current is None:
                raise UnknownUser(user.login)
            still = current.pending_verification
            if (
                matched
                and pending is not None
                and still is not None
                and (
                    still.id,
                    still.code_hash,
                )
                == (pending.id, pending.code_hash)
            ):
                event = ctx.event("recovery_email_confirmed", current.login, now, origin)
                attempt.save(accounts.address_confirmed(current), events=(event,))
                return
            event = ctx.event("recovery_email_confirmation_failed", current.login, now, origin)
            attempt.save(accounts.verification_spent(current, ctx.policy, now), events=(event,))
            raise VerificationFailed
    raise AssertionError  # pragma: no cover


def _take_try(ctx: Context, key: str, now: datetime) -> UserRecord | None:
    """Take one try at the code before it is checked; None when no code can be tried."""
    for attempt in ctx.uow.user(key):
        with attempt as user:
            if user is None or not accounts.verification_usable(
                user.pending_verification, now, ctx.policy
            ):
                return None
            taken = accounts.verification_taken(user)
            attempt.save(taken)
            return taken
    return None  # pragma: no cover
