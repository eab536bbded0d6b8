"""A real OAuth 2.0 token endpoint on loopback, over TLS, for the built-in token providers.

It speaks enough of two real protocols for the real client libraries (msal and
google-auth, over requests) to talk to it unchanged:

- Entra ID v2: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (the tenant
  discovery msal does; a domain tenant resolves to a GUID, as Entra does) and
  ``POST /{tenant}/oauth2/v2.0/token`` for the client credentials grant, checking
  the client id, the client secret (form body or HTTP Basic) and the ``scope``;
  errors as Entra sends them: 400/401 JSON with ``error``, ``error_description``
  ("AADSTS7000215: Invalid client secret provided…", then trace lines),
  ``error_codes``, ``trace_id``, ``correlation_id``, ``error_uri``;
- Google: ``POST /token`` for the refresh token grant (client id, client secret,
  refresh token, scope; the refresh token can be rotated) and for the JWT bearer
  grant of a service account (an RS256 assertion verified with the account's public
  key; ``iss``, ``sub``, ``scope``, ``aud`` (Google's own token URL, as Google
  requires), ``iat`` and ``exp`` checked); errors as
  Google sends them (``invalid_grant``, ``invalid_client``, ``unauthorized_client``…).

The server counts the requests of each grant (``counts``), keeps every token it
issued (``issued``) and calls ``on_issue`` callbacks, so that a test can hand an
access token to the SMTP test server (``SmtpServer.tokens``) before the client logs in.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import socket
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pwrecovery.testing.smtp import HOST, Certificates

ENTRA_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audience Google requires in a service account's assertion, whatever URL it is
# posted to (google-auth always writes this one).
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
MAX_ASSERTION_LIFETIME = 3600  # Google accepts assertions of at most an hour
CLOCK_SKEW = 300


@attrs.frozen
class IssuedToken:
    """One access token the server issued, with what it was issued for."""

    grant: str  # "client_credentials", "refresh_token" or "jwt-bearer"
    client: str  # the client id, or the service account's e-mail address
    subject: str | None  # the Google user (refresh token owner or JWT "sub"); None for Entra
    access_token: str = attrs.field(repr=False)
    expires_in: int
    refresh_token: str | None = attrs.field(default=None, repr=False)  # set when rotated


@attrs.define
class ServiceAccount:
    """A service account the server knows: its public key and whom it may act as."""

    public_key: rsa.RSAPublicKey
    subjects: set[str]
    scopes: set[str] = attrs.Factory(lambda: {GOOGLE_SCOPE})


@attrs.define
class RefreshGrant:
    """A Google refresh token: its client, the user who consented, and the scopes."""

    client_id: str
    subject: str
    scopes: set[str] = attrs.Factory(lambda: {GOOGLE_SCOPE})


@attrs.define(eq=False)
class TokenServer:
    """State and switches of a running token server; tests configure and read it."""

    port: int = 0
    expires_in: int = 3599
    rotate_refresh_tokens: bool = False
    # Answer every request with this HTTP status and an HTML page (e.g. 503).
    fail_with_status: int | None = None
    # Answer every request with 200 and an HTML page (a captive portal, say).
    answer_garbage: bool = False
    # Entra ID: tenant (GUID or domain) -> GUID; (GUID, client id) -> client secret.
    tenants: dict[str, str] = attrs.Factory(dict)
    entra_apps: dict[tuple[str, str], str] = attrs.Factory(dict)
    entra_scope: str = ENTRA_SCOPE
    # Google: client id -> client secret; refresh token -> grant; e-mail -> service account.
    google_clients: dict[str, str] = attrs.Factory(dict)
    refresh_tokens: dict[str, RefreshGrant] = attrs.Factory(dict)
    service_accounts: dict[str, ServiceAccount] = attrs.Factory(dict)
    counts: Counter[str] = attrs.Factory(Counter)
    issued: list[IssuedToken] = attrs.Factory(list)
    on_issue: list[Callable[[IssuedToken], None]] = attrs.Factory(list)
    requests: list[str] = attrs.Factory(list)  # "METHOD path" of every request
    assertions: list[str] = attrs.Factory(list)  # every JWT assertion received
    lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    # -- what the clients are configured with ----------------------------------------

    @property
    def authority_host(self) -> str:
        """What ``microsoft365_credentials(authority_host=...)`` takes."""
        return f"https://{HOST}:{self.port}"

    @property
    def google_token_uri(self) -> str:
        """Google's ``token_uri``: for a refresh token bundle and a service account key."""
        return f"https://{HOST}:{self.port}/token"

    # -- configuration -----------------------------------------------------------------

    def add_entra_app(self, tenant: str, client_id: str, client_secret: str) -> str:
        """Register an application in ``tenant`` (a domain or a GUID); return the GUID."""
        guid = self.tenants.get(tenant) or str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant))
        self.tenants[tenant] = self.tenants[guid] = guid
        self.entra_apps[guid, client_id] = client_secret
        return guid

    def add_refresh_token(
        self, refresh_token: str, *, client_id: str, client_secret: str, subject: str
    ) -> None:
        self.google_clients[client_id] = client_secret
        self.refresh_tokens[refresh_token] = RefreshGrant(client_id, subject)

    def add_service_account(
        self, client_email: str, public_key: rsa.RSAPublicKey, subjects: set[str]
    ) -> None:
        self.service_accounts[client_email] = ServiceAccount(public_key, set(subjects))

    def reset(self) -> None:
        """Forget every registration, counter and issued token; every switch back off."""
        with self.lock:
            self.expires_in = 3599
            self.rotate_refresh_tokens = False
            self.fail_with_status = None
            self.answer_garbage = False
            self.entra_scope = ENTRA_SCOPE
            for table in (
                self.tenants,
                self.entra_apps,
                self.google_clients,
                self.refresh_tokens,
                self.service_accounts,
            ):
                table.clear()
            self.counts.clear()
            self.issued.clear()
            self.on_issue.clear()
            self.requests.clear()
            self.assertions.clear()

    def _issue(
        self, grant: str, client: str, subject: str | None, *, rotated: str | None = None
    ) -> IssuedToken:
        prefix = "entra-at" if grant == "client_credentials" else "ya29.loopback"
        token = IssuedToken(
            grant=grant,
            client=client,
            subject=subject,
            access_token=f"{prefix}.{secrets.token_urlsafe(32)}",
            expires_in=self.expires_in,
            refresh_token=rotated,
        )
        with self.lock:
            self.issued.append(token)
            callbacks = list(self.on_issue)
        for callback in callbacks:
            callback(token)
        return token


# -- answers ----------------------------------------------------------------------------

Answer = tuple[int, dict[str, Any]]


def _entra_error(status: int, error: str, aadsts: int, text: str) -> Answer:
    """An error exactly shaped like Entra ID's: the AADSTS text, then trace lines."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return status, {
        "error": error,
        "error_description": (
            f"AADSTS{aadsts}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
            f"\r\nTimestamp: {stamp}"
        ),
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }


def _google_error(status: int, error: str, description: str) -> Answer:
    return status, {"error": error, "error_description": description}


def _openid_configuration(server: TokenServer, tenant: str) -> Answer:
    guid = server.tenants.get(tenant)
    if guid is None:
        return _entra_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID"
            " and are signing into the correct cloud.",
        )
    base = f"{server.authority_host}/{guid}"
    return 200, {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{server.authority_host}/{guid}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def _client_secret(form: dict[str, str], authorization: str | None) -> tuple[str, str]:
    """The client id and secret, from HTTP Basic (client_secret_basic) or the form."""
    if authorization and authorization.startswith("Basic "):
        try:
            pair = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return form.get("client_id", ""), ""
        client_id, _, secret = pair.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _entra_token(  # noqa: PLR0911 (one early return per refusal Entra ID makes)
    server: TokenServer, tenant: str, form: dict[str, str], authorization: str | None
) -> Answer:
    guid = server.tenants.get(tenant)
    if guid is None:
        return _openid_configuration(server, tenant)  # the same invalid_tenant answer
    grant = form.get("grant_type")
    if not grant:
        return _entra_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    if grant != "client_credentials":
        return _entra_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    server.counts["client_credentials"] += 1
    client_id, secret = _client_secret(form, authorization)
    expected = server.entra_apps.get((guid, client_id))
    if expected is None:
        return _entra_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{guid}'.",
        )
    if not secret:
        return _entra_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion'"
            " or 'client_secret'.",
        )
    if not secrets.compare_digest(secret, expected):
        return _entra_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is"
            " the client secret value, not the client secret ID, for a secret added to app"
            f" '{client_id}'.",
        )
    scope = form.get("scope", "")
    if not scope:
        return _entra_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    if scope != server.entra_scope:
        if not scope.endswith("/.default"):
            return _entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows"
                " must have a scope value with /.default suffixed to the resource identifier"
                " (application ID URI).",
            )
        return _entra_error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {scope.removesuffix('/.default')} was not found in"
            f" the tenant named {guid}.",
        )
    issued = server._issue("client_credentials", client_id, None)
    return 200, {
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    }


def _google_refresh(server: TokenServer, form: dict[str, str]) -> Answer:
    server.counts["refresh_token"] += 1
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    expected = server.google_clients.get(client_id)
    if expected is None:
        return _google_error(401, "invalid_client", "The OAuth client was not found.")
    if not secrets.compare_digest(client_secret, expected):
        return _google_error(401, "invalid_client", "Unauthorized")
    refresh_token = form.get("refresh_token", "")
    with server.lock:
        grant = server.refresh_tokens.get(refresh_token)
    if grant is None:
        return _google_error(400, "invalid_grant", "Token has been expired or revoked.")
    if grant.client_id != client_id:
        return _google_error(401, "unauthorized_client", "Unauthorized")
    requested = set(form.get("scope", " ".join(grant.scopes)).split())
    if not requested or not requested <= grant.scopes:
        return _google_error(400, "invalid_scope", "Bad Request")
    rotated = None
    if server.rotate_refresh_tokens:
        rotated = f"1//loopback-{secrets.token_urlsafe(32)}"
        with server.lock:  # the old refresh token stops working, as after a rotation
            del server.refresh_tokens[refresh_token]
            server.refresh_tokens[rotated] = grant
    issued = server._issue("refresh_token", client_id, grant.subject, rotated=rotated)
    answer: dict[str, Any] = {
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "scope": " ".join(sorted(requested)),
        "token_type": "Bearer",
    }
    if rotated is not None:
        answer["refresh_token"] = rotated
    return 200, answer


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decoded(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """A JWT's header, claims, signed bytes and signature; None if it is not a JWT."""
    parts = assertion.split(".")
    if len(parts) != 3:  # header, claims, signature
        return None
    try:
        header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _google_jwt_bearer(  # noqa: PLR0911 (one early return per refusal Google makes)
    server: TokenServer, form: dict[str, str]
) -> Answer:
    server.counts["jwt-bearer"] += 1
    with server.lock:
        server.assertions.append(form.get("assertion", ""))
    decoded = _decoded(form.get("assertion", ""))
    if decoded is None:
        return _google_error(400, "invalid_grant", "Invalid JWT: Invalid token format.")
    header, claims, signed, signature = decoded
    if header.get("alg") != "RS256":
        return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
    account = server.service_accounts.get(str(claims.get("iss")))
    if account is None:
        return _google_error(400, "invalid_grant", "Invalid grant: account not found")
    try:
        account.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
    if claims.get("aud") != GOOGLE_AUDIENCE:
        return _google_error(
            400,
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_AUDIENCE}",
        )
    if not _in_time(claims.get("iat"), claims.get("exp")):
        return _google_error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable"
            " timeframe. Check your iat and exp values in the JWT claim.",
        )
    scopes = set(str(claims.get("scope", "")).split())
    if not scopes:
        return _google_error(
            400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or subject not in account.subjects:
        return _google_error(400, "invalid_grant", "Invalid email or User ID")
    if not scopes <= account.scopes:
        return _google_error(
            401,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not"
            " authorized for any of the scopes requested.",
        )
    issued = server._issue("jwt-bearer", str(claims["iss"]), subject)
    return 200, {
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
    }


def _in_time(iat: object, exp: object) -> bool:
    """Google's rule: issued now (give or take the skew), valid for at most an hour."""
    now = time.time()
    return (
        isinstance(iat, int)
        and isinstance(exp, int)
        and exp > now
        and iat <= now + CLOCK_SKEW
        and exp - iat <= MAX_ASSERTION_LIFETIME
    )


def _google_token(server: TokenServer, form: dict[str, str]) -> Answer:
    grant = form.get("grant_type", "")
    if grant == "refresh_token":
        return _google_refresh(server, form)
    if grant == JWT_BEARER:
        return _google_jwt_bearer(server, form)
    return _google_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")


# -- HTTP ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _TlsHttpServer
    server_version = "loopback-oauth/1"

    @property
    def state(self) -> TokenServer:
        return self.server.state

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.do_handshake()  # in this thread: a failed handshake harms no other
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        """Quiet: the request lines are kept in ``state.requests`` instead."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self._note("GET", path)
        if self._switched():
            return
        pieces = path.strip("/").split("/")
        if pieces[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            self.state.counts["openid-configuration"] += 1
            self._json(*_openid_configuration(self.state, pieces[0]))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        self._note("POST", path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self._switched():
            return
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            self._json(400, {"error": "invalid_request", "error_description": "Bad Request"})
            return
        form = {key: values[0] for key, values in parse_qs(body).items()}
        pieces = path.strip("/").split("/")
        if path == "/token":
            self._json(*_google_token(self.state, form))
        elif pieces[1:] == ["oauth2", "v2.0", "token"]:
            authorization = self.headers["Authorization"]
            self._json(*_entra_token(self.state, pieces[0], form, authorization))
        else:
            self._json(404, {"error": "not_found"})

    def _note(self, method: str, path: str) -> None:
        with self.state.lock:
            self.state.requests.append(f"{method} {path}")

    def _switched(self) -> bool:
        status = self.state.fail_with_status or (200 if self.state.answer_garbage else None)
        if status is None:
            return False
        page = b"<html><body>Service unavailable</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)
        return True

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store, no-cache")
        self.send_header("Pragma", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: TokenServer, context: ssl.SSLContext) -> None:
        self.state = state
        self.context = context
        super().__init__((HOST, 0), _Handler)

    def get_request(self) -> tuple[socket, Any]:
        connection, address = super().get_request()
        # The handshake happens in the handler's thread (see Handler.setup).
        wrapped = self.context.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        )
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that refuse our certificate or hang up are part of the tests."""


@contextmanager
def running_token_server(certificates: Certificates) -> Iterator[TokenServer]:
    """A token server on a free loopback port, with a certificate from the test CA."""
    state = TokenServer()
    server = _TlsHttpServer(state, certificates.server_context())
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def make_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info(
    key: rsa.RSAPrivateKey, client_email: str, token_uri: str
) -> dict[str, str]:
    """A service account key file's content, as Google makes them, for ``key``."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return {
        "type": "service_account",
        "project_id": "pwrecovery-tests",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/tests",
        "universe_domain": "googleapis.com",
    }
