"""What every use case works with: the ports, the policy, the texts, and the few
helpers that must be the same everywhere (the time, audit events, one KDF check)."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from pwrecovery import _i18n
from pwrecovery._domain.logins import bounded_origin, fingerprint
from pwrecovery._domain.mail import MailStyle
from pwrecovery._domain.policy import Policy
from pwrecovery._secret import Secret
from pwrecovery._service._transaction import UnitOfWork
from pwrecovery.adapters.secretbox import SecretBox
from pwrecovery.exceptions import InvalidConfiguration, PwRecoveryError, SecretKeyMissing
from pwrecovery.models import AuditEvent
from pwrecovery.ports import Clock, Mailer, PasswordHasher, Store, TokenProvider

ID_BYTES: Final = 8
MESSAGE_ID_BYTES: Final = 16


class Context:
    """The collaborators of one ``RecoveryService``, shared by its use cases."""

    def __init__(
        self,
        *,
        store: Store,
        mailer: Mailer,
        box: SecretBox | None,
        policy: Policy,
        hasher: PasswordHasher,
        legacy_hashers: Sequence[PasswordHasher],
        clock: Clock,
        token_provider: TokenProvider | None,
        texts: _i18n.Texts,
        locale: str,
        zone: ZoneInfo,
        product: str,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.box = box
        self.policy = policy
        self.hasher = hasher
        self.legacy_hashers = tuple(legacy_hashers)
        self.clock = clock
        self.token_provider = token_provider
        self.texts = texts
        self.locale = locale
        self.zone = zone
        self.style = MailStyle(texts=texts, zone=zone, product=product)
        # The one seam for randomness; secrets is a CSPRNG.
        self.randbelow: Callable[[int], int] = secrets.randbelow
        self.token: Callable[[int], str] = secrets.token_hex
        # The seams for waiting; a ManualClock's sleep is used when the clock has one,
        # so tests do not wait.
        self.monotonic: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = getattr(clock, "sleep", time.sleep)
        self.uow = UnitOfWork(store, self._wait, self._rand)
        self._lock = threading.Lock()

    # The unit of work calls through these, so that tests may swap the seams afterwards.
    def _rand(self, below: int) -> int:
        return self.randbelow(below)

    def _wait(self, seconds: float) -> None:
        self.sleep(seconds)

    def speaking(self, error: PwRecoveryError) -> PwRecoveryError:
        """``error``, set to speak the service's locale with the host's words."""
        error.locale = self.locale
        error._texts = self.texts  # noqa: SLF001 (the service lends its catalogs)
        return error

    # -- time, ids, events -----------------------------------------------------

    def now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidConfiguration("clock", "aware_datetime")
        return now.astimezone(UTC)

    def new_id(self) -> str:
        return self.token(ID_BYTES)

    def message_token(self) -> str:
        return self.token(MESSAGE_ID_BYTES)

    def event(
        self, kind: str, login: str | None, now: datetime, origin: object = None, **detail: str
    ) -> AuditEvent:
        return AuditEvent(
            kind=kind, login=login, at=now, origin=bounded_origin(origin), detail=detail
        )

    def require_box(self) -> SecretBox:
        if self.box is None:
            raise SecretKeyMissing
        return self.box

    # -- logins that do not exist ------------------------------------------------

    @functools.cached_property
    def _fingerprint_key(self) -> bytes:
        return self.store.fingerprint_key()

    def fingerprint(self, login: object) -> str:
        return fingerprint(self._fingerprint_key, login)

    # -- hashing: every check costs exactly one KDF ---------------------------------

    @functools.cached_property
    def dummy_hash(self) -> str:
        """A hash to check against when there is nothing real to check, so the work is
        the same: an unknown login, a locked account, a refused stored hash."""
        return self.hasher.hash(self.token(MESSAGE_ID_BYTES))

    def hasher_for(self, encoded: str | None) -> PasswordHasher | None:
        """The hasher that identifies ``encoded``: the service's own, else a legacy one."""
        if not isinstance(encoded, str) or not encoded:
            return None
        identifies = getattr(self.hasher, "identifies", None)
        if identifies is None or identifies(encoded):
            return self.hasher
        return next((h for h in self.legacy_hashers if h.identifies(encoded)), None)

    def check(self, encoded: str | None, typed: Secret | None) -> bool:
        """Whether ``typed`` matches ``encoded``, at the cost of exactly one KDF run
        whatever the inputs (the dummy hash stands in for what cannot be checked)."""
        hasher = self.hasher_for(encoded) if typed is not None else None
        if hasher is None or encoded is None or typed is None:
            self.hasher.verify(self.dummy_hash, typed.reveal() if typed is not None else "")
            return False
        return hasher.verify(encoded, typed.reveal())

    def hash(self, secret: Secret) -> str:
        return self.hasher.hash(secret.reveal())

    def is_legacy(self, encoded: str) -> bool:
        found = self.hasher_for(encoded)
        return found is not None and found is not self.hasher

    def needs_new_hash(self, encoded: str) -> bool:
        """A legacy hash, or one of our own made with weaker parameters."""
        if self.is_legacy(encoded):
            return True
        return self.hasher.needs_rehash(encoded)

    def scheme(self, encoded: str) -> str:
        """A legacy hash's scheme, for the audit trail (the hasher's name, never the hash)."""
        hasher = self.hasher_for(encoded)
        return type(hasher).__name__ if hasher is not None else "unknown"
