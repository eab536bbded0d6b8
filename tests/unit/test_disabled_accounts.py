"""A disabled account, through the service: it can neither sign in nor recover, what was
pending for it is revoked, and a stranger cannot tell it from any other account.

(The record's own rule is in test_accounts.py::test_disabled_revokes_what_is_pending;
the equal work of a sign-in in every state, disabled included, in test_uniform_work.py.)
"""

from __future__ import annotations

import pytest

import pwrecovery as pr
from pwrecovery.testing import CountingHasher
from tests.conftest import ServiceFactory
from tests.helpers import (
    NEW_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    temporary_password_in,
    verification_code_in,
)


def test_only_the_right_password_learns_that_the_account_is_disabled(
    make_service: ServiceFactory, ready: pr.RecoveryService
) -> None:
    """The right password of a disabled user answers AccountDisabled, at sign-in and at a
    change of password; a wrong one answers InvalidCredentials with the same sentence as
    a login that does not exist, after the same single key derivation."""
    counter = CountingHasher(cheap_hasher())
    service = make_service(hasher=counter)
    service.disable_user("juan")
    with pytest.raises(pr.AccountDisabled):
        service.authenticate("juan", USER_PASSWORD)
    with pytest.raises(pr.AccountDisabled):
        service.change_password("juan", USER_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    work, sentences = [], []
    for login in ("juan", "nadie"):
        counter.reset()
        with pytest.raises(pr.InvalidCredentials) as caught:
            service.authenticate(login, "no es la clave")
        work.append((counter.hashes, counter.verifies))
        sentences.append(str(caught.value))
    assert [(0, 1), (0, 1)] == work
    assert sentences[0] == sentences[1]


def test_a_disabled_user_cannot_recover(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """ "Recuperar clave" for a disabled user is refused (AccountDisabled, in the default
    detailed mode) and mails nothing."""
    ready.disable_user("juan")
    with pytest.raises(pr.AccountDisabled):
        ready.request_recovery("juan")
    assert [] == mailer.outbox


def test_disabling_revokes_the_pending_temporary_password_for_good(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A temporary password mailed before the account was disabled never works again, not
    even once the account is enabled; the ordinary password then does."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    ready.disable_user("juan")
    ready.enable_user("juan")
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", temporary)
    assert pr.LoginStatus.OK == ready.authenticate("juan", USER_PASSWORD).status


def test_disabling_revokes_the_pending_verification_code(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A code mailed to a new recovery address before the account was disabled no longer
    confirms it once the account is enabled again: the address stays unconfirmed."""
    ready.set_recovery_email("juan", "juan.nuevo@empresa.mx")
    code = verification_code_in(
        next(m for m in mailer.outbox if m["X-PwRecovery-Purpose"] == "email-verification")
    )
    ready.disable_user("juan")
    ready.enable_user("juan")
    with pytest.raises(pr.VerificationFailed):
        ready.confirm_recovery_email("juan", code)
    user = ready.get_user("juan")
    assert ("juan.nuevo@empresa.mx", False) == (user.recovery_email, user.recovery_email_verified)


def test_a_queued_mail_for_a_user_disabled_meanwhile_is_dropped_unsent(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A keyless window queues "Recuperar clave"; the user is disabled before the worker
    runs: the worker drops the mail, sends nothing, and no temporary password exists."""
    window = make_service(secret_key=None, mailer=pr.RecordingMailer())
    window.request_recovery("juan")
    ready.disable_user("juan")
    assert pr.DeliveryReport(dropped=1) == ready.deliver_pending()
    assert [] == mailer.outbox
