"""What every part of pwrecovery.oauth shares: the names of the bundles, the scopes, the
result (``AccessToken``) and the one error (``OAuthError``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

import attrs

T = TypeVar("T")

# The "kind" of each built-in credential bundle (names, not secrets).
MICROSOFT365: Final = "microsoft365-client-credentials"
GOOGLE_REFRESH_TOKEN: Final = "google-refresh-token"  # noqa: S105
GOOGLE_SERVICE_ACCOUNT: Final = "google-service-account"
BUNDLE_VERSION: Final = 1

MICROSOFT365_SCOPE: Final = "https://outlook.office365.com/.default"
GOOGLE_SCOPE: Final = "https://mail.google.com/"
MICROSOFT_AUTHORITY_HOST: Final = "https://login.microsoftonline.com"
GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
GOOGLE_UNIVERSE: Final = "googleapis.com"

# Tenants that name no organisation: an app-only token needs the tenant itself.
_MULTI_TENANT: Final = frozenset({"common", "organizations", "consumers"})
_TENANT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_AADSTS: Final = re.compile(r"AADSTS(\d+)")
# How msal words a refused tenant discovery: "... HTTP status: 400, Error: {json}".
_DISCOVERY_REFUSED: Final = re.compile(r"HTTP status: 4\d\d, Error: (\{.*\})", re.DOTALL)
_MAX_CHAIN: Final = 5
_MAX_DETAIL: Final = 300
_PEM_LINE: Final = 16  # lines of a PEM key at least this long are blotted out one by one
_MAX_APPS: Final = 32

OAuthErrorCode = Literal["extra_missing", "bad_credentials", "refused", "unreachable", "protocol"]


# -- results and errors ------------------------------------------------------------


def _aware(_instance: object, _attribute: object, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        msg = "expires_at must be timezone-aware"
        raise ValueError(msg)


@attrs.frozen
class AccessToken:
    """An OAuth 2.0 access token and when it expires (aware UTC; None if not said).

    ``refresh_token`` is set only when the token endpoint rotated the refresh token:
    it is then the new one, and the old one may stop working, so the caller must
    store it back (``with_refresh_token`` makes the new bundle).
    """

    token: str = attrs.field(repr=False)
    expires_at: datetime | None = attrs.field(validator=_aware)
    refresh_token: str | None = attrs.field(default=None, repr=False)


def _rebuild_error(
    code: OAuthErrorCode, message: str, error: str | None, aadsts: int | None
) -> OAuthError:
    return OAuthError(code, message, error=error, aadsts=aadsts)


class OAuthError(Exception):
    """A token could not be had. ``code`` says why, for programs:

    - ``extra_missing``: the optional library is not installed (the message names
      the extra to install);
    - ``bad_credentials``: the stored bundle is malformed or of an unknown kind;
    - ``refused``: the token endpoint answered an OAuth error; ``error`` holds its
      ``error`` value (``invalid_client``, ``invalid_grant``...) and, for Entra ID,
      ``aadsts`` the AADSTS number (7000215: wrong client secret);
    - ``unreachable``: network, TLS, timeout, or the endpoint answered 5xx;
    - ``protocol``: an answer that is not what the protocol says.

    The message never holds a secret, a private key or a token; the exception of
    the library underneath is not chained (its request may hold them).
    """

    def __init__(
        self,
        code: OAuthErrorCode,
        message: str,
        *,
        error: str | None = None,
        aadsts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code: OAuthErrorCode = code
        self.error = error
        self.aadsts = aadsts

    def __repr__(self) -> str:
        return (
            f"OAuthError(code={self.code!r}, error={self.error!r}, aadsts={self.aadsts!r},"
            f" message={str(self)!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (self.code, str(self), self.error, self.aadsts))


def _scrubbed(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (and every long line of a PEM key) blotted out."""
    for secret in secrets:
        pieces = [secret, *(line for line in secret.splitlines() if len(line) >= _PEM_LINE)]
        for piece in sorted(pieces, key=len, reverse=True):
            if piece:
                text = text.replace(piece, "[redacted]")
    return text


def _summary(error: BaseException, secrets: tuple[str, ...]) -> str:
    """One line about a library's exception: its class and the start of its text."""
    first_line = next(iter(str(error).strip().splitlines()), "")
    text = _scrubbed(f"{type(error).__name__}: {first_line}".rstrip(": "), secrets)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _bad(message: str) -> OAuthError:
    return OAuthError("bad_credentials", message)
