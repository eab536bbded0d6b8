"""``RecoveryService``: the use cases of DESIGN §2, orchestrated through the ports.

Every per-user change is a read, a pure decision (``pwrecovery.domain``) and a
conditional write; when another workstation wrote first, the decision is made
again on the fresh record (``_transact``).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Concatenate, Final, Generic, Literal, ParamSpec, TypeVar, cast

import attrs

from pwrecovery import messages
from pwrecovery.adapters.argon2 import Argon2idHasher
from pwrecovery.adapters.system import SystemClock
from pwrecovery.domain import accounts, throttle
from pwrecovery.domain.addresses import GENERIC_MASK, mask_address, normalize_address
from pwrecovery.domain.expiry import expiry
from pwrecovery.domain.logins import (
    login_key,
    normalize_display_name,
    normalize_login,
    printable_identifier,
)
from pwrecovery.domain.mail import MailContent, compose, content_from_json, content_to_json
from pwrecovery.domain.model import (
    AuditEvent,
    Authentication,
    DeliveryReport,
    LoginResult,
    LoginStatus,
    PendingVerification,
    Purpose,
    QueuedMessage,
    Readiness,
    RecoverySent,
    SenderAccount,
    SenderRecord,
    SenderSettings,
    TemporaryCredential,
    User,
    UserRecord,
)
from pwrecovery.domain.passwords import (
    confirmation_matches,
    normalize_password,
    password_problems,
)
from pwrecovery.domain.policy import Policy
from pwrecovery.domain.selection import order_senders
from pwrecovery.domain.tokens import (
    generate_temporary_password,
    generate_verification_code,
    normalize_code,
)
from pwrecovery.errors import (
    MISSING_SUPERVISOR,
    MISSING_USER,
    ConcurrentModification,
    DeliveryFailed,
    InvalidConfiguration,
    InvalidCredentials,
    NoSenderConfigured,
    PasswordConfirmationMismatch,
    PasswordPolicyViolation,
    PwRecoveryError,
    RateLimited,
    RecoveryEmailMissing,
    SecretUndecryptable,
    SenderCredentialsEmpty,
    TemporaryPasswordExpired,
    TokenUnavailable,
    TooManyAttempts,
    UnknownSender,
    UnknownUser,
    UserExists,
    VerificationFailed,
)
from pwrecovery.ports import Clock, Mailer, PasswordHasher, Store, TokenProvider
from pwrecovery.resources import common_passwords
from pwrecovery.secretbox import QUEUED_MESSAGE, SecretBox

_MAX_TRANSACTION_ATTEMPTS: Final = 24
_RACE_BACKOFF_SECONDS: Final = 0.002  # doubled per lost race, at most 0.1 s, with jitter
_ID_BYTES: Final = 8
_MESSAGE_ID_BYTES: Final = 16

T = TypeVar("T")
P = ParamSpec("P")


def _localized(
    method: Callable[Concatenate[RecoveryService, P], T],
) -> Callable[Concatenate[RecoveryService, P], T]:
    """Errors leave the service speaking the service's locale."""

    @functools.wraps(method)
    def wrapper(self: RecoveryService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except PwRecoveryError as error:
            error.locale = self.locale
            raise

    return wrapper


@attrs.frozen
class _Outcome(Generic[T]):
    """A decision about one user: the record to store, what to audit, what to answer."""

    record: UserRecord | None
    events: tuple[AuditEvent, ...] = ()
    value: T | None = None
    error: PwRecoveryError | None = None
    enqueue: tuple[QueuedMessage, ...] = ()


@attrs.frozen
class _Delivery:
    """What delivery did: the sender that sent (None if all failed) and what to audit."""

    account: SenderAccount | None
    events: tuple[AuditEvent, ...]
    attempts: int

    def failure(self) -> DeliveryFailed:
        return DeliveryFailed(attempts=self.attempts)


def _key_or_none(login: object) -> str | None:
    try:
        return login_key(login)
    except PwRecoveryError:
        return None


class RecoveryService:
    """Self-service password recovery by e-mail for one store of users.

    See ``docs/guide.md`` for a walk-through; every public method raises only
    ``PwRecoveryError`` subclasses for bad input or refused actions.
    """

    def __init__(
        self,
        *,
        store: Store,
        mailer: Mailer,
        secret_key: str | Sequence[str],
        policy: Policy | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        locale: str = messages.DEFAULT_LOCALE,
        token_provider: TokenProvider | None = None,
    ) -> None:
        if locale not in messages.LOCALES:
            raise InvalidConfiguration("locale", "it must be 'es_MX' or 'en'")
        self.locale: Final = locale
        self._store = store
        self._mailer = mailer
        self._box = SecretBox(secret_key)
        self._policy = policy if policy is not None else Policy()
        self._hasher: PasswordHasher = hasher if hasher is not None else Argon2idHasher()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._token_provider = token_provider
        # The one seam for randomness; secrets is a CSPRNG.
        self._randbelow: Callable[[int], int] = secrets.randbelow
        self._token: Callable[[int], str] = secrets.token_hex
        # The seams for waiting (uniform mode's response time); a ManualClock's sleep is used
        # when the clock has one, so tests do not wait.
        self._monotonic: Callable[[], float] = time.monotonic
        self._sleep: Callable[[float], None] = getattr(self._clock, "sleep", time.sleep)

    def __repr__(self) -> str:
        return f"RecoveryService(store={self._store!r}, locale={self.locale!r})"

    @property
    def policy(self) -> Policy:
        return self._policy

    # -- helpers -----------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock.now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidConfiguration("clock", "now() must return an aware datetime")
        return now.astimezone(UTC)

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """A hash to verify against when there is no user, so the work is the same."""
        return self._hasher.hash(self._token(_MESSAGE_ID_BYTES))

    def _event(
        self, kind: str, login: str | None, now: datetime, origin: str | None, **detail: str
    ) -> AuditEvent:
        return AuditEvent(kind=kind, login=login, at=now, origin=origin, detail=detail)

    def _transact(
        self,
        key: str | None,
        decide: Callable[[UserRecord | None], _Outcome[T]],
        read: UserRecord | None = None,
    ) -> T:
        """Decide on the current record and store the result; decide again if it raced.

        ``read`` is a record the caller has just read: the first decision uses it
        instead of reading again, and the conditional write still catches a race.
        """
        for attempt in range(_MAX_TRANSACTION_ATTEMPTS):
            if attempt == 0 and read is not None:
                current: UserRecord | None = read
            else:
                current = self._store.get_user(key) if key is not None else None
            outcome = decide(current)
            if current is None or outcome.record is None or outcome.record == current:
                if outcome.events:
                    self._store.append_audit(outcome.events)
            elif not self._store.update_user(
                outcome.record,
                expected_version=current.version,
                events=outcome.events,
                enqueue=outcome.enqueue,
            ):
                # Lost a race: step aside a random moment, longer each time, so that
                # workstations hammering one user take turns instead of colliding again.
                ceiling = min(0.1, _RACE_BACKOFF_SECONDS * 2**attempt)
                time.sleep(ceiling * self._randbelow(1000) / 1000)
                continue
            if outcome.error is not None:
                raise outcome.error
            return cast("T", outcome.value)
        raise ConcurrentModification

    def _require_user(self, login: object) -> UserRecord:
        key = _key_or_none(login)
        record = self._store.get_user(key) if key is not None else None
        if record is None:
            raise UnknownUser(printable_identifier(login))
        return record

    def _check_new_password(
        self,
        password: object,
        *,
        login: str,
        same_as_current: bool = False,
        same_as_temporary: bool = False,
    ) -> str:
        policy = self._policy
        if not isinstance(password, str):
            reasons: tuple[str, ...] = ("invalid_characters",)
        else:
            reasons = password_problems(
                password,
                login=login,
                policy=policy,
                common=common_passwords(),
                same_as_current=same_as_current,
                same_as_temporary=same_as_temporary,
            )
        if reasons:
            raise PasswordPolicyViolation(
                reasons,
                min_length=policy.password_min_length,
                max_length=policy.password_max_length,
            )
        return normalize_password(cast("str", password))

    def _deliver(
        self,
        content: MailContent,
        now: datetime,
        origin: str | None,
        candidates: list[SenderRecord] | None = None,
        message_token: str | None = None,
    ) -> _Delivery:
        """Send through each sender in selection order until one succeeds (§1.7).

        Writes nothing: the caller stores the returned audit events in the same
        transaction as the change the mail belongs to.
        """
        if candidates is None:
            candidates = order_senders(self._store.list_senders(), content.login)
        if not candidates:
            raise NoSenderConfigured
        events: list[AuditEvent] = []
        purpose = content.purpose.value
        for record in candidates:
            account = record.account
            try:
                password = self._sender_secret(record)
                message = compose(
                    content,
                    account.settings,
                    now=now,
                    message_token=message_token or self._token(_MESSAGE_ID_BYTES),
                )
                self._mailer.send(account.settings, password, message)
            except PwRecoveryError as error:
                events.append(
                    self._event(
                        "delivery_attempt_failed",
                        content.login,
                        now,
                        origin,
                        purpose=purpose,
                        sender=account.id,
                        reason=error.code,
                    )
                )
                continue
            events.append(
                self._event(
                    "mail_sent", content.login, now, origin, purpose=purpose, sender=account.id
                )
            )
            return _Delivery(account, tuple(events), len(candidates))
        events.append(
            self._event(
                "delivery_failed",
                content.login,
                now,
                origin,
                purpose=purpose,
                attempts=str(len(candidates)),
            )
        )
        return _Delivery(None, tuple(events), len(candidates))

    def _login_secret(self, account: SenderAccount, stored: str) -> str:
        """What the mailer logs in with: the stored password, or, for XOAUTH2, an access
        token the provider makes from the stored refresh token (if any)."""
        if account.settings.authentication is not Authentication.XOAUTH2:
            return stored
        if self._token_provider is None:
            raise TokenUnavailable(account.id)
        try:
            token = self._token_provider.access_token(account, stored or None)
        except Exception as error:  # the host's code: whatever it raises is "no token"
            raise TokenUnavailable(account.id) from error
        if not isinstance(token, str) or not token:
            raise TokenUnavailable(account.id)
        return token

    def _sender_secret(self, record: SenderRecord) -> str:
        stored = self._box.decrypt(record.secret, record.account.id)
        return self._login_secret(record.account, stored)

    def _rehearse(self, candidates: list[SenderRecord]) -> None:
        """The network work of a delivery without a mail: log in to the senders in order
        until one accepts, as ``_deliver`` would send until one does."""
        for record in candidates:
            try:
                self._mailer.verify(record.account.settings, self._sender_secret(record))
            except PwRecoveryError:
                continue
            return

    def _content(
        self,
        purpose: Purpose,
        record: UserRecord,
        to_address: str,
        secret: str | None = None,
        expires_at: datetime | None = None,
    ) -> MailContent:
        return MailContent(
            purpose=purpose,
            to_address=to_address,
            to_name=record.display_name,
            login=record.login,
            secret=secret,
            expires_at=expires_at,
            locale=self.locale,
        )

    # -- users catalog -----------------------------------------------------

    @_localized
    def add_user(
        self, login: str, password: str, *, supervisor: bool = False, display_name: str = ""
    ) -> User:
        """Add a user with an ordinary password (``UserExists``, ``PasswordPolicyViolation``)."""
        now = self._now()
        shown = normalize_login(login)
        name = normalize_display_name(display_name)
        if self._store.get_user(login_key(shown)) is not None:
            raise UserExists(shown)
        normalized = self._check_new_password(password, login=shown)
        record = UserRecord(
            login=shown,
            key=login_key(shown),
            display_name=name,
            supervisor=bool(supervisor),
            password_hash=self._hasher.hash(normalized),
        )
        event = self._event("user_added", shown, now, None, supervisor=str(bool(supervisor)))
        self._store.add_user(record, (event,))
        return record.to_user()

    @_localized
    def get_user(self, login: str) -> User:
        return self._require_user(login).to_user()

    @_localized
    def users(self) -> list[User]:
        """Every user, by login."""
        return [record.to_user() for record in self._store.list_users()]

    @_localized
    def set_recovery_email(self, login: str, address: str, *, origin: str | None = None) -> str:
        """Store ``address`` unverified and mail it a verification code; return it normalised.

        Setting the address a user already has verified changes nothing and
        sends nothing.
        """
        now = self._now()
        normalized = normalize_address(address)
        record = self._require_user(login)
        if record.recovery_email == normalized and record.recovery_email_verified:
            return normalized
        code = generate_verification_code(self._randbelow)
        pending = PendingVerification(
            code_hash=self._hasher.hash(code),
            expires_at=expiry(now, self._policy.verification_code_ttl),
        )
        content = self._content(
            Purpose.EMAIL_VERIFICATION, record, normalized, code, pending.expires_at
        )
        delivery = self._deliver(content, now, origin)
        if delivery.account is None:
            self._store.append_audit(delivery.events)
            raise delivery.failure()

        def decide(current: UserRecord | None) -> _Outcome[None]:
            if current is None:
                return _Outcome(None, delivery.events, error=UnknownUser(record.login))
            event = self._event(
                "recovery_email_set", current.login, now, origin, address=mask_address(normalized)
            )
            return _Outcome(
                accounts.address_pending(current, normalized, pending), (*delivery.events, event)
            )

        self._transact(record.key, decide)
        old = record.recovery_email
        if record.recovery_email_verified and old is not None and old != normalized:
            # The verified address hears of the change, so a hijack does not go unnoticed.
            notice = attrs.evolve(
                self._content(Purpose.ADDRESS_CHANGED, record, old),
                new_address=mask_address(normalized),
            )
            self._notify(notice, now, origin)
        return normalized

    @_localized
    def confirm_recovery_email(self, login: str, code: str, *, origin: str | None = None) -> None:
        """Confirm the recovery address with the code mailed to it (``VerificationFailed``)."""
        now = self._now()
        record = self._require_user(login)
        typed = normalize_code(code) if isinstance(code, str) else ""

        def decide(current: UserRecord | None) -> _Outcome[None]:
            if current is None:
                return _Outcome(None, error=UnknownUser(record.login))
            pending = current.pending_verification
            if pending is not None and accounts.verification_usable(pending, now, self._policy):
                if self._hasher.verify(pending.code_hash, typed):
                    event = self._event("recovery_email_confirmed", current.login, now, origin)
                    return _Outcome(accounts.address_confirmed(current), (event,))
                failed = accounts.verification_failed(current, self._policy)
            else:
                failed = attrs.evolve(current, pending_verification=None)
            event = self._event("recovery_email_confirmation_failed", current.login, now, origin)
            return _Outcome(failed, (event,), error=VerificationFailed())

        self._transact(record.key, decide)

    @_localized
    def change_password(
        self,
        login: str,
        current_password: str,
        new_password: str,
        confirmation: str,
        *,
        origin: str | None = None,
    ) -> None:
        """Change the password, signing in with the ordinary or the temporary one.

        On success the temporary password is consumed and a notice goes to the
        verified recovery address (if that mail fails, the change stands and
        the failure is audited).
        """
        now = self._now()
        key = _key_or_none(login)
        current_text = (
            normalize_password(current_password) if isinstance(current_password, str) else ""
        )

        def decide(record: UserRecord | None) -> _Outcome[UserRecord]:
            checked: tuple[UserRecord, str] | _Outcome[UserRecord] = self._check_credentials(
                record, current_text, now, origin, "password_change"
            )
            if isinstance(checked, _Outcome):
                return checked
            record, via = checked
            if not (
                isinstance(new_password, str)
                and isinstance(confirmation, str)
                and confirmation_matches(new_password, confirmation)
            ):
                event = self._event(
                    "password_change_refused", record.login, now, origin, reason="password_mismatch"
                )
                return _Outcome(record, (event,), error=PasswordConfirmationMismatch())
            new_text = normalize_password(new_password)
            temporary = record.temporary
            try:
                normalized = self._check_new_password(
                    new_text,
                    login=record.login,
                    same_as_current=(
                        new_text == current_text
                        if via == "password"
                        else self._hasher.verify(record.password_hash, new_text)
                    ),
                    same_as_temporary=(
                        new_text == current_text
                        if via == "temporary"
                        else temporary is not None and self._hasher.verify(temporary.hash, new_text)
                    ),
                )
            except PasswordPolicyViolation as violation:
                event = self._event(
                    "password_change_refused",
                    record.login,
                    now,
                    origin,
                    reason="password_policy",
                    rules=",".join(violation.reasons),
                )
                return _Outcome(record, (event,), error=violation)
            changed = accounts.password_changed(record, self._hasher.hash(normalized))
            event = self._event("password_changed", record.login, now, origin, via=via)
            return _Outcome(changed, (event,), value=changed)

        changed = self._transact(key, decide)
        if changed.has_verified_address and changed.recovery_email is not None:
            notice = self._content(Purpose.PASSWORD_CHANGED, changed, changed.recovery_email)
            self._notify(notice, now, origin)

    def _check_credentials(
        self,
        record: UserRecord | None,
        password: str,
        now: datetime,
        origin: str | None,
        action: str,
    ) -> tuple[UserRecord, str] | _Outcome[T]:
        """Which password ``password`` is (``"password"`` or ``"temporary"``), or the refusal.

        An unknown user costs the same hash as a known one; a locked user
        costs none and learns nothing.
        """
        if record is None:
            self._hasher.verify(self._dummy_hash, password)
            event = self._event(f"{action}_failed", None, now, origin, reason="invalid_credentials")
            return _Outcome(None, (event,), error=InvalidCredentials())
        remaining = throttle.lock_remaining(record.locked_until, now)
        if remaining is not None:
            event = self._event(f"{action}_refused", record.login, now, origin, reason="locked")
            return _Outcome(record, (event,), error=TooManyAttempts(remaining))
        if self._hasher.verify(record.password_hash, password):
            return record, "password"
        temporary = record.temporary
        if temporary is not None and self._hasher.verify(temporary.hash, password):
            if accounts.temporary_expired(temporary, now):
                event = self._event(
                    f"{action}_refused",
                    record.login,
                    now,
                    origin,
                    reason="temporary_password_expired",
                )
                return _Outcome(record, (event,), error=TemporaryPasswordExpired())
            return record, "temporary"
        failed = accounts.sign_in_failed(record, now, self._policy)
        detail = {"reason": "invalid_credentials", "failures": str(failed.failed_sign_ins)}
        if failed.locked_until is not None and failed.locked_until != record.locked_until:
            detail["locked_until"] = failed.locked_until.isoformat()
        event = self._event(f"{action}_failed", record.login, now, origin, **detail)
        return _Outcome(failed, (event,), error=InvalidCredentials())

    def _notify(self, content: MailContent, now: datetime, origin: str | None) -> None:
        """Send a notice (no secret) best-effort: a failure is audited, never raised."""
        try:
            delivery = self._deliver(content, now, origin)
        except NoSenderConfigured:
            delivery = _Delivery(None, (), 0)
        events = delivery.events
        if delivery.account is None:
            reason = DeliveryFailed.code if delivery.attempts else NoSenderConfigured.code
            events = (
                *events,
                self._event(
                    "notice_failed",
                    content.login,
                    now,
                    origin,
                    purpose=content.purpose.value,
                    reason=reason,
                ),
            )
        self._store.append_audit(events)

    # -- mail configuration ------------------------------------------------

    @_localized
    def configure_sender(
        self,
        owner_login: str,
        settings: SenderSettings,
        password: str,
        *,
        origin: str | None = None,
    ) -> SenderAccount:
        """Check a sender account by logging in, then save it with its password encrypted.

        Saving again the same server and username for the same owner replaces
        the earlier account.
        """
        now = self._now()
        owner = self._require_user(owner_login)
        if not isinstance(settings, SenderSettings):
            raise InvalidConfiguration("settings", "it must be a SenderSettings")
        # An XOAUTH2 account may come without a refresh token: the provider may keep its own.
        oauth = settings.authentication is Authentication.XOAUTH2
        if (
            not settings.username.strip()
            or not isinstance(password, str)
            or not (password.strip() or oauth)
        ):
            event = self._event(
                "sender_refused", owner.login, now, origin, reason="sender_credentials_empty"
            )
            self._store.append_audit((event,))
            raise SenderCredentialsEmpty
        same = [
            r.account.id
            for r in self._store.list_senders()
            if login_key(r.account.owner) == owner.key
            and (r.account.settings.host, r.account.settings.port, r.account.settings.username)
            == (settings.host, settings.port, settings.username)
        ]
        sender_id = same[0] if same else self._token(_ID_BYTES)
        account = SenderAccount(id=sender_id, owner=owner.login, settings=settings, verified_at=now)
        try:
            self._mailer.verify(settings, self._login_secret(account, password))
        except PwRecoveryError as error:
            event = self._event(
                "sender_refused", owner.login, now, origin, host=settings.host, reason=error.code
            )
            self._store.append_audit((event,))
            raise
        record = SenderRecord(account=account, secret=self._box.encrypt(password, sender_id))
        event = self._event(
            "sender_configured",
            owner.login,
            now,
            origin,
            sender=sender_id,
            host=settings.host,
            username=settings.username,
        )
        self._store.put_sender(record, (event,))
        return account

    @_localized
    def senders(self) -> list[SenderAccount]:
        """Every sender account, in the order a request by nobody in particular tries them."""
        return [record.account for record in order_senders(self._store.list_senders(), None)]

    @_localized
    def readiness(self, *, verify_senders: bool = False) -> Readiness:
        """What would stop a recovery right now: no usable sender, no supervisor address,
        users without a verified address. With ``verify_senders`` every sender logs in."""
        senders = order_senders(self._store.list_senders(), None)
        undecryptable: list[str] = []
        failing: list[tuple[str, str]] = []
        for record in senders:
            try:
                stored = self._box.decrypt(record.secret, record.account.id)
            except SecretUndecryptable:
                undecryptable.append(record.account.id)
                continue
            if verify_senders:
                try:
                    secret = self._login_secret(record.account, stored)
                    self._mailer.verify(record.account.settings, secret)
                except PwRecoveryError as error:
                    failing.append((record.account.id, error.code))
        return Readiness(
            senders=tuple(record.account.id for record in senders),
            undecryptable_senders=tuple(undecryptable),
            failing_senders=tuple(failing),
            supervisor_ready=self._store.has_verified_supervisor(),
            users_without_address=tuple(
                user.login for user in self._store.list_users() if not user.has_verified_address
            ),
        )

    @_localized
    def remove_sender(self, sender_id: str, *, origin: str | None = None) -> None:
        now = self._now()
        event = self._event(
            "sender_removed", None, now, origin, sender=printable_identifier(sender_id)
        )
        if not self._store.remove_sender(sender_id, (event,)):
            raise UnknownSender(printable_identifier(sender_id))

    # -- login window ------------------------------------------------------

    def _recovery_refusal(
        self, record: UserRecord | None, login: object, now: datetime
    ) -> PwRecoveryError | None:
        supervisor_ready = self._store.has_verified_supervisor()  # read for every login alike
        if record is None:
            return UnknownUser(printable_identifier(login))
        missing = set()
        if not record.has_verified_address:
            missing.add(MISSING_USER)
        if not supervisor_ready:
            missing.add(MISSING_SUPERVISOR)
        if missing:
            return RecoveryEmailMissing(record.login, frozenset(missing))
        retry_after = throttle.recovery_retry_after(record.recovery_requests, now, self._policy)
        if retry_after is not None:
            return RateLimited(retry_after)
        return None

    @_localized
    def request_recovery(
        self,
        login: str,
        *,
        origin: str | None = None,
        delivery: Literal["immediate", "queued"] = "immediate",
    ) -> RecoverySent:
        """ "Recuperar clave": mail a temporary password to the verified recovery address.

        In ``disclosure="uniform"`` mode every login gets the same answer, the same
        work is done, and the answer takes at least ``Policy.uniform_response_time``;
        only a missing sender configuration is reported.

        With ``delivery="queued"`` the temporary password and its mail are stored in one
        transaction and the answer comes at once; ``deliver_pending()`` sends the mail.
        """
        if delivery not in {"immediate", "queued"}:
            raise InvalidConfiguration("delivery", "it must be 'immediate' or 'queued'")
        queued = delivery == "queued"
        if self._policy.disclosure != "uniform":
            return self._request_recovery(login, origin, queued=queued)
        started = self._monotonic()
        try:
            return self._request_recovery(login, origin, queued=queued)
        finally:
            remaining = self._policy.uniform_response_time.total_seconds() - (
                self._monotonic() - started
            )
            if remaining > 0:
                self._sleep(remaining)

    def _request_recovery(self, login: str, origin: str | None, *, queued: bool) -> RecoverySent:
        now = self._now()
        uniform = self._policy.disclosure == "uniform"
        key = _key_or_none(login)
        # Read even for a malformed login (no stored key is empty): the same work for all.
        record = self._store.get_user(key if key is not None else "")
        refusal = self._recovery_refusal(record, login, now)
        shown = record.login if record is not None else printable_identifier(login)
        candidates = order_senders(self._store.list_senders(), shown if record else None)
        if refusal is not None and not uniform:
            self._store.append_audit(
                (self._event("recovery_refused", shown, now, origin, reason=refusal.code),)
            )
            raise refusal
        if not candidates:
            self._store.append_audit(
                (
                    self._event(
                        "recovery_refused", shown, now, origin, reason="no_sender_configured"
                    ),
                )
            )
            raise NoSenderConfigured
        password = generate_temporary_password(
            self._randbelow, self._policy.temporary_password_length
        )
        credential = TemporaryCredential(
            id=self._token(_ID_BYTES),
            hash=self._hasher.hash(password),
            issued_at=now,
            expires_at=expiry(now, self._policy.temporary_password_ttl),
        )
        generic = RecoverySent(masked_address=GENERIC_MASK, expires_at=credential.expires_at)
        if refusal is not None or record is None or record.recovery_email is None:
            if not queued:  # Uniform mode: log in as a real delivery would, and send nothing.
                self._rehearse(candidates)
            reason = refusal.code if refusal is not None else RecoveryEmailMissing.code
            self._store.append_audit(
                (self._event("recovery_refused", shown, now, origin, reason=reason),)
            )
            return generic
        address = record.recovery_email
        content = self._content(
            Purpose.TEMPORARY_PASSWORD, record, address, password, credential.expires_at
        )
        masked = generic if uniform else RecoverySent(mask_address(address), credential.expires_at)
        if queued:
            message = self._queued_message(content, record.key, credential.id, now)
            self._transact(
                record.key, self._recovery_outcome(credential, (), now, origin, message), record
            )
            return masked
        delivery = self._deliver(content, now, origin, candidates)
        issued = credential if delivery.account is not None else None
        self._transact(
            record.key, self._recovery_outcome(issued, delivery.events, now, origin), record
        )
        if delivery.account is None and not uniform:
            raise delivery.failure()
        return masked

    def _queued_message(
        self, content: MailContent, user_key: str, credential_id: str, now: datetime
    ) -> QueuedMessage:
        message_id = self._token(_ID_BYTES)
        text = content_to_json(content, self._token(_MESSAGE_ID_BYTES))
        return QueuedMessage(
            id=message_id,
            user_key=user_key,
            purpose=content.purpose,
            credential_id=credential_id,
            payload=self._box.encrypt(text, message_id, kind=QUEUED_MESSAGE),
            created_at=now,
            next_attempt_at=now,
        )

    @_localized
    def deliver_pending(self, *, limit: int = 100) -> DeliveryReport:
        """Send the queued mails that are due: the worker of ``delivery="queued"``.

        Each message is claimed (its next try moved ``delivery_lease`` ahead, so other
        workers leave it), sent through the senders in order, then deleted. A failure
        is tried again later (``delivery_retry_base``, doubling, at most an hour); after
        ``delivery_attempts`` tries the temporary password it carries is revoked and the
        message dropped, with the reason audited. A worker that dies between sending and
        deleting makes the next one send the same mail again (same temporary password,
        same Message-ID): at most a duplicate, never a loss.
        """
        now = self._now()
        report = DeliveryReport()
        for message in self._store.due_messages(now, limit):
            claimed = attrs.evolve(
                message,
                attempts=message.attempts + 1,
                next_attempt_at=now + self._policy.delivery_lease,
            )
            if not self._store.update_message(claimed, expected_version=message.version):
                continue  # another worker has it
            outcome = self._send_queued(attrs.evolve(claimed, version=message.version + 1), now)
            report = attrs.evolve(report, **{outcome: getattr(report, outcome) + 1})
        return report

    def _send_queued(self, message: QueuedMessage, now: datetime) -> str:
        """Send one claimed message; say whether it was sent, retried, abandoned or dropped."""
        user = self._store.get_user(message.user_key)
        login = user.login if user is not None else message.user_key
        try:
            text = self._box.decrypt(message.payload, message.id, kind=QUEUED_MESSAGE)
            content, token = content_from_json(text)
        except (PwRecoveryError, ValueError, KeyError):
            return self._abandon(message, login, now, (), "secret_undecryptable")
        temporary = user.temporary if user is not None else None
        if message.credential_id is not None and (
            temporary is None
            or temporary.id != message.credential_id
            or accounts.temporary_expired(temporary, now)
        ):
            event = self._event("queued_mail_dropped", login, now, None, message=message.id)
            self._store.delete_message(message.id, (event,))
            return "dropped"
        try:
            delivery = self._deliver(content, now, None, message_token=token)
        except NoSenderConfigured:
            delivery = _Delivery(None, (), 0)
        if delivery.account is not None:
            event = self._event("queued_mail_sent", login, now, None, message=message.id)
            self._store.delete_message(message.id, (*delivery.events, event))
            return "sent"
        reason = DeliveryFailed.code if delivery.attempts else NoSenderConfigured.code
        if message.attempts >= self._policy.delivery_attempts:
            return self._abandon(message, login, now, delivery.events, reason)
        retry = attrs.evolve(
            message,
            next_attempt_at=now + throttle.retry_delay(message.attempts, self._policy),
            last_error=reason,
        )
        event = self._event(
            "queued_mail_retry",
            login,
            now,
            None,
            message=message.id,
            attempts=str(message.attempts),
            reason=reason,
            next_attempt_at=retry.next_attempt_at.isoformat(),
        )
        self._store.update_message(
            retry, expected_version=message.version, events=(*delivery.events, event)
        )
        return "retried"

    def _abandon(
        self,
        message: QueuedMessage,
        login: str,
        now: datetime,
        delivered: tuple[AuditEvent, ...],
        reason: str,
    ) -> str:
        """Give up on a message for good: revoke the temporary password it carries, say why."""

        def decide(current: UserRecord | None) -> _Outcome[None]:
            event = self._event(
                "queued_mail_abandoned", login, now, None, message=message.id, reason=reason
            )
            temporary = current.temporary if current is not None else None
            if current is None or temporary is None or temporary.id != message.credential_id:
                return _Outcome(None, (*delivered, event))
            revoked = attrs.evolve(current, temporary=None)
            return _Outcome(revoked, (*delivered, event))

        self._transact(message.user_key, decide)
        self._store.delete_message(message.id)
        return "abandoned"

    def _recovery_outcome(
        self,
        credential: TemporaryCredential | None,
        delivered: tuple[AuditEvent, ...],
        now: datetime,
        origin: str | None,
        queued: QueuedMessage | None = None,
    ) -> Callable[[UserRecord | None], _Outcome[None]]:
        """The request's effect on the user, stored with the delivery's audit events."""

        def decide(current: UserRecord | None) -> _Outcome[None]:
            if current is None:
                return _Outcome(None, delivered)
            if credential is None:
                event = self._event(
                    "temporary_password_withdrawn",
                    current.login,
                    now,
                    origin,
                    reason="delivery_failed",
                )
                return _Outcome(
                    accounts.recovery_undelivered(current, now, self._policy), (*delivered, event)
                )
            event = self._event(
                "temporary_password_issued",
                current.login,
                now,
                origin,
                credential=credential.id,
                expires_at=credential.expires_at.isoformat(),
                delivery="queued" if queued is not None else "immediate",
            )
            return _Outcome(
                accounts.temporary_issued(current, credential, now, self._policy),
                (*delivered, event),
                enqueue=(queued,) if queued is not None else (),
            )

        return decide

    @_localized
    def authenticate(self, login: str, password: str, *, origin: str | None = None) -> LoginResult:
        """Sign in: ``OK`` with the ordinary password, ``MUST_CHANGE_PASSWORD`` with a temporary."""
        now = self._now()
        key = _key_or_none(login)
        typed = normalize_password(password) if isinstance(password, str) else ""

        def decide(record: UserRecord | None) -> _Outcome[LoginResult]:
            checked: tuple[UserRecord, str] | _Outcome[LoginResult] = self._check_credentials(
                record, typed, now, origin, "sign_in"
            )
            if isinstance(checked, _Outcome):
                return checked
            record, via = checked
            if via == "password":
                stored = record.password_hash
                new_hash = self._hasher.hash(typed) if self._hasher.needs_rehash(stored) else stored
                events = [self._event("signed_in", record.login, now, origin)]
                if record.temporary is not None:
                    events.append(
                        self._event(
                            "temporary_password_revoked",
                            record.login,
                            now,
                            origin,
                            reason="signed_in_with_password",
                        )
                    )
                return _Outcome(
                    accounts.signed_in_with_password(record, new_hash),
                    tuple(events),
                    value=LoginResult(LoginStatus.OK),
                )
            temporary = cast("TemporaryCredential", record.temporary)
            event = self._event("signed_in_with_temporary", record.login, now, origin)
            return _Outcome(
                accounts.signed_in_with_temporary(record),
                (event,),
                value=LoginResult(LoginStatus.MUST_CHANGE_PASSWORD, temporary.expires_at),
            )

        return self._transact(key, decide)

    # -- audit -------------------------------------------------------------

    @_localized
    def audit_trail(self, login: str | None = None) -> list[AuditEvent]:
        """Events, oldest first; only one user's when ``login`` is given."""
        if login is None:
            return self._store.audit_trail(None)
        key = _key_or_none(login)
        return self._store.audit_trail(key) if key is not None else []
