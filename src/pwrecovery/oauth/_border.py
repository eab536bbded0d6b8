"""The border of ``BuiltinTokenProvider``: msal's, google-auth's and requests' exceptions
become ``OAuthError``.

``_across_border`` runs one call into a library; what it raises leaves as the
``OAuthError`` the first matching row of a table makes (``_msal_table``,
``_google_table``; anything else is ``protocol``), with secrets scrubbed from the
summary and the library's exception dropped, not chained. An endpoint's own
refusal (``_refused``) keeps its OAuth error and AADSTS code; a missing optional
library is ``extra_missing`` (``_missing``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping

from pwrecovery.oauth._common import (
    _AADSTS,
    _DISCOVERY_REFUSED,
    _MAX_CHAIN,
    _MAX_DETAIL,
    OAuthError,
    OAuthErrorCode,
    T,
    _scrubbed,
    _summary,
)

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
