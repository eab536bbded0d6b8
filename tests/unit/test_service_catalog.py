"""The users catalog: users, recovery addresses and their verification."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import content_from_json
from tests.conftest import ServiceFactory
from tests.helpers import (
    SMTP_PASSWORD,
    USER_PASSWORD,
    VanishesAfterFirstRead,
    sender_settings,
    temporary_password_in,
    text_of,
    verification_code_in,
)


@pytest.fixture
def catalog(service: pr.RecoveryService) -> pr.RecoveryService:
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    return service


def test_add_and_get_user(service: pr.RecoveryService) -> None:
    """get_user returns the public view: login as written, no secret fields."""
    user = service.get_user("JUAN")
    assert pr.User("juan", "Juan Pérez", False, None, False) == user
    names = [field.name for field in attrs.fields(pr.User)]
    assert not any("hash" in name or "password" in name or "code" in name for name in names)


def test_logins_are_case_insensitive(service: pr.RecoveryService) -> None:
    """Logins match case-insensitively: "Juan" exists once whatever its case."""
    with pytest.raises(pr.UserExists):
        service.add_user("JUAN", "Otra clave segura 1")


def test_add_user_checks_password_rules(service: pr.RecoveryService) -> None:
    """A new user's password passes the same rules as any new password."""
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        service.add_user("pedro", "123456789")
    assert ("common",) == caught.value.reasons
    with pytest.raises(pr.UnknownUser):
        service.get_user("pedro")


def test_add_user_refuses_bad_login_and_name(service: pr.RecoveryService) -> None:
    """Bad logins and display names are refused with their own errors; nothing is stored."""
    with pytest.raises(pr.InvalidLogin):
        service.add_user("", USER_PASSWORD)
    with pytest.raises(pr.InvalidHeaderValue):
        service.add_user("pedro", USER_PASSWORD, display_name="Pedro\r\nBcc: x@y.mx")
    assert ["juan", "SUPERVISOR"] == [u.login for u in service.users()]


def test_unknown_user_in_catalog(service: pr.RecoveryService) -> None:
    """Catalog operations on a login that does not exist raise UnknownUser."""
    with pytest.raises(pr.UnknownUser):
        service.get_user("nadie")


def test_set_recovery_email_sends_code(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """§1.1: setting an address stores it unverified, normalised, and mails it a code."""
    assert "juan@empresa.mx" == catalog.set_recovery_email("juan", "juan@EMPRESA.MX")
    user = catalog.get_user("juan")
    assert ("juan@empresa.mx", False) == (user.recovery_email, user.recovery_email_verified)
    message = mailer.outbox[-1]
    assert "email-verification" == message["X-PwRecovery-Purpose"]
    assert "juan@empresa.mx" in message["To"]
    verification_code_in(message)


def test_confirm_with_code(catalog: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """§1.1: the address counts once confirmed with its code (spaces typed in it are fine)."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    code = verification_code_in(mailer.outbox[-1])
    catalog.confirm_recovery_email("juan", f" {code[:4]} {code[4:]} ")
    assert catalog.get_user("juan").recovery_email_verified is True


def test_code_is_single_use(catalog: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """A verification code works once."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    code = verification_code_in(mailer.outbox[-1])
    catalog.confirm_recovery_email("juan", code)
    with pytest.raises(pr.VerificationFailed):
        catalog.confirm_recovery_email("juan", code)


@pytest.mark.parametrize(
    ("elapsed", "works"),
    [(timedelta(hours=24) - timedelta(seconds=1), True), (timedelta(hours=24), False)],
)
def test_code_lifetime(
    catalog: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    elapsed: timedelta,
    works: bool,
) -> None:
    """§3: a verification code lives 24 hours."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    code = verification_code_in(mailer.outbox[-1])
    clock.advance(elapsed)
    if works:
        catalog.confirm_recovery_email("juan", code)
    else:
        with pytest.raises(pr.VerificationFailed):
            catalog.confirm_recovery_email("juan", code)
    assert works == catalog.get_user("juan").recovery_email_verified


def test_wrong_codes_use_up_the_code(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """After 5 wrong codes the right one no longer works: guessing is bounded."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    code = verification_code_in(mailer.outbox[-1])
    wrong = "00000000" if code != "00000000" else "11111111"
    for _ in range(5):
        with pytest.raises(pr.VerificationFailed):
            catalog.confirm_recovery_email("juan", wrong)
    with pytest.raises(pr.VerificationFailed):
        catalog.confirm_recovery_email("juan", code)
    assert catalog.get_user("juan").recovery_email_verified is False


def test_newer_code_replaces_older(catalog: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """Setting the address again sends a new code; only the newest one works."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    first = verification_code_in(mailer.outbox[-1])
    catalog.set_recovery_email("juan", "juan.perez@empresa.mx")
    second = verification_code_in(mailer.outbox[-1])
    if first != second:
        with pytest.raises(pr.VerificationFailed):
            catalog.confirm_recovery_email("juan", first)
    catalog.confirm_recovery_email("juan", second)
    assert "juan.perez@empresa.mx" == catalog.get_user("juan").recovery_email


def test_changing_address_needs_new_verification(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A new address replaces the verified one and counts only once confirmed."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.confirm_recovery_email("juan", verification_code_in(mailer.outbox[-1]))
    catalog.set_recovery_email("juan", "otro@empresa.mx")
    user = catalog.get_user("juan")
    assert ("otro@empresa.mx", False) == (user.recovery_email, user.recovery_email_verified)


def test_setting_the_same_verified_address_is_a_no_op(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Saving the catalog again with the verified address sends nothing and keeps it verified."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.confirm_recovery_email("juan", verification_code_in(mailer.outbox[-1]))
    sent = len(mailer.outbox)
    catalog.set_recovery_email("juan", "juan@EMPRESA.mx")
    assert sent == len(mailer.outbox)
    assert catalog.get_user("juan").recovery_email_verified is True


def test_invalid_address_refused(catalog: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """An invalid address is refused before anything is stored or sent."""
    for bad in ("juan", "juan@", "juan@empresa.mx\r\nBcc: x@y.mx", "a@b.mx, c@d.mx"):
        with pytest.raises(pr.InvalidEmailAddress):
            catalog.set_recovery_email("juan", bad)
    assert [] == mailer.outbox
    assert catalog.get_user("juan").recovery_email is None


def test_failed_code_delivery_stores_nothing(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """If the code cannot be mailed, the address is not stored (nothing half-written)."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    with pytest.raises(pr.DeliveryFailed):
        catalog.set_recovery_email("juan", "juan@empresa.mx")
    assert catalog.get_user("juan").recovery_email is None


def test_verification_mail_text(catalog: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """The verification mail names the user and says how long the code lasts."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    body = text_of(mailer.outbox[-1])
    assert "«juan»" in body
    assert "2 de enero de 2026, 00:00 (UTC)" in body


def test_catalog_change_with_ordinary_password(
    catalog: pr.RecoveryService,
) -> None:
    """§1.4: the same change_password serves a user changing their password in the catalog."""
    catalog.change_password("juan", USER_PASSWORD, "Mi nueva clave 2026", "Mi nueva clave 2026")
    assert pr.LoginStatus.OK == catalog.authenticate("juan", "Mi nueva clave 2026").status


def test_changing_a_verified_address_notifies_the_old_one(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A change of recovery address tells the verified address, without the code."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.confirm_recovery_email("juan", verification_code_in(mailer.outbox[-1]))
    catalog.set_recovery_email("juan", "otro@empresa.mx")
    verification, notice = mailer.outbox[-2:]
    code = verification_code_in(verification)
    assert ("email-verification", "recovery-address-changed") == (
        verification["X-PwRecovery-Purpose"],
        notice["X-PwRecovery-Purpose"],
    )
    assert "<juan@empresa.mx>" in notice["To"]
    assert "o***@empresa.mx" in text_of(notice)
    assert code not in text_of(notice)
    assert "otro@empresa.mx" not in text_of(notice)


def test_a_first_address_sends_no_notice(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """With no verified address before, only the verification mail goes out."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.set_recovery_email("juan", "otro@empresa.mx")  # the first was never verified
    assert ["email-verification"] * 2 == [m["X-PwRecovery-Purpose"] for m in mailer.outbox]


def test_catalog_change_sends_the_notice(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A password changed from the catalog is announced like a recovered one."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.confirm_recovery_email("juan", verification_code_in(mailer.outbox[-1]))
    catalog.change_password("juan", USER_PASSWORD, "Mi nueva clave 2026", "Mi nueva clave 2026")
    assert "password-changed" == mailer.outbox[-1]["X-PwRecovery-Purpose"]
    assert "Mi nueva clave 2026" not in text_of(mailer.outbox[-1])


# -- running the catalog, audited -----------------------------------------------------


def trail(svc: pr.RecoveryService, since: int) -> list[tuple[object, ...]]:
    """The events recorded after the first ``since``: kind, login, instant, origin, detail."""
    return [(e.kind, e.login, e.at, e.origin, dict(e.detail)) for e in svc.audit_trail()[since:]]


def test_every_catalog_action_is_audited_and_answers_the_user(
    service: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """Each catalog action is one audited change (kind, detail, origin) and answers the
    user as it now is."""
    start, now = len(service.audit_trail()), clock.now()
    o = "SUPERVISOR@CAJA-01"
    answers = [
        service.add_user("ana", USER_PASSWORD, supervisor=True, display_name="Ana", origin=o),
        service.set_display_name("ana", "  Ana López ", origin=o),
        service.set_user_locale("ana", "en", origin=o),
        service.set_user_locale("ana", None, origin=o),
        service.set_supervisor("ana", False, origin=o),
        service.unlock_user("ana", origin=o),
        service.disable_user("ana", origin=o),
        service.enable_user("ana", origin=o),
    ]
    service.remove_user("ana", origin=o)
    assert [
        pr.User("ana", "Ana", True, None, False),
        pr.User("ana", "Ana López", True, None, False),
        pr.User("ana", "Ana López", True, None, False, locale="en"),
        pr.User("ana", "Ana López", True, None, False),
        pr.User("ana", "Ana López", False, None, False),
        pr.User("ana", "Ana López", False, None, False),
        pr.User("ana", "Ana López", False, None, False, disabled=True),
        pr.User("ana", "Ana López", False, None, False),
    ] == answers
    assert [
        ("user_added", "ana", now, o, {"supervisor": "True"}),
        ("display_name_set", "ana", now, o, {}),
        ("locale_set", "ana", now, o, {"locale": "en"}),
        ("locale_set", "ana", now, o, {"locale": ""}),
        ("supervisor_set", "ana", now, o, {"supervisor": "False"}),
        ("user_unlocked", "ana", now, o, {}),
        ("user_disabled", "ana", now, o, {}),
        ("user_enabled", "ana", now, o, {}),
        ("user_removed", "ana", now, o, {}),
    ] == trail(service, start)
    with pytest.raises(pr.UnknownUser):
        service.get_user("ana")


def test_disabling_revokes_a_pending_temporary_password(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Disabling a user with a temporary password pending revokes it, audited with the
    action as the reason; enabling the user does not bring it back."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    start, now = len(ready.audit_trail()), clock.now()
    ready.disable_user("juan", origin="CAJA-01")
    ready.enable_user("juan")
    assert [
        ("user_disabled", "juan", now, "CAJA-01", {}),
        ("temporary_password_revoked", "juan", now, "CAJA-01", {"reason": "user_disabled"}),
        ("user_enabled", "juan", now, None, {}),
    ] == trail(ready, start)
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)


def test_unlocking_lets_the_owner_in_at_once(service: pr.RecoveryService) -> None:
    """unlock_user clears the lock and the failures: the right password works at once and
    the next wrong one is the first."""
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            service.authenticate("juan", "no es la clave")
    service.unlock_user("juan")
    assert pr.LoginStatus.OK == service.authenticate("juan", USER_PASSWORD).status


@pytest.mark.parametrize("supervisor", [1, "yes", None])
def test_set_supervisor_takes_only_a_bool(service: pr.RecoveryService, supervisor: object) -> None:
    """The supervisor flag is True or False, nothing that merely looks like one; the user
    is left as it was."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        service.set_supervisor("juan", supervisor)  # type: ignore[arg-type]
    expected = pr.InvalidConfiguration("supervisor", "type", kind="bool").message("en")
    assert ("supervisor", expected, False) == (
        caught.value.setting,
        caught.value.message("en"),
        service.get_user("juan").supervisor,
    )


def test_a_locale_the_service_does_not_speak_is_refused_naming_those_it_does(
    service: pr.RecoveryService,
) -> None:
    """A user's locale must be one the service speaks; the error names the field and the
    locales there are, and nothing changes."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        service.set_user_locale("juan", "fr")
    with pytest.raises(pr.InvalidConfiguration):
        service.add_user("ana", USER_PASSWORD, locale="fr")
    assert ("locale", "es_MX, en") == (caught.value.setting, caught.value.rule_params["locales"])
    assert (None, ["juan", "SUPERVISOR"]) == (
        service.get_user("juan").locale,
        [user.login for user in service.users()],
    )


def test_a_user_who_owns_senders_cannot_be_removed(
    ready: pr.RecoveryService, clock: pr.ManualClock
) -> None:
    """remove_user refuses while the user owns sender accounts, naming them; after they go,
    the user can."""
    (sender,) = (account.id for account in ready.senders())
    with pytest.raises(pr.SenderInUse) as caught:
        ready.remove_user("supervisor")
    assert ("SUPERVISOR", (sender,)) == (caught.value.login, tuple(caught.value.sender_ids))
    ready.remove_sender(sender)
    ready.remove_user("supervisor")
    assert ["juan"] == [user.login for user in ready.users()]


def test_add_user_refusals_name_what_is_wrong(service: pr.RecoveryService) -> None:
    """A login taken (in any spelling) is UserExists naming the login as typed (after
    NFKC), whatever the password; a password that breaks the rules is
    PasswordPolicyViolation with the policy's limits."""
    with pytest.raises(pr.UserExists) as exists:
        service.add_user("ＪＵＡＮ", USER_PASSWORD)
    with pytest.raises(pr.UserExists) as exists_weak:
        service.add_user("Juan", "corta")
    with pytest.raises(pr.PasswordPolicyViolation) as weak:
        service.add_user("ana", "corta")
    with pytest.raises(pr.PasswordPolicyViolation) as long:
        service.add_user("ana", "Una clave larga 2026 " * 7)
    short = pr.PasswordPolicyViolation(("too_short",), min_length=8, max_length=128)
    too_long = pr.PasswordPolicyViolation(("too_long",), min_length=8, max_length=128)
    assert ("JUAN", "Juan", ("too_short",), short.message("en")) == (
        exists.value.login,
        exists_weak.value.login,
        weak.value.reasons,
        weak.value.message("en"),
    )
    assert (("too_long",), too_long.message("en")) == (long.value.reasons, long.value.message("en"))


def test_added_users_are_dated_by_their_addition(
    service: pr.RecoveryService, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """A user added one by one is created at the moment of the addition."""
    now = clock.advance(days=3)
    service.add_user("ana", USER_PASSWORD)
    record = store.get_user("ana")
    assert record is not None
    assert now == record.created_at


@pytest.mark.parametrize(
    ("password", "reasons"),
    [
        (None, ("invalid_characters",)),
        ("x" * 513, ("too_long",)),
        ("\ud800" * 8, ("invalid_characters",)),
    ],
)
def test_add_user_refuses_a_password_nobody_can_type(
    service: pr.RecoveryService, password: object, reasons: tuple[str, ...]
) -> None:
    """A password that is not text, far over the maximum or not storable is refused with
    its reason, and no user is added."""
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        service.add_user("ana", password)  # type: ignore[arg-type]
    assert (reasons, 2) == (caught.value.reasons, len(service.users()))


def test_audit_trail_finds_a_login_or_its_fingerprint(service: pr.RecoveryService) -> None:
    """audit_trail(login) gives that user's events; for a login that does not exist, or a
    malformed one, the events filed under its fingerprint; with no login, all of them."""
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("nadie", "x")
    with pytest.raises(pr.InvalidCredentials):
        service.authenticate("na\ndie", "x")
    everything = service.audit_trail()
    assert (["user_added"], ["sign_in_failed"], ["sign_in_failed"], 4) == (
        [e.kind for e in service.audit_trail("JUAN")],
        [e.kind for e in service.audit_trail("nadie")],
        [e.kind for e in service.audit_trail("na\ndie")],
        len(everything),
    )
    assert service.audit_trail("nadie") != service.audit_trail("na\ndie")


# -- bringing an existing application's users ----------------------------------------

DJANGO = pr.Pbkdf2Hasher(iterations=1000)


@pytest.fixture
def importer(make_service: ServiceFactory) -> pr.RecoveryService:
    """A service that knows Django hashes, with a supervisor and a checked sender."""
    service = make_service(legacy_hashers=(pr.Pbkdf2Hasher(),))
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    return service


def imported_rows() -> list[pr.ImportedUser]:
    return [
        pr.ImportedUser(
            login="ana",
            password_hash=DJANGO.hash("Clave de ana 2026"),
            display_name="Ana López",
            recovery_email="ANA@Empresa.MX",
            recovery_email_verified=True,
        ),
        pr.ImportedUser(
            login="pedro",
            password_hash=DJANGO.hash("Clave de pedro 2026"),
            supervisor=True,
            recovery_email="pedro@empresa.mx",
            locale="en",
        ),
    ]


def test_an_import_is_audited_and_mails_a_code_to_each_address_not_vouched_for(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Imported users keep their hashes (audited with the scheme), an address the host
    vouches for counts at once (recovery_email_vouched, masked), and any other gets its
    code at once, in the user's language."""
    start, now, o = len(importer.audit_trail()), clock.now(), "migration"
    users = importer.import_users(imported_rows(), origin=o)
    (sender,) = (account.id for account in importer.senders())
    django = {"scheme": "Pbkdf2Hasher"}
    assert [
        pr.User("ana", "Ana López", False, "ANA@empresa.mx", True),
        pr.User("pedro", "", True, "pedro@empresa.mx", False, locale="en"),
    ] == users
    assert [
        ("user_imported", "ana", now, o, {"supervisor": "False", **django}),
        ("recovery_email_vouched", "ana", now, o, {"address": "A***@empresa.mx"}),
        ("user_imported", "pedro", now, o, {"supervisor": "True", **django}),
        ("mail_sent", "pedro", now, o, {"purpose": "email-verification", "sender": sender}),
        ("recovery_email_set", "pedro", now, o, {"address": "p***@empresa.mx"}),
    ] == trail(importer, start)
    message = mailer.outbox[-1]
    assert (["pedro@empresa.mx"], "Hello pedro,") == (
        [address.addr_spec for address in message["To"].addresses],
        text_of(message).splitlines()[0],
    )
    importer.confirm_recovery_email("pedro", verification_code_in(mailer.outbox[-1]))
    assert pr.LoginStatus.OK == importer.authenticate("ana", "Clave de ana 2026").status


def test_a_queued_import_stores_each_code_still_to_be_made_with_its_mail(
    importer: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """mail="queued": nothing is mailed; the address not vouched for is pending with a code
    the worker will make (audited recovery_email_set, masked), and its mail to that address
    waits in the outbox; a user without an address gets none."""
    sent, start, now, o = len(mailer.outbox), len(importer.audit_trail()), clock.now(), "migration"
    without = pr.ImportedUser(login="luis", password_hash=DJANGO.hash("Clave de luis 2026"))
    importer.import_users([*imported_rows(), without], mail="queued", origin=o)
    django = {"scheme": "Pbkdf2Hasher"}
    assert [
        ("user_imported", "ana", now, o, {"supervisor": "False", **django}),
        ("recovery_email_vouched", "ana", now, o, {"address": "A***@empresa.mx"}),
        ("user_imported", "pedro", now, o, {"supervisor": "True", **django}),
        ("recovery_email_set", "pedro", now, o, {"address": "p***@empresa.mx"}),
        ("user_imported", "luis", now, o, {"supervisor": "False", **django}),
    ] == trail(importer, start)
    record = store.get_user("pedro")
    assert record is not None
    assert record.pending_verification is not None
    (message,) = store.due_messages(clock.now(), 10)
    assert (sent, None, "pedro@empresa.mx", False) == (
        len(mailer.outbox),
        record.pending_verification.code_hash,
        record.recovery_email,
        record.recovery_email_verified,
    )
    assert ("pedro", pr.Purpose.EMAIL_VERIFICATION, record.pending_verification.id) == (
        message.user_key,
        message.purpose,
        message.credential_id,
    )
    assert "pedro@empresa.mx" == content_from_json(message.payload)[0].to_address


def test_an_import_with_bad_rows_names_every_one_and_imports_none(
    importer: pr.RecoveryService,
) -> None:
    """Every bad row is named with its number, its login (printable) and the reason (a
    login met before in the batch is a duplicate even when that row was bad), and not one
    user is imported."""
    good = DJANGO.hash("Clave de ana 2026")
    rows = [
        pr.ImportedUser(login="ju\nan", password_hash=good),
        pr.ImportedUser(login="luis", password_hash="md5$abc"),
        pr.ImportedUser(login="eva", password_hash=good, recovery_email="eva@"),
        pr.ImportedUser(login="rosa", password_hash=good, display_name="Rosa\r\nBcc: x@y.mx"),
        pr.ImportedUser(login="olga", password_hash=good, locale="fr"),
        pr.ImportedUser(login="nora", password_hash=good),
        pr.ImportedUser(login="NORA", password_hash=good),
        pr.ImportedUser(login="Supervisor", password_hash=good),
        pr.ImportedUser(login="bien", password_hash=good),
        pr.ImportedUser(login="Eva", password_hash=good),
    ]
    before = importer.users()
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    assert [
        (1, "ju\ufffdan", "invalid_login"),
        (2, "luis", "unknown_hash"),
        (3, "eva", "invalid_email"),
        (4, "rosa", "invalid_display_name"),
        (5, "olga", "invalid_locale"),
        (7, "NORA", "duplicate_in_batch"),
        (8, "Supervisor", "duplicate_in_store"),
        (10, "Eva", "duplicate_in_batch"),
    ] == list(caught.value.rows)
    assert before == importer.users()


@pytest.mark.parametrize(
    ("rows", "setting", "kind"),
    [
        ([imported_rows()[0], "bea"], "rows[1]", "pwrecovery.ImportedUser"),
        (
            [pr.ImportedUser(login="bea", password_hash="x", supervisor="no")],  # type: ignore[arg-type]
            "rows[0].supervisor",
            "bool",
        ),
        (
            [
                imported_rows()[0],
                pr.ImportedUser(login="bea", password_hash="x", recovery_email_verified=1),  # type: ignore[arg-type]
            ],
            "rows[1].recovery_email_verified",
            "bool",
        ),
    ],
)
def test_an_import_of_rows_of_the_wrong_type_is_a_configuration_error(
    importer: pr.RecoveryService, rows: list[object], setting: str, kind: str
) -> None:
    """A row that is not an ImportedUser, or a flag that is not a bool, is the host's code
    at fault: InvalidConfiguration naming the row (and flag) and the type it must be;
    nothing is imported."""
    before = importer.users()
    with pytest.raises(pr.InvalidConfiguration) as caught:
        importer.import_users(rows)  # type: ignore[arg-type]
    assert (setting, "type", {"kind": kind}, before) == (
        caught.value.setting,
        caught.value.rule,
        caught.value.rule_params,
        importer.users(),
    )


# -- recovery addresses, audited -------------------------------------------------------


def test_setting_and_confirming_an_address_is_audited(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Setting an address records its code's mail and the address (masked); a wrong code
    records a failed confirmation, the right one the confirmation."""
    start, now, o = len(catalog.audit_trail()), clock.now(), "CAJA-01"
    (sender,) = (account.id for account in catalog.senders())
    catalog.set_recovery_email("juan", "juan@empresa.mx", origin=o)
    code = verification_code_in(mailer.outbox[-1])
    with pytest.raises(pr.VerificationFailed):
        catalog.confirm_recovery_email("juan", "00000000" if code != "00000000" else "1", origin=o)
    catalog.confirm_recovery_email("juan", code, origin=o)
    assert [
        ("mail_sent", "juan", now, o, {"purpose": "email-verification", "sender": sender}),
        ("recovery_email_set", "juan", now, o, {"address": "j***@empresa.mx"}),
        ("recovery_email_confirmation_failed", "juan", now, o, {}),
        ("recovery_email_confirmed", "juan", now, o, {}),
    ] == trail(catalog, start)


def test_a_changed_verified_address_is_told_after_the_new_one_gets_its_code(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """Replacing a verified address mails the code to the new one, then tells the old one
    which address (masked) is taking its place; both are audited."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    catalog.confirm_recovery_email("juan", verification_code_in(mailer.outbox[-1]))
    start, now = len(catalog.audit_trail()), clock.now()
    (sender,) = (account.id for account in catalog.senders())
    catalog.set_recovery_email("juan", "otro@empresa.mx", origin="CAJA-01")
    code, notice = mailer.outbox[-2:]
    assert [
        ("email-verification", ["otro@empresa.mx"]),
        ("recovery-address-changed", ["juan@empresa.mx"]),
    ] == [
        (m["X-PwRecovery-Purpose"], [a.addr_spec for a in m["To"].addresses])
        for m in (code, notice)
    ]
    assert "o***@empresa.mx" in text_of(notice)
    assert [
        ("mail_sent", "juan", now, "CAJA-01", {"purpose": "email-verification", "sender": sender}),
        ("recovery_email_set", "juan", now, "CAJA-01", {"address": "o***@empresa.mx"}),
        (
            "mail_sent",
            "juan",
            now,
            "CAJA-01",
            {"purpose": "recovery-address-changed", "sender": sender},
        ),
    ] == trail(catalog, start)


def test_an_address_whose_code_cannot_be_mailed_is_audited_and_not_stored(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """When the code cannot be mailed, the failed attempt is audited, DeliveryFailed says
    so, and the address is not stored."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    start = len(catalog.audit_trail())
    with pytest.raises(pr.DeliveryFailed):
        catalog.set_recovery_email("juan", "juan@empresa.mx")
    kinds = [event[0] for event in trail(catalog, start)]
    assert (["delivery_attempt_failed", "delivery_failed"], None) == (
        kinds,
        catalog.get_user("juan").recovery_email,
    )


def test_a_service_without_the_key_queues_the_code(
    make_service: ServiceFactory,
    catalog: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key nothing is mailed: the address is stored pending, its code still to
    be made, its mail in the outbox, in one write (audited recovery_email_set)."""
    keyless = make_service(secret_key=None)
    start, now, sent = len(keyless.audit_trail()), clock.now(), len(mailer.outbox)
    assert "juan@empresa.mx" == keyless.set_recovery_email("juan", "juan@EMPRESA.mx")
    record = store.get_user("juan")
    assert record is not None
    assert record.pending_verification is not None
    (message,) = store.due_messages(now, 10)
    assert (sent, None, now + timedelta(hours=24)) == (
        len(mailer.outbox),
        record.pending_verification.code_hash,
        record.pending_verification.expires_at,
    )
    assert ("juan", record.pending_verification.id) == (message.user_key, message.credential_id)
    assert [("recovery_email_set", "juan", now, None, {"address": "j***@empresa.mx"})] == trail(
        keyless, start
    )


def test_a_disabled_user_cannot_set_an_address(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A disabled user's address is not changed and no code is mailed."""
    catalog.disable_user("juan")
    with pytest.raises(pr.AccountDisabled):
        catalog.set_recovery_email("juan", "juan@empresa.mx")
    assert (None, []) == (catalog.get_user("juan").recovery_email, mailer.outbox)


@pytest.mark.parametrize("login", ["nadie", "na\ndie", None])
def test_addresses_of_users_that_do_not_exist(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer, login: object
) -> None:
    """Setting or confirming the address of a login that does not exist (or cannot) is
    UnknownUser naming it printably; nothing is mailed."""
    with pytest.raises(pr.UnknownUser) as setting:
        catalog.set_recovery_email(login, "x@empresa.mx")  # type: ignore[arg-type]
    with pytest.raises(pr.UnknownUser) as confirming:
        catalog.confirm_recovery_email(login, "12345678")  # type: ignore[arg-type]
    shown = "na\ufffddie" if login == "na\ndie" else (login or "")
    assert (shown, shown, []) == (setting.value.login, confirming.value.login, mailer.outbox)


def test_a_code_that_is_not_text_is_a_failed_try(
    catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A code that is not text fails like a wrong one and uses up a try."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    code = verification_code_in(mailer.outbox[-1])
    for _ in range(4):
        with pytest.raises(pr.VerificationFailed):
            catalog.confirm_recovery_email("juan", None)  # type: ignore[arg-type]
    catalog.confirm_recovery_email("juan", code)
    assert catalog.get_user("juan").recovery_email_verified is True


def test_imported_users_are_dated_by_the_import(
    importer: pr.RecoveryService, store: pr.InMemoryStore, clock: pr.ManualClock
) -> None:
    """An imported user is created at the moment of the import (readiness tells legacy
    hashes that have waited long apart by it)."""
    now = clock.advance(days=3)
    importer.import_users(imported_rows())
    record = store.get_user("ana")
    assert record is not None
    assert now == record.created_at


def test_an_import_follows_the_policys_office_domains(make_service: ServiceFactory) -> None:
    """With allow_private_domains, an imported address on an office domain is accepted,
    as set_recovery_email would accept it."""
    service = make_service(
        legacy_hashers=(pr.Pbkdf2Hasher(),), policy=pr.Policy(allow_private_domains=True)
    )
    row = pr.ImportedUser(
        login="ana",
        password_hash=DJANGO.hash("Clave de ana 2026"),
        recovery_email="ana@servidor",
        recovery_email_verified=True,
    )
    assert "ana@servidor" == service.import_users([row])[0].recovery_email


def test_an_import_stands_when_a_code_cannot_be_mailed(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """The users are imported even when a verification code cannot go out: the failure is
    audited, not raised, and the address is left for setting again."""
    mailer.unreachable_hosts.add("smtp.empresa.mx")
    users = importer.import_users(imported_rows())
    assert (["ana", "pedro"], "delivery_failed") == (
        [user.login for user in users],
        importer.audit_trail("pedro")[-1].kind,
    )


ACTIONS: dict[str, Callable[[pr.RecoveryService], object]] = {
    "disable_user": lambda svc: svc.disable_user("juan"),
    "remove_user": lambda svc: svc.remove_user("juan"),
    "confirm_recovery_email": lambda svc: svc.confirm_recovery_email("juan", "12345678"),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_user_removed_meanwhile_is_unknown_by_name(
    make_service: ServiceFactory, service: pr.RecoveryService, store: pr.InMemoryStore, action: str
) -> None:
    """A catalog action on a user another workstation removes meanwhile is UnknownUser
    naming the user."""
    racing = make_service(store=VanishesAfterFirstRead(store))
    with pytest.raises(pr.UnknownUser) as caught:
        ACTIONS[action](racing)
    assert "juan" == caught.value.login


class AlwaysChanged:
    """An ``InMemoryStore`` on which another workstation changes a user before each of
    the service's attempts to remove it."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self.tries = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def remove_user(
        self, key: str, *, expected_version: int, events: Sequence[pr.AuditEvent] = ()
    ) -> bool:
        self.tries += 1
        found = self._inner.get_user(key)
        assert found is not None
        self._inner.update_user(found, expected_version=found.version)
        return self._inner.remove_user(key, expected_version=expected_version, events=events)


def test_a_user_changed_under_every_removal_is_given_up_after_24_tries(
    make_service: ServiceFactory, service: pr.RecoveryService, store: pr.InMemoryStore
) -> None:
    """remove_user tries 24 times against a user changed each time, then gives up
    (UnknownUser naming the user); the user stays."""
    racing = AlwaysChanged(store)
    with pytest.raises(pr.UnknownUser) as caught:
        make_service(store=racing).remove_user("juan")
    assert (24, "juan", "juan") == (
        racing.tries,
        caught.value.login,
        service.get_user("juan").login,
    )


def test_each_queued_code_has_its_own_id_and_its_mail_says_where_and_until_when(
    make_service: ServiceFactory,
    catalog: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key, each address set queues a code of its own (a newer one makes the
    older mail obsolete), and its mail's content names the address and the code's expiry."""
    keyless = make_service(secret_key=None)
    keyless.set_recovery_email("juan", "juan@empresa.mx")
    keyless.set_recovery_email("juan", "otro@empresa.mx")
    record = store.get_user("juan")
    assert record is not None
    assert record.pending_verification is not None
    first, second = sorted(store.due_messages(clock.now(), 10), key=lambda m: m.payload)
    content, _ = content_from_json(second.payload)
    assert (True, record.pending_verification.id) == (
        first.credential_id != second.credential_id,
        second.credential_id,
    )
    assert ("otro@empresa.mx", clock.now() + timedelta(hours=24)) == (
        content.to_address,
        content.expires_at,
    )


def test_an_office_address_follows_the_policy(
    make_service: ServiceFactory, catalog: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """An address on an office domain (one label) is refused by default and accepted with
    allow_private_domains."""
    with pytest.raises(pr.InvalidEmailAddress):
        catalog.set_recovery_email("juan", "juan@servidor")
    office = make_service(policy=pr.Policy(allow_private_domains=True))
    assert "juan@servidor" == office.set_recovery_email("juan", "juan@servidor")
