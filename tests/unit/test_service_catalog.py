"""The users catalog: users, recovery addresses and their verification."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

import pwrecovery as pr
from tests.helpers import (
    SMTP_PASSWORD,
    USER_PASSWORD,
    sender_settings,
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
