"""What one delivery tried, sender after sender, and how it ended.

``Tally`` collects the tries of one mail (the audit events that go with it, how
many senders a login was tried with, which refused it for good, the server's
reply) and gives its ``Outcome``: sent through a sender, or not, with the error
the caller raises. ``Refusal`` is why a sender takes no mail in (the rest of) a
run of the worker; it is charged to the tally of every mail that would have gone
through it. Nothing here writes the store.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from pwrecovery._service._context import Context
from pwrecovery.exceptions import DeliveryFailed, DeliveryRejected, PwRecoveryError, RateLimited
from pwrecovery.models import AuditEvent, SenderAccount


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
