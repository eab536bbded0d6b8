"""The store's side of a run of the delivery worker: a batch is claimed, prepared and
settled in a few transactions, not several per mail.

- ``claim``: the due mails of a batch, in one transaction (``Store.update_messages``):
  each one's next try moved ``delivery_lease`` ahead, conditionally on the version
  read, so that another worker leaves it; then their users, in one read, to drop
  what is no longer wanted.
- ``make_secrets``: each mail's temporary password or code, made now, and the
  batch's hashes stored on the users in one transaction (``Store.update_users``)
  before any of the mails is sent. A user changed since it was read is written
  again alone, on a fresh read.
- ``settle_sent``, ``drop``, ``abandon``: what is settled waits in the run, and
  ``flush`` deletes it, each mail with its audit events, in one transaction
  (``Store.delete_messages``; ``SqliteStore`` then clears its WAL once).
- ``lease_holds`` and ``renew``: a mail is sent only while more than half of its
  lease is left; a batch that runs longer settles what it sent and renews the
  lease of the rest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from pwrecovery._domain import accounts, throttle
from pwrecovery._domain.expiry import is_expired
from pwrecovery._domain.mail import MailContent
from pwrecovery._domain.tokens import generate_temporary_password, generate_verification_code
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery._service._tally import Refusal, Tally
from pwrecovery.exceptions import NoSenderConfigured
from pwrecovery.models import AuditEvent, Purpose
from pwrecovery.records import QueuedMessage, SenderRecord, UserRecord

State = Literal["due", "claimed", "done"]


@attrs.define(eq=False)
class Mail:
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
    lease_end: datetime | None = None
    tried: set[str] = attrs.Factory(set)

    def next_sender(self, out: dict[str, Refusal]) -> SenderRecord | None:
        """The first of its senders it has not been through and that still takes mail."""
        for sender in self.senders:
            sender_id = sender.account.id
            if sender_id not in self.tried and sender_id not in out:
                return sender
        return None


@attrs.define
class Run:
    """One run of the worker: what it counted, the senders out for the rest of it, the
    users it read, and what is settled but not yet written (``flush``)."""

    ctx: Context
    delivery: Delivery
    now: datetime
    counts: dict[str, int] = attrs.Factory(
        lambda: {"sent": 0, "retried": 0, "abandoned": 0, "dropped": 0}
    )
    out: dict[str, Refusal] = attrs.Factory(dict)  # senders that take no more mail this run
    users: dict[str, UserRecord] = attrs.Factory(dict)
    settled: list[tuple[str, tuple[AuditEvent, ...]]] = attrs.Factory(list)


# -- the lease ---------------------------------------------------------------------------


def claim(run: Run, mails: list[Mail]) -> None:
    """Claim the due ones of ``mails`` in one transaction, then read their users and
    settle here those that are damaged or no longer wanted. A mail another worker
    claimed first is left to it."""
    ctx = run.ctx
    due = [mail for mail in mails if mail.state == "due"]
    if not due:
        return
    lease_end = ctx.now() + ctx.policy.delivery_lease
    claims = [
        attrs.evolve(m.message, attempts=m.message.attempts + 1, next_attempt_at=lease_end)
        for m in due
    ]
    claimed: list[Mail] = []
    for mail, taken, won in zip(due, claims, ctx.store.update_messages(claims), strict=True):
        if not won:
            mail.state = "done"  # another worker has it
            continue
        mail.message = attrs.evolve(taken, version=taken.version + 1)
        mail.state, mail.lease_end = "claimed", lease_end
        claimed.append(mail)
    _read_users(run, {mail.message.user_key for mail in claimed})
    for mail in claimed:
        user = run.users.get(mail.message.user_key)
        mail.tally.login = user.login if user is not None else mail.message.user_key
        if mail.content is None:
            abandon(run, mail, (), "payload_damaged")
        elif user is None or not still_wanted(user, mail.message, mail.content, run.now):
            drop(run, mail)


def _read_users(run: Run, keys: set[str]) -> None:
    if not keys:
        return
    found = {user.key: user for user in run.ctx.store.get_users(sorted(keys))}
    for key in keys:
        if key in found:
            run.users[key] = found[key]
        else:
            run.users.pop(key, None)


def lease_holds(run: Run, mail: Mail) -> bool:
    """Whether more than half of the mail's lease is left: enough for one send."""
    half = run.ctx.policy.delivery_lease / 2
    return mail.lease_end is not None and run.ctx.now() < mail.lease_end - half


def renew(run: Run, mails: list[Mail]) -> None:
    """Hold the claimed ones of ``mails`` for a new lease, each over the version this
    worker wrote; one taken meanwhile (this worker was stopped past its lease) is left
    to the worker that has it."""
    ctx = run.ctx
    held = [mail for mail in mails if mail.state == "claimed"]
    lease_end = ctx.now() + ctx.policy.delivery_lease
    renewed = [attrs.evolve(mail.message, next_attempt_at=lease_end) for mail in held]
    for mail, kept, won in zip(held, renewed, ctx.store.update_messages(renewed), strict=True):
        if won:
            mail.message = attrs.evolve(kept, version=kept.version + 1)
            mail.lease_end = lease_end
        else:
            mail.state = "done"


# -- the secrets -------------------------------------------------------------------------


def make_secrets(run: Run, mails: list[Mail]) -> None:
    """Make the secret of each claimed mail that has none yet, and store the hashes in
    one transaction before any of them is sent. A mail whose request no longer stands
    (its temporary password or code replaced meanwhile) is dropped."""
    ctx = run.ctx
    fresh = [mail for mail in mails if mail.state == "claimed" and not mail.secret_made]
    _read_users(run, {mail.message.user_key for mail in fresh} - set(run.users))
    changed: dict[str, UserRecord] = {}
    carrying: list[tuple[Mail, str]] = []
    for mail in fresh:
        mail.secret_made = True
        secret = _new_secret(ctx, mail.message)
        if secret is None:
            continue  # a notice carries none
        encoded = ctx.hash(secret)
        key = mail.message.user_key
        user = changed.get(key) or run.users.get(key)
        hashed = _with_hash(user, mail.message, encoded, run.now) if user is not None else None
        if hashed is None:
            drop(run, mail)
            continue
        changed[key] = hashed
        mail.secret = secret
        carrying.append((mail, encoded))
    written = dict(zip(changed, ctx.store.update_users(list(changed.values())), strict=True))
    for key, record in changed.items():
        if written[key]:
            run.users[key] = attrs.evolve(record, version=record.version + 1)
        else:
            run.users.pop(key, None)
    for mail, encoded in carrying:
        if not written[mail.message.user_key] and not _store_hash_alone(run, mail, encoded):
            mail.secret = None
            drop(run, mail)


def _new_secret(ctx: Context, message: QueuedMessage) -> Secret | None:
    if message.purpose is Purpose.TEMPORARY_PASSWORD:
        length = ctx.policy.temporary_password_length
        return Secret(generate_temporary_password(ctx.randbelow, length))
    if message.purpose is Purpose.EMAIL_VERIFICATION:
        return Secret(generate_verification_code(ctx.randbelow))
    return None


def _with_hash(
    user: UserRecord, message: QueuedMessage, encoded: str, now: datetime
) -> UserRecord | None:
    """The user with the mail's secret's hash on the credential the mail is for; None if
    that credential is no longer there (a newer request replaced it)."""
    if message.purpose is Purpose.TEMPORARY_PASSWORD:
        temporary = user.temporary
        if temporary is None or temporary.id != message.credential_id:
            return None
        return attrs.evolve(user, temporary=attrs.evolve(temporary, hash=encoded, issued_at=now))
    pending = user.pending_verification
    if pending is None or pending.id != message.credential_id:
        return None
    return attrs.evolve(user, pending_verification=attrs.evolve(pending, code_hash=encoded))


def _store_hash_alone(run: Run, mail: Mail, encoded: str) -> bool:
    """The batch's write found this user changed: store the hash on a fresh read (retried
    while other workstations write first); False if the request no longer stands."""
    ctx, message = run.ctx, mail.message
    for attempt in ctx.uow.user(message.user_key):
        with attempt as user:
            hashed = _with_hash(user, message, encoded, run.now) if user is not None else None
            if hashed is None:
                return False
            attempt.save(hashed)
            run.users.pop(message.user_key, None)
            return True
    return False  # pragma: no cover (the loop returns or raises)


def still_wanted(
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


# -- settling ----------------------------------------------------------------------------


def settle_sent(run: Run, mail: Mail, events: tuple[AuditEvent, ...]) -> None:
    ctx, message = run.ctx, mail.message
    event = ctx.event("queued_mail_sent", mail.tally.login, run.now, None, message=message.id)
    run.settled.append((message.id, (*events, event)))
    mail.state = "done"
    run.counts["sent"] += 1


def drop(run: Run, mail: Mail) -> None:
    ctx, message = run.ctx, mail.message
    event = ctx.event("queued_mail_dropped", mail.tally.login, run.now, None, message=message.id)
    run.settled.append((message.id, (event,)))
    mail.state = "done"
    run.counts["dropped"] += 1


def flush(run: Run) -> None:
    """Delete what the run settled, each mail with its audit events, in one transaction."""
    if run.settled:
        run.ctx.store.delete_messages(run.settled)
        run.settled = []


def settle_unsent(run: Run, mail: Mail) -> None:
    """No sender (left) took the mail in this run: try it again later, or give up."""
    claim(run, [mail])
    if mail.state != "claimed":
        return
    ctx, message, now = run.ctx, mail.message, run.now
    outcome = mail.tally.given_up(now, audit=bool(mail.senders))
    # No attempt: either no sender at all, or every sender's login budget was spent.
    tried = outcome.attempts or outcome.retry_after is not None
    reason = outcome.failure().code if tried else NoSenderConfigured.code
    if outcome.permanent or message.attempts >= ctx.policy.delivery_attempts:
        abandon(run, mail, outcome.events, reason)
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
    events = (*outcome.events, event)
    mail.state = "done"
    if ctx.store.update_message(retry, expected_version=message.version, events=events):
        run.counts["retried"] += 1


def abandon(run: Run, mail: Mail, delivered: tuple[AuditEvent, ...], reason: str) -> None:
    """Give up on a message for good: revoke the secret it carries, say why; the message
    itself goes with the run's next ``flush``."""
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
    run.users.pop(message.user_key, None)
    run.settled.append((message.id, ()))
    mail.state = "done"
    run.counts["abandoned"] += 1
