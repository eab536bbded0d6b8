"""An XOAUTH2 sender's access tokens (_service/_sender_secrets.py): what the host's
provider answers, the token kept until shortly before it ends, a refresh token the
provider rotated stored back, and the provider's failures."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import pwrecovery as pr
from pwrecovery.oauth import AccessToken
from tests.conftest import ServiceFactory
from tests.helpers import SUPERVISOR_PASSWORD, sender_settings, verify_address

# Not the username the shared mailer fixture holds a password for: any token logs in.
OAUTH = sender_settings(username="oauth@empresa.mx", authentication=pr.Authentication.XOAUTH2)


class RotatingProvider:
    """A host's ``TokenProvider`` answering ``AccessToken``s valid for an hour: token
    ``tok-N`` for the N-th request, with a rotated refresh token ``rt-N`` when
    ``rotate`` is set. ``calls`` records the refresh token of each request."""

    def __init__(self, clock: pr.ManualClock, *, rotate: bool = False) -> None:
        self.clock = clock
        self.rotate = rotate
        self.failing = False
        self.calls: list[str | None] = []

    def access_token(self, account: pr.SenderAccount, refresh_token: str | None) -> AccessToken:
        del account  # one sender here
        self.calls.append(refresh_token)
        if self.failing:
            msg = "the token endpoint is down"
            raise ConnectionError(msg)
        number = len(self.calls)
        expires_at: datetime = self.clock.now() + timedelta(hours=1)
        rotated = f"rt-{number}" if self.rotate else None
        return AccessToken(f"tok-{number}", expires_at, rotated)


@pytest.fixture
def provider(clock: pr.ManualClock) -> RotatingProvider:
    return RotatingProvider(clock)


@pytest.fixture
def oauth_service(make_service: ServiceFactory, provider: RotatingProvider) -> pr.RecoveryService:
    service = make_service(token_provider=provider)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    return service


def test_an_access_token_object_logs_in_with_its_token(
    oauth_service: pr.RecoveryService, mailer: pr.RecordingMailer, provider: RotatingProvider
) -> None:
    """An ``AccessToken`` answer logs in with its ``token`` (the mailer accepts only it)."""
    mailer.passwords[OAUTH.username] = "tok-1"
    oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    assert (["rt-0"], [(OAUTH.host, OAUTH.username)]) == (provider.calls, mailer.logins)


def test_a_token_made_from_another_refresh_token_is_not_reused(
    oauth_service: pr.RecoveryService, provider: RotatingProvider
) -> None:
    """A token still valid but made from the refresh token stored before is not used for
    a new one: the provider is asked again, with the new refresh token."""
    oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-nuevo")
    assert ["rt-0", "rt-nuevo"] == provider.calls


def test_a_rotated_refresh_token_is_what_the_sender_keeps(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """When the provider rotates the refresh token while the sender is checked, the new one
    is saved (the old one may be dead): another workstation's first request sends it."""
    rotating = RotatingProvider(clock, rotate=True)
    make_service(token_provider=rotating).configure_sender("SUPERVISOR", OAUTH, "rt-0")
    other = RotatingProvider(clock)
    readiness = make_service(token_provider=other).readiness(verify_senders=True)
    assert (["rt-0"], ["rt-1"], ()) == (rotating.calls, other.calls, readiness.failing_senders)


def test_a_provider_that_fails_names_the_sender(
    oauth_service: pr.RecoveryService, provider: RotatingProvider, clock: pr.ManualClock
) -> None:
    """Whatever the provider raises is ``TokenUnavailable`` naming the sender."""
    sender = oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    provider.failing = True
    clock.advance(hours=2)  # the cached token has ended
    with pytest.raises(pr.TokenUnavailable) as caught:
        oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    assert sender.id == caught.value.sender_id


def test_a_refresh_token_rotated_while_sending_is_stored_back_and_audited(
    make_service: ServiceFactory,
    oauth_service: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A rotation during a recovery mail's login is sealed into the sender's row at once,
    audited ``sender_secret_rotated`` at that instant with the sender's id; the next
    workstation asks with the new refresh token."""
    sender = oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    oauth_service.add_user("juan", "Clave de juan 2026")
    verify_address(oauth_service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(oauth_service, mailer, "juan", "juan@empresa.mx")
    clock.advance(hours=2)  # every cached token has ended
    rotating = RotatingProvider(clock, rotate=True)
    make_service(token_provider=rotating).request_recovery("juan")
    rotated = [e for e in oauth_service.audit_trail() if e.kind == "sender_secret_rotated"]
    other = RotatingProvider(clock)
    make_service(token_provider=other).readiness(verify_senders=True)
    assert [(clock.now(), {"sender": sender.id})] == [(e.at, dict(e.detail)) for e in rotated]
    assert (["rt-0"], ["rt-1"]) == (rotating.calls, other.calls)
