"""Localisation: errors and mails speak the service's locale (es_MX or en)."""

from __future__ import annotations

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import sender_settings, text_of


def test_errors_in_spanish_by_default(ready: pr.RecoveryService) -> None:
    """The default locale is es_MX."""
    with pytest.raises(pr.InvalidCredentials) as caught:
        ready.authenticate("juan", "mal")
    assert "El usuario o la clave de acceso no son correctos." == str(caught.value)


def test_errors_in_english(make_service: ServiceFactory, ready: pr.RecoveryService) -> None:
    """locale="en" makes every error message English."""
    english = make_service(locale="en")
    with pytest.raises(pr.InvalidCredentials) as caught:
        english.authenticate("juan", "mal")
    assert "The user name or password is incorrect." == str(caught.value)
    english.add_user("pedro", "Clave de pedro larga 1")
    with pytest.raises(pr.RecoveryEmailMissing) as missing:
        english.request_recovery("pedro")
    assert str(missing.value).startswith("The user “pedro” has no verified recovery e-mail")


def test_adapter_errors_are_localised(
    make_service: ServiceFactory, service: pr.RecoveryService
) -> None:
    """Errors raised inside an adapter reach the host in the service's locale too."""
    english = make_service(locale="en")
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        english.configure_sender("juan", sender_settings(), "wrong")
    assert str(caught.value).startswith("The mail server smtp.empresa.mx rejected")


def test_mails_in_english(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """locale="en" writes the mails in English."""
    make_service(locale="en").request_recovery("juan")
    message = mailer.outbox[-1]
    assert "Your temporary password" == message["Subject"]
    assert "It is valid until" in text_of(message)


def test_mails_in_spanish(ready: pr.RecoveryService, mailer: pr.RecordingMailer) -> None:
    """The Spanish mail uses the words users know."""
    ready.request_recovery("juan")
    message = mailer.outbox[-1]
    assert "Tu clave temporal de acceso" == message["Subject"]
    assert "Es válida hasta el 2026-01-08 00:00 UTC" in text_of(message)


def test_unknown_locale_refused(make_service: ServiceFactory) -> None:
    """Only es_MX and en exist."""
    with pytest.raises(pr.InvalidConfiguration):
        make_service(locale="fr")
