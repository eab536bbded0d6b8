"""``BuiltinTokenProvider``: a bundle in, an ``AccessToken`` out, through msal or google-auth;
every library exception becomes an ``OAuthError`` at this border (the tables are in
``_border``)."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from datetime import UTC, datetime, timedelta
from os import PathLike, fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pwrecovery.models import SenderAccount

if TYPE_CHECKING:
    import requests
    from google.oauth2.credentials import Credentials as GoogleUserCredentials
    from google.oauth2.service_account import Credentials as GoogleServiceCredentials

from pwrecovery.oauth._border import (
    _across_border,
    _google_table,
    _missing,
    _msal_table,
    _refused,
)
from pwrecovery.oauth._bundles import (
    _GoogleRefreshToken,
    _GoogleServiceAccount,
    _Microsoft365,
    _parse,
    _text,
)
from pwrecovery.oauth._common import (
    _MAX_APPS,
    GOOGLE_SCOPE,
    MICROSOFT365_SCOPE,
    AccessToken,
    OAuthError,
    _bad,
)


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
