"""Sending a mail: which sender accounts, in what order, within what budget.

"If you have several sender accounts, the SUPERVISOR's comes first": the order
is ``_domain.selection``; delivery tries the senders in it and moves on when
one fails (connection, login or send). Before each SMTP login it takes one
from the sender's budget (``Policy.smtp_logins_per_minute``) in a conditional
write; a sender whose credentials were refused several times in a row rests
(``Policy.sender_cooldown``). A sender whose row was edited without the key
is never used (``sender_tampered``), and no byte of its secret leaves.
Nothing here writes the user: the caller stores the returned audit events in
the same transaction as the change the mail belongs to.

The queue worker sends several mails through one sender with ``open_session``:
one SMTP login (one from the budget) for all of them when the mailer has
sessions (``SessionMailer``), else one ``send`` (and one login from the
budget) per mail. Each mail keeps its own ``Tally`` of tries, audited with it.

The parts live in their own modules: ``_tally`` (what a delivery tried, its
outcome), ``_budget`` (the SMTP budget and a sender's rest), ``_sender_secrets``
(opening a sender's secret, OAuth access tokens) and ``_session`` (one sender's
session for the worker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from pwrecovery._domain.mail import MailContent, compose, content_to_json
from pwrecovery._domain.selection import order_senders
from pwrecovery._secret import Secret
from pwrecovery._service import _budget
from pwrecovery._service._context import Context
from pwrecovery._service._sender_secrets import SenderSecrets
from pwrecovery._service._session import SenderSession
from pwrecovery._service._tally import Outcome, Refusal, Tally
from pwrecovery.adapters.secretbox import SecretTampered
from pwrecovery.exceptions import (
    NoSenderConfigured,
    PwRecoveryError,
    SecretUndecryptable,
    SenderAuthenticationFailed,
)
from pwrecovery.models import AuditEvent, SenderAccount
from pwrecovery.records import QueuedMessage, SenderRecord

__all__ = ["Delivery", "Outcome", "Refusal", "SenderSession", "Tally"]


class Delivery:
    """Sends through the senders in order; shared by every use case that mails."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._secrets = SenderSecrets(ctx)

    @property
    def ctx(self) -> Context:
        return self._ctx

    # -- which senders -----------------------------------------------------------

    def candidates(self, requester: str | None) -> list[SenderRecord]:
        """Every sender in the order a request by ``requester`` tries them."""
        return order_senders(self._ctx.store.list_senders(), requester)

    def budget_wait(self, candidates: Sequence[SenderRecord], now: datetime) -> timedelta | None:
        """None when some sender may log in now; else how long until one may."""
        return _budget.budget_wait(self._ctx, candidates, now)

    # -- one sender's login and secret ---------------------------------------------

    def take_login(self, sender_id: str, now: datetime) -> SenderRecord | timedelta | None:
        """Take one SMTP login from the sender's budget (``_budget.take_login``)."""
        return _budget.take_login(self._ctx, sender_id, now)

    def settle_login(
        self, sender_id: str, now: datetime, *, refused: bool
    ) -> tuple[AuditEvent, ...]:
        """Count the login's result for the sender's rest (``_budget.settle_login``)."""
        return _budget.settle_login(self._ctx, sender_id, now, refused=refused)

    def open_secret(self, record: SenderRecord, now: datetime) -> Secret:
        """The sender's stored secret (``SenderSecrets.open_secret``)."""
        return self._secrets.open_secret(record, now)

    def login_secret(
        self,
        account: SenderAccount,
        stored: Secret,
        now: datetime,
        record: SenderRecord | None = None,
    ) -> Secret:
        """What the mailer logs in with (``SenderSecrets.login_secret``)."""
        return self._secrets.login_secret(account, stored, now, record)

    def latest_secret(self, account: SenderAccount, stored: Secret) -> Secret:
        """The stored secret, or the refresh token that replaced it (``SenderSecrets``)."""
        return self._secrets.latest_secret(account, stored)

    # -- sending -------------------------------------------------------------------

    def send(
        self,
        content: MailContent,
        now: datetime,
        origin: object,
        candidates: Sequence[SenderRecord] | None = None,
        *,
        secret: Secret | None = None,
        message_token: str | None = None,
    ) -> Outcome:
        """Send through each sender in order until one succeeds."""
        return self._through_senders(
            content, now, origin, candidates, secret=secret, message_token=message_token
        )

    def rehearse(self, candidates: Sequence[SenderRecord], now: datetime, origin: object) -> None:
        """The network work of a delivery without a mail (uniform mode): log in to the
        senders in order, within the same budget, until one accepts."""
        self._through_senders(None, now, origin, candidates)

    def _through_senders(
        self,
        content: MailContent | None,
        now: datetime,
        origin: object,
        candidates: Sequence[SenderRecord] | None,
        *,
        secret: Secret | None = None,
        message_token: str | None = None,
    ) -> Outcome:
        ctx = self._ctx
        if candidates is None:
            candidates = self.candidates(content.login if content is not None else None)
        if not candidates:
            raise NoSenderConfigured
        login = content.login if content is not None else None
        purpose = content.purpose.value if content is not None else "rehearsal"
        tally = Tally(ctx, login, purpose, origin)
        for candidate in candidates:
            sender_id = candidate.account.id
            ready = self._ready(candidate, now)
            if isinstance(ready, Refusal):
                ready.charge(tally, now)
                continue
            record, stored = ready
            account = record.account
            tally.attempts += 1
            try:
                password = self.login_secret(account, stored, now, record)
                if content is None:
                    ctx.mailer.verify(account.settings, password.reveal())
                else:
                    message = compose(
                        content,
                        account.settings,
                        now=now,
                        message_token=message_token or ctx.message_token(),
                        secret=secret,
                        style=ctx.style,
                    )
                    ctx.mailer.send(account.settings, password.reveal(), message)
            except PwRecoveryError as error:
                tally.error(sender_id, error, now)
                self.settle_login(
                    sender_id, now, refused=isinstance(error, SenderAuthenticationFailed)
                )
                continue
            self.settle_login(sender_id, now, refused=False)
            if content is None:
                return Outcome(account, tuple(tally.events), tally.attempts)
            return tally.sent(account, now)
        return tally.given_up(now, audit=content is not None)

    def _ready(
        self, candidate: SenderRecord, now: datetime
    ) -> tuple[SenderRecord, Secret] | Refusal:
        """Before a login: one login taken from the sender's budget and its secret opened;
        or why it cannot be used now."""
        sender_id = candidate.account.id
        taken = self.take_login(sender_id, now)
        if taken is None:
            return Refusal(sender_id)  # removed meanwhile
        if isinstance(taken, timedelta):
            return Refusal(sender_id, "budget", wait=taken)
        # The secret is opened from the row as it is now, the one the login goes to: an
        # edit made since the senders were listed is caught here, not sent to.
        try:
            stored = self.open_secret(taken, now)
        except SecretTampered:
            return Refusal(sender_id, tampered=True)
        except SecretUndecryptable:
            return Refusal(sender_id, SecretUndecryptable.code)
        return taken, stored

    def open_session(self, candidate: SenderRecord, now: datetime) -> SenderSession | Refusal:
        """Log in to ``candidate`` once for several mails (one login from its budget), or
        say why it cannot take any. With a mailer without sessions nothing is sent yet:
        each mail will be a ``send`` of its own."""
        ready = self._ready(candidate, now)
        if isinstance(ready, Refusal):
            return ready
        record, stored = ready
        account = record.account
        stack = contextlib.ExitStack()
        opener = getattr(self._ctx.mailer, "session", None)
        try:
            password = self.login_secret(account, stored, now, record)
            if not callable(opener):
                return SenderSession(self._ctx, account, password, None, stack)
            session = stack.enter_context(opener(account.settings, password.reveal()))
        except PwRecoveryError as error:
            stack.close()
            refused = isinstance(error, SenderAuthenticationFailed)
            self.settle_login(account.id, now, refused=refused)
            return Refusal(account.id, error=error)
        self.settle_login(account.id, now, refused=False)
        return SenderSession(self._ctx, account, password, session, stack)

    def notify(self, content: MailContent, user_key: str, now: datetime, origin: object) -> None:
        """Send a notice (no secret) best-effort: a failure is audited, never raised. A
        service without the key queues it for the worker."""
        ctx = self._ctx
        if ctx.box is None:
            self._enqueue_alone(
                self.queued(content, user_key, None, now), content.login, now, origin
            )
            return
        try:
            outcome = self.send(content, now, origin)
        except NoSenderConfigured:
            outcome = Outcome(None, ())
        events = outcome.events
        if not outcome.sent:
            reason = outcome.failure().code if outcome.events else NoSenderConfigured.code
            events = (
                *events,
                ctx.event(
                    "notice_failed",
                    content.login,
                    now,
                    origin,
                    purpose=content.purpose.value,
                    reason=reason,
                ),
            )
        ctx.store.append_audit(events)

    def _enqueue_alone(
        self, message: QueuedMessage, login: str, now: datetime, origin: object
    ) -> None:
        ctx = self._ctx
        for attempt in ctx.uow.user(message.user_key):
            with attempt as user:
                if user is None:
                    return
                event = ctx.event("mail_queued", login, now, origin, purpose=message.purpose.value)
                attempt.save(user, events=(event,), enqueue=(message,))
                return

    def queued(
        self, content: MailContent, user_key: str, credential_id: str | None, now: datetime
    ) -> QueuedMessage:
        """A mail for the outbox. It holds no secret: the worker makes the temporary
        password or the code when it sends (``credential_id`` names which)."""
        return QueuedMessage(
            id=self._ctx.new_id(),
            user_key=user_key,
            purpose=content.purpose,
            credential_id=credential_id,
            payload=content_to_json(content, self._ctx.message_token()),
            created_at=now,
            next_attempt_at=now,
        )
