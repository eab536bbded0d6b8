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
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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

    @property
    def sent(self) -> bool:
        return self.account is not None

    def failure(self) -> PwRecoveryError:
        """The error for a delivery that did not happen."""
        if self.attempts == 0 and self.retry_after is not None:
            return RateLimited(self.retry_after)
        if self.permanent:
            return DeliveryRejected(attempts=self.attempts, reply_code=self.reply_code)
        return DeliveryFailed(attempts=self.attempts, reply_code=self.reply_code)


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
        self._lock = threading.Lock()

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

    def _take_login(self, sender_id: str, now: datetime) -> SenderRecord | timedelta | None:
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

    def _settle_login(
        self, sender_id: str, now: datetime, *, refused: bool
    ) -> tuple[AuditEvent, ...]:
        """Count a refusal of the sender's credentials (or clear the count): the rest."""
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
            self._reseal(record.account.id, opened.secret, now, "resealed")
        return opened.secret

    def _reseal(self, sender_id: str, secret: Secret, now: datetime, kind: str) -> None:
        box = self._ctx.require_box()
        for attempt in self._ctx.uow.sender(sender_id):
            with attempt as record:
                if record is None:
                    return
                sealed = attrs.evolve(record, secret=box.seal(secret, record.account))
                event = self._ctx.event(f"sender_secret_{kind}", None, now, sender=sender_id)
                attempt.save(sealed, events=(event,))
                return

    def login_secret(self, account: SenderAccount, stored: Secret, now: datetime) -> Secret:
        """What the mailer logs in with: the stored password, or for XOAUTH2 an access
        token from the provider (reused until shortly before it ends)."""
        if account.settings.authentication is not Authentication.XOAUTH2:
            return stored
        with self._lock:
            cached = self._tokens.get(account.id)
        if (
            cached is not None
            and cached.source == stored
            and (cached.expires_at is None or now < cached.expires_at - _TOKEN_MARGIN)
        ):
            return cached.token
        provider = self._ctx.token_provider
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
            # the new one is stored at once, sealed like a password.
            source = Secret(rotated)
            self._reseal(account.id, source, now, "rotated")
        entry = _Token(Secret(token), expires_at if expires_at is not None else None, source)
        if expires_at is not None:
            with self._lock:
                self._tokens[account.id] = entry
        return entry.token

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

    def _through_senders(  # noqa: C901, PLR0912 (one loop over the senders, each step named)
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
        events: list[AuditEvent] = []
        attempts, permanent, reply, waits = 0, 0, 0, []
        for candidate in candidates:
            sender_id = candidate.account.id

            def failed(reason: str, sender: str = sender_id, **detail: str) -> None:
                events.append(
                    ctx.event(
                        "delivery_attempt_failed",
                        login,
                        now,
                        origin,
                        purpose=purpose,
                        sender=sender,
                        reason=reason,
                        **detail,
                    )
                )

            try:
                stored = self.open_secret(candidate, now)
            except SecretTampered:
                events.append(ctx.event("sender_tampered", login, now, origin, sender=sender_id))
                continue
            except SecretUndecryptable:
                failed(SecretUndecryptable.code)
                continue
            taken = self._take_login(sender_id, now)
            if taken is None:
                continue
            if isinstance(taken, timedelta):
                waits.append(taken)
                failed("budget")
                continue
            account = taken.account
            attempts += 1
            try:
                password = self.login_secret(account, stored, now)
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
                code = int(getattr(error, "reply_code", 0) or 0)
                reply = code or reply
                extra = {"reply": str(code)} if code else {}
                failed(error.code, **extra)
                events.extend(
                    self._settle_login(
                        sender_id, now, refused=isinstance(error, SenderAuthenticationFailed)
                    )
                )
                if isinstance(error, DeliveryRejected):
                    permanent += 1
                continue
            events.extend(self._settle_login(sender_id, now, refused=False))
            if content is not None:
                events.append(
                    ctx.event("mail_sent", login, now, origin, purpose=purpose, sender=sender_id)
                )
            return Outcome(account, tuple(events), attempts)
        if content is not None:
            events.append(
                ctx.event(
                    "delivery_failed", login, now, origin, purpose=purpose, attempts=str(attempts)
                )
            )
        return Outcome(
            None,
            tuple(events),
            attempts,
            permanent=attempts > 0 and permanent == attempts,
            reply_code=reply,
            retry_after=min(waits) if waits else None,
        )

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
