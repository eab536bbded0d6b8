"""OAuth 2.0 sender accounts (SASL XOAUTH2) against the loopback SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.testing import StaticTokenProvider, temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import Certificates, SmtpServer, running_smtp_server
from tests.helpers import SMTP_PASSWORD, cheap_hasher

OAUTH_USER = "envios@proveedor.mx"
GOOD_TOKEN = "ya29.buen-token-de-acceso"
REFRESH = "1//refresh-token-guardado"


def oauth_settings(server: SmtpServer) -> pr.SenderSettings:
    return pr.SenderSettings(
        "127.0.0.1",
        server.port,
        pr.Security.STARTTLS,
        OAUTH_USER,
        OAUTH_USER,
        authentication=pr.Authentication.XOAUTH2,
    )


@pytest.fixture
def provider() -> StaticTokenProvider:
    return StaticTokenProvider({OAUTH_USER: GOOD_TOKEN})


@pytest.fixture
def server(starttls_server: SmtpServer) -> SmtpServer:
    starttls_server.tokens[OAUTH_USER] = GOOD_TOKEN
    return starttls_server


@pytest.fixture
def service(
    db_path: Path, smtp_mailer: pr.SmtpMailer, provider: StaticTokenProvider
) -> pr.RecoveryService:
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=smtp_mailer,
        secret_key=pr.generate_key(),
        hasher=cheap_hasher(),
        token_provider=provider,
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    return service


def verify_addresses(service: pr.RecoveryService, server: SmtpServer) -> None:
    for login in ("SUPERVISOR", "juan"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        service.confirm_recovery_email(login, verification_code_in(server.outbox[-1].message))


def test_good_token_logs_in_and_delivers(
    service: pr.RecoveryService, server: SmtpServer, provider: StaticTokenProvider, db_path: Path
) -> None:
    """Saving checks the token by logging in; mail then goes out through XOAUTH2."""
    account = service.configure_sender("SUPERVISOR", oauth_settings(server), REFRESH)
    assert pr.Authentication.XOAUTH2 == account.settings.authentication
    assert [(account.id, REFRESH)] == provider.calls
    verify_addresses(service, server)
    service.request_recovery("juan")
    temporary_password_in(server.outbox[-1].message)
    assert {OAUTH_USER} == set(server.logins)
    assert (account.id, REFRESH) == provider.calls[-1]
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(f"{db_path.name}*"))
    assert (REFRESH.encode() not in raw, GOOD_TOKEN.encode() not in raw) == (True, True)


def test_without_a_stored_refresh_token(
    service: pr.RecoveryService, server: SmtpServer, provider: StaticTokenProvider
) -> None:
    """A host whose provider keeps its own tokens saves the account with no secret."""
    account = service.configure_sender("SUPERVISOR", oauth_settings(server), "")
    assert [(account.id, None)] == provider.calls


def test_expired_token_is_refused(
    service: pr.RecoveryService, server: SmtpServer, provider: StaticTokenProvider
) -> None:
    """A token the server no longer accepts is SenderAuthenticationFailed; nothing is saved."""
    provider.tokens[OAUTH_USER] = "ya29.token-vencido"
    with pytest.raises(pr.SenderAuthenticationFailed):
        service.configure_sender("SUPERVISOR", oauth_settings(server), REFRESH)
    assert ([], [OAUTH_USER]) == (service.senders(), server.logins)


def test_provider_failure_is_a_clear_error(
    service: pr.RecoveryService, server: SmtpServer, provider: StaticTokenProvider
) -> None:
    """A provider that fails gives TokenUnavailable before any connection; nothing is saved."""
    provider.failing.add(OAUTH_USER)
    with pytest.raises(pr.TokenUnavailable) as caught:
        service.configure_sender("SUPERVISOR", oauth_settings(server), REFRESH)
    assert str(caught.value).startswith("No se pudo obtener el token de acceso OAuth 2.0")
    assert ([], []) == (service.senders(), server.logins)


def test_no_provider_configured(
    db_path: Path, smtp_mailer: pr.SmtpMailer, server: SmtpServer
) -> None:
    """Without a token provider an XOAUTH2 sender cannot be saved."""
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path), mailer=smtp_mailer, secret_key=pr.generate_key()
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    with pytest.raises(pr.TokenUnavailable):
        service.configure_sender("SUPERVISOR", oauth_settings(server), REFRESH)


@pytest.mark.parametrize("trouble", ["expired", "provider_down"])
def test_failover_from_an_oauth_sender(
    service: pr.RecoveryService,
    server: SmtpServer,
    provider: StaticTokenProvider,
    trouble: str,
) -> None:
    """When the supervisor's OAuth sender fails, the next sender (a password one) delivers."""
    service.configure_sender("SUPERVISOR", oauth_settings(server), REFRESH)
    service.configure_sender("juan", server.settings("envios@empresa.mx"), SMTP_PASSWORD)
    verify_addresses(service, server)
    if trouble == "expired":
        server.tokens[OAUTH_USER] = "ya29.token-nuevo"  # the provider's token is now stale
    else:
        provider.failing.add(OAUTH_USER)
    server.logins.clear()
    service.request_recovery("juan")
    assert "temporary-password" == server.outbox[-1].message["X-PwRecovery-Purpose"]
    assert server.logins[-1] == "envios@empresa.mx"
    failure = [e for e in service.audit_trail("juan") if e.kind == "delivery_attempt_failed"][-1]
    expected = "sender_auth_failed" if trouble == "expired" else "token_unavailable"
    assert expected == failure.detail["reason"]


def test_server_without_xoauth2(service: pr.RecoveryService, certificates: Certificates) -> None:
    """A server that does not offer XOAUTH2 is refused as such, never tried with a password."""
    with running_smtp_server("starttls", certificates, {}, without_auth=("XOAUTH2",)) as plain:
        with pytest.raises(pr.SenderUnreachable) as caught:
            service.configure_sender("SUPERVISOR", oauth_settings(plain), REFRESH)
        assert ("auth_unsupported", []) == (caught.value.reason, plain.logins)
