"""The delivery worker: sends what login windows queued.

Queued mails hold no secret. For a temporary password or a verification code
the worker, which holds the key, makes the secret when it sends, stores only
its hash on the user (still bound to the request's id, so a newer request
makes an older mail obsolete), and mails it. Each message is first claimed
(its next try moved ``delivery_lease`` ahead, conditionally on its version, so
another worker leaves it), then sent through the senders in order, then
deleted. A transient failure is tried again later (``delivery_retry_base``,
doubling, at most an hour); a permanent one, or ``delivery_attempts`` tries,
abandons it and revokes what it carried. A worker that dies between sending
and deleting makes the next one send again, with a new secret that replaces
the first: at most a duplicate mail, never a lost one or two valid secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from pwrecovery._domain import accounts, throttle
from pwrecovery._domain.expiry import is_expired
from pwrecovery._domain.mail import MailContent, content_from_json
from pwrecovery._domain.tokens import generate_temporary_password, generate_verification_code
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery, Outcome
from pwrecovery.exceptions import NoSenderConfigured
from pwrecovery.models import AuditEvent, DeliveryReport, Purpose
from pwrecovery.records import QueuedMessage, UserRecord

Result = Literal["sent", "retried", "abandoned", "dropped"]


def deliver_pending(ctx: Context, delivery: Delivery, limit: int) -> DeliveryReport:
    """Send the queued mails that are due."""
    ctx.require_box()
    now = ctx.now()
    counts = {"sent": 0, "retried": 0, "abandoned": 0, "dropped": 0}
    for message in ctx.store.due_messages(now, limit):
        claimed = attrs.evolve(
            message, attempts=message.attempts + 1, next_attempt_at=now + ctx.policy.delivery_lease
        )
        if not ctx.store.update_message(claimed, expected_version=message.version):
            continue  # another worker has it
        result = _send_one(ctx, delivery, attrs.evolve(claimed, version=message.version + 1), now)
        counts[result] += 1
    return DeliveryReport(**counts)


def _send_one(ctx: Context, delivery: Delivery, message: QueuedMessage, now: datetime) -> Result:
    user = ctx.store.get_user(message.user_key)
    login = user.login if user is not None else message.user_key
    try:
        content, token = content_from_json(message.payload)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _abandon(ctx, message, login, now, (), "payload_damaged")
    if user is None or not _still_wanted(user, message, content, now):
        event = ctx.event("queued_mail_dropped", login, now, None, message=message.id)
        ctx.store.delete_message(message.id, (event,))
        return "dropped"
    wanted, secret = _make_secret(ctx, message, now)
    if not wanted:
        event = ctx.event("queued_mail_dropped", login, now, None, message=message.id)
        ctx.store.delete_message(message.id, (event,))
        return "dropped"
    try:
        outcome = delivery.send(content, now, None, secret=secret, message_token=token)
    except NoSenderConfigured:
        outcome = Outcome(None, ())
    if outcome.sent:
        event = ctx.event("queued_mail_sent", login, now, None, message=message.id)
        ctx.store.delete_message(message.id, (*outcome.events, event))
        return "sent"
    reason = outcome.failure().code if outcome.attempts else NoSenderConfigured.code
    if outcome.permanent or message.attempts >= ctx.policy.delivery_attempts:
        return _abandon(ctx, message, login, now, outcome.events, reason)
    retry = attrs.evolve(
        message,
        next_attempt_at=now + throttle.retry_delay(message.attempts, ctx.policy),
        last_error=reason,
    )
    event = ctx.event(
        "queued_mail_retry",
        login,
        now,
        None,
        message=message.id,
        attempts=str(message.attempts),
        reason=reason,
        next_attempt_at=retry.next_attempt_at.isoformat(),
    )
    ctx.store.update_message(
        retry, expected_version=message.version, events=(*outcome.events, event)
    )
    return "retried"


def _still_wanted(
    user: UserRecord, message: QueuedMessage, content: MailContent, now: datetime
) -> bool:
    """A mail whose temporary password or code was replaced, used or expired, or for a
    disabled user, is dropped unsent."""
    if message.purpose is Purpose.TEMPORARY_PASSWORD:
        temporary = user.temporary
        return (
            not user.disabled
            and temporary is not None
            and temporary.id == message.credential_id
            and not accounts.temporary_expired(temporary, now)
        )
    if message.purpose is Purpose.EMAIL_VERIFICATION:
        pending = user.pending_verification
        return (
            not user.disabled
            and pending is not None
            and pending.id == message.credential_id
            and user.recovery_email == content.to_address
            and not is_expired(pending.expires_at, now)
        )
    return True


def _make_secret(ctx: Context, message: QueuedMessage, now: datetime) -> tuple[bool, Secret | None]:
    """The secret the mail carries (None for a notice), made now and its hash stored on
    the user; first, whether the request it belongs to still stands."""
    if message.purpose is Purpose.TEMPORARY_PASSWORD:
        length = ctx.policy.temporary_password_length
        secret = Secret(generate_temporary_password(ctx.randbelow, length))
    elif message.purpose is Purpose.EMAIL_VERIFICATION:
        secret = Secret(generate_verification_code(ctx.randbelow))
    else:
        return True, None
    encoded = ctx.hash(secret)
    for attempt in ctx.uow.user(message.user_key):
        with attempt as user:
            if user is None:
                return False, None
            if message.purpose is Purpose.TEMPORARY_PASSWORD:
                temporary = user.temporary
                if temporary is None or temporary.id != message.credential_id:
                    return False, None
                made = attrs.evolve(temporary, hash=encoded, issued_at=now)
                attempt.save(attrs.evolve(user, temporary=made))
            else:
                pending = user.pending_verification
                if pending is None or pending.id != message.credential_id:
                    return False, None
                code = attrs.evolve(pending, code_hash=encoded)
                attempt.save(attrs.evolve(user, pending_verification=code))
            return True, secret
    return False, None  # pragma: no cover


def _abandon(
    ctx: Context,
    message: QueuedMessage,
    login: str,
    now: datetime,
    delivered: tuple[AuditEvent, ...],
    reason: str,
) -> Result:
    """Give up on a message for good: revoke the secret it carries, say why."""
    event = ctx.event("queued_mail_abandoned", login, now, None, message=message.id, reason=reason)
    for attempt in ctx.uow.user(message.user_key):
        with attempt as user:
            if user is None:
                ctx.store.append_audit((*delivered, event))
                break
            revoked = user
            if user.temporary is not None and user.temporary.id == message.credential_id:
                revoked = attrs.evolve(user, temporary=None)
            pending = user.pending_verification
            if pending is not None and pending.id == message.credential_id:
                revoked = attrs.evolve(revoked, pending_verification=None)
            attempt.save(revoked, events=(*delivered, event))
            break
    ctx.store.delete_message(message.id)
    return "abandoned"
