"""One sender, logged in once, for several mails of one run of the worker.

``Delivery.open_session`` opens it (one login from the sender's budget);
``write`` composes a mail, ``deliver`` sends it and puts what happened on the
mail's ``Tally``. With a mailer without sessions (no ``SessionMailer``) each mail is
a ``send`` of its own, and a login of its own taken from the budget.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from email.message import EmailMessage

from pwrecovery._domain.mail import MailContent, compose
from pwrecovery._secret import Secret
from pwrecovery._service import _budget
from pwrecovery._service._context import Context
from pwrecovery._service._tally import Outcome, Refusal, Tally
from pwrecovery.exceptions import DeliveryFailed, PwRecoveryError, SenderAuthenticationFailed
from pwrecovery.models import SenderAccount
from pwrecovery.ports import MailSession
from pwrecovery.records import SenderRecord


class SenderSession:
    """One sender, logged in, for several mails of one run of the worker.

    ``write`` composes a mail; ``deliver`` sends it and puts what happened on the
    mail's tally. A refusal of that mail (``DeliveryFailed``) leaves the session usable;
    any other error loses it (``lost`` says why), and the caller moves the mails it
    still has to the next senders. Without mailer sessions each mail is a ``send``
    and a login of its own, each taken from the budget.
    """

    def __init__(
        self,
        ctx: Context,
        account: SenderAccount,
        password: Secret,
        session: MailSession | None,
        stack: contextlib.ExitStack,
    ) -> None:
        self._ctx = ctx
        self.account = account
        self._password = password
        self._session = session
        self._stack = stack
        self._logins_in_hand = 1  # taken from the budget when the session was opened
        self.lost: Refusal | None = None

    def __repr__(self) -> str:
        return f"SenderSession({self.account.id!r})"

    def write(
        self, content: MailContent, now: datetime, *, secret: Secret | None, message_token: str
    ) -> EmailMessage | PwRecoveryError:
        """The mail as this sender sends it, or why it cannot be written. The worker writes
        a batch's mails before it sends the first, so that the sends follow one another
        without pauses in which the server's side goes idle."""
        try:
            return compose(
                content,
                self.account.settings,
                now=now,
                message_token=message_token,
                secret=secret,
                style=self._ctx.style,
            )
        except PwRecoveryError as error:
            return error

    def deliver(
        self, written: EmailMessage | PwRecoveryError, tally: Tally, now: datetime
    ) -> Outcome | None:
        """Send one mail (as ``write`` wrote it): its outcome once sent, else None (the
        failure is on its tally)."""
        sender_id = self.account.id
        if self.lost is not None:
            self.lost.charge(tally, now)
            return None
        if self._session is None and not self._take_login(tally, now):
            return None
        tally.attempts += 1
        if isinstance(written, PwRecoveryError):  # this mail cannot be written: the next can
            tally.error(sender_id, written, now)
            return None
        try:
            self._send(written)
        except PwRecoveryError as error:
            tally.error(sender_id, error, now)
            if self._session is None:  # that send was a login of its own
                refused = isinstance(error, SenderAuthenticationFailed)
                _budget.settle_login(self._ctx, sender_id, now, refused=refused)
            if not isinstance(error, DeliveryFailed):
                self.lost = Refusal(sender_id, error=error)
            return None
        if self._session is None:
            _budget.settle_login(self._ctx, sender_id, now, refused=False)
        return tally.sent(self.account, now)

    def _send(self, message: EmailMessage) -> None:
        if self._session is not None:
            self._session.send(message)
        else:
            settings = self.account.settings
            self._ctx.mailer.send(settings, self._password.reveal(), message)

    def _take_login(self, tally: Tally, now: datetime) -> bool:
        """Without mailer sessions: one login from the budget for this mail. The first was
        taken when the session opened; once the budget is spent the session is lost."""
        if self._logins_in_hand:
            self._logins_in_hand -= 1
            return True
        taken = _budget.take_login(self._ctx, self.account.id, now)
        if isinstance(taken, SenderRecord):
            return True
        self.lost = Refusal(self.account.id, "budget" if taken is not None else "", wait=taken)
        self.lost.charge(tally, now)
        return False

    def close(self) -> None:
        """Quit; a failure to quit politely changes nothing for the mails sent."""
        with contextlib.suppress(PwRecoveryError):
            self._stack.close()
