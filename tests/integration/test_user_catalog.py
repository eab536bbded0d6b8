"""Running the users catalog on every store (the table of tests/contract/conftest.py):
disable, enable, remove, SUPERVISOR, unlock, rename, language; each audited with its
origin, and what each does to signing in and recovering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pwrecovery as pr
from pwrecovery.records import Attempts, UserRecord
from tests.conftest import ServiceFactory
from tests.contract.conftest import STORE_FACTORIES
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    temporary_password_in,
    verification_code_in,
    verify_address,
)
from tests.legacy_hashes import stores_of_every_kind

ORIGIN = "CATALOGO-01"
WRONG = "No es la clave 1"
WRONG_TEMPORARY = "Abcd-Efgh-Jkmn"  # the temporary form, not the one mailed


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """Each store kind in turn (MariaDB too, once it is in that table)."""
    yield from stores_of_every_kind(request, tmp_path)


def stored(store: pr.Store, key: str) -> UserRecord:
    record = store.get_user(key)
    assert record is not None
    return record


def catalog_events(service: pr.RecoveryService, login: str, since: int) -> list[tuple[object, ...]]:
    return [(e.kind, e.origin, dict(e.detail)) for e in service.audit_trail(login)[since:]]


def attempt(call: object, *args: object) -> str:
    """The outcome of a call: "ok", or the code of the error it raised."""
    try:
        call(*args)  # type: ignore[operator]
    except pr.PwRecoveryError as error:
        return error.code
    return "ok"


# -- each action, audited -----------------------------------------------------------


def test_every_catalog_action_is_audited_with_its_origin(ready: pr.RecoveryService) -> None:
    """disable, enable, SUPERVISOR on and off, unlock, rename, language and remove each
    answer the changed user and leave one audit event with the origin; the trail of a
    removed user stays."""
    since = len(ready.audit_trail("juan"))
    answers = [
        ready.disable_user("juan", origin=ORIGIN).disabled,
        ready.enable_user("juan", origin=ORIGIN).disabled,
        ready.set_supervisor("juan", True, origin=ORIGIN).supervisor,
        ready.unlock_user("juan", origin=ORIGIN).login,
        ready.set_display_name("juan", "Juan P. López", origin=ORIGIN).display_name,
        ready.set_user_locale("juan", "en", origin=ORIGIN).locale,
        ready.set_user_locale("juan", None, origin=ORIGIN).locale,
        ready.set_supervisor("juan", False, origin=ORIGIN).supervisor,
    ]
    assert [True, False, True, "juan", "Juan P. López", "en", None, False] == answers
    assert ready.remove_user("JUAN", origin=ORIGIN) is None
    assert [
        ("user_disabled", ORIGIN, {}),
        ("user_enabled", ORIGIN, {}),
        ("supervisor_set", ORIGIN, {"supervisor": "True"}),
        ("user_unlocked", ORIGIN, {}),
        ("display_name_set", ORIGIN, {}),
        ("locale_set", ORIGIN, {"locale": "en"}),
        ("locale_set", ORIGIN, {"locale": ""}),
        ("supervisor_set", ORIGIN, {"supervisor": "False"}),
        ("user_removed", ORIGIN, {}),
    ] == catalog_events(ready, "juan", since)
    with pytest.raises(pr.UnknownUser):
        ready.get_user("juan")


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("disable_user", ()),
        ("enable_user", ()),
        ("remove_user", ()),
        ("set_supervisor", (True,)),
        ("unlock_user", ()),
        ("set_display_name", ("Nadie",)),
        ("set_user_locale", ("en",)),
    ],
)
def test_catalog_actions_on_a_login_that_does_not_exist(
    ready: pr.RecoveryService, action: str, args: tuple[object, ...]
) -> None:
    """Every catalog action on a login nobody has raises UnknownUser and writes nothing."""
    before = ready.audit_trail()
    with pytest.raises(pr.UnknownUser):
        getattr(ready, action)("nadie", *args, origin=ORIGIN)
    assert before == ready.audit_trail()


def test_bad_values_are_refused_before_anything_changes(
    ready: pr.RecoveryService, store: pr.Store
) -> None:
    """A display name with a line break, a language the service does not speak, or a
    SUPERVISOR flag that is not a boolean is refused; the user is unchanged."""
    before = stored(store, "juan")
    assert ["invalid_header_value", "invalid_configuration", "invalid_configuration"] == [
        attempt(ready.set_display_name, "juan", "Juan\r\nBcc: x@y.mx"),
        attempt(ready.set_user_locale, "juan", "fr_FR"),
        attempt(ready.set_supervisor, "juan", "yes"),
    ]
    assert before == stored(store, "juan")


# -- disabled users -----------------------------------------------------------------


def test_a_disabled_user_cannot_sign_in_and_a_wrong_password_does_not_tell(
    ready: pr.RecoveryService,
) -> None:
    """A disabled user's right password answers AccountDisabled; a wrong one answers
    InvalidCredentials with the very sentence an unknown login gets, so the state does
    not leak to whoever does not know the password."""
    ready.disable_user("juan", origin=ORIGIN)
    with pytest.raises(pr.InvalidCredentials) as wrong:
        ready.authenticate("juan", WRONG)
    with pytest.raises(pr.InvalidCredentials) as unknown:
        ready.authenticate("nadie", WRONG)
    assert str(unknown.value) == str(wrong.value)
    with pytest.raises(pr.AccountDisabled):
        ready.authenticate("juan", USER_PASSWORD)
    refused = [e for e in ready.audit_trail("juan") if e.kind == "sign_in_refused"]
    assert [{"reason": "account_disabled"}] == [dict(e.detail) for e in refused]
    ready.enable_user("juan", origin=ORIGIN)
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


def test_a_disabled_user_cannot_recover(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """ "Recuperar clave" for a disabled user answers AccountDisabled (detailed mode) and
    mails nothing."""
    ready.disable_user("juan", origin=ORIGIN)
    with pytest.raises(pr.AccountDisabled):
        ready.request_recovery("juan")
    assert [] == mailer.outbox
    refused = [e for e in ready.audit_trail("juan") if e.kind == "recovery_refused"]
    assert [{"reason": "account_disabled"}] == [dict(e.detail) for e in refused]


def test_a_disabled_user_gets_the_generic_answer_in_uniform_mode(
    ready: pr.RecoveryService, make_service: ServiceFactory, mailer: pr.RecordingMailer
) -> None:
    """With ``disclosure="uniform"`` a disabled user gets the answer an unknown login
    gets (each answer's expiry counts from its own request), and nothing is mailed."""
    ready.disable_user("juan", origin=ORIGIN)
    uniform = make_service(policy=pr.Policy(disclosure="uniform"))
    disabled, unknown = uniform.request_recovery("juan"), uniform.request_recovery("nadie")
    assert (unknown.masked_address, unknown.message("en")) == (
        disabled.masked_address,
        disabled.message("en"),
    )
    assert [] == mailer.outbox


def test_disabling_revokes_the_pending_temporary_password_and_verification(
    ready: pr.RecoveryService, store: pr.Store, mailer: pr.RecordingMailer
) -> None:
    """Disabling a user revokes the temporary password and the address verification
    pending: after enabling, neither the mailed password nor the mailed code works."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    ready.set_recovery_email("juan", "otro@empresa.mx")  # a code, and a notice to the old one
    (verification,) = [
        m for m in mailer.outbox if m["X-PwRecovery-Purpose"] == "email-verification"
    ]
    code = verification_code_in(verification)
    ready.disable_user("juan", origin=ORIGIN)
    record = stored(store, "juan")
    assert (None, None) == (record.temporary, record.pending_verification)
    revoked = [e for e in ready.audit_trail("juan") if e.kind == "temporary_password_revoked"]
    assert [({"reason": "user_disabled"}, ORIGIN)] == [(dict(e.detail), e.origin) for e in revoked]
    ready.enable_user("juan", origin=ORIGIN)
    assert ["invalid_credentials", "verification_failed"] == [
        attempt(ready.authenticate, "juan", temporary),
        attempt(ready.confirm_recovery_email, "juan", code),
    ]


def test_a_queued_mail_for_a_user_disabled_meanwhile_is_dropped(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A temporary password queued before the user was disabled is never made nor sent."""
    ready.request_recovery("juan", delivery="queued")
    ready.disable_user("juan", origin=ORIGIN)
    assert pr.DeliveryReport(dropped=1) == ready.deliver_pending()
    assert [] == mailer.outbox


# -- removing, and the SUPERVISOR ----------------------------------------------------


def test_removing_a_senders_owner_is_refused(ready: pr.RecoveryService) -> None:
    """A user who owns sender accounts cannot be removed (SenderInUse names them);
    once the senders are removed, the user can be."""
    owned = [s.id for s in ready.senders()]
    with pytest.raises(pr.SenderInUse) as caught:
        ready.remove_user("supervisor", origin=ORIGIN)
    assert ("SUPERVISOR", tuple(owned)) == (caught.value.login, caught.value.sender_ids)
    assert "SUPERVISOR" == ready.get_user("SUPERVISOR").login
    assert "user_removed" not in [e.kind for e in ready.audit_trail("SUPERVISOR")]
    for sender in owned:
        ready.remove_sender(sender, origin=ORIGIN)
    ready.remove_user("supervisor", origin=ORIGIN)
    assert ["juan"] == [u.login for u in ready.users()]


@pytest.mark.parametrize("how", ["demoted", "disabled", "removed"])
def test_losing_the_last_verified_supervisor_is_allowed_but_blocks_recovery(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, how: str
) -> None:
    """The last SUPERVISOR with a verified address may be demoted, disabled or removed
    (the host decides); readiness() then says recovery is blocked (``no_supervisor``)
    and "Recuperar clave" says the SUPERVISOR's address is missing."""
    ready.add_user("JEFA", "Jefa de oficina 9", supervisor=True)  # no verified address
    ready.configure_sender("JEFA", sender_settings(username="respaldo@empresa.mx"), SMTP_PASSWORD)
    assert ready.readiness().ready
    if how == "demoted":
        ready.set_supervisor("SUPERVISOR", False, origin=ORIGIN)
    elif how == "disabled":
        ready.disable_user("SUPERVISOR", origin=ORIGIN)
    else:
        for sender in ready.senders():
            if sender.owner == "SUPERVISOR":
                ready.remove_sender(sender.id, origin=ORIGIN)
        ready.remove_user("SUPERVISOR", origin=ORIGIN)
    readiness = ready.readiness()
    assert (False, False) == (readiness.supervisor_ready, readiness.ready)
    assert "no_supervisor" in [problem.code for problem in readiness.problems()]
    with pytest.raises(pr.RecoveryEmailMissing) as caught:
        ready.request_recovery("juan")
    assert frozenset({"supervisor"}) == caught.value.missing
    assert [] == mailer.outbox
    verify_address(ready, mailer, "JEFA", "jefa@empresa.mx")
    assert ready.readiness().ready


# -- locks ------------------------------------------------------------------------


def lock_both_routes(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> str:
    """Five wrong passwords on each route: both locked. Returns the temporary password."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    for wrong in (WRONG, WRONG_TEMPORARY):
        for _ in range(5):
            with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
                ready.authenticate("juan", wrong)
    return temporary


def test_unlock_clears_both_locks(
    ready: pr.RecoveryService, store: pr.Store, mailer: pr.RecordingMailer
) -> None:
    """unlock_user clears the ordinary password's and the temporary password's locks and
    failure counts: both passwords sign in again at once."""
    temporary = lock_both_routes(ready, mailer)
    assert ["too_many_attempts", "too_many_attempts"] == [
        attempt(ready.authenticate, "juan", USER_PASSWORD),
        attempt(ready.authenticate, "juan", temporary),
    ]
    ready.unlock_user("juan", origin=ORIGIN)
    record = stored(store, "juan")
    assert (Attempts(), Attempts()) == (record.sign_in, record.temporary_sign_in)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


def test_the_owner_always_gets_back_in(
    ready: pr.RecoveryService, store: pr.Store, mailer: pr.RecordingMailer
) -> None:
    """A stranger's five wrong passwords lock the ordinary password; the owner's valid
    temporary password still signs in, and the forced change clears the lock and the
    count, so the new password works at once."""
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            ready.authenticate("juan", WRONG)
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    assert "too_many_attempts" == attempt(ready.authenticate, "juan", USER_PASSWORD)
    assert pr.LoginStatus.MUST_CHANGE_PASSWORD == ready.authenticate("juan", temporary).status
    assert 5 == stored(store, "juan").sign_in.failures
    ready.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    record = stored(store, "juan")
    assert (Attempts(), Attempts(), None) == (
        record.sign_in,
        record.temporary_sign_in,
        record.temporary,
    )
    assert pr.LoginStatus.OK == ready.authenticate("juan", NEW_PASSWORD).status
