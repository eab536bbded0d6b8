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
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Final

import attrs

from pwrecovery._domain import throttle
from pwrecovery._domain.mail import MailContent, compose, content_to_json
from pwrecovery._domain.selection import order_senders
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery.adapters.secretbox import SecretTampered
from pwrecovery.exceptions import (
    DeliveryFailed,
    DeliveryRejected,
    NoSenderConfigured,
    PwRecoveryError,
    RateLimited,
    SecretUndecryptable,
    SenderAuthenticationFailed,
    TokenUnavailable,
)
from pwrecovery.models import AuditEvent, Authentication, SenderAccount
from pwrecovery.ports import MailSession, TokenProvider
from pwrecovery.records import QueuedMessage, SenderRecord

_TOKEN_MARGIN: Final = timedelta(minutes=5)  # an access token is renewed this long before it ends


@attrs.frozen
class Outcome:
    """What a delivery did: the sender that sent (None if none did), what to audit, and
    why it failed, to tell the caller which error to raise."""

    account: SenderAccount | None
    events: tuple[AuditEvent, ...]
    attempts: int = 0
    permanent: bool = False
    reply_code: int = 0
    retry_after: timedelta | None = None
    reason: str = ""  # the client's own reason for a refusal (smtputf8_unsupported)

    @property
    def sent(self) -> bool:
        return self.account is not None

    def failure(self) -> PwRecoveryError:
        """The error for a delivery that did not happen."""
        if self.attempts == 0 and self.retry_after is not None:
            return RateLimited(self.retry_after, reason="smtp_budget")
        kind = DeliveryRejected if self.permanent else DeliveryFailed
        return kind(attempts=self.attempts, reply_code=self.reply_code, reason=self.reason)


@attrs.define
class Tally:
    """The tries of one mail so far, sender after sender: what to audit with it, and how
    it failed. Immediate delivery keeps one for the length of a call; the queue worker
    one per queued mail for the length of a run."""

    ctx: Context
    login: str | None
    purpose: str
    origin: object = None
    events: list[AuditEvent] = attrs.Factory(list)
    attempts: int = 0  # senders a login was tried with for this mail
    permanent: int = 0  # of which refused the mail for good
    reply: int = 0
    reason: str = ""
    waits: list[timedelta] = attrs.Factory(list)

    def failed(self, sender: str, reason: str, now: datetime, **detail: str) -> None:
        self.events.append(
            self.ctx.event(
                "delivery_attempt_failed",
                self.login,
                now,
                self.origin,
                purpose=self.purpose,
                sender=sender,
                reason=reason,
                **detail,
            )
        )

    def error(self, sender: str, error: PwRecoveryError, now: datetime) -> None:
        """A try through ``sender`` ended in ``error``: audited with the server's reply code
        and the error's own reason (``expects_ssl``, ``smtputf8_unsupported``…) when it has
        them."""
        code = int(getattr(error, "reply_code", 0) or 0)
        self.reply = code or self.reply
        detail = {"reply": str(code)} if code else {}
        cause = getattr(error, "reason", "")
        if isinstance(cause, str) and cause:
            detail["cause"] = cause
        if isinstance(error, DeliveryFailed):
            self.reason = error.reason
        self.failed(sender, error.code, now, **detail)
        if isinstance(error, DeliveryRejected):
            self.permanent += 1

    def sent(self, account: SenderAccount, now: datetime) -> Outcome:
        event = self.ctx.event(
            "mail_sent", self.login, now, self.origin, purpose=self.purpose, sender=account.id
        )
        return Outcome(account, (*self.events, event), self.attempts)

    def given_up(self, now: datetime, *, audit: bool = True) -> Outcome:
        """No sender took the mail. It failed for good when every sender tried refused it
        for good; ``audit`` adds the ``delivery_failed`` event."""
        events = list(self.events)
        if audit:
            events.append(
                self.ctx.event(
                    "delivery_failed",
                    self.login,
                    now,
                    self.origin,
                    purpose=self.purpose,
                    attempts=str(self.attempts),
                )
            )
        return Outcome(
            None,
            tuple(events),
            self.attempts,
            permanent=self.attempts > 0 and self.permanent == self.attempts,
            reply_code=self.reply,
            retry_after=min(self.waits) if self.waits else None,
            reason=self.reason,
        )


@attrs.frozen
class Refusal:
    """Why a sender takes no mail in (the rest of) this run of the worker; ``charge``
    puts it on the tally of each mail that would have gone through it."""

    sender_id: str
    reason: str = ""  # "budget", "secret_undecryptable"; empty when there is nothing to say
    tampered: bool = False
    error: PwRecoveryError | None = None  # the login, or the session, failed with it
    wait: timedelta | None = None

    def charge(self, tally: Tally, now: datetime) -> None:
        if self.tampered:
            tally.events.append(
                tally.ctx.event(
                    "sender_tampered", tally.login, now, tally.origin, sender=self.sender_id
                )
            )
        elif self.error is not None:
            tally.attempts += 1
            tally.error(self.sender_id, self.error, now)
        elif self.reason:
            tally.failed(self.sender_id, self.reason, now)
        if self.wait is not None:
            tally.waits.append(self.wait)


class SenderSession:
    """One sender, logged in, for several mails of one run of the worker.

    ``deliver`` composes and sends one mail and puts what happened on the mail's
    tally. A refusal of that mail (``DeliveryFailed``) leaves the session usable;
    any other error loses it (``lost`` says why), and the caller moves the mails it
    still has to the next senders. Without mailer sessions each mail is a ``send``
    and a login of its own, each taken from the budget.
    """

    def __init__(
        self,
        delivery: Delivery,
        account: SenderAccount,
        password: Secret,
        session: MailSession | None,
        stack: contextlib.ExitStack,
    ) -> None:
        self._delivery = delivery
        self.account = account
        self._password = password
        self._session = session
        self._stack = stack
        self._logins_in_hand = 1  # taken from the budget when the session was opened
        self.lost: Refusal | None = None

    def __repr__(self) -> str:
        return f"SenderSession({self.account.id!r})"

    def deliver(
        self,
        content: MailContent,
        tally: Tally,
        now: datetime,
        *,
        secret: Secret | None,
        message_token: str,
    ) -> Outcome | None:
        """Send one mail: its outcome once sent, else None (the failure is on its tally)."""
        sender_id = self.account.id
        if self.lost is not None:
            self.lost.charge(tally, now)
            return None
        if self._session is None and not self._take_login(tally, now):
            return None
        tally.attempts += 1
        try:
            message = compose(
                content,
                self.account.settings,
                now=now,
                message_token=message_token,
                secret=secret,
                style=self._delivery.ctx.style,
            )
        except PwRecoveryError as error:  # this mail cannot be written: the next one can
            tally.error(sender_id, error, now)
            return None
        try:
            self._send(message)
        except PwRecoveryError as error:
            tally.error(sender_id, error, now)
            if self._session is None:  # that send was a login of its own
                refused = isinstance(error, SenderAuthenticationFailed)
                self._delivery.settle_login(sender_id, now, refused=refused)
            if not isinstance(error, DeliveryFailed):
                self.lost = Refusal(sender_id, error=error)
            return None
        if self._session is None:
            self._delivery.settle_login(sender_id, now, refused=False)
        return tally.sent(self.account, now)

    def _send(self, message: EmailMessage) -> None:
        if self._session is not None:
            self._session.send(message)
        else:
            settings = self.account.settings
            self._delivery.ctx.mailer.send(settings, self._password.reveal(), message)

    def _take_login(self, tally: Tally, now: datetime) -> bool:
        """Without mailer sessions: one login from the budget for this mail. The first was
        taken when the session opened; once the budget is spent the session is lost."""
        if self._logins_in_hand:
            self._logins_in_hand -= 1
            return True
        taken = self._delivery.take_login(self.account.id, now)
        if isinstance(taken, SenderRecord):
            return True
        self.lost = Refusal(self.account.id, "budget" if taken is not None else "", wait=taken)
        self.lost.charge(tally, now)
        return False

    def close(self) -> None:
        """Quit; a failure to quit politely changes nothing for the mails sent."""
        with contextlib.suppress(PwRecoveryError):
            self._stack.close()


@attrs.frozen
class _Token:
    token: Secret
    expires_at: datetime | None
    source: Secret | None  # the stored secret it was made from: a new one makes it stale


class Delivery:
    """Sends through the senders in order; shared by every use case that mails."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._tokens: dict[str, _Token] = {}
        self._builtin: TokenProvider | None = None
        self._lock = threading.Lock()

    @property
    def ctx(self) -> Context:
        return self._ctx

    # -- which senders -----------------------------------------------------------

    def candidates(self, requester: str | None) -> list[SenderRecord]:
        """Every sender in the order a request by ``requester`` tries them."""
        return order_senders(self._ctx.store.list_senders(), requester)

    def budget_wait(self, candidates: Sequence[SenderRecord], now: datetime) -> timedelta | None:
        """None when some sender may log in now; else how long until one may."""
        waits = [throttle.login_retry_after(s.usage, now, self._ctx.policy) for s in candidates]
        if not waits or any(wait is None for wait in waits):
            return None
        return min(wait for wait in waits if wait is not None)

    # -- one sender's login --------------------------------------------------------

    def take_login(self, sender_id: str, now: datetime) -> SenderRecord | timedelta | None:
        """Take one SMTP login from the sender's budget: the fresh record, or how long to
        wait, or None if the sender is gone."""
        policy = self._ctx.policy
        for attempt in self._ctx.uow.sender(sender_id):
            with attempt as record:
                if record is None:
                    return None
                wait = throttle.login_retry_after(record.usage, now, policy)
                if wait is not None:
                    return wait
                taken = attrs.evolve(record, usage=throttle.with_login(record.usage, now))
                attempt.save(taken)
                return attrs.evolve(taken, version=record.version + 1)
        return None  # pragma: no cover (the loop returns or raises)

    def settle_login(
        self, sender_id: str, now: datetime, *, refused: bool
    ) -> tuple[AuditEvent, ...]:
        """Count a refusal of the sender's credentials (or clear the count), with the
        ``sender_cooling_down`` event when that starts a rest; the events are stored with
        the sender and returned."""
        policy, ctx = self._ctx.policy, self._ctx
        for attempt in ctx.uow.sender(sender_id):
            with attempt as record:
                if record is None:
                    return ()
                usage = throttle.after_login(record.usage, now, policy, refused=refused)
                if usage == record.usage:
                    return ()
                events: tuple[AuditEvent, ...] = ()
                if usage.cooldown_until is not None and usage.cooldown_until != (
                    record.usage.cooldown_until
                ):
                    events = (
                        ctx.event(
                            "sender_cooling_down",
                            None,
                            now,
                            sender=sender_id,
                            until=usage.cooldown_until.isoformat(),
                        ),
                    )
                attempt.save(attrs.evolve(record, usage=usage), events=events)
                return events
        return ()  # pragma: no cover

    def open_secret(self, record: SenderRecord, now: datetime) -> Secret:
        """The sender's stored secret, resealed under the first key and the current binding
        when it was sealed by release 1 or an older key. ``SecretTampered`` or
        ``SecretUndecryptable`` when it cannot be used."""
        box = self._ctx.require_box()
        opened = box.open(record.secret, record.account)
        if opened.needs_reseal:
            self._reseal(record, opened.secret, now, "resealed")
        return opened.secret

    def _reseal(self, opened: SenderRecord, secret: Secret, now: datetime, kind: str) -> None:
        """Seal ``secret`` again for the sender as it was opened. Only if the row is still
        the one opened: an edit made in between must never become a valid binding."""
        box = self._ctx.require_box()
        for attempt in self._ctx.uow.sender(opened.account.id):
            with attempt as record:
                if record is None or (record.account, record.secret) != (
                    opened.account,
                    opened.secret,
                ):
                    return
                sealed = attrs.evolve(record, secret=box.seal(secret, record.account))
                event = self._ctx.event(
                    f"sender_secret_{kind}", None, now, sender=opened.account.id
                )
                attempt.save(sealed, events=(event,))
                return

    def login_secret(
        self,
        account: SenderAccount,
        stored: Secret,
        now: datetime,
        record: SenderRecord | None = None,
    ) -> Secret:
        """What the mailer logs in with: the stored password, or for XOAUTH2 an access
        token from the provider (reused until shortly before it ends). ``record`` is the
        row the secret came from, where a rotated refresh token is stored back."""
        if account.settings.authentication is not Authentication.XOAUTH2:
            return stored
        with self._lock:
            cached = self._tokens.get(account.id)
        if (
            cached is not None
            and cached.source == stored
            and cached.expires_at is not None
            and now < cached.expires_at - _TOKEN_MARGIN
        ):
            return cached.token
        provider = self._ctx.token_provider or self._builtin_provider(stored)
        if provider is None:
            raise TokenUnavailable(account.id)
        try:
            answer = provider.access_token(account, stored.reveal() or None)
        except Exception as error:  # the provider's code: whatever it raises is "no token"
            raise TokenUnavailable(account.id) from error
        token, expires_at, rotated = _token_parts(answer)
        if not token:
            raise TokenUnavailable(account.id)
        source = stored
        if rotated is not None and rotated != stored.reveal():
            # The provider rotated the refresh token: the old one may already be dead, so
            # the new one is stored at once, sealed like a password (inside the bundle,
            # for a built-in provider's credentials).
            source = Secret(_with_refresh_token(stored.reveal(), rotated))
            if record is not None:
                self._reseal(record, source, now, "rotated")
        entry = _Token(Secret(token), expires_at, source)
        if expires_at is not None or source is not stored:
            with self._lock:
                self._tokens[account.id] = entry
        return entry.token

    def latest_secret(self, account: SenderAccount, stored: Secret) -> Secret:
        """``stored``, or what replaced it when the provider rotated a refresh token while
        logging in with it (``configure_sender`` must save that one, not the dead one)."""
        with self._lock:
            cached = self._tokens.get(account.id)
        return cached.source if cached is not None and cached.source is not None else stored

    def _builtin_provider(self, stored: Secret) -> TokenProvider | None:
        """For a credential bundle of ``pwrecovery.oauth`` (as ``pwrecovery sender add
        --oauth`` stores) when the host gave no provider: the built-in one."""
        from pwrecovery import oauth  # noqa: PLC0415 (only OAuth senders need it)

        if oauth.bundle_kind(stored.reveal()) is None:
            return None
        with self._lock:
            if self._builtin is None:
                self._builtin = oauth.BuiltinTokenProvider()
            return self._builtin

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
                return SenderSession(self, account, password, None, stack)
            session = stack.enter_context(opener(account.settings, password.reveal()))
        except PwRecoveryError as error:
            stack.close()
            refused = isinstance(error, SenderAuthenticationFailed)
            self.settle_login(account.id, now, refused=refused)
            return Refusal(account.id, error=error)
        self.settle_login(account.id, now, refused=False)
        return SenderSession(self, account, password, session, stack)

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


def _with_refresh_token(stored: str, rotated: str) -> str:
    """What to store after a rotation: the built-in provider's bundle with its new refresh
    token, or the new refresh token itself for a host's provider."""
    from pwrecovery import oauth  # noqa: PLC0415 (imported only when a token rotates)

    if oauth.bundle_kind(stored) is None:
        return rotated
    return oauth.with_refresh_token(stored, rotated)


def _token_parts(answer: object) -> tuple[str, datetime | None, str | None]:
    """A provider's answer: a plain token (release 1's protocol) or an ``AccessToken``."""
    if isinstance(answer, str):
        return answer, None, None
    token = getattr(answer, "token", None)
    expires_at = getattr(answer, "expires_at", None)
    rotated = getattr(answer, "refresh_token", None)
    if not isinstance(token, str):
        return "", None, None
    if isinstance(expires_at, datetime) and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return (
        token,
        expires_at if isinstance(expires_at, datetime) else None,
        rotated if isinstance(rotated, str) and rotated else None,
    )
