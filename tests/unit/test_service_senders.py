"""Sender accounts: checked on save, chosen in order, failed over."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

import pwrecovery as pr
from pwrecovery import _i18n
from pwrecovery.oauth import AccessToken
from pwrecovery.records import SenderRecord, UserRecord
from tests.conftest import ServiceFactory
from tests.helpers import (
    SMTP_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    temporary_password_in,
    verification_code_in,
)


@pytest.mark.parametrize(
    ("username", "password"), [("", SMTP_PASSWORD), ("  ", "x"), ("a@b.mx", ""), ("a@b.mx", "   ")]
)
def test_blank_credentials_refused_before_connecting(
    service: pr.RecoveryService, mailer: pr.RecordingMailer, username: str, password: str
) -> None:
    """§1.6: a blank username or password is refused before any connection."""
    settings = sender_settings(username=username, from_address="envios@empresa.mx")
    with pytest.raises(pr.SenderCredentialsEmpty) as caught:
        service.configure_sender("SUPERVISOR", settings, password)
    assert "No puedes tener tu clave y/o usuario vacío." == str(caught.value)
    assert [] == mailer.logins
    assert [] == service.senders()


def test_wrong_password_refused_nothing_saved(
    service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.6: the SMTP login is tried; a wrong password saves nothing."""
    with pytest.raises(pr.SenderAuthenticationFailed):
        service.configure_sender("SUPERVISOR", sender_settings(), "wrong")
    assert [("smtp.empresa.mx", "envios@empresa.mx")] == mailer.logins
    assert [] == service.senders()
    assert "sender_refused" == service.audit_trail()[-1].kind


def test_unreachable_server_refused_nothing_saved(
    service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.6: an unreachable server is refused and nothing is saved."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    with pytest.raises(pr.SenderUnreachable):
        service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    assert [] == service.senders()


def test_plaintext_credentials_refused_to_remote_host(service: pr.RecoveryService) -> None:
    """Security.NONE sends credentials only to loopback addresses."""
    settings = sender_settings(security=pr.Security.NONE, port=25)
    with pytest.raises(pr.SenderUnreachable) as caught:
        service.configure_sender("SUPERVISOR", settings, SMTP_PASSWORD)
    assert "plaintext_refused" == caught.value.reason


def test_saved_account_has_no_password(service: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """A saved account records owner, settings and when it was verified, never the password."""
    account = service.configure_sender("juan", sender_settings(), SMTP_PASSWORD)
    assert "juan" == account.owner
    assert clock.now() == account.verified_at
    assert [account] == service.senders()
    assert SMTP_PASSWORD not in repr(account)


def test_unknown_owner(service: pr.RecoveryService) -> None:
    """Only a user of the catalog can own a sender account."""
    with pytest.raises(pr.UnknownUser):
        service.configure_sender("nadie", sender_settings(), SMTP_PASSWORD)


def test_saving_again_replaces(service: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """Saving the same server and username for the same owner updates that account."""
    first = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    clock.advance(minutes=5)
    second = service.configure_sender(
        "SUPERVISOR", sender_settings(display_name="Nuevo nombre"), SMTP_PASSWORD
    )
    assert first.id == second.id
    assert [second] == service.senders()


def test_remove_sender(service: pr.RecoveryService) -> None:
    """remove_sender deletes the account; an unknown id raises UnknownSender."""
    account = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    service.remove_sender(account.id)
    assert [] == service.senders()
    with pytest.raises(pr.UnknownSender):
        service.remove_sender(account.id)
    assert "sender_removed" in [e.kind for e in service.audit_trail()]


def configure_three(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> dict[str, pr.SenderAccount]:
    """Senders owned by juan, by another user, and by the SUPERVISOR (configured last-but-one)."""
    service.add_user("maria", "Maria tiene clave 3")
    accounts = {}
    accounts["juan"] = service.configure_sender(
        "juan", sender_settings("smtp.juan.mx", "j@juan.mx"), "p1"
    )
    clock.advance(minutes=1)
    accounts["super"] = service.configure_sender(
        "SUPERVISOR", sender_settings("smtp.super.mx", "s@super.mx"), "p2"
    )
    clock.advance(minutes=1)
    accounts["maria"] = service.configure_sender(
        "maria", sender_settings("smtp.maria.mx", "m@maria.mx"), "p3"
    )
    return accounts


def test_selection_order(service: pr.RecoveryService, clock: pr.ManualClock) -> None:
    """§1.7: the supervisor's first; then, for nobody in particular, the rest newest first."""
    accounts = configure_three(service, clock)
    assert [accounts["super"], accounts["maria"], accounts["juan"]] == service.senders()


def test_supervisor_sender_delivers(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """§1.7: a request by juan goes through the supervisor's account first."""
    configure_three(ready, clock)
    ready.request_recovery("juan")
    assert "smtp.super.mx" == mailer.sent_through[-1].host
    assert "s@super.mx" in mailer.outbox[-1]["From"]


def test_failover_order(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """§1.7: when the supervisor's fails, the requester's own is next, then the rest."""
    configure_three(ready, clock)
    ready.remove_sender(ready.senders()[1].id)  # drop the fixture's older supervisor account
    mailer.unreachable_hosts.add("smtp.super.mx")
    ready.request_recovery("juan")
    assert "smtp.juan.mx" == mailer.sent_through[-1].host
    mailer.rejecting_hosts.add("smtp.juan.mx")
    ready.request_recovery("juan")
    assert "smtp.maria.mx" == mailer.sent_through[-1].host
    failures = [e for e in ready.audit_trail("juan") if e.kind == "delivery_attempt_failed"]
    assert ["sender_unreachable", "sender_unreachable", "delivery_failed"] == [
        e.detail["reason"] for e in failures
    ]


def test_failover_on_login_failure(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """§1.7: a sender whose password stopped working is skipped."""
    configure_three(ready, clock)
    mailer.passwords["s@super.mx"] = "changed on the server"
    mailer.passwords["envios@empresa.mx"] = "changed too"
    ready.request_recovery("juan")
    assert "smtp.juan.mx" == mailer.sent_through[-1].host


def test_all_senders_fail(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """§2: if delivery fails, no temporary password is left and the old password is untouched."""
    ready.request_recovery("juan")
    earlier = temporary_password_in(mailer.outbox[-1])
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    with pytest.raises(pr.DeliveryFailed) as caught:
        ready.request_recovery("juan")
    assert 1 == caught.value.attempts
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", earlier)
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status
    assert "temporary_password_withdrawn" in [e.kind for e in ready.audit_trail("juan")]


def test_sender_password_encrypted_in_store(
    service: pr.RecoveryService, store: pr.InMemoryStore
) -> None:
    """§1.8: the store holds the SMTP password only as an AES-GCM blob."""
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    (record,) = store.list_senders()
    assert SMTP_PASSWORD.encode() not in record.secret
    assert SMTP_PASSWORD not in repr(record)


def test_key_rotation(
    make_service: ServiceFactory,
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    secret_key: str,
) -> None:
    """A key list keeps old senders working: the first key encrypts, all decrypt."""
    rotated = make_service(secret_key=[pr.generate_key(), secret_key])
    rotated.request_recovery("juan")
    assert "temporary-password" == mailer.outbox[-1]["X-PwRecovery-Purpose"]


def test_wrong_key_fails_over_cleanly(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """With a key that does not match, the sender cannot be used: DeliveryFailed, no crash."""
    wrong = make_service(secret_key=pr.generate_key())
    with pytest.raises(pr.DeliveryFailed):
        wrong.request_recovery("juan")
    failure = [e for e in wrong.audit_trail() if e.kind == "delivery_attempt_failed"][-1]
    assert "secret_undecryptable" == failure.detail["reason"]


def test_configuration_is_shared_through_the_store(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.6: another workstation opening the same store can recover with the same senders."""
    other_workstation = make_service()
    other_workstation.request_recovery("juan")
    assert "smtp.empresa.mx" == mailer.sent_through[-1].host


def test_readiness(
    make_service: ServiceFactory, service: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """readiness() names what would stop a recovery: senders, supervisor address, users."""
    blank = service.readiness()
    assert (False, (), False) == (blank.ready, blank.senders, blank.supervisor_ready)
    assert ("juan", "SUPERVISOR") == blank.users_without_address
    account = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    service.set_recovery_email("SUPERVISOR", "s@empresa.mx")
    service.confirm_recovery_email("SUPERVISOR", verification_code_in(mailer.outbox[-1]))
    ready = service.readiness()
    assert (True, (account.id,), ("juan",)) == (
        ready.ready,
        ready.usable_senders,
        ready.users_without_address,
    )
    assert (account.id,) == make_service(
        secret_key=pr.generate_key()
    ).readiness().undecryptable_senders
    mailer.passwords["envios@empresa.mx"] = "changed on the server"
    assert ready == service.readiness()  # no login unless asked
    checked = service.readiness(verify_senders=True)
    assert (False, ((account.id, "sender_auth_failed"),)) == (
        checked.ready,
        checked.failing_senders,
    )


# -- sender accounts, audited ---------------------------------------------------------


def trail(svc: pr.RecoveryService, since: int) -> list[tuple[object, ...]]:
    """The events recorded after the first ``since``: kind, login, instant, origin, detail."""
    return [(e.kind, e.login, e.at, e.origin, dict(e.detail)) for e in svc.audit_trail()[since:]]


def test_saving_and_removing_a_sender_is_audited(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """A saved sender is audited under its owner with its id, host and username (never the
    password); a removed one with its id."""
    start, now, o = len(service.audit_trail()), clock.now(), "SUPERVISOR@CAJA-01"
    account = service.configure_sender("supervisor", sender_settings(), SMTP_PASSWORD, origin=o)
    service.remove_sender(account.id, origin=o)
    saved = {"sender": account.id, "host": "smtp.empresa.mx", "username": "envios@empresa.mx"}
    assert [
        ("sender_configured", "SUPERVISOR", now, o, saved),
        ("sender_removed", None, now, o, {"sender": account.id}),
    ] == trail(service, start)


def test_refused_senders_are_audited_with_the_reason(
    service: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Blank credentials are refused before connecting (sender_refused, the reason only);
    a refusal by the server names the host, the reason and, when it gave one, its reply.
    Each is audited with the workstation it came from."""
    start, now = len(service.audit_trail()), clock.now()
    with pytest.raises(pr.SenderCredentialsEmpty):
        service.configure_sender("SUPERVISOR", sender_settings(), "  ", origin="CAJA-01")
    with pytest.raises(pr.SenderAuthenticationFailed):
        service.configure_sender("SUPERVISOR", sender_settings(), "wrong", origin="CAJA-02")
    mailer.refused_from_addresses.add("otro@empresa.mx")
    with pytest.raises(pr.SenderAddressRefused):
        service.configure_sender("SUPERVISOR", sender_settings(username="otro@empresa.mx"), "x")
    host = "smtp.empresa.mx"
    assert [
        ("sender_refused", "SUPERVISOR", now, "CAJA-01", {"reason": "sender_credentials_empty"}),
        (
            "sender_refused",
            "SUPERVISOR",
            now,
            "CAJA-02",
            {"host": host, "reason": "sender_auth_failed"},
        ),
        (
            "sender_refused",
            "SUPERVISOR",
            now,
            None,
            {"host": host, "reason": "sender_address_refused", "reply": "553"},
        ),
    ] == trail(service, start)
    assert [] == service.senders()


@pytest.mark.parametrize(
    ("changes", "secret"),
    [
        ({}, ""),
        ({"authentication": "xoauth2", "username": " "}, ""),
        ({"authentication": "xoauth2"}, None),
    ],
    ids=["password-login-blank-secret", "oauth-blank-username", "oauth-secret-not-text"],
)
def test_blank_credentials_are_refused_for_oauth_senders_too(
    service: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    changes: dict[str, object],
    secret: str | None,
) -> None:
    """Only an XOAUTH2 account may leave its secret blank (its provider may keep its own):
    it still needs a username, and a secret that is text; nothing is tried or saved."""
    settings = sender_settings(from_address="envios@empresa.mx", **changes)
    with pytest.raises(pr.SenderCredentialsEmpty):
        service.configure_sender("SUPERVISOR", settings, secret)  # type: ignore[arg-type]
    assert ([], []) == (mailer.logins, service.senders())


@pytest.mark.parametrize(
    ("owner", "changes"),
    [
        ("juan", {}),
        ("SUPERVISOR", {"port": 465, "security": pr.Security.SSL}),
        ("SUPERVISOR", {"host": "smtp2.empresa.mx"}),
        ("SUPERVISOR", {"username": "otro@empresa.mx"}),
    ],
    ids=["another-owner", "another-port", "another-host", "another-username"],
)
def test_only_the_same_owner_server_and_username_replace_a_sender(
    service: pr.RecoveryService, clock: pr.ManualClock, owner: str, changes: dict[str, object]
) -> None:
    """Another owner, port, host or username is another sender account: both are kept."""
    first = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    clock.advance(minutes=1)
    values: dict[str, object] = {"from_address": "envios@empresa.mx", **changes}
    second = service.configure_sender(owner, sender_settings(**values), SMTP_PASSWORD)  # type: ignore[arg-type]
    assert (True, 2) == (first.id != second.id, len(service.senders()))


def test_removing_a_sender_that_does_not_exist_names_it_printably(
    service: pr.RecoveryService,
) -> None:
    """remove_sender of an unknown id is UnknownSender naming the id with line breaks made
    harmless, and records nothing."""
    before = service.audit_trail()
    with pytest.raises(pr.UnknownSender) as caught:
        service.remove_sender("abc\r\ndef")
    assert ("abc\ufffd\ufffddef", before) == (caught.value.sender_id, service.audit_trail())


def test_configure_sender_takes_sender_settings_only(service: pr.RecoveryService) -> None:
    """Settings that are not a SenderSettings are refused naming the setting and the rule
    (sender_settings), whose sentence says what it must be."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        service.configure_sender("SUPERVISOR", {"host": "smtp.empresa.mx"}, SMTP_PASSWORD)  # type: ignore[arg-type]
    assert (
        "settings",
        "sender_settings",
        "El valor de «settings» no es válido: debe ser un objeto SenderSettings.",
    ) == (caught.value.setting, caught.value.rule, str(caught.value))


# -- readiness ------------------------------------------------------------------------


def two_senders(service: pr.RecoveryService, clock: pr.ManualClock) -> tuple[str, str]:
    """The SUPERVISOR's sender (tried first) and juan's, on two servers."""
    first = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    clock.advance(minutes=1)
    second = service.configure_sender(
        "juan", sender_settings("smtp.juan.mx", "j@juan.mx"), "clave de juan"
    )
    return first.id, second.id


def edited(store: pr.InMemoryStore, sender_id: str, **usage: object) -> SenderRecord:
    """The stored row of a sender; with ``usage``, rewritten with that usage."""
    (record,) = (r for r in store.list_senders() if r.account.id == sender_id)
    if usage:
        changed = attrs.evolve(record, usage=attrs.evolve(record.usage, **usage))
        assert store.update_sender(changed, expected_version=record.version)
    return record


def test_readiness_checks_every_sender_past_one_that_cannot_be_used(
    service: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """A sender whose row was edited outside pwrecovery is listed as tampered, and the
    next sender is still checked: one the server now refuses is listed failing, with the
    sentence of its error in the service's language."""
    tampered, failing = two_senders(service, clock)
    row = edited(store, tampered)
    settings = attrs.evolve(row.account.settings, host="smtp.otro.mx")
    store.put_sender(attrs.evolve(row, account=attrs.evolve(row.account, settings=settings)))
    mailer.passwords["j@juan.mx"] = "cambiada en el servidor"
    with pytest.raises(pr.SenderAuthenticationFailed) as refused:
        mailer.verify(sender_settings("smtp.juan.mx", "j@juan.mx"), "clave de juan")
    found = service.readiness(verify_senders=True)
    assert ((tampered,), ((failing, "sender_auth_failed"),)) == (
        found.tampered_senders,
        found.failing_senders,
    )
    assert ((failing, refused.value.message("es_MX")),) == found.failing_messages


def test_readiness_lists_every_sender_it_cannot_open(
    make_service: ServiceFactory, service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """With another key, every sender is listed undecryptable, not only the first."""
    senders = two_senders(service, clock)
    other = make_service(secret_key=pr.generate_key())
    assert senders == other.readiness().undecryptable_senders


def test_readiness_without_the_key_opens_no_secret(
    make_service: ServiceFactory,
    service: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """A service without the key says so, and lists no sender as undecryptable or
    tampered: it has nothing to open them with."""
    tampered, _ = two_senders(service, clock)
    row = edited(store, tampered)
    store.put_sender(attrs.evolve(row, secret=b"\x00" * len(row.secret)))
    found = make_service(secret_key=None).readiness()
    assert (False, (), ()) == (
        found.key_present,
        found.undecryptable_senders,
        found.tampered_senders,
    )


def test_readiness_speaks_the_services_language_clock_and_words(
    make_service: ServiceFactory,
    service: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """The sentences of readiness() are in the service's language and the host's words,
    and a sender's rest ends on the company's clock."""
    first, _ = two_senders(service, clock)
    until = clock.now() + timedelta(minutes=15)
    edited(store, first, cooldown_until=until)
    zone = ZoneInfo("America/Mexico_City")
    words = {"en": {"readiness.user_without_address": "{login} has no address."}}
    english = make_service(locale="en", timezone=zone, translations=words)
    sentences = [problem.message() for problem in english.readiness().problems()]
    assert "juan has no address." in sentences
    assert 1 == len([s for s in sentences if english_moment(until, zone) in s])


def english_moment(moment: datetime, zone: ZoneInfo) -> str:
    return _i18n.DEFAULT_TEXTS.moment("en", moment, zone)


def test_readiness_lists_legacy_hashes_that_waited_long_enough(
    make_service: ServiceFactory, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """Users still on a legacy hash are listed once legacy_older_than has passed since
    their import (exactly then included), and always when the import date is unknown;
    users on the service's own hash never."""
    service = make_service(legacy_hashers=(pr.Pbkdf2Hasher(),))
    service.add_user("juan", USER_PASSWORD)
    django = pr.Pbkdf2Hasher(iterations=1000).hash(USER_PASSWORD)
    service.import_users([pr.ImportedUser(login="viejo", password_hash=django)])
    clock.advance(days=30)
    service.import_users([pr.ImportedUser(login="nuevo", password_hash=django)])
    store.add_users([UserRecord(login="sinfecha", key="sinfecha", password_hash=django)])
    found = service.readiness(legacy_older_than=timedelta(days=30))
    assert ["sinfecha", "viejo"] == sorted(found.legacy_hash_users)
    (legacy,) = (p for p in found.problems() if p.code == "users_on_legacy_hash")
    assert {"count": "2", "older_than_seconds": str(30 * 24 * 3600)} == dict(legacy.params)
    assert 3 == len(service.readiness().legacy_hash_users)


def test_readiness_reseals_a_sender_sealed_under_an_older_key(
    make_service: ServiceFactory,
    service: pr.RecoveryService,
    clock: pr.ManualClock,
    secret_key: str,
) -> None:
    """readiness() with a key list opens a sender sealed under an older key and seals it
    again under the first, audited sender_secret_resealed at that instant: afterwards the
    first key alone opens it."""
    account = service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    clock.advance(minutes=1)
    start, newest = len(service.audit_trail()), pr.generate_key()
    make_service(secret_key=[newest, secret_key]).readiness()
    assert [("sender_secret_resealed", None, clock.now(), None, {"sender": account.id})] == trail(
        service, start
    )
    assert () == make_service(secret_key=newest).readiness().undecryptable_senders


# -- XOAUTH2 senders --------------------------------------------------------------------

# Not the username the shared mailer fixture holds a password for: any token logs in.
OAUTH = sender_settings(username="oauth@empresa.mx", authentication=pr.Authentication.XOAUTH2)


class NumberedTokens:
    """A host's ``TokenProvider``: access token ``tok-N`` for the N-th request, valid for an
    hour, with the refresh token rotated to ``rt-N`` when ``rotate`` is set. ``calls``
    records the refresh token each request came with."""

    def __init__(self, clock: pr.ManualClock, *, rotate: bool = False) -> None:
        self.clock = clock
        self.rotate = rotate
        self.calls: list[str | None] = []

    def access_token(self, account: pr.SenderAccount, refresh_token: str | None) -> AccessToken:
        del account  # one sender here
        self.calls.append(refresh_token)
        number = len(self.calls)
        rotated = f"rt-{number}" if self.rotate else None
        return AccessToken(f"tok-{number}", self.clock.now() + timedelta(hours=1), rotated)


def test_an_oauth_sender_may_be_saved_without_a_secret(
    make_service: ServiceFactory, service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """An XOAUTH2 account may leave its secret blank when the host's provider keeps its
    own: it is checked (the provider asked with no refresh token) and saved."""
    provider = NumberedTokens(clock)
    oauth = make_service(token_provider=provider)
    account = oauth.configure_sender("SUPERVISOR", OAUTH, "")
    assert ([None], [account]) == (provider.calls, oauth.senders())


def test_readiness_stores_back_a_refresh_token_rotated_while_checking(
    make_service: ServiceFactory, service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """readiness(verify_senders=True) logs in to an XOAUTH2 sender as a delivery would: a
    refresh token the provider rotated meanwhile is sealed into the sender's row at once
    (sender_secret_rotated at that instant), and the next check asks with it."""
    sender = make_service(token_provider=NumberedTokens(clock)).configure_sender(
        "SUPERVISOR", OAUTH, "rt-0"
    )
    clock.advance(minutes=1)
    start, rotating = len(service.audit_trail()), NumberedTokens(clock, rotate=True)
    found = make_service(token_provider=rotating).readiness(verify_senders=True)
    checked = NumberedTokens(clock)
    make_service(token_provider=checked).readiness(verify_senders=True)
    assert [("sender_secret_rotated", None, clock.now(), None, {"sender": sender.id})] == trail(
        service, start
    )
    assert ((), ["rt-0"], ["rt-1"]) == (found.failing_senders, rotating.calls, checked.calls)


def test_readiness_tells_a_failing_sender_in_the_hosts_words(
    make_service: ServiceFactory,
    service: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """A sender the server now refuses is told in readiness() with the host's own
    sentence for that error, as configure_sender raises it."""
    _, failing = two_senders(service, clock)
    mailer.passwords["j@juan.mx"] = "cambiada en el servidor"
    words = {"en": {"error.sender_auth_failed": "Ask IT about {host}."}}
    english = make_service(locale="en", translations=words)
    found = english.readiness(verify_senders=True)
    assert ((failing, "Ask IT about smtp.juan.mx."),) == found.failing_messages
    with pytest.raises(pr.SenderAuthenticationFailed) as refused:
        english.configure_sender(
            "juan", sender_settings("smtp.juan.mx", "j@juan.mx"), "clave de juan"
        )
    assert "Ask IT about smtp.juan.mx." == str(refused.value)
