"""Sender accounts (the central mail configuration) and what would stop a recovery.

"The mail configuration must be correct; the user or account and password must
be valid": saving a sender refuses blank credentials before any connection
("no puedes tener tu clave y/o usuario vacío"), then logs in and checks that the
server accepts the From address; nothing is saved unless all pass. "If the
password is wrong you will not be allowed to save it." The secret is sealed
bound to the settings that decide where it goes.
"""

from __future__ import annotations

from datetime import timedelta

from pwrecovery._domain.logins import login_key, printable_identifier
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery._service.addresses import require_user
from pwrecovery.adapters.secretbox import SecretTampered
from pwrecovery.exceptions import (
    InvalidConfiguration,
    PwRecoveryError,
    SecretUndecryptable,
    SenderCredentialsEmpty,
    UnknownSender,
)
from pwrecovery.models import Authentication, Readiness, SenderAccount, SenderSettings
from pwrecovery.records import SenderRecord


def configure_sender(
    ctx: Context,
    delivery: Delivery,
    owner_login: str,
    settings: SenderSettings,
    password: str,
    *,
    origin: object,
) -> SenderAccount:
    """Check a sender account (login, then its From address), then save it sealed.

    Saving again the same server and username for the same owner replaces the
    earlier account.
    """
    now = ctx.now()
    owner = require_user(ctx, owner_login)
    if not isinstance(settings, SenderSettings):
        raise InvalidConfiguration("settings", "sender_settings")
    box = ctx.require_box()
    # An XOAUTH2 account may come without a stored secret: the provider may keep its own.
    oauth = settings.authentication is Authentication.XOAUTH2
    secret = Secret(password) if isinstance(password, str) else None
    del password
    if not settings.username.strip() or secret is None or not (secret.reveal().strip() or oauth):
        event = ctx.event(
            "sender_refused", owner.login, now, origin, reason="sender_credentials_empty"
        )
        ctx.store.append_audit((event,))
        raise SenderCredentialsEmpty
    same = [
        r.account.id
        for r in ctx.store.list_senders()
        if login_key(r.account.owner) == owner.key
        and (r.account.settings.host, r.account.settings.port, r.account.settings.username)
        == (settings.host, settings.port, settings.username)
    ]
    sender_id = same[0] if same else ctx.new_id()
    account = SenderAccount(id=sender_id, owner=owner.login, settings=settings, verified_at=now)
    try:
        login_with = delivery.login_secret(account, secret, now)
        ctx.mailer.verify(settings, login_with.reveal())
    except PwRecoveryError as error:
        detail = {"host": settings.host, "reason": error.code}
        code = int(getattr(error, "reply_code", 0) or 0)
        if code:
            detail["reply"] = str(code)
        ctx.store.append_audit((ctx.event("sender_refused", owner.login, now, origin, **detail),))
        raise
    # A refresh token the provider rotated during the check is the one to keep.
    secret = delivery.latest_secret(account, secret)
    record = SenderRecord(account=account, secret=box.seal(secret, account))
    event = ctx.event(
        "sender_configured",
        owner.login,
        now,
        origin,
        sender=sender_id,
        host=settings.host,
        username=settings.username,
    )
    ctx.store.put_sender(record, (event,))
    return account


def senders(ctx: Context, delivery: Delivery) -> list[SenderAccount]:
    """Every sender account, in the order a request by nobody in particular tries them."""
    del ctx  # the order is delivery's
    return [record.account for record in delivery.candidates(None)]


def remove_sender(ctx: Context, sender_id: str, origin: object) -> None:
    now = ctx.now()
    shown = printable_identifier(sender_id)
    event = ctx.event("sender_removed", None, now, origin, sender=shown)
    if not ctx.store.remove_sender(sender_id, (event,)):
        raise UnknownSender(shown)


def readiness(
    ctx: Context, delivery: Delivery, *, verify_senders: bool, legacy_older_than: timedelta
) -> Readiness:
    """What would stop a recovery right now, each finding with its sentence."""
    now = ctx.now()
    records = delivery.candidates(None)
    undecryptable: list[str] = []
    tampered: list[str] = []
    failing: list[tuple[str, str]] = []
    messages: list[tuple[str, str]] = []
    cooling = [
        (r.account.id, r.usage.cooldown_until)
        for r in records
        if r.usage.cooldown_until is not None and r.usage.cooldown_until > now
    ]
    for record in records if ctx.box is not None else ():
        try:
            stored = delivery.open_secret(record, now)
        except SecretTampered:
            tampered.append(record.account.id)
            continue
        except SecretUndecryptable:
            undecryptable.append(record.account.id)
            continue
        if verify_senders:
            try:
                secret = delivery.login_secret(record.account, stored, now, record)
                ctx.mailer.verify(record.account.settings, secret.reveal())
            except PwRecoveryError as error:
                failing.append((record.account.id, error.code))
                messages.append((record.account.id, str(ctx.speaking(error))))
    users = ctx.store.list_users()
    return Readiness(
        senders=tuple(record.account.id for record in records),
        undecryptable_senders=tuple(undecryptable),
        failing_senders=tuple(failing),
        supervisor_ready=ctx.store.has_verified_supervisor(),
        users_without_address=tuple(
            u.login for u in users if not u.has_verified_address and not u.disabled
        ),
        tampered_senders=tuple(tampered),
        cooling_down_senders=tuple((sender, until) for sender, until in cooling if until),
        failing_messages=tuple(messages),
        legacy_hash_users=tuple(
            u.login
            for u in users
            if ctx.is_legacy(u.password_hash)
            and (u.created_at is None or now - u.created_at >= legacy_older_than)
        ),
        legacy_older_than=legacy_older_than,
        key_present=ctx.box is not None,
        texts=ctx.texts,
        locale=ctx.locale,
        zone=ctx.zone,
    )
