"""The delivery worker: sends what login windows queued.

Queued mails hold no secret. For a temporary password or a verification code
the worker, which holds the key, makes the secret when it sends, stores only
its hash on the user (still bound to the request's id, so a newer request
makes an older mail obsolete), and mails it.

A run takes the due mails, oldest first, and groups them by the sender that
will take each (the first of its senders, in the order of ``_domain.selection``,
that is still usable in this run): one SMTP login per sender per run, through
a mailer session when the mailer has them (``SessionMailer``), else one
``send`` per mail. Within a group each mail, in turn, is claimed (its next try
moved ``delivery_lease`` ahead, conditionally on its version, so another
worker leaves it), given its secret, sent, and deleted with its own audit
events. A mail the sender refuses moves on to its next sender; a sender that
cannot log in, or whose session is lost, takes nothing more in this run, and
the mails it still had move on to their next senders. A mail no sender took is
tried again later (``delivery_retry_base``, doubling, at most an hour); one
that every sender tried refused for good (a 5xx reply), or that has had
``delivery_attempts`` tries, is abandoned and what it carried revoked.

A worker that dies between sending a mail and deleting it makes the next one
send it again, with a new secret that replaces the first: at most a duplicate
mail, never a lost one or two valid secrets. Only one mail of a group is ever
between its claim and its settlement, so a crash leaves at most that one
waiting for its lease; mails not yet claimed stay due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from pwrecovery._domain import accounts, throttle
from pwrecovery._domain.expiry import is_expired
from pwrecovery._domain.mail import MailContent, content_from_json
from pwrecovery._domain.selection import order_senders
from pwrecovery._domain.tokens import generate_temporary_password, generate_verification_code
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery._service._session import SenderSession
from pwrecovery._service._tally import Outcome, Refusal, Tally
from pwrecovery.exceptions import NoSenderConfigured
from pwrecovery.models import AuditEvent, DeliveryReport, Purpose
from pwrecovery.records import QueuedMessage, SenderRecord, UserRecord

Result = Literal["sent", "retried", "abandoned", "dropped"]
State = Literal["due", "claimed", "done"]


@attrs.define(eq=False)
class _Mail:
    """One due mail during a run: its senders in order, which of them it has been
    through, and its tally. ``due`` until this worker claims it, ``done`` once settled
    (or left to the worker that claimed it first)."""

    message: QueuedMessage
    senders: list[SenderRecord]
    tally: Tally
    content: MailContent | None
    token: str
    state: State = "due"
    secret: Secret | None = None
    secret_made: bool = False
    tried: set[str] = attrs.Factory(set)

    def next_sender(self, out: dict[str, Refusal]) -> SenderRecord | None:
        """The first of its senders it has not been through and that still takes mail."""
        for sender in self.senders:
            sender_id = sender.account.id
            if sender_id not in self.tried and sender_id not in out:
                return sender
        return None


@attrs.define
class _Run:
    ctx: Context
    delivery: Delivery
    now: datetime
    counts: dict[str, int]
    out: dict[str, Refusal] = attrs.Factory(dict)  # senders that take no more mail this run


def deliver_pending(ctx: Context, delivery: Delivery, limit: int) -> DeliveryReport:
    """Send the queued mails that are due, one login per sender."""
    ctx.require_box()
    run = _Run(ctx, delivery, ctx.now(), {"sent": 0, "retried": 0, "abandoned": 0, "dropped": 0})
    due = ctx.store.due_messages(run.now, limit)
    senders = ctx.store.list_senders() if due else []
    queue = [_read(run, message, senders) for message in due]
    while queue:
        sender = queue[0].next_sender(run.out)
        if sender is None:  # no sender left for the oldest mail: it waits for a later run
            _settle_unsent(run, queue.pop(0))
            continue
        sender_id = sender.account.id
        group = [mail for mail in queue if _id_of(mail.next_sender(run.out)) == sender_id]
        _through_one_sender(run, sender, group)
        queue = [mail for mail in queue if mail.state != "done"]
    return DeliveryReport(**run.counts)


def _id_of(sender: SenderRecord | None) -> str | None:
    return sender.account.id if sender is not None else None


def _read(run: _Run, message: QueuedMessage, senders: list[SenderRecord]) -> _Mail:
    """A due mail, with the senders its requester's order gives it (none for a damaged
    payload: it is abandoned at its turn)."""
    try:
        content, token = content_from_json(message.payload)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _Mail(message, [], Tally(run.ctx, message.user_key, ""), None, "")
    tally = Tally(run.ctx, content.login, content.purpose.value)
    return _Mail(message, order_senders(senders, content.login), tally, content, token)


def _through_one_sender(run: _Run, sender: SenderRecord, group: list[_Mail]) -> None:
    """Send ``group`` through ``sender`` in one session. A mail it refuses keeps its place
    for its next sender; when the sender cannot log in or loses the session, the
    mails it still had are charged with that and keep their places too."""
    sender_id = sender.account.id
    session: SenderSession | None = None
    try:
        for position, mail in enumerate(group):
            if not _claimed_and_wanted(run, mail):
                continue
            if session is None:
                opened = run.delivery.open_session(sender, run.now)
                if isinstance(opened, Refusal):
                    _take_out(run, opened, group[position:])
                    return
                session = opened
            if not _with_secret(run, mail):
                continue
            assert mail.content is not None  # noqa: S101 (claimed and wanted: it was read)
            outcome = session.deliver(
                mail.content, mail.tally, run.now, secret=mail.secret, message_token=mail.token
            )
            mail.tried.add(sender_id)
            if outcome is not None:
                _settle_sent(run, mail, outcome)
            elif session.lost is not None:
                _take_out(run, session.lost, group[position + 1 :])
                return
    finally:
        if session is not None:
            session.close()


def _take_out(run: _Run, refusal: Refusal, waiting: list[_Mail]) -> None:
    """The sender takes no more mail in this run; the mails that were waiting for it
    say so in their audit."""
    run.out[refusal.sender_id] = refusal
    for mail in waiting:
        if mail.state != "done":
            refusal.charge(mail.tally, run.now)


def _claimed_and_wanted(run: _Run, mail: _Mail) -> bool:
    """Claim the mail (once a run), then check it is still wanted. A mail another worker
    claimed first is left to it; a damaged or unwanted one is settled here."""
    if mail.state != "due":
        return mail.state == "claimed"
    ctx, message = run.ctx, mail.message
    lease_end = ctx.now() + ctx.policy.delivery_lease
    claimed = attrs.evolve(message, attempts=message.attempts + 1, next_attempt_at=lease_end)
    if not ctx.store.update_message(claimed, expected_version=message.version):
        mail.state = "done"  # another worker has it
        return False
    mail.message = attrs.evolve(claimed, version=message.version + 1)
    mail.state = "claimed"
    user = ctx.store.get_user(message.user_key)
    mail.tally.login = user.login if user is not None else message.user_key
    if mail.content is None:
        _abandon(run, mail, (), "payload_damaged")
        return False
    if user is None or not _still_wanted(user, mail.message, mail.content, run.now):
        _drop(run, mail)
        return False
    return True


def _with_secret(run: _Run, mail: _Mail) -> bool:
    """Make the mail's secret, once, just before its first send."""
    if not mail.secret_made:
        wanted, mail.secret = _make_secret(run.ctx, mail.message, run.now)
        mail.secret_made = True
        if not wanted:
            _drop(run, mail)
            return False
    return True


def _drop(run: _Run, mail: _Mail) -> None:
    ctx, message = run.ctx, mail.message
    event = ctx.event("queued_mail_dropped", mail.tally.login, run.now, None, message=message.id)
    ctx.store.delete_message(message.id, (event,))
    mail.state = "done"
    run.counts["dropped"] += 1


def _settle_sent(run: _Run, mail: _Mail, outcome: Outcome) -> None:
    ctx, message = run.ctx, mail.message
    event = ctx.event("queued_mail_sent", mail.tally.login, run.now, None, message=message.id)
    ctx.store.delete_message(message.id, (*outcome.events, event))
    mail.state = "done"
    run.counts["sent"] += 1


def _settle_unsent(run: _Run, mail: _Mail) -> None:
    """No sender (left) took the mail in this run: try it again later, or give up."""
    if not _claimed_and_wanted(run, mail):
        return
    ctx, message, now = run.ctx, mail.message, run.now
    outcome = mail.tally.given_up(now, audit=bool(mail.senders))
    reason = outcome.failure().code if outcome.attempts else NoSenderConfigured.code
    if outcome.permanent or message.attempts >= ctx.policy.delivery_attempts:
        _abandon(run, mail, outcome.events, reason)
        return
    retry = attrs.evolve(
        message,
        next_attempt_at=now + throttle.retry_delay(message.attempts, ctx.policy),
        last_error=reason,
    )
    event = ctx.event(
        "queued_mail_retry",
        mail.tally.login,
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
    mail.state = "done"
    run.counts["retried"] += 1


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


def _abandon(run: _Run, mail: _Mail, delivered: tuple[AuditEvent, ...], reason: str) -> None:
    """Give up on a message for good: revoke the secret it carries, say why."""
    ctx, message, login = run.ctx, mail.message, mail.tally.login
    event = ctx.event(
        "queued_mail_abandoned", login, run.now, None, message=message.id, reason=reason
    )
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
    mail.state = "done"
    run.counts["abandoned"] += 1
