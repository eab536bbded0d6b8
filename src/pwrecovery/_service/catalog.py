"""The users catalog: adding users (one by one, or an existing application's users with
their old password hashes), and running the catalog (disable, enable, remove,
promote to SUPERVISOR, unlock, rename, language).

The library does not know who is acting: the host authorises each catalog
action, and ``origin`` records where it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

import attrs

from pwrecovery._domain import accounts
from pwrecovery._domain.addresses import mask_address, normalize_address
from pwrecovery._domain.logins import (
    bounded_origin,
    key_or_none,
    login_key,
    normalize_display_name,
    normalize_login,
    printable_identifier,
)
from pwrecovery._domain.passwords import password_problems, typed_password
from pwrecovery._resources import common_passwords
from pwrecovery._secret import Secret
from pwrecovery._service import addresses
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery.exceptions import (
    ImportRejected,
    InvalidConfiguration,
    InvalidEmailAddress,
    InvalidHeaderValue,
    InvalidLogin,
    PasswordPolicyViolation,
    SenderInUse,
    UnknownUser,
    UserExists,
)
from pwrecovery.models import AuditEvent, ImportedUser, User
from pwrecovery.records import UserRecord


def check_locale(ctx: Context, locale: object) -> str | None:
    """A user's language: one the service speaks (shipped, or added by the host)."""
    if locale is None:
        return None
    if not isinstance(locale, str) or locale not in ctx.texts.locales():
        raise InvalidConfiguration("locale", "locale", locales=", ".join(ctx.texts.locales()))
    return locale


def add_user(
    ctx: Context,
    login: str,
    password: str,
    *,
    supervisor: bool,
    display_name: str,
    locale: str | None,
    origin: object,
) -> User:
    """Add a user with an ordinary password (``UserExists``, ``PasswordPolicyViolation``)."""
    now = ctx.now()
    shown = normalize_login(login)
    name = normalize_display_name(display_name)
    chosen = check_locale(ctx, locale)
    if ctx.store.get_user(login_key(shown)) is not None:
        raise UserExists(shown)
    normalized = typed_password(password, ctx.policy)
    reasons = (
        password_problems(normalized, login=shown, policy=ctx.policy, common=common_passwords())
        if normalized is not None
        else ("too_long",)
        if isinstance(password, str)
        else ("invalid_characters",)
    )
    if reasons or normalized is None:
        raise PasswordPolicyViolation(
            reasons,
            min_length=ctx.policy.password_min_length,
            max_length=ctx.policy.password_max_length,
        )
    record = UserRecord(
        login=shown,
        key=login_key(shown),
        display_name=name,
        supervisor=bool(supervisor),
        password_hash=ctx.hash(Secret(normalized)),
        locale=chosen,
        created_at=now,
    )
    event = ctx.event("user_added", shown, now, origin, supervisor=str(bool(supervisor)))
    ctx.store.add_users((record,), (event,))
    return record.to_user()


# -- bringing an existing application's users --------------------------------------


@attrs.frozen
class _Checked:
    """A good row: the record to store, and the scheme of its hash for the audit trail."""

    record: UserRecord
    scheme: str


def _row_problem(ctx: Context, row: ImportedUser, now: datetime) -> _Checked | str:
    """One row checked: its record, or the reason code of its first problem."""
    try:
        login = normalize_login(row.login)
    except InvalidLogin:
        return "invalid_login"
    hasher = ctx.hasher_for(row.password_hash) if isinstance(row.password_hash, str) else None
    if hasher is None:
        return "unknown_hash"
    address = None
    if row.recovery_email is not None:
        try:
            address = normalize_address(
                row.recovery_email, allow_private=ctx.policy.allow_private_domains
            )
        except InvalidEmailAddress:
            return "invalid_email"
    try:
        name = normalize_display_name(row.display_name)
        locale = check_locale(ctx, row.locale)
    except InvalidHeaderValue:
        return "invalid_display_name"
    except InvalidConfiguration:
        return "invalid_locale"
    record = UserRecord(
        login=login,
        key=login.casefold(),  # login_key(login), the login being normalised already
        display_name=name,
        supervisor=row.supervisor,
        password_hash=row.password_hash,
        recovery_email=address,
        recovery_email_verified=row.recovery_email_verified and address is not None,
        locale=locale,
        created_at=now,
    )
    return _Checked(record, type(hasher).__name__)  # the scheme, as ctx.scheme names it


def _imported_users(rows: Iterable[object]) -> list[ImportedUser]:
    """The rows, each an ``ImportedUser`` whose flags are booleans: anything else is the
    host's code at fault, not its data, and is refused before anything is checked
    (``InvalidConfiguration``)."""
    given: list[ImportedUser] = []
    for index, row in enumerate(rows):
        if not isinstance(row, ImportedUser):
            raise InvalidConfiguration(f"rows[{index}]", "type", kind="pwrecovery.ImportedUser")
        # A flag is True or False: "no" read from a CSV must not vouch or promote.
        for flag in ("supervisor", "recovery_email_verified"):
            if not isinstance(getattr(row, flag), bool):
                raise InvalidConfiguration(f"rows[{index}].{flag}", "type", kind="bool")
        given.append(row)
    return given


def _checked(ctx: Context, given: list[ImportedUser], now: datetime) -> list[_Checked]:
    """Every row checked, or ``ImportRejected`` listing every bad row: its own problem,
    else a login met before in the batch (even on a bad row) or already stored."""
    taken = {user.key for user in ctx.store.list_users()}
    bad: list[tuple[int, str, str]] = []
    good: list[_Checked] = []
    seen: set[str] = set()
    for number, row in enumerate(given, 1):
        checked = _row_problem(ctx, row, now)
        if isinstance(checked, _Checked):
            key: str | None = checked.record.key
            reason = "duplicate_in_batch" if key in seen else ""
            reason = reason or ("duplicate_in_store" if key in taken else "")
        else:
            key, reason = key_or_none(row.login), checked
        if key is not None:
            seen.add(key)
        if reason:
            bad.append((number, printable_identifier(row.login), reason))
        elif isinstance(checked, _Checked):
            good.append(checked)
    if bad:
        raise ImportRejected(bad)
    return good


def import_users(
    ctx: Context,
    delivery: Delivery,
    rows: Iterable[ImportedUser],
    *,
    mail: Literal["immediate", "queued"],
    origin: object,
    dry_run: bool = False,
) -> list[User]:
    """Import users with their existing password hashes, all or nothing.

    Every bad row is reported at once (``ImportRejected.rows``) and nothing is
    imported. Addresses vouched for by the host count at once (audited as such);
    the others get a verification code, queued in the same transaction when
    ``mail="queued"`` or when this service has no key. With ``dry_run`` every
    check runs and the users that would be created are returned, but nothing is
    written, audited or mailed.
    """
    now = ctx.now()
    checked = _checked(ctx, _imported_users(rows), now)
    if dry_run:
        return [good.record.to_user() for good in checked]
    queue = mail == "queued" or ctx.box is None
    # ctx.event's work, done once for the whole batch: every event has the same origin.
    source = bounded_origin(origin)
    events: list[AuditEvent] = []
    enqueue = []
    stored = []
    for good in checked:
        record = good.record
        login, address = record.login, record.recovery_email
        detail = {"supervisor": str(record.supervisor), "scheme": good.scheme}
        events.append(AuditEvent("user_imported", login, now, source, detail))
        if address is not None and record.recovery_email_verified:
            vouched = {"address": mask_address(address)}
            events.append(AuditEvent("recovery_email_vouched", login, now, source, vouched))
        elif address is not None and queue:
            pending, message = addresses.queued_code(ctx, delivery, record, address, now)
            record = accounts.address_pending(record, address, pending)
            enqueue.append(message)
            pending_address = {"address": mask_address(address)}
            events.append(AuditEvent("recovery_email_set", login, now, source, pending_address))
        stored.append(record)
    ctx.store.add_users(stored, events, enqueue)
    if not queue:
        for record in stored:
            if record.recovery_email is not None and not record.recovery_email_verified:
                addresses.mail_code(
                    ctx,
                    delivery,
                    record,
                    record.recovery_email,
                    now,
                    origin=origin,
                    raise_failure=False,
                )
    return [record.to_user() for record in stored]


# -- running the catalog -----------------------------------------------------------


def _change(
    ctx: Context,
    login: str,
    kind: str,
    change: Callable[[UserRecord], UserRecord],
    origin: object,
    **detail: str,
) -> User:
    """One catalog change in one conditional write, audited."""
    now = ctx.now()
    user = addresses.require_user(ctx, login)
    for attempt in ctx.uow.user(user.key):
        with attempt as current:
            if current is None:
                raise UnknownUser(user.login)
            changed = change(current)
            events = [ctx.event(kind, current.login, now, origin, **detail)]
            if current.temporary is not None and changed.temporary is None:
                events.append(
                    ctx.event("temporary_password_revoked", current.login, now, origin, reason=kind)
                )
            attempt.save(changed, events=tuple(events))
            return changed.to_user()
    raise AssertionError  # pragma: no cover


def disable_user(ctx: Context, login: str, origin: object) -> User:
    return _change(ctx, login, "user_disabled", accounts.disabled, origin)


def enable_user(ctx: Context, login: str, origin: object) -> User:
    return _change(ctx, login, "user_enabled", lambda u: attrs.evolve(u, disabled=False), origin)


def set_supervisor(ctx: Context, login: str, supervisor: object, origin: object) -> User:
    if not isinstance(supervisor, bool):
        raise InvalidConfiguration("supervisor", "type", kind="bool")
    return _change(
        ctx,
        login,
        "supervisor_set",
        lambda u: attrs.evolve(u, supervisor=supervisor),
        origin,
        supervisor=str(supervisor),
    )


def unlock_user(ctx: Context, login: str, origin: object) -> User:
    return _change(ctx, login, "user_unlocked", accounts.unlocked, origin)


def set_display_name(ctx: Context, login: str, display_name: str, origin: object) -> User:
    name = normalize_display_name(display_name)
    return _change(
        ctx, login, "display_name_set", lambda u: attrs.evolve(u, display_name=name), origin
    )


def set_user_locale(ctx: Context, login: str, locale: str | None, origin: object) -> User:
    chosen = check_locale(ctx, locale)
    return _change(
        ctx,
        login,
        "locale_set",
        lambda u: attrs.evolve(u, locale=chosen),
        origin,
        locale=chosen or "",
    )


def remove_user(ctx: Context, login: str, origin: object) -> None:
    """Remove a user; refused while the user owns sender accounts (``SenderInUse``)."""
    now = ctx.now()
    user = addresses.require_user(ctx, login)
    owned = [
        s.account.id for s in ctx.store.list_senders() if login_key(s.account.owner) == user.key
    ]
    if owned:
        raise SenderInUse(user.login, owned)
    for _ in range(24):
        current = ctx.store.get_user(user.key)
        if current is None:
            raise UnknownUser(user.login)
        event = ctx.event("user_removed", current.login, now, origin)
        if ctx.store.remove_user(current.key, expected_version=current.version, events=(event,)):
            return
    raise UnknownUser(user.login)  # pragma: no cover (a user changed 24 times meanwhile)


def audit_trail(ctx: Context, login: str | None) -> list[AuditEvent]:
    """Events, oldest first; only one login's when ``login`` is given (a login that does
    not exist is found under its fingerprint)."""
    if login is None:
        return ctx.store.audit_trail(None)
    try:
        key = login_key(login)
    except InvalidLogin:
        return ctx.store.audit_trail(ctx.fingerprint(login))
    events = ctx.store.audit_trail(key)
    return events or ctx.store.audit_trail(ctx.fingerprint(login))
