"""Ready-made OAuth 2.0 token providers for XOAUTH2 senders: Microsoft 365 and Google.

The stored secret of a built-in OAuth sender is a *credential bundle*: a JSON text
made by one of the functions below, which the host passes to ``configure_sender``
as the "password" (the service encrypts it like an SMTP password):

- ``microsoft365_credentials(...)``: an Entra ID application with the
  ``SMTP.SendAsApp`` permission, app-only (client credentials grant, through
  ``msal``; ``pip install 'pwrecovery[m365]'``). The sender's username is the
  mailbox it sends as;
- ``google_refresh_token_credentials(...)``: an OAuth client and a user's refresh
  token with the ``https://mail.google.com/`` scope (through ``google-auth``;
  ``pip install 'pwrecovery[google]'``);
- ``google_service_account_credentials(key)``: a service account with
  domain-wide delegation; the sender's username is the user it acts as.

``BuiltinTokenProvider().access_token(account, secret)`` turns a bundle into an
``AccessToken``. Everything that goes wrong leaves as an ``OAuthError`` with a
stable ``.code``; no message, repr or attribute holds a secret.

>>> bundle = microsoft365_credentials(
...     tenant_id="contoso.onmicrosoft.com", client_id="app-id", client_secret="s3cr3t-value"
... )
>>> bundle_kind(bundle)
'microsoft365-client-credentials'
>>> bundle_kind("1//a-refresh-token-the-host-keeps") is None
True
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pwrecovery.models import SenderAccount

if TYPE_CHECKING:
    import requests
    from google.oauth2.credentials import Credentials as GoogleUserCredentials
    from google.oauth2.service_account import Credentials as GoogleServiceCredentials

__all__ = [
    "GOOGLE_REFRESH_TOKEN",
    "GOOGLE_SCOPE",
    "GOOGLE_SERVICE_ACCOUNT",
    "MICROSOFT365",
    "MICROSOFT365_SCOPE",
    "AccessToken",
    "BuiltinTokenProvider",
    "OAuthError",
    "OAuthErrorCode",
    "bundle_kind",
    "google_refresh_token_credentials",
    "google_service_account_credentials",
    "microsoft365_credentials",
    "with_refresh_token",
]

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


# -- credential bundles --------------------------------------------------------------


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{field} must be a non-empty text")
    return value.strip()


def _https_url(value: object, field: str, *, path: bool) -> str:
    url = _text(value, field)
    try:
        parts = urlsplit(url)
        valid = parts.port is None or parts.port > 0
    except ValueError:
        valid = False
    if not valid:
        raise _bad(f"{field} is not a valid URL")
    if parts.scheme != "https" or not parts.hostname:
        raise _bad(f"{field} must be an https:// URL")
    if parts.username is not None or parts.query or parts.fragment:
        raise _bad(f"{field} must hold no user name, query or fragment")
    if not path and parts.path.strip("/"):
        raise _bad(f"{field} must be a host only, such as {MICROSOFT_AUTHORITY_HOST}")
    return url.rstrip("/") if not path else url


def _tenant(value: object) -> str:
    tenant = _text(value, "tenant_id")
    if not _TENANT.fullmatch(tenant):
        raise _bad("tenant_id must be the tenant's id or domain name")
    if tenant.lower() in _MULTI_TENANT:
        raise _bad("tenant_id must name the tenant itself: app-only tokens need it")
    return tenant


def _dumps(kind: str, fields: Mapping[str, object]) -> str:
    return json.dumps({"kind": kind, "version": BUNDLE_VERSION, **fields}, ensure_ascii=False)


@attrs.frozen
class _Microsoft365:
    tenant_id: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    authority_host: str

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}"

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,)

    @classmethod
    def parse(cls, fields: Mapping[str, object]) -> _Microsoft365:
        return cls(
            tenant_id=_tenant(fields.get("tenant_id")),
            client_id=_text(fields.get("client_id"), "client_id"),
            client_secret=_text(fields.get("client_secret"), "client_secret"),
            authority_host=_https_url(fields.get("authority_host"), "authority_host", path=False),
        )


@attrs.frozen
class _GoogleRefreshToken:
    client_id: str
    client_secret: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    token_uri: str

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret, self.refresh_token)

    @classmethod
    def parse(cls, fields: Mapping[str, object]) -> _GoogleRefreshToken:
        return cls(
            client_id=_text(fields.get("client_id"), "client_id"),
            client_secret=_text(fields.get("client_secret"), "client_secret"),
            refresh_token=_text(fields.get("refresh_token"), "refresh_token"),
            token_uri=_https_url(fields.get("token_uri"), "token_uri", path=True),
        )


# The fields of a key file that google-auth reads; the others are left out of the bundle.
_SERVICE_ACCOUNT_FIELDS: Final = (
    "type",
    "project_id",
    "private_key_id",
    "private_key",
    "client_email",
    "client_id",
    "token_uri",
    "universe_domain",
)


@attrs.frozen
class _GoogleServiceAccount:
    info: Mapping[str, str] = attrs.field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        return (self.info["private_key"],)

    @classmethod
    def parse(cls, fields: Mapping[str, object]) -> _GoogleServiceAccount:
        info = fields.get("service_account")
        if not isinstance(info, Mapping):
            raise _bad("service_account must be the key file's JSON object")
        return cls(_service_account_info(info))


def _service_account_info(info: Mapping[str, object]) -> dict[str, str]:
    if info.get("type") != "service_account":
        raise _bad('the key file is not a service account key (its "type" must be service_account)')
    checked = {
        "type": "service_account",
        "client_email": _text(info.get("client_email"), "client_email"),
        "private_key": _text(info.get("private_key"), "private_key") + "\n",
        "token_uri": _https_url(info.get("token_uri", GOOGLE_TOKEN_URI), "token_uri", path=True),
    }
    for field in ("project_id", "private_key_id", "client_id"):
        if info.get(field) is not None:
            checked[field] = _text(info.get(field), field)
    universe = info.get("universe_domain", GOOGLE_UNIVERSE)
    if universe != GOOGLE_UNIVERSE:
        raise _bad(f"domain-wide delegation works only in the {GOOGLE_UNIVERSE} universe")
    try:
        key = serialization.load_pem_private_key(checked["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise _bad("private_key is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _bad("private_key must be an RSA key (Google signs with RS256)")
    return {field: checked[field] for field in _SERVICE_ACCOUNT_FIELDS if field in checked}


_Bundle = _Microsoft365 | _GoogleRefreshToken | _GoogleServiceAccount

_PARSERS: Final[Mapping[str, Callable[[Mapping[str, object]], _Bundle]]] = {
    MICROSOFT365: _Microsoft365.parse,
    GOOGLE_REFRESH_TOKEN: _GoogleRefreshToken.parse,
    GOOGLE_SERVICE_ACCOUNT: _GoogleServiceAccount.parse,
}


def microsoft365_credentials(
    *,
    tenant_id: str,
    client_id: str,
    client_secret: str,
    authority_host: str = MICROSOFT_AUTHORITY_HOST,
) -> str:
    """The stored secret of a Microsoft 365 sender that logs in app-only.

    ``tenant_id`` is the directory (tenant) id or its domain; ``client_id`` and
    ``client_secret`` are the Entra ID application's. ``authority_host`` changes
    only for national clouds (or tests).
    """
    bundle = _Microsoft365(
        tenant_id=_tenant(tenant_id),
        client_id=_text(client_id, "client_id"),
        client_secret=_text(client_secret, "client_secret"),
        authority_host=_https_url(authority_host, "authority_host", path=False),
    )
    return _dumps(MICROSOFT365, attrs.asdict(bundle))


def google_refresh_token_credentials(
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    token_uri: str = GOOGLE_TOKEN_URI,
) -> str:
    """The stored secret of a Google sender that logs in as a user who consented once.

    The refresh token must have been granted the ``https://mail.google.com/`` scope.
    """
    bundle = _GoogleRefreshToken(
        client_id=_text(client_id, "client_id"),
        client_secret=_text(client_secret, "client_secret"),
        refresh_token=_text(refresh_token, "refresh_token"),
        token_uri=_https_url(token_uri, "token_uri", path=True),
    )
    return _dumps(GOOGLE_REFRESH_TOKEN, attrs.asdict(bundle))


def google_service_account_credentials(service_account_info: Mapping[str, object] | str) -> str:
    """The stored secret of a Google sender through a service account's key.

    ``service_account_info`` is the JSON key file's content (text or parsed). The
    service account needs domain-wide delegation of ``https://mail.google.com/``;
    the sender's username is the Workspace user it acts as (the JWT ``sub``).
    """
    info: object = service_account_info
    if isinstance(service_account_info, str):
        try:
            info = json.loads(service_account_info)
        except ValueError:
            raise _bad("the service account key is not JSON") from None
    if not isinstance(info, Mapping):
        raise _bad("the service account key must be a JSON object")
    return _dumps(GOOGLE_SERVICE_ACCOUNT, {"service_account": _service_account_info(info)})


def _fields(secret: str) -> dict[str, object] | None:
    """The JSON object of a built-in bundle, or None if ``secret`` is not one."""
    if not secret.lstrip().startswith("{"):
        return None
    try:
        fields = json.loads(secret)
    except ValueError:
        return None
    if not isinstance(fields, dict) or fields.get("kind") not in _PARSERS:
        return None
    return fields


def bundle_kind(secret: str) -> str | None:
    """The kind of a built-in credential bundle (``MICROSOFT365``, ``GOOGLE_REFRESH_TOKEN``,
    ``GOOGLE_SERVICE_ACCOUNT``), or None for anything else, e.g. a host's own refresh
    token. A bundle of a known kind but a newer format version still gives its kind."""
    fields = _fields(secret)
    return None if fields is None else str(fields["kind"])


def _parse(secret: str) -> _Bundle:
    fields = _fields(secret)
    if fields is None:
        raise _bad("the stored secret is not a pwrecovery OAuth credential bundle")
    version = fields.get("version")
    if version != BUNDLE_VERSION:
        raise _bad(
            f"the credential bundle has format version {version!r};"
            f" this pwrecovery reads version {BUNDLE_VERSION}"
        )
    return _PARSERS[str(fields["kind"])](fields)


def with_refresh_token(secret: str, refresh_token: str) -> str:
    """The Google refresh-token bundle ``secret`` with its refresh token replaced, to
    store back when ``AccessToken.refresh_token`` says the endpoint rotated it."""
    bundle = _parse(secret)
    if not isinstance(bundle, _GoogleRefreshToken):
        raise _bad("only a Google refresh-token bundle holds a refresh token")
    rotated = attrs.evolve(bundle, refresh_token=_text(refresh_token, "refresh_token"))
    return _dumps(GOOGLE_REFRESH_TOKEN, attrs.asdict(rotated))


# -- the border: library exceptions become OAuthError --------------------------------

_Translator = Callable[[BaseException, tuple[str, ...]], OAuthError]
_Table = tuple[tuple[type[BaseException], _Translator], ...]


def _as(code: OAuthErrorCode, what: str) -> _Translator:
    def translate(error: BaseException, secrets: tuple[str, ...]) -> OAuthError:
        return OAuthError(code, f"{what} ({_summary(error, secrets)})")

    return translate


def _refused(
    error: str, description: object, aadsts: int | None, secrets: tuple[str, ...]
) -> OAuthError:
    """The endpoint's OAuth error, with the first line of its description."""
    if aadsts is None:
        found = _AADSTS.search(str(description or ""))
        aadsts = int(found.group(1)) if found else None
    first_line = next(iter(str(description or "").strip().splitlines()), "")
    said = _scrubbed(first_line, secrets)[:_MAX_DETAIL]
    message = f"the token endpoint refused the request: {error}" + (f": {said}" if said else "")
    return OAuthError("refused", message, error=error, aadsts=aadsts)


def _across_border(action: Callable[[], T], table: _Table, secrets: tuple[str, ...]) -> T:
    """Run ``action``; what it raises leaves as the ``OAuthError`` the first row of
    ``table`` that matches makes (anything else: ``protocol``). The library's exception
    is dropped, not chained: the request it holds may carry a secret."""
    try:
        return action()
    except OAuthError:
        raise
    except Exception as error:  # noqa: BLE001 (every library failure is translated here)
        translate = next(
            (row for kind, row in table if isinstance(error, kind)),
            _as("protocol", "unexpected failure in the OAuth library"),
        )
        failure = translate(error, secrets)
    raise failure  # outside the handler, so the library's exception is not its context


def _msal_discovery_refused(error: BaseException, secrets: tuple[str, ...]) -> OAuthError:
    """msal raises ValueError when the tenant's OpenID configuration is refused (an
    unknown tenant: AADSTS90002); Entra's answer is only in the texts of the chain."""
    current: BaseException | None = error
    for _ in range(_MAX_CHAIN):
        if current is None:
            break
        refused = _DISCOVERY_REFUSED.search(str(current))
        if refused:
            try:
                answer = json.loads(refused.group(1))
            except ValueError:
                break
            if isinstance(answer, dict) and isinstance(answer.get("error"), str):
                codes = answer.get("error_codes")
                aadsts = codes[0] if isinstance(codes, list) and codes else None
                return _refused(
                    answer["error"],
                    answer.get("error_description"),
                    aadsts if isinstance(aadsts, int) else None,
                    secrets,
                )
        current = current.__cause__ or current.__context__
    return _as("protocol", "unexpected answer from the Entra ID endpoint")(error, secrets)


@functools.cache
def _msal_table() -> _Table:
    import msal.exceptions  # noqa: PLC0415 (an optional extra, imported lazily)
    import requests  # noqa: PLC0415

    return (
        # msal raises it for a 5xx answer (through its throttling HTTP client).
        (msal.exceptions.MsalServiceError, _as("unreachable", "the Entra ID endpoint failed")),
        (msal.exceptions.MsalError, _as("protocol", "unexpected answer from Entra ID")),
        # Connection refused, TLS and certificate failures, timeouts, broken transfers.
        (requests.RequestException, _as("unreachable", "the Entra ID endpoint is unreachable")),
        (ValueError, _msal_discovery_refused),  # also a JSON-less answer (JSONDecodeError)
        (OSError, _as("unreachable", "the Entra ID endpoint is unreachable")),
    )


def _google_refresh_error(error: BaseException, secrets: tuple[str, ...]) -> OAuthError:
    """google-auth's RefreshError: ``args[1]`` is the endpoint's decoded answer."""
    answer = error.args[1] if len(error.args) > 1 else None
    if getattr(error, "retryable", False):  # 5xx, internal_failure, temporarily_unavailable
        return _as("unreachable", "the Google token endpoint failed")(error, secrets)
    if isinstance(answer, Mapping) and isinstance(answer.get("error"), str):
        return _refused(answer["error"], answer.get("error_description"), None, secrets)
    return _as("protocol", "unexpected answer from the Google token endpoint")(error, secrets)


@functools.cache
def _google_table() -> _Table:
    import requests  # noqa: PLC0415 (an optional extra, imported lazily)
    from google.auth import exceptions  # noqa: PLC0415

    unreachable = _as("unreachable", "the Google token endpoint is unreachable")
    return (
        (exceptions.TransportError, unreachable),
        (exceptions.RefreshError, _google_refresh_error),
        # from_service_account_info: fields missing or a key it cannot read.
        (exceptions.DefaultCredentialsError, _as("bad_credentials", "unusable service account")),
        (requests.RequestException, unreachable),
        (OSError, unreachable),  # e.g. a CA bundle that cannot be read
        (ValueError, _as("protocol", "unexpected answer from the Google token endpoint")),
    )


def _missing(extra: str, error: ImportError) -> OAuthError:
    return OAuthError(
        "extra_missing",
        f"this sender needs the optional library {error.name or 'for OAuth'}:"
        f" pip install 'pwrecovery[{extra}]'",
    )


# -- the provider ---------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _expires_at(start: datetime, expires_in: object) -> datetime | None:
    if expires_in is None:
        return None
    try:
        seconds = int(str(expires_in))
    except ValueError:
        message = "the token endpoint sent an expires_in that is not a number"
        raise OAuthError("protocol", message) from None
    return start + timedelta(seconds=seconds)


class BuiltinTokenProvider:
    """Access tokens for senders whose stored secret is a built-in credential bundle.

    ``verify`` is passed to the HTTP layer (``requests``): True checks the server's
    certificate against the CA bundle requests uses (certifi's, or the file in
    ``REQUESTS_CA_BUNDLE``); a path names a CA bundle file of your own. ``timeout``
    bounds each HTTP request, in seconds.

    Microsoft 365: one msal application is kept per bundle, so its in-memory token
    cache serves a token until about five minutes before it expires. Google: every
    call asks the token endpoint.

    It returns an ``AccessToken``; the service's ``TokenProvider`` wants the token's
    text, so a host adapts it (``.access_token(...).token``) and stores back a
    rotated Google refresh token.
    """

    def __init__(self, *, verify: bool | str | PathLike[str] = True, timeout: float = 10.0) -> None:
        if not isinstance(verify, bool):
            verify = fspath(verify)
            if not Path(verify).is_file():
                msg = f"verify names no CA bundle file: {verify}"
                raise ValueError(msg)
        if not timeout > 0:
            msg = "timeout must be a positive number of seconds"
            raise ValueError(msg)
        self._verify: bool | str = verify
        self._timeout = float(timeout)
        self._apps: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BuiltinTokenProvider(verify={self._verify!r}, timeout={self._timeout!r})"

    def access_token(self, account: SenderAccount, secret: str | None) -> AccessToken:
        """A token for ``account``, from its stored ``secret`` (a credential bundle).

        Raises only ``OAuthError``.
        """
        if not secret:
            raise _bad(f"sender {account.id} has no stored OAuth credentials")
        match _parse(secret):
            case _Microsoft365() as bundle:
                return self._microsoft365(bundle, secret)
            case _GoogleRefreshToken() as bundle:
                return self._google_refresh_token(bundle)
            case _GoogleServiceAccount() as bundle:
                return self._google_service_account(bundle, account.settings.username)

    # Microsoft 365 -----------------------------------------------------------------

    def _microsoft365(self, bundle: _Microsoft365, secret: str) -> AccessToken:
        try:
            import msal  # noqa: PLC0415 (an optional extra, imported lazily)
        except ImportError as error:
            raise _missing("m365", error) from None
        secrets = bundle.secrets()
        start = _now()

        def acquire() -> object:
            app = self._msal_app(msal, bundle, secret)
            return app.acquire_token_for_client(scopes=[MICROSOFT365_SCOPE])

        result = _across_border(acquire, _msal_table(), secrets)
        if not isinstance(result, dict):
            raise OAuthError("protocol", "msal returned no answer from the Entra ID endpoint")
        if "error" in result:
            codes = result.get("error_codes")
            first = codes[0] if isinstance(codes, list) and codes else None
            aadsts = first if isinstance(first, int) else None
            raise _refused(str(result["error"]), result.get("error_description"), aadsts, secrets)
        return AccessToken(
            token=_access_token_in(result.get("access_token")),
            expires_at=_expires_at(start, result.get("expires_in")),
        )

    def _msal_app(self, msal: Any, bundle: _Microsoft365, secret: str) -> Any:  # noqa: ANN401 (msal is untyped)
        """The msal application for this bundle, made (and its tenant discovered) once."""
        key = hashlib.sha256(secret.encode()).hexdigest()
        with self._lock:
            app = self._apps.get(key)
        if app is not None:
            return app
        import requests  # noqa: PLC0415 (msal's own dependency)

        session = requests.Session()
        session.mount("https://", requests.adapters.HTTPAdapter(max_retries=1))  # as msal does
        app = msal.ConfidentialClientApplication(
            bundle.client_id,
            client_credential=bundle.client_secret,
            authority=bundle.authority,
            # No instance discovery: msal would otherwise ask login.microsoftonline.com
            # about any authority host it does not know (a national cloud, a test).
            instance_discovery=False,
            http_client=_PerRequest(session, self._verify, self._timeout),
        )
        with self._lock:
            app = self._apps.setdefault(key, app)
            while len(self._apps) > _MAX_APPS:
                del self._apps[next(iter(self._apps))]
        return app

    # Google ----------------------------------------------------------------------

    def _google_refresh_token(self, bundle: _GoogleRefreshToken) -> AccessToken:
        try:
            from google.oauth2.credentials import Credentials  # noqa: PLC0415 (optional extra)
        except ImportError as error:
            raise _missing("google", error) from None
        credentials = Credentials(
            token=None,
            refresh_token=bundle.refresh_token,
            token_uri=bundle.token_uri,
            client_id=bundle.client_id,
            client_secret=bundle.client_secret,
            scopes=[GOOGLE_SCOPE],
        )
        self._google_refresh(credentials, bundle.secrets())
        rotated = credentials.refresh_token
        return AccessToken(
            token=_access_token_in(credentials.token),
            expires_at=_google_expiry(credentials.expiry),
            refresh_token=rotated if rotated and rotated != bundle.refresh_token else None,
        )

    def _google_service_account(self, bundle: _GoogleServiceAccount, subject: str) -> AccessToken:
        try:
            from google.oauth2 import service_account  # noqa: PLC0415 (optional extra)
        except ImportError as error:
            raise _missing("google", error) from None
        secrets = bundle.secrets()
        _hide_assertions_from_google_logs()

        def make() -> GoogleServiceCredentials:
            made: GoogleServiceCredentials = service_account.Credentials.from_service_account_info(
                dict(bundle.info), scopes=[GOOGLE_SCOPE], subject=_text(subject, "username")
            )
            return made

        credentials = _across_border(make, _google_table(), secrets)
        self._google_refresh(credentials, secrets)
        return AccessToken(
            token=_access_token_in(credentials.token),
            expires_at=_google_expiry(credentials.expiry),
        )

    def _google_refresh(
        self,
        credentials: GoogleUserCredentials | GoogleServiceCredentials,
        secrets: tuple[str, ...],
    ) -> None:
        try:
            import requests  # noqa: PLC0415 (optional extra)
            from google.auth.transport.requests import Request  # noqa: PLC0415
        except ImportError as error:
            raise _missing("google", error) from None

        def refresh() -> None:
            with requests.Session() as session:
                # Per request, not on the session: see _PerRequest. google-auth passes a
                # timeout of its own (120 s) unless given one.
                transport = functools.partial(
                    Request(session), timeout=self._timeout, verify=self._verify
                )
                credentials.refresh(transport)  # type: ignore[no-untyped-call] # (decorated, untyped)

        _across_border(refresh, _google_table(), secrets)


class _AssertionRedacted(logging.Filter):
    """google-auth (2.63) logs each token request at DEBUG with its body in the record's
    ``httpRequest`` extra; it hashes client secrets, refresh and access tokens, but not a
    service account's signed ``assertion``, a credential good for an hour. This blots it
    out of those records; nothing else in them is touched."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "httpRequest", None)
        body = request.get("body") if isinstance(request, dict) else None
        if isinstance(request, dict) and isinstance(body, dict) and "assertion" in body:
            record.httpRequest = {**request, "body": {**body, "assertion": "[redacted]"}}
        return True


_GOOGLE_TRANSPORT_LOGGER: Final = "google.auth.transport.requests"


def _hide_assertions_from_google_logs() -> None:
    logger = logging.getLogger(_GOOGLE_TRANSPORT_LOGGER)
    if not any(isinstance(f, _AssertionRedacted) for f in logger.filters):
        logger.addFilter(_AssertionRedacted())


class _PerRequest:
    """The HTTP client msal is given: a requests session whose every request gets our
    ``verify`` and timeout. Per request, because requests lets REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE override the ``verify`` of a session. msal calls get, post and close."""

    def __init__(self, session: requests.Session, verify: bool | str, timeout: float) -> None:
        self._session = session
        self._options = {"verify": verify, "timeout": timeout}

    def get(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401 (requests' own)
        return self._session.get(url, **{**kwargs, **self._options})

    def post(self, url: str, **kwargs: Any) -> requests.Response:  # noqa: ANN401 (requests' own)
        return self._session.post(url, **{**kwargs, **self._options})

    def close(self) -> None:
        self._session.close()


def _access_token_in(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise OAuthError("protocol", "the token endpoint's answer holds no access token")
    return value


def _google_expiry(expiry: object) -> datetime | None:
    """google-auth keeps ``expiry`` as a naive datetime in UTC."""
    if expiry is None:
        return None
    if not isinstance(expiry, datetime):
        raise OAuthError("protocol", "google-auth gave an expiry that is not a datetime")
    return expiry.replace(tzinfo=UTC) if expiry.tzinfo is None else expiry.astimezone(UTC)
