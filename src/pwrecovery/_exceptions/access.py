"""Errors for a refused sign-in and a refused "Recuperar clave".

``CredentialError``: wrong or expired passwords, too many attempts, a disabled
account, a wrong code. ``RecoveryRefused``: a recovery address is missing (the
user's, the supervisor's or both: ``MISSING_USER``, ``MISSING_SUPERVISOR``), or
too many requests came (or every sender spent its SMTP logins of the minute).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from pwrecovery._exceptions.base import PwRecoveryError, _Waiting

MISSING_USER: Final = "user"
MISSING_SUPERVISOR: Final = "supervisor"


class CredentialError(PwRecoveryError):
    """A sign-in, a password change or a verification code was refused."""


class InvalidCredentials(CredentialError):
    code = "invalid_credentials"


class TemporaryPasswordExpired(CredentialError):
    code = "temporary_password_expired"


class TooManyAttempts(_Waiting, CredentialError):
    code = "too_many_attempts"


class AccountDisabled(CredentialError):
    """Said only once the password was right, so that the state does not leak."""

    code = "account_disabled"


class VerificationFailed(CredentialError):
    code = "verification_failed"


# -- recovery ----------------------------------------------------------------


class RecoveryRefused(PwRecoveryError):
    """ "Recuperar clave" cannot go ahead for this user now."""


class RecoveryEmailMissing(RecoveryRefused):
    """``missing`` holds ``"user"``, ``"supervisor"`` or both."""

    code = "recovery_email_missing"

    def __init__(self, login: str, missing: Iterable[str]) -> None:
        super().__init__(login=login, missing=frozenset(missing))
        self.login = login
        self.missing = frozenset(missing)

    def _message_id(self) -> str:
        if self.missing >= {MISSING_USER, MISSING_SUPERVISOR}:
            return f"error.{self.code}.both"
        if MISSING_USER in self.missing:
            return f"error.{self.code}.user"
        return f"error.{self.code}.supervisor"


class RateLimited(_Waiting, RecoveryRefused):
    """Too many requests for this user (``reason="requests"``), or every sender has spent
    its SMTP logins of the minute (``reason="smtp_budget"``): wait ``retry_after``."""

    code = "rate_limited"

    def __init__(self, retry_after: timedelta, reason: str = "requests") -> None:
        super().__init__(retry_after)
        self._params["reason"] = reason
        self.reason = reason

    def _message_id(self) -> str:
        return "error.rate_limited.busy" if self.reason == "smtp_budget" else "error.rate_limited"
