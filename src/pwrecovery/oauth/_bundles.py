"""Credential bundles: the JSON texts stored, sealed, as a built-in OAuth sender's secret."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import urlsplit

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pwrecovery.oauth._common import (
    _MULTI_TENANT,
    _TENANT,
    BUNDLE_VERSION,
    GOOGLE_REFRESH_TOKEN,
    GOOGLE_SERVICE_ACCOUNT,
    GOOGLE_TOKEN_URI,
    GOOGLE_UNIVERSE,
    MICROSOFT365,
    MICROSOFT_AUTHORITY_HOST,
    _bad,
)

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
