"""The delivery worker: sends what login windows queued.

Queued mails hold no secret. For a temporary password or a verification code
the worker, which holds the key, makes the secret when it sends, stores only
its hash on the user (still bound to the request's id, so a newer request
makes an older mail obsolete), and mails it.

A run takes the due mails, oldest first, and groups them by the sender that
will take each (the first of its senders, in the order of ``_domain.selection``,
that is still usable in this run): one SMTP login per sender per run, through
a mailer session when the mailer has them (``SessionMailer``), else one
``send`` per mail. A sender's group is a batch, and the store's work is done
per batch, not per mail (``_outbox_batch``): the group is claimed in one
transaction (each mail's next try moved ``delivery_lease`` ahead, conditionally
on its version, so another worker leaves it); after the login, the secrets of
the whole group are made and their hashes stored in one transaction, before
any of its mails is sent; then the mails are written, and sent one after the
other through the session; the sent ones are deleted, each with its audit events, in one
transaction at the end of the group (with ``SqliteStore``, one WAL checkpoint).

A mail the sender refuses moves on to its next sender; a sender that cannot log
in, or whose session is lost, takes nothing more in this run, and the mails it
still had move on to their next senders, with the secrets already made. A mail
no sender took is tried again later (``delivery_retry_base``, doubling, at most
an hour); one that every sender tried refused for good (a 5xx reply), or that
has had ``delivery_attempts`` tries, is abandoned and what it carried revoked.

A mail is sent only while more than half of its lease is left: a batch that
runs longer first settles what it sent, then renews the lease of the rest.
So no two workers send one mail within a lease. A worker that dies in the
middle of a batch leaves the batch's mails leased: after the lease the next
run sends each one that was not settled, the ones already sent included, with
a new secret that replaces the first. At worst a duplicate mail (the same
Message-ID), never a lost one, never a secret mailed that is not stored, and
never two valid secrets.
"""

from __future__ import annotations

import contextlib

from pwrecovery._domain.mail import content_from_json
from pwrecovery._domain.selection import order_senders
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery._service._outbox_batch import (
    Mail,
    Run,
    claim,
    flush,
    lease_holds,
    make_secrets,
    renew,
    settle_sent,
    settle_unsent,
)
from pwrecovery._service._session import SenderSession
from pwrecovery._service._tally import Refusal, Tally
from pwrecovery.models import DeliveryReport
from pwrecovery.records import QueuedMessage, SenderRecord


def deliver_pending(ctx: Context, delivery: Delivery, limit: int) -> DeliveryReport:
    """Send the queued mails that are due, one login and one batch per sender."""
    ctx.require_box()
    run = Run(ctx, delivery, ctx.now())
    due = ctx.store.due_messages(run.now, limit)
    senders = ctx.store.list_senders() if due else []
    queue = [_read(run, message, senders) for message in due]
    try:
        while queue:
            sender = queue[0].next_sender(run.out)
            if sender is None:  # no sender left for the oldest mail: it waits for a later run
                settle_unsent(run, queue.pop(0))
                continue
            sender_id = sender.account.id
            group = [mail for mail in queue if _id_of(mail.next_sender(run.out)) == sender_id]
            _through_one_sender(run, sender, group)
            queue = [mail for mail in queue if mail.state != "done"]
    except Exception:
        # Whatever failed, what was sent before is settled if the store still answers,
        # so that it is not sent again after its lease.
        with contextlib.suppress(Exception):
            flush(run)
        raise
    flush(run)
    return DeliveryReport(**run.counts)


def _id_of(sender: SenderRecord | None) -> str | None:
    return sender.account.id if sender is not None else None


def _read(run: Run, message: QueuedMessage, senders: list[SenderRecord]) -> Mail:
    """A due mail, with the senders its requester's order gives it (none for a damaged
    payload: it is abandoned when claimed)."""
    try:
        content, token = content_from_json(message.payload)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return Mail(message, [], Tally(run.ctx, message.user_key, ""), None, "")
    tally = Tally(run.ctx, content.login, content.purpose.value)
    return Mail(message, order_senders(senders, content.login), tally, content, token)


def _through_one_sender(run: Run, sender: SenderRecord, group: list[Mail]) -> None:
    """Send ``group`` through ``sender`` in one session, as one batch: claimed, given
    its secrets, sent, settled. A mail the sender refuses keeps its place for its next
    sender; when the sender cannot log in or loses the session, the mails it still had
    are charged with that and keep their places too."""
    claim(run, group)
    waiting = [mail for mail in group if mail.state == "claimed"]
    if not waiting:
        return
    opened = run.delivery.open_session(sender, run.now)
    if isinstance(opened, Refusal):
        _take_out(run, opened, waiting)
        return
    try:
        make_secrets(run, waiting)
        _send_each(run, opened, waiting)
    finally:
        opened.close()
    flush(run)


def _send_each(run: Run, session: SenderSession, mails: list[Mail]) -> None:
    sender_id = session.account.id
    written = {
        id(mail): session.write(mail.content, run.now, secret=mail.secret, message_token=mail.token)
        for mail in mails
        if mail.state == "claimed" and mail.content is not None
    }
    for position, mail in enumerate(mails):
        if mail.state != "claimed":
            continue
        if not lease_holds(run, mail):
            flush(run)
            renew(run, mails[position:])
            if mail.state != "claimed":
                continue
        outcome = session.deliver(written[id(mail)], mail.tally, run.now)
        mail.tried.add(sender_id)
        if outcome is not None:
            settle_sent(run, mail, outcome.events)
        elif session.lost is not None:
            _take_out(run, session.lost, mails[position + 1 :])
            return


def _take_out(run: Run, refusal: Refusal, waiting: list[Mail]) -> None:
    """The sender takes no more mail in this run; the mails that were waiting for it
    say so in their audit."""
    run.out[refusal.sender_id] = refusal
    for mail in waiting:
        if mail.state != "done":
            refusal.charge(mail.tally, run.now)
