"""An XOAUTH2 sender's access tokens (_service/_sender_secrets.py): what the host's
provider answers, the token kept until shortly before it ends, a refresh token the
provider rotated stored back, and the provider's failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

import pwrecovery as pr
from pwrecovery.oauth import (
    GOOGLE_REFRESH_TOKEN,
    AccessToken,
    OAuthError,
    google_refresh_token_credentials,
)
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


class ScriptedProvider:
    """A host's ``TokenProvider`` answering ``answer(n)`` to its n-th request (from 1);
    ``calls`` records the sender's id and the refresh token of each request."""

    def __init__(self, answer: Callable[[int], object]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str | None]] = []

    def access_token(self, account: pr.SenderAccount, refresh_token: str | None) -> object:
        self.calls.append((account.id, refresh_token))
        return self.answer(len(self.calls))


def test_a_token_is_reused_until_five_minutes_before_it_ends(
    make_service: ServiceFactory, clock: pr.ManualClock
) -> None:
    """An ``AccessToken`` valid for an hour serves every login of that sender for 54
    minutes; at 55 minutes (five before it ends) the provider is asked again, for the
    same sender with the same refresh token."""
    start = clock.now()
    provider = ScriptedProvider(lambda n: AccessToken(f"tok-{n}", start + timedelta(hours=1)))
    service = make_service(token_provider=provider)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    sender = service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    asked = [len(provider.calls)]
    clock.advance(minutes=54)
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    asked.append(len(provider.calls))
    clock.advance(minutes=1)
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    asked.append(len(provider.calls))
    assert ([1, 1, 2], [(sender.id, "rt-0")] * 2) == (asked, provider.calls)


@pytest.mark.parametrize(
    "expires_at",
    [
        pytest.param(lambda at: at.astimezone(timezone(timedelta(hours=6))), id="aware"),
        pytest.param(lambda at: at.replace(tzinfo=None), id="naive-utc"),
    ],
)
def test_an_expiry_is_read_as_the_instant_it_names(
    make_service: ServiceFactory,
    clock: pr.ManualClock,
    expires_at: Callable[[datetime], datetime],
) -> None:
    """An expiry in another time zone is that instant, and a naive one is taken as UTC:
    a token ending in an hour is reused at 54 minutes and renewed at 55."""
    end = expires_at(clock.now() + timedelta(hours=1))
    provider = ScriptedProvider(
        lambda n: SimpleNamespace(token=f"tok-{n}", expires_at=end, refresh_token=None)
    )
    service = make_service(token_provider=provider)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    clock.advance(minutes=54)
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    asked = [len(provider.calls)]
    clock.advance(minutes=1)
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    asked.append(len(provider.calls))
    assert [1, 2] == asked


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda n: f"tok-{n}", id="plain-text"),
        pytest.param(lambda n: SimpleNamespace(token=f"tok-{n}"), id="token-only"),
        pytest.param(lambda n: AccessToken(f"tok-{n}", None), id="no-expiry"),
        pytest.param(
            lambda n: SimpleNamespace(token=f"tok-{n}", expires_at="in an hour", refresh_token=""),
            id="expiry-not-a-datetime",
        ),
    ],
)
def test_a_token_without_a_known_expiry_is_asked_for_every_login(
    make_service: ServiceFactory, clock: pr.ManualClock, answer: Callable[[int], object]
) -> None:
    """An answer that gives its token but no expiry (absent, None, or not a datetime)
    logs in, is never reused (each check asks again) and rotates nothing: an empty
    refresh token is no rotation, so the sender keeps the one it was given."""
    provider = ScriptedProvider(answer)
    service = make_service(token_provider=provider)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    sender = service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    other = RotatingProvider(clock)
    readiness = make_service(token_provider=other).readiness(verify_senders=True)
    assert ([(sender.id, "rt-0")] * 2, ["rt-0"]) == (provider.calls, other.calls)
    assert () == readiness.failing_senders


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(object, id="no-token-attribute"),
        pytest.param(lambda: SimpleNamespace(token=42, expires_at=None), id="token-not-text"),
        pytest.param(lambda: "", id="empty-text"),
        pytest.param(lambda: AccessToken("", None), id="empty-token"),
    ],
)
def test_an_answer_without_a_token_is_token_unavailable_for_the_sender(
    make_service: ServiceFactory, answer: Callable[[], object]
) -> None:
    """An answer that holds no token text is ``TokenUnavailable`` naming the sender (the
    mailer never gets a made-up token)."""
    provider = ScriptedProvider(lambda n: "tok-1" if n == 1 else answer())
    service = make_service(token_provider=provider)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    sender = service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    with pytest.raises(pr.TokenUnavailable) as caught:
        service.configure_sender("SUPERVISOR", OAUTH, "rt-1")
    assert (sender.id, [(sender.id, "rt-0"), (sender.id, "rt-1")]) == (
        caught.value.sender_id,
        provider.calls,
    )


def test_a_rotation_without_an_expiry_is_still_what_the_sender_keeps(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A provider that rotates the refresh token but gives no expiry: the new refresh
    token is saved all the same, and the next workstation asks with it."""
    provider = ScriptedProvider(lambda n: AccessToken(f"tok-{n}", None, f"rt-{n}"))
    make_service(token_provider=provider).configure_sender("SUPERVISOR", OAUTH, "rt-0")
    other = RotatingProvider(clock)
    make_service(token_provider=other).readiness(verify_senders=True)
    assert ["rt-1"] == other.calls


def _google_bundle(refresh_token: str) -> str:
    return google_refresh_token_credentials(
        client_id="app.apps.googleusercontent.com",
        client_secret="client-secret-value",
        refresh_token=refresh_token,
    )


def test_a_refresh_token_rotated_inside_a_credential_bundle_is_stored_in_the_bundle(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """When the stored secret is a Google refresh-token bundle, a rotated refresh token is
    stored back inside the bundle (its other fields kept), not in place of it."""
    rotating = RotatingProvider(clock, rotate=True)
    make_service(token_provider=rotating).configure_sender(
        "SUPERVISOR", OAUTH, _google_bundle("rt-0")
    )
    other = RotatingProvider(clock)
    make_service(token_provider=other).readiness(verify_senders=True)
    assert ([_google_bundle("rt-0")], [_google_bundle("rt-1")]) == (rotating.calls, other.calls)


def test_without_a_provider_a_plain_secret_has_no_token(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService
) -> None:
    """A service without a ``TokenProvider`` has no token for an XOAUTH2 sender whose
    secret is not a credential bundle: ``TokenUnavailable`` naming it, with no provider's
    error behind it."""
    sender = oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    with pytest.raises(pr.TokenUnavailable) as caught:
        make_service().configure_sender("SUPERVISOR", OAUTH, "rt-0")
    assert (sender.id, None) == (caught.value.sender_id, caught.value.__cause__)


def test_without_a_provider_a_credential_bundle_goes_to_the_builtin_provider(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService
) -> None:
    """A service without a ``TokenProvider`` hands a credential bundle to the built-in
    provider, each time: a bundle of a newer format is refused by it (``OAuthError``
    ``bad_credentials`` behind ``TokenUnavailable`` naming the sender), no request made."""
    sender = oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    newer = json.dumps({**json.loads(_google_bundle("rt-0")), "version": 2})
    assert GOOGLE_REFRESH_TOKEN == json.loads(newer)["kind"]
    service = make_service()
    causes: list[tuple[str, str | None]] = []
    for _ in range(2):
        with pytest.raises(pr.TokenUnavailable) as caught:
            service.configure_sender("SUPERVISOR", OAUTH, newer)
        cause = caught.value.__cause__
        assert isinstance(cause, OAuthError)
        causes.append((caught.value.sender_id, cause.code))
    assert [(sender.id, "bad_credentials")] * 2 == causes


def test_a_rotated_refresh_token_does_not_overwrite_a_sender_edited_meanwhile(
    make_service: ServiceFactory, oauth_service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A sender saved again (another refresh token) while its provider was being asked is
    left as saved: the rotated token of the older secret is not sealed over it."""
    oauth_service.configure_sender("SUPERVISOR", OAUTH, "rt-0")
    clock.advance(hours=2)  # every cached token has ended
    editor = make_service(token_provider=RotatingProvider(clock))

    def answer(n: int) -> AccessToken:
        editor.configure_sender("SUPERVISOR", OAUTH, "rt-edit")
        return AccessToken(f"tok-{n}", clock.now() + timedelta(hours=1), "rt-rotated")

    rotating = ScriptedProvider(answer)
    make_service(token_provider=rotating).readiness(verify_senders=True)
    other = RotatingProvider(clock)
    make_service(token_provider=other).readiness(verify_senders=True)
    assert ["rt-0"] == [refresh for _, refresh in rotating.calls]
    assert ["rt-edit"] == other.calls
