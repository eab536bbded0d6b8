"""Changing the password ("Confirmar clave de acceso").

"You will be asked to enter the new password and confirm it": ``change_password``
first checks the current password exactly as a sign-in does (``signin``: one
attempt taken, one hash checked, with the ordinary or the temporary password),
then:

- the two entries must agree after NFKC (``password_mismatch``), and the new
  password must keep the policy (``password_policy``); a refusal here clears the
  attempt, since the current password was right;
- the change is one conditional write: the new hash, the temporary password
  consumed, every lock cleared; a password changed meanwhile refuses it;
- a notice goes to the verified recovery address, in the user's locale.
"""

from __future__ import annotations

from datetime import datetime

from pwrecovery._domain import accounts
from pwrecovery._domain.mail import MailContent
from pwrecovery._domain.passwords import password_problems, typed_password
from pwrecovery._domain.tokens import temporary_form
from pwrecovery._resources import common_passwords
from pwrecovery._secret import Secret
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery._service.signin import (
    Checked,
    Typed,
    _clear,
    _stale,
    _still_valid,
    check_credentials,
)
from pwrecovery.exceptions import PasswordConfirmationMismatch, PasswordPolicyViolation
from pwrecovery.models import PasswordChanged, Purpose
from pwrecovery.records import UserRecord


def change_password(
    ctx: Context,
    delivery: Delivery,
    login: str,
    *,
    current_password: str,
    new_password: str,
    confirmation: str,
    origin: object,
) -> PasswordChanged:
    """Change the password, signing in with the ordinary or the temporary one."""
    now = ctx.now()
    typed = Typed.of(current_password, ctx)
    new = Secret(new_password) if isinstance(new_password, str) else None
    repeated = Secret(confirmation) if isinstance(confirmation, str) else None
    del current_password, new_password, confirmation  # only Secrets from here on
    checked = check_credentials(ctx, login, typed, now, origin=origin, action="password_change")
    user = checked.user
    if not _confirmed(ctx, new, repeated):
        _clear(
            ctx,
            user,
            checked.route,
            now,
            origin=origin,
            kind="password_change_refused",
            reason="password_mismatch",
        )
        raise PasswordConfirmationMismatch
    reasons = _problems(ctx, user, checked, typed, new)
    if reasons:
        _clear(
            ctx,
            user,
            checked.route,
            now,
            origin=origin,
            kind="password_change_refused",
            reason="password_policy",
            rules=",".join(reasons),
        )
        raise PasswordPolicyViolation(
            reasons,
            min_length=ctx.policy.password_min_length,
            max_length=ctx.policy.password_max_length,
        )
    normalized = typed_password(new.reveal(), ctx.policy)
    assert normalized is not None  # noqa: S101 (the policy refused what is not)
    new_hash = ctx.hash(Secret(normalized))
    changed = _store_new_password(ctx, checked, typed, new_hash, now, origin=origin)
    if changed.has_verified_address and changed.recovery_email is not None:
        notice = MailContent(
            purpose=Purpose.PASSWORD_CHANGED,
            to_address=changed.recovery_email,
            to_name=changed.display_name,
            login=changed.login,
            locale=changed.locale or ctx.locale,
        )
        delivery.notify(notice, changed.key, now, origin)
    return PasswordChanged(checked.via, texts=ctx.texts, locale=ctx.locale)


def _confirmed(ctx: Context, new: Secret | None, repeated: Secret | None) -> bool:
    """Whether the two entries of "Confirmar clave de acceso" agree, after NFKC. Text far
    over the longest password allowed is compared as typed, never normalised (NFKC can
    make it 18 times longer); the policy then refuses it as too long."""
    if new is None or repeated is None:
        return False
    first = typed_password(new.reveal(), ctx.policy)
    second = typed_password(repeated.reveal(), ctx.policy)
    if first is None or second is None:
        return new.reveal() == repeated.reveal()
    return first == second


def _store_new_password(
    ctx: Context, checked: Checked, typed: Typed, new_hash: str, now: datetime, *, origin: object
) -> UserRecord:
    """The change itself, in one conditional write: the new hash, the temporary password
    consumed, every lock cleared."""
    for attempt in ctx.uow.user(checked.user.key, known=checked.taken):
        with attempt as current:
            if current is None or not _still_valid(ctx, current, checked, typed):
                _stale(ctx, checked.user.login, now, origin, "password_change")
            assert current is not None  # noqa: S101 (for mypy: _stale raises)
            changed = accounts.password_changed(current, new_hash)
            event = ctx.event("password_changed", current.login, now, origin, via=checked.via)
            attempt.save(changed, events=(event,))
            return changed
    raise AssertionError  # pragma: no cover


def _problems(
    ctx: Context, user: UserRecord, checked: Checked, typed: Typed, new: Secret
) -> tuple[str, ...]:
    """The rules the new password breaks. Equal to the current ordinary password costs a
    hash check only when the temporary one was used to sign in; equal to the temporary
    one needs none, since a password of the temporary form is refused anyway."""
    text = typed_password(new.reveal(), ctx.policy)
    if text is None:
        return ("too_long",) if isinstance(new.reveal(), str) else ("invalid_characters",)
    current = typed.text.reveal() if typed.text is not None else ""
    same_as_current = (
        text == current
        if checked.via == "password"
        else ctx.check(user.password_hash, Secret(text))
    )
    return password_problems(
        text,
        login=user.login,
        policy=ctx.policy,
        common=common_passwords(),
        same_as_current=same_as_current,
        same_as_temporary=checked.via == "temporary" and temporary_form(text) == current,
    )
