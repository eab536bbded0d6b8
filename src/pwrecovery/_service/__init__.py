"""``RecoveryService``: the one object a host builds, a thin facade over the use cases.

Each use case lives in its own module, with the rules it follows in its
docstring:

- ``catalog``: the users catalog (add, import, disable, remove, unlock…);
- ``addresses``: the verified recovery address;
- ``senders``: the sender accounts, and ``readiness()``;
- ``recovery``: "Recuperar clave";
- ``signin``: sign-in, and the check of every typed password;
- ``password_change``: the change of password (forced after a recovery);
- ``outbox``: the worker that sends queued mails;
- ``_delivery``: sender order and failover, over ``_tally`` (what a delivery
  tried), ``_budget`` (SMTP budget, a sender's rest), ``_sender_secrets``
  (sealed secrets, OAuth tokens) and ``_session`` (one sender for several mails);
  ``_transaction``: the retry-on-conflict unit of work; ``_context``: what they
  all share.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Concatenate, Final, Generic, Literal, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pwrecovery import _i18n
from pwrecovery._domain.policy import Policy
from pwrecovery._service import (
    addresses,
    catalog,
    outbox,
    password_change,
    recovery,
    senders,
    signin,
)
from pwrecovery._service._context import Context
from pwrecovery._service._delivery import Delivery
from pwrecovery.adapters.argon2 import Argon2idHasher
from pwrecovery.adapters.secretbox import SecretBox
from pwrecovery.adapters.system import SystemClock
from pwrecovery.exceptions import InvalidConfiguration, PwRecoveryError
from pwrecovery.models import (
    AuditEvent,
    DeliveryReport,
    ImportedUser,
    LoginResult,
    PasswordChanged,
    Readiness,
    RecoverySent,
    SenderAccount,
    SenderSettings,
    User,
)
from pwrecovery.ports import Clock, Mailer, PasswordHasher, Store, TokenProvider

T = TypeVar("T")
P = ParamSpec("P")

_DELIVERY_MODES: Final = ("immediate", "queued")


class _Call(Generic[T]):
    """A call of a public method, held so that its arguments (passwords among them) are
    not a local of the wrapper: a traceback formatted with locals shows ``<call>``."""

    __slots__ = ("_run",)

    def __init__(self, run: Callable[[], T]) -> None:
        self._run = run

    def __call__(self) -> T:
        return self._run()

    def __repr__(self) -> str:
        return "<call>"


def _localized(
    method: Callable[Concatenate[RecoveryService, P], T],
) -> Callable[Concatenate[RecoveryService, P], T]:
    """Errors leave the service speaking the service's locale, with the host's words."""

    @functools.wraps(method)
    def wrapper(self: RecoveryService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = _Call(functools.partial(method, self, *args, **kwargs))
        del args, kwargs
        try:
            return call()
        except PwRecoveryError as error:
            self._ctx.speaking(error)
            raise

    return wrapper


def _zone(timezone: object) -> ZoneInfo:
    """The company's zone: an IANA name or a ``ZoneInfo``; UTC when none is given."""
    if isinstance(timezone, ZoneInfo):
        return timezone
    if isinstance(timezone, str | None):
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(timezone or "UTC")
    raise InvalidConfiguration("timezone", "timezone")


def _texts_with(translations: object) -> _i18n.Texts:
    """The shipped catalogs, with the host's ``Translations`` (or a mapping of locale to
    message id to text) taking precedence."""
    if translations is None:
        return _i18n.DEFAULT_TEXTS
    if isinstance(translations, Mapping):
        translations = _i18n.Translations(translations)
    if isinstance(translations, _i18n.Translations):
        return _i18n.Texts(translations)
    raise InvalidConfiguration("translations", "type", kind="Translations")


class RecoveryService:
    """Self-service password recovery by e-mail for one store of users.

    ``secret_key`` is the key (or keys, the first encrypting) that seals the
    sender accounts' secrets; ``None`` makes a login window that queues every mail
    for a worker holding the key. ``legacy_hashers`` verify password hashes
    imported from an older system until each user's first sign-in replaces them.
    ``timezone`` (an IANA name such as ``"America/Mexico_City"``) is the
    company's clock for every time a person reads; ``branding`` is the product or
    company name the mails carry; ``translations`` overrides any sentence or adds
    a locale. See ``docs/guide.md``; every public method raises only
    ``PwRecoveryError`` subclasses for bad input or refused actions.
    """

    def __init__(
        self,
        *,
        store: Store,
        mailer: Mailer,
        secret_key: str | Sequence[str] | None,
        policy: Policy | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        locale: str = _i18n.DEFAULT_LOCALE,
        token_provider: TokenProvider | None = None,
        legacy_hashers: Iterable[PasswordHasher] = (),
        timezone: str | ZoneInfo | None = None,
        branding: str = "",
        translations: _i18n.Translations | Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        texts = _texts_with(translations)
        if not isinstance(locale, str) or locale not in texts.locales():
            raise InvalidConfiguration("locale", "locale", locales=", ".join(texts.locales()))
        if not isinstance(branding, str):
            raise InvalidConfiguration("branding", "text")
        self.locale: Final = locale
        self._ctx = Context(
            store=store,
            mailer=mailer,
            box=SecretBox(secret_key) if secret_key is not None else None,
            policy=policy if policy is not None else Policy(),
            hasher=hasher if hasher is not None else Argon2idHasher(),
            legacy_hashers=tuple(legacy_hashers),
            clock=clock if clock is not None else SystemClock(),
            token_provider=token_provider,
            texts=texts,
            locale=locale,
            zone=_zone(timezone),
            product=branding.strip(),
        )
        self._delivery = Delivery(self._ctx)
        # Made now, not at the first unknown login: that first one must cost no more.
        _ = self._ctx.dummy_hash

    def __repr__(self) -> str:
        return f"RecoveryService(store={self._ctx.store!r}, locale={self.locale!r})"

    @property
    def policy(self) -> Policy:
        return self._ctx.policy

    @property
    def timezone(self) -> ZoneInfo:
        """The company's clock, in which every time a person reads is written."""
        return self._ctx.zone

    # -- users catalog -----------------------------------------------------------

    @_localized
    def add_user(
        self,
        login: str,
        password: str,
        *,
        supervisor: bool = False,
        display_name: str = "",
        locale: str | None = None,
        origin: str | None = None,
    ) -> User:
        """Add a user with an ordinary password (``UserExists``, ``PasswordPolicyViolation``)."""
        return catalog.add_user(
            self._ctx,
            login,
            password,
            supervisor=supervisor,
            display_name=display_name,
            locale=locale,
            origin=origin,
        )

    @_localized
    def import_users(
        self,
        rows: Iterable[ImportedUser],
        *,
        mail: Literal["immediate", "queued"] = "immediate",
        origin: str | None = None,
        dry_run: bool = False,
    ) -> list[User]:
        """Bring an application's existing users with their password hashes, all or
        nothing (``ImportRejected`` lists every bad row). With ``dry_run=True`` every
        check runs and the users that would be created are returned; nothing is
        written, audited or mailed."""
        if mail not in _DELIVERY_MODES:
            raise InvalidConfiguration("mail", "one_of", choices="'immediate', 'queued'")
        if not isinstance(dry_run, bool):
            raise InvalidConfiguration("dry_run", "type", kind="bool")
        return catalog.import_users(
            self._ctx, self._delivery, rows, mail=mail, origin=origin, dry_run=dry_run
        )

    @_localized
    def get_user(self, login: str) -> User:
        return addresses.require_user(self._ctx, login).to_user()

    @_localized
    def users(self) -> list[User]:
        """Every user, by login."""
        return [record.to_user() for record in self._ctx.store.list_users()]

    @_localized
    def disable_user(self, login: str, *, origin: str | None = None) -> User:
        """A disabled user can neither sign in nor recover; what was pending is revoked."""
        return catalog.disable_user(self._ctx, login, origin)

    @_localized
    def enable_user(self, login: str, *, origin: str | None = None) -> User:
        return catalog.enable_user(self._ctx, login, origin)

    @_localized
    def remove_user(self, login: str, *, origin: str | None = None) -> None:
        """Remove a user (``SenderInUse`` while it owns sender accounts)."""
        catalog.remove_user(self._ctx, login, origin)

    @_localized
    def set_supervisor(self, login: str, supervisor: bool, *, origin: str | None = None) -> User:
        return catalog.set_supervisor(self._ctx, login, supervisor, origin)

    @_localized
    def unlock_user(self, login: str, *, origin: str | None = None) -> User:
        """Clear the sign-in locks and failure counts of a user."""
        return catalog.unlock_user(self._ctx, login, origin)

    @_localized
    def set_display_name(self, login: str, display_name: str, *, origin: str | None = None) -> User:
        return catalog.set_display_name(self._ctx, login, display_name, origin)

    @_localized
    def set_user_locale(self, login: str, locale: str | None, *, origin: str | None = None) -> User:
        """The language of the mails this user receives (None: the service's)."""
        return catalog.set_user_locale(self._ctx, login, locale, origin)

    # -- recovery addresses --------------------------------------------------------

    @_localized
    def set_recovery_email(self, login: str, address: str, *, origin: str | None = None) -> str:
        """Store ``address`` unverified and mail it a verification code; return it normalised.

        Setting the address a user already has verified changes nothing and sends nothing.
        """
        return addresses.set_recovery_email(self._ctx, self._delivery, login, address, origin)

    @_localized
    def confirm_recovery_email(self, login: str, code: str, *, origin: str | None = None) -> None:
        """Confirm the recovery address with the code mailed to it (``VerificationFailed``)."""
        addresses.confirm_recovery_email(self._ctx, login, code, origin)

    # -- passwords -------------------------------------------------------------------

    @_localized
    def change_password(
        self,
        login: str,
        current_password: str,
        new_password: str,
        confirmation: str,
        *,
        origin: str | None = None,
    ) -> PasswordChanged:
        """Change the password, signing in with the ordinary or the temporary one.

        On success the temporary password is consumed, every lock cleared, and a
        notice goes to the verified recovery address (if that mail fails, the change
        stands and the failure is audited). The answer's ``message()`` is "Clave
        recuperada con éxito." after a recovery.
        """
        return password_change.change_password(
            self._ctx,
            self._delivery,
            login,
            current_password=current_password,
            new_password=new_password,
            confirmation=confirmation,
            origin=origin,
        )

    # -- mail configuration ------------------------------------------------------------

    @_localized
    def configure_sender(
        self,
        owner_login: str,
        settings: SenderSettings,
        password: str,
        *,
        origin: str | None = None,
    ) -> SenderAccount:
        """Check a sender account (login and From address), then save it sealed."""
        return senders.configure_sender(
            self._ctx, self._delivery, owner_login, settings, password, origin=origin
        )

    @_localized
    def senders(self) -> list[SenderAccount]:
        """Every sender account, in the order a request by nobody in particular tries them."""
        return senders.senders(self._ctx, self._delivery)

    @_localized
    def remove_sender(self, sender_id: str, *, origin: str | None = None) -> None:
        senders.remove_sender(self._ctx, sender_id, origin)

    @_localized
    def readiness(
        self, *, verify_senders: bool = False, legacy_older_than: timedelta = timedelta(0)
    ) -> Readiness:
        """What would stop a recovery right now (``Readiness.problems()`` says it in
        sentences). With ``verify_senders`` every sender logs in and checks its From
        address; users still on a legacy hash ``legacy_older_than`` after their import
        are listed."""
        return senders.readiness(
            self._ctx,
            self._delivery,
            verify_senders=verify_senders,
            legacy_older_than=legacy_older_than,
        )

    # -- login window ------------------------------------------------------------------

    @_localized
    def request_recovery(
        self,
        login: str,
        *,
        origin: str | None = None,
        delivery: Literal["immediate", "queued"] = "immediate",
    ) -> RecoverySent:
        """ "Recuperar clave": mail a temporary password to the verified recovery address.

        With ``delivery="queued"`` (always, for a service without the key) the request
        and its mail are stored in one transaction and the answer comes at once;
        ``deliver_pending()`` makes the temporary password and sends it.
        """
        if delivery not in _DELIVERY_MODES:
            raise InvalidConfiguration("delivery", "one_of", choices="'immediate', 'queued'")
        return recovery.request_recovery(
            self._ctx, self._delivery, login, origin, queued=delivery == "queued"
        )

    @_localized
    def authenticate(self, login: str, password: str, *, origin: str | None = None) -> LoginResult:
        """Sign in: ``OK`` with the ordinary password, ``MUST_CHANGE_PASSWORD`` with a temporary."""
        return signin.authenticate(self._ctx, login, password, origin)

    # -- the worker ----------------------------------------------------------------------

    @_localized
    def deliver_pending(self, *, limit: int = 100) -> DeliveryReport:
        """Send the queued mails that are due (needs the key: ``SecretKeyMissing``)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidConfiguration("limit", "positive_count")
        return outbox.deliver_pending(self._ctx, self._delivery, limit)

    # -- audit -----------------------------------------------------------------------

    @_localized
    def audit_trail(self, login: str | None = None) -> list[AuditEvent]:
        """Events, oldest first; only one login's when ``login`` is given."""
        return catalog.audit_trail(self._ctx, login)
