"""A sender's secret: opened from its sealed blob, and what the mailer logs in with.

The stored secret is an AES-GCM blob bound to the sender's settings
(``adapters.secretbox``): a row edited without the key is ``SecretTampered``
and never used. One sealed by release 1 or an older key is sealed again under
the first key, only if the row is still the one opened. For an XOAUTH2 sender
the mailer logs in with an access token from the ``TokenProvider`` (the host's,
or the built-in one for a credential bundle of ``pwrecovery.oauth``), reused
until shortly before it ends; a refresh token the provider rotated is stored
back at once, sealed like a password.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery.exceptions import TokenUnavailable
from pwrecovery.models import Authentication, SenderAccount
from pwrecovery.ports import TokenProvider
from pwrecovery.records import SenderRecord

_TOKEN_MARGIN: Final = timedelta(minutes=5)  # an access token is renewed this long before it ends


@attrs.frozen
class _Token:
    token: Secret
    expires_at: datetime | None
    source: Secret | None  # the stored secret it was made from: a new one makes it stale


class SenderSecrets:
    """Opens senders' secrets and keeps their access tokens, for one service."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._tokens: dict[str, _Token] = {}
        self._builtin: TokenProvider | None = None
        self._lock = threading.Lock()

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
