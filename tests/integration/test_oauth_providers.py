"""The built-in token providers (pwrecovery.oauth) against a real token endpoint on loopback.

msal and google-auth run unchanged, over requests and TLS, against tests/oauth_server.py,
which speaks Entra ID v2 and Google's token endpoint. No test reaches beyond loopback:
every name lookup is checked (``loopback_only``).
"""

from __future__ import annotations

import json
import logging
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import pwrecovery as pr
from pwrecovery.oauth import (
    GOOGLE_REFRESH_TOKEN,
    GOOGLE_SERVICE_ACCOUNT,
    MICROSOFT365,
    AccessToken,
    BuiltinTokenProvider,
    OAuthError,
    bundle_kind,
    google_refresh_token_credentials,
    google_service_account_credentials,
    microsoft365_credentials,
    with_refresh_token,
)
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import (
    HOST,
    Certificates,
    SmtpServer,
    free_port,
    make_certificates,
    silent_server,
)
from tests.helpers import cheap_hasher
from tests.oauth_server import (
    IssuedToken,
    TokenServer,
    make_rsa_key,
    running_token_server,
    service_account_info,
)

MAILBOX = "envios@contoso.mx"
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6f1c2a9e-7b3d-4e5f-8a9b-0c1d2e3f4a5b"
CLIENT_SECRET = "Xq8Q~entra.client-secret_value-0123456789abcd"
WRONG_SECRET = "Zz9Z~an.old-entra-secret_value-9876543210zyxw"
GOOGLE_CLIENT_ID = "1234567890-abcdef.apps.googleusercontent.com"
GOOGLE_SECRET = "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yz"
WRONG_GOOGLE_SECRET = "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"
REFRESH_TOKEN = "1//0g-stored-refresh-token-value-for-the-tests"
SERVICE_ACCOUNT = "envios@pwrecovery-tests.iam.gserviceaccount.com"
KINDS = (MICROSOFT365, GOOGLE_REFRESH_TOKEN, GOOGLE_SERVICE_ACCOUNT)


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every name lookup must be for loopback; anything else is refused and noted."""
    real = socket.getaddrinfo
    outside: list[str] = []

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in {HOST, "localhost"}:
            outside.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "outside loopback, refused by the test")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield outside
    assert [] == outside


@pytest.fixture(scope="session")
def service_account_key() -> rsa.RSAPrivateKey:
    return make_rsa_key()


@pytest.fixture(scope="session")
def _endpoint_session(certificates: Certificates) -> Iterator[TokenServer]:
    with running_token_server(certificates) as server:
        yield server


@pytest.fixture
def endpoint(_endpoint_session: TokenServer, service_account_key: rsa.RSAPrivateKey) -> TokenServer:
    """The loopback token endpoint, knowing our Entra app, Google client and service account."""
    server = _endpoint_session
    server.reset()
    server.add_entra_app(TENANT, CLIENT_ID, CLIENT_SECRET)
    server.add_refresh_token(
        REFRESH_TOKEN, client_id=GOOGLE_CLIENT_ID, client_secret=GOOGLE_SECRET, subject=MAILBOX
    )
    server.add_service_account(SERVICE_ACCOUNT, service_account_key.public_key(), {MAILBOX})
    return server


@pytest.fixture
def provider(certificates: Certificates) -> BuiltinTokenProvider:
    """The provider under test, trusting the test CA."""
    return BuiltinTokenProvider(verify=str(certificates.ca_file), timeout=5.0)


class KeptRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record at DEBUG, of the root logger and of msal, google-auth and urllib3
    (google-auth stops its records at "google" unless that logger is configured)."""
    handler = KeptRecords()
    loggers = [logging.getLogger(name) for name in ("", "msal", "google", "urllib3")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler.records
    for logger, (level, propagate) in zip(loggers, saved, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def account(username: str = MAILBOX) -> pr.SenderAccount:
    settings = pr.SenderSettings(
        HOST,
        587,
        pr.Security.STARTTLS,
        username,
        username,
        authentication=pr.Authentication.XOAUTH2,
    )
    return pr.SenderAccount("sender-1", "SUPERVISOR", settings, datetime.now(UTC))


def m365_bundle(authority_host: str, *, secret: str = CLIENT_SECRET, tenant: str = TENANT) -> str:
    return microsoft365_credentials(
        tenant_id=tenant, client_id=CLIENT_ID, client_secret=secret, authority_host=authority_host
    )


def google_bundle(
    token_uri: str, *, secret: str = GOOGLE_SECRET, refresh_token: str = REFRESH_TOKEN
) -> str:
    return google_refresh_token_credentials(
        client_id=GOOGLE_CLIENT_ID,
        client_secret=secret,
        refresh_token=refresh_token,
        token_uri=token_uri,
    )


def service_account_bundle(key: rsa.RSAPrivateKey, token_uri: str) -> str:
    return google_service_account_credentials(service_account_info(key, SERVICE_ACCOUNT, token_uri))


@pytest.fixture
def bundle_at(service_account_key: rsa.RSAPrivateKey) -> Callable[[str, str], str]:
    """A bundle of ``kind`` whose endpoint is at ``base`` (``https://host:port``)."""

    def make(kind: str, base: str) -> str:
        if kind == MICROSOFT365:
            return m365_bundle(base)
        if kind == GOOGLE_REFRESH_TOKEN:
            return google_bundle(f"{base}/token")
        return service_account_bundle(service_account_key, f"{base}/token")

    return make


def texts_of(error: BaseException) -> list[str]:
    """Everything an exception shows, down its chain of causes."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(vars(current)), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


def failure(action: Callable[[], object]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        action()
    return caught.value


# -- each grant succeeds ---------------------------------------------------------------------


def test_microsoft365_client_credentials(
    endpoint: TokenServer, provider: BuiltinTokenProvider, loopback_only: list[str]
) -> None:
    """Microsoft 365 app-only: msal discovers the tenant and gets a token by client
    credentials, from the loopback authority alone (no instance discovery elsewhere)."""
    endpoint.expires_in = 1234
    before = datetime.now(UTC)
    token = provider.access_token(account(), m365_bundle(endpoint.authority_host))
    after = datetime.now(UTC)
    (issued,) = endpoint.issued
    assert ("client_credentials", CLIENT_ID, None) == (issued.grant, issued.client, issued.subject)
    assert (issued.access_token, None) == (token.token, token.refresh_token)
    assert token.expires_at is not None
    assert before + timedelta(seconds=1234) <= token.expires_at <= after + timedelta(seconds=1234)
    guid = endpoint.tenants[TENANT]
    expected = [
        f"GET /{TENANT}/v2.0/.well-known/openid-configuration",
        f"POST /{guid}/oauth2/v2.0/token",
    ]
    assert (expected, []) == (endpoint.requests, loopback_only)


def test_microsoft365_token_comes_from_msal_cache(
    endpoint: TokenServer, provider: BuiltinTokenProvider
) -> None:
    """One msal application per bundle: a second call is served from its token cache."""
    bundle = m365_bundle(endpoint.authority_host)
    first = provider.access_token(account(), bundle)
    second = provider.access_token(account(), bundle)
    assert first.token == second.token
    assert {"openid-configuration": 1, "client_credentials": 1} == dict(endpoint.counts)


def test_microsoft365_short_lived_token_is_not_reused(
    endpoint: TokenServer, provider: BuiltinTokenProvider
) -> None:
    """A cached token about to expire (msal: under five minutes) is replaced by a new one."""
    endpoint.expires_in = 120
    bundle = m365_bundle(endpoint.authority_host)
    first = provider.access_token(account(), bundle)
    second = provider.access_token(account(), bundle)
    assert first.token != second.token
    assert 2 == endpoint.counts["client_credentials"]


def test_google_refresh_token(endpoint: TokenServer, provider: BuiltinTokenProvider) -> None:
    """Google with a refresh token: a token for the scope https://mail.google.com/, its
    expiry from expires_in, and no refresh token to store back when none was rotated."""
    endpoint.expires_in = 2345
    before = datetime.now(UTC)
    token = provider.access_token(account(), google_bundle(endpoint.google_token_uri))
    after = datetime.now(UTC)
    (issued,) = endpoint.issued
    assert ("refresh_token", GOOGLE_CLIENT_ID, MAILBOX) == (
        issued.grant,
        issued.client,
        issued.subject,
    )
    assert (issued.access_token, None) == (token.token, token.refresh_token)
    assert token.expires_at is not None
    assert timedelta(0) == token.expires_at.utcoffset()
    # google-auth keeps whole seconds of its own clock: allow one second either way.
    low, high = before + timedelta(seconds=2344), after + timedelta(seconds=2346)
    assert low <= token.expires_at <= high


def test_google_rotated_refresh_token_comes_back(
    endpoint: TokenServer, provider: BuiltinTokenProvider
) -> None:
    """When Google answers a new refresh token, it is returned to be stored back; the
    bundle made with it works, and the old one is refused (invalid_grant)."""
    endpoint.rotate_refresh_tokens = True
    stored = google_bundle(endpoint.google_token_uri)
    token = provider.access_token(account(), stored)
    (issued,) = endpoint.issued
    assert issued.refresh_token is not None
    assert (issued.refresh_token, REFRESH_TOKEN != issued.refresh_token) == (
        token.refresh_token,
        True,
    )
    renewed = with_refresh_token(stored, issued.refresh_token)
    assert GOOGLE_REFRESH_TOKEN == bundle_kind(renewed)
    assert provider.access_token(account(), renewed).token == endpoint.issued[-1].access_token
    error = failure(lambda: provider.access_token(account(), stored))
    assert ("refused", "invalid_grant") == (error.code, error.error)


def test_google_service_account(
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    service_account_key: rsa.RSAPrivateKey,
) -> None:
    """Google service account: an RS256 assertion the endpoint verifies, acting as the
    sender's username (the JWT "sub"), for https://mail.google.com/."""
    endpoint.expires_in = 3000
    before = datetime.now(UTC)
    bundle = service_account_bundle(service_account_key, endpoint.google_token_uri)
    token = provider.access_token(account(), bundle)
    after = datetime.now(UTC)
    (issued,) = endpoint.issued
    assert ("jwt-bearer", SERVICE_ACCOUNT, MAILBOX) == (
        issued.grant,
        issued.client,
        issued.subject,
    )
    assert (issued.access_token, None) == (token.token, token.refresh_token)
    assert token.expires_at is not None
    low, high = before + timedelta(seconds=2999), after + timedelta(seconds=3001)
    assert low <= token.expires_at <= high


def test_service_account_acts_only_as_delegated_users(
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    service_account_key: rsa.RSAPrivateKey,
) -> None:
    """A sender whose username the service account may not act as is refused."""
    bundle = service_account_bundle(service_account_key, endpoint.google_token_uri)
    error = failure(lambda: provider.access_token(account("otro@contoso.mx"), bundle))
    assert ("refused", "invalid_grant", None) == (error.code, error.error, error.aadsts)


def test_service_account_key_not_known_to_the_endpoint(
    endpoint: TokenServer, provider: BuiltinTokenProvider
) -> None:
    """An assertion signed by another key fails Google's signature check: refused."""
    bundle = service_account_bundle(make_rsa_key(), endpoint.google_token_uri)
    error = failure(lambda: provider.access_token(account(), bundle))
    assert ("refused", "invalid_grant") == (error.code, error.error)
    assert "Invalid JWT Signature." in str(error)


# -- refusals ---------------------------------------------------------------------------------


def test_wrong_entra_client_secret(endpoint: TokenServer, provider: BuiltinTokenProvider) -> None:
    """A wrong client secret is refused with Entra's error and AADSTS number, and no
    text of the error shows either secret."""
    bundle = m365_bundle(endpoint.authority_host, secret=WRONG_SECRET)
    error = failure(lambda: provider.access_token(account(), bundle))
    assert ("refused", "invalid_client", 7000215) == (error.code, error.error, error.aadsts)
    assert "AADSTS7000215: Invalid client secret provided." in str(error)
    assert "Trace ID" not in str(error)  # the first line of Entra's description only
    texts = "\n".join(texts_of(error))
    assert (WRONG_SECRET in texts, CLIENT_SECRET in texts) == (False, False)
    assert (None, None) == (error.__cause__, error.__context__)


def test_unknown_entra_tenant(endpoint: TokenServer, provider: BuiltinTokenProvider) -> None:
    """A tenant Entra does not know is refused at discovery: invalid_tenant, AADSTS90002."""
    bundle = m365_bundle(endpoint.authority_host, tenant="otra.onmicrosoft.com")
    error = failure(lambda: provider.access_token(account(), bundle))
    assert ("refused", "invalid_tenant", 90002) == (error.code, error.error, error.aadsts)
    assert 0 == endpoint.counts["client_credentials"]


@pytest.mark.parametrize(
    ("secret", "refresh_token", "expected"),
    [
        (WRONG_GOOGLE_SECRET, REFRESH_TOKEN, "invalid_client"),
        (GOOGLE_SECRET, "1//0g-a-revoked-refresh-token", "invalid_grant"),
    ],
)
def test_google_refusals(
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    secret: str,
    refresh_token: str,
    expected: str,
) -> None:
    """A wrong client secret or a revoked refresh token is refused with Google's error."""
    bundle = google_bundle(endpoint.google_token_uri, secret=secret, refresh_token=refresh_token)
    error = failure(lambda: provider.access_token(account(), bundle))
    assert ("refused", expected, None) == (error.code, error.error, error.aadsts)
    texts = "\n".join(texts_of(error))
    assert (secret in texts, refresh_token in texts) == (False, False)


# -- the network fails ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_endpoint_down(
    kind: str, provider: BuiltinTokenProvider, bundle_at: Callable[[str, str], str]
) -> None:
    """Nothing listening on the endpoint's port: unreachable."""
    bundle = bundle_at(kind, f"https://{HOST}:{free_port()}")
    error = failure(lambda: provider.access_token(account(), bundle))
    assert "unreachable" == error.code


@pytest.mark.parametrize("trust", ["certifi or REQUESTS_CA_BUNDLE", "another private CA"])
@pytest.mark.parametrize("kind", KINDS)
def test_untrusted_certificate(
    kind: str,
    trust: str,
    endpoint: TokenServer,
    bundle_at: Callable[[str, str], str],
    tmp_path: Path,
) -> None:
    """A certificate the provider does not trust: unreachable, no token requested."""
    verify: bool | str = True
    if trust == "another private CA":
        verify = str(make_certificates(tmp_path).ca_file)
    provider = BuiltinTokenProvider(verify=verify, timeout=5.0)
    bundle = bundle_at(kind, endpoint.authority_host)
    error = failure(lambda: provider.access_token(account(), bundle))
    assert ("unreachable", []) == (error.code, endpoint.issued)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_endpoint_that_never_answers(
    kind: str, certificates: Certificates, bundle_at: Callable[[str, str], str]
) -> None:
    """An endpoint that accepts the connection and then says nothing: unreachable, within
    the provider's timeout (each request bounded, not a library's default)."""
    provider = BuiltinTokenProvider(verify=str(certificates.ca_file), timeout=0.5)
    with silent_server() as port:
        bundle = bundle_at(kind, f"https://{HOST}:{port}")
        started = time.monotonic()
        error = failure(lambda: provider.access_token(account(), bundle))
        elapsed = time.monotonic() - started
    assert ("unreachable", True) == (error.code, elapsed < 3)


def test_entra_server_error(endpoint: TokenServer, provider: BuiltinTokenProvider) -> None:
    """Entra answering 503: unreachable (a failure of the endpoint, not a refusal)."""
    endpoint.fail_with_status = 503
    error = failure(lambda: provider.access_token(account(), m365_bundle(endpoint.authority_host)))
    assert "unreachable" == error.code


@pytest.mark.parametrize("kind", KINDS)
def test_answer_that_is_not_json(
    kind: str,
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    bundle_at: Callable[[str, str], str],
) -> None:
    """An HTML page with status 200 (a captive portal, say): protocol."""
    endpoint.answer_garbage = True
    error = failure(
        lambda: provider.access_token(account(), bundle_at(kind, endpoint.authority_host))
    )
    assert "protocol" == error.code


# -- credential bundles -----------------------------------------------------------------------


def test_bundle_kind_tells_bundles_from_other_secrets(
    service_account_key: rsa.RSAPrivateKey,
) -> None:
    """Each builder's bundle names its kind; a host's own refresh token, or JSON that is
    not a pwrecovery bundle, has none."""
    base = "https://login.example.mx"
    bundles = [
        m365_bundle(base),
        google_bundle(f"{base}/token"),
        service_account_bundle(service_account_key, f"{base}/token"),
        REFRESH_TOKEN,
        json.dumps({"refresh_token": REFRESH_TOKEN}),
        json.dumps({"kind": "aws-sigv4", "version": 1}),
        "",
    ]
    assert [*KINDS, None, None, None, None] == [bundle_kind(b) for b in bundles]
    assert {"kind": MICROSOFT365, "version": 1} == {
        key: value for key, value in json.loads(bundles[0]).items() if key in {"kind", "version"}
    }


def ec_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def encrypted_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"clave-del-archivo"),
    ).decode("ascii")


def with_changes(info: dict[str, str], **changes: str | None) -> dict[str, str]:
    changed = {**info, **changes}
    return {key: value for key, value in changed.items() if value is not None}


def test_builders_refuse_bad_input(service_account_key: rsa.RSAPrivateKey) -> None:
    """Empty values, plain-http or path-carrying URLs, a multi-tenant authority, and key
    files that are not an unencrypted RSA service account key: bad_credentials, and the
    message shows no secret."""
    host = "https://login.microsoftonline.com"
    info = service_account_info(service_account_key, SERVICE_ACCOUNT, "https://x.mx/token")
    attempts: list[Callable[[], str]] = [
        lambda: m365_bundle(host, tenant=""),
        lambda: m365_bundle(host, tenant="common"),
        lambda: m365_bundle(host, tenant="contoso.mx/../otro"),
        lambda: m365_bundle(host, secret="   "),
        lambda: m365_bundle("http://login.microsoftonline.com"),
        lambda: m365_bundle(f"{host}/contoso.mx"),
        lambda: m365_bundle(f"https://{CLIENT_SECRET}@login.example.mx"),
        lambda: google_bundle("http://oauth2.example.mx/token"),
        lambda: google_bundle("https://oauth2.example.mx/token", refresh_token=""),
        lambda: google_service_account_credentials("{not json"),
        lambda: google_service_account_credentials(with_changes(info, type="authorized_user")),
        lambda: google_service_account_credentials(with_changes(info, client_email=None)),
        lambda: google_service_account_credentials(with_changes(info, private_key="nope")),
        lambda: google_service_account_credentials(with_changes(info, private_key=ec_key_pem())),
        lambda: google_service_account_credentials(
            with_changes(info, private_key=encrypted_key_pem(service_account_key))
        ),
        lambda: google_service_account_credentials(with_changes(info, universe_domain="x.mx")),
        lambda: google_service_account_credentials(with_changes(info, token_uri="http://x.mx")),
    ]
    errors = [failure(attempt) for attempt in attempts]
    assert ["bad_credentials"] * len(attempts) == [error.code for error in errors]
    texts = "\n".join(text for error in errors for text in texts_of(error))
    assert (CLIENT_SECRET in texts, "PRIVATE KEY" in texts) == (False, False)


@pytest.fixture
def malformed(service_account_key: rsa.RSAPrivateKey) -> dict[str, str | None]:
    base = "https://login.example.mx"
    m365 = json.loads(m365_bundle(base))
    service = json.loads(service_account_bundle(service_account_key, f"{base}/token"))
    service["service_account"]["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
    return {
        "nothing stored": None,
        "empty": "",
        "a bare refresh token": REFRESH_TOKEN,
        "not JSON": "{kind: microsoft365",
        "a JSON list": "[]",
        "an unknown kind": json.dumps({**m365, "kind": "yahoo-app-password"}),
        "a newer format": json.dumps({**m365, "version": 2}),
        "no client secret": json.dumps({**m365, "client_secret": None}),
        "a plain-http authority": json.dumps({**m365, "authority_host": "http://x.mx"}),
        "a broken private key": json.dumps(service),
    }


def test_malformed_bundles_are_bad_credentials(
    malformed: dict[str, str | None], provider: BuiltinTokenProvider
) -> None:
    """A stored secret that is not a well-formed bundle of a known kind and version is
    bad_credentials, before any request."""
    codes = {
        name: failure(lambda secret=secret: provider.access_token(account(), secret)).code
        for name, secret in malformed.items()
    }
    assert dict.fromkeys(malformed, "bad_credentials") == codes


def test_values_and_errors_keep_secrets_out_of_sight() -> None:
    """AccessToken's repr shows neither token; OAuthError keeps its fields through pickle."""
    token = AccessToken("ya29.the-access-token", None, refresh_token="1//the-new-refresh")
    assert "AccessToken(expires_at=None)" == repr(token)
    error = OAuthError("refused", "no", error="invalid_client", aadsts=7000215)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert ("refused", "invalid_client", 7000215, "no") == (
        copy.code,
        copy.error,
        copy.aadsts,
        str(copy),
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        AccessToken("t", datetime(2026, 12, 31))  # noqa: DTZ001 (naive on purpose)


def test_provider_settings_are_checked(tmp_path: Path) -> None:
    """A CA bundle path that names no file, or a timeout that is not positive, is refused
    when the provider is made, not at the first request."""
    with pytest.raises(ValueError, match="verify names no CA bundle file"):
        BuiltinTokenProvider(verify=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="timeout must be a positive"):
        BuiltinTokenProvider(timeout=0)
    assert "BuiltinTokenProvider(verify=True, timeout=10.0)" == repr(BuiltinTokenProvider())


# -- no secret anywhere -----------------------------------------------------------------------


def test_no_secret_in_errors_reprs_or_debug_logs(
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    service_account_key: rsa.RSAPrivateKey,
    debug_logs: list[logging.LogRecord],
) -> None:
    """Across successes and failures of every grant, with msal, google-auth, urllib3 and
    the root logger at DEBUG: no client secret, refresh token, private key, signed JWT
    assertion or access token is in any exception text, repr, or log record (message,
    arguments, extras). google-auth logs the assertion; pwrecovery.oauth blots it out."""
    endpoint.rotate_refresh_tokens = True
    authority, token_uri = endpoint.authority_host, endpoint.google_token_uri
    service_bundle = service_account_bundle(service_account_key, token_uri)
    seen: list[str] = [repr(provider)]

    def attempt(secret: str, username: str = MAILBOX) -> None:
        try:
            seen.append(repr(provider.access_token(account(username), secret)))
        except OAuthError as error:
            seen.extend(texts_of(error))

    attempt(m365_bundle(authority))
    attempt(m365_bundle(authority, secret=WRONG_SECRET))
    attempt(google_bundle(token_uri))  # rotates REFRESH_TOKEN
    attempt(google_bundle(token_uri))  # the old one: invalid_grant
    attempt(google_bundle(token_uri, secret=WRONG_GOOGLE_SECRET))
    attempt(service_bundle)
    attempt(service_bundle, "otro@contoso.mx")
    attempt(m365_bundle(f"https://{HOST}:{free_port()}"))
    attempt(google_bundle(f"https://{HOST}:{free_port()}/token"))

    pem = service_account_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    key_lines = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
    issued = endpoint.issued
    rotated = [token.refresh_token for token in issued if token.refresh_token]
    secrets = [
        CLIENT_SECRET,
        WRONG_SECRET,
        GOOGLE_SECRET,
        WRONG_GOOGLE_SECRET,
        REFRESH_TOKEN,
        *rotated,
        *key_lines,
        *(token.access_token for token in issued),
        *endpoint.assertions,
    ]
    formatter = logging.Formatter()
    for record in debug_logs:
        seen.append(f"{record.name} {record.getMessage()} {vars(record)!r}")
        if record.exc_info:
            seen.append(formatter.formatException(record.exc_info))
    text = "\n".join(seen)
    assert (3, 1, 2) == (len(issued), len(rotated), len(endpoint.assertions))
    assert {"msal", "google", "urllib3"} <= {r.name.split(".")[0] for r in debug_logs}
    leaked = [f"secret {n} ({len(s)} characters)" for n, s in enumerate(secrets) if s in text]
    assert [] == leaked


# -- without the extras -----------------------------------------------------------------------

WITHOUT_EXTRAS = """
import json, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"msal", "google", "requests"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
import datetime
import pwrecovery as pr
import pwrecovery.oauth as oauth

settings = pr.SenderSettings("127.0.0.1", 587, "starttls", "a@b.mx", "a@b.mx",
                             authentication="xoauth2")
account = pr.SenderAccount("s1", "SUP", settings, datetime.datetime.now(datetime.UTC))
provider = oauth.BuiltinTokenProvider()
answers = {}
for name, bundle in json.load(sys.stdin).items():
    try:
        provider.access_token(account, bundle)
    except oauth.OAuthError as error:
        answers[name] = [error.code, str(error)]
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"msal", "google", "requests"})
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


def test_imports_and_explains_without_the_extras(service_account_key: rsa.RSAPrivateKey) -> None:
    """With msal, google-auth and requests missing, pwrecovery.oauth still imports and the
    provider names the extra to install (extra_missing)."""
    base = "https://login.example.mx"
    bundles = {
        "m365": m365_bundle(base),
        "google": google_bundle(f"{base}/token"),
        "service": service_account_bundle(service_account_key, f"{base}/token"),
    }
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", WITHOUT_EXTRAS],
        input=json.dumps(bundles),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (0, "") == (done.returncode, done.stderr)
    result = json.loads(done.stdout)
    assert [] == result["loaded"]
    extras = {"m365": "m365", "google": "google", "service": "google"}
    assert dict.fromkeys(bundles, "extra_missing") == {
        name: code for name, (code, _) in result["answers"].items()
    }
    for name, (_, message) in result["answers"].items():
        assert f"pip install 'pwrecovery[{extras[name]}]'" in message


# -- end to end through the service --------------------------------------------------------------


class ServiceTokens:
    """The service's TokenProvider wants the token's text: this adapts the built-in one."""

    def __init__(self, provider: BuiltinTokenProvider) -> None:
        self.provider = provider

    def access_token(self, account: pr.SenderAccount, refresh_token: str | None) -> str:
        return self.provider.access_token(account, refresh_token).token


def test_recovery_mail_through_a_microsoft365_sender(
    db_path: Path,
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    starttls_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
) -> None:
    """A Microsoft 365 sender saved with microsoft365_credentials: the service gets a
    token from the loopback Entra endpoint, logs in to SMTP with XOAUTH2, and the
    recovery mail is delivered; the bundle is stored only encrypted."""

    def accept_at_smtp(issued: IssuedToken) -> None:  # as Exchange accepts the app's token
        starttls_server.tokens[MAILBOX] = issued.access_token

    endpoint.on_issue.append(accept_at_smtp)
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=smtp_mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
        token_provider=ServiceTokens(provider),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    settings = pr.SenderSettings(
        HOST,
        starttls_server.port,
        pr.Security.STARTTLS,
        MAILBOX,
        MAILBOX,
        authentication=pr.Authentication.XOAUTH2,
    )
    sender = service.configure_sender("SUPERVISOR", settings, m365_bundle(endpoint.authority_host))
    assert pr.Authentication.XOAUTH2 == sender.settings.authentication
    for login in ("SUPERVISOR", "juan"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        code = verification_code_in(starttls_server.outbox[-1].message)
        service.confirm_recovery_email(login, code)
    service.request_recovery("juan")
    delivered = starttls_server.outbox[-1]
    temporary_password_in(delivered.message)
    assert (["juan@empresa.mx"], MAILBOX) == (delivered.rcpt_tos, delivered.mail_from)
    assert [MAILBOX] * 4 == starttls_server.logins  # the check on save, then three mails
    assert 1 == endpoint.counts["client_credentials"]  # msal's cache served the rest
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(f"{db_path.name}*"))
    token = endpoint.issued[0].access_token
    assert (CLIENT_SECRET.encode() in raw, token.encode() in raw) == (False, False)


def _google_service(
    db_path: Path,
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    starttls_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
    clock: pr.ManualClock,
    key: str,
) -> pr.RecoveryService:
    """A company whose only sender is a Google account saved with a refresh-token bundle."""

    def accept_at_smtp(issued: IssuedToken) -> None:  # as Gmail accepts the user's token
        starttls_server.tokens[MAILBOX] = issued.access_token

    endpoint.on_issue.append(accept_at_smtp)
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=smtp_mailer,
        secret_key=key,
        hasher=cheap_hasher(),
        clock=clock,
        token_provider=provider,
        policy=pr.Policy(smtp_logins_per_minute=1000),
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    settings = pr.SenderSettings(
        HOST,
        starttls_server.port,
        pr.Security.STARTTLS,
        MAILBOX,
        MAILBOX,
        authentication=pr.Authentication.XOAUTH2,
    )
    service.configure_sender("SUPERVISOR", settings, google_bundle(endpoint.google_token_uri))
    for login in ("SUPERVISOR", "juan"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        service.confirm_recovery_email(
            login, verification_code_in(starttls_server.outbox[-1].message)
        )
    return service


def test_the_service_asks_for_a_token_once_an_hour_not_once_a_mail(
    db_path: Path,
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    starttls_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
) -> None:
    """An access token is reused until shortly before it ends: many mails within the hour
    make one token request (google-auth keeps no cache of its own); past it, one more."""
    clock = pr.ManualClock(datetime.now(UTC))
    service = _google_service(
        db_path, endpoint, provider, starttls_server, smtp_mailer, clock, pr.generate_key()
    )
    for _ in range(3):
        service.request_recovery("juan")
        clock.advance(minutes=5)
    assert 1 == endpoint.counts["refresh_token"]  # the check on save's token served them all
    clock.advance(minutes=45)  # 60 minutes after the token was issued: within its last 5
    service.request_recovery("SUPERVISOR")
    assert 2 == endpoint.counts["refresh_token"]
    assert 6 == len(starttls_server.outbox)  # two codes, four temporary passwords


def test_a_rotated_refresh_token_is_stored_back_sealed(
    db_path: Path,
    endpoint: TokenServer,
    provider: BuiltinTokenProvider,
    starttls_server: SmtpServer,
    smtp_mailer: pr.SmtpMailer,
) -> None:
    """When Google rotates the refresh token (the old one then stops working), the service
    stores the new one back in the sender's bundle, sealed, at once: the next token
    request, an hour later, works."""
    from pwrecovery.adapters.secretbox import SecretBox  # noqa: PLC0415

    clock = pr.ManualClock(datetime.now(UTC))
    key = pr.generate_key()
    endpoint.rotate_refresh_tokens = True
    service = _google_service(db_path, endpoint, provider, starttls_server, smtp_mailer, clock, key)
    store = pr.SqliteStore(db_path)

    def stored_refresh_token() -> str:
        (record,) = store.list_senders()
        bundle = SecretBox(key).open(record.secret, record.account).secret.reveal()
        return str(json.loads(bundle)["refresh_token"])

    # Rotated during the check on save: the sender is saved with the new one.
    assert endpoint.issued[-1].refresh_token == stored_refresh_token() != REFRESH_TOKEN
    clock.advance(hours=1)
    service.request_recovery("juan")  # the old one is dead: this works only with the new
    assert 2 == endpoint.counts["refresh_token"]
    assert "temporary-password" == starttls_server.outbox[-1].message["X-PwRecovery-Purpose"]
    # Rotated again while sending: stored back at once, audited.
    assert endpoint.issued[-1].refresh_token == stored_refresh_token()
    assert "sender_secret_rotated" in [e.kind for e in service.audit_trail()]
