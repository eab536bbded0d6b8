"""The host's words, the user's language, the company's clock.

Errors speak the service's locale; each mail goes in its recipient's language, with the
company's local time and the host's product name; a host can change any sentence or add
a locale; successes and readiness have sentences too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import USER_PASSWORD, sender_settings, temporary_password_in, text_of


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


def test_any_error_renders_in_any_shipped_locale(ready: pr.RecoveryService) -> None:
    """error.message(locale) gives the same error in another language; str() keeps the
    service's."""
    with pytest.raises(pr.InvalidCredentials) as caught:
        ready.authenticate("juan", "mal")
    assert (
        "El usuario o la clave de acceso no son correctos.",
        "The user name or password is incorrect.",
    ) == (str(caught.value), caught.value.message("en"))


def test_adapter_errors_are_localised(
    make_service: ServiceFactory, service: pr.RecoveryService
) -> None:
    """Errors raised inside an adapter reach the host in the service's locale too."""
    english = make_service(locale="en")
    with pytest.raises(pr.SenderAuthenticationFailed) as caught:
        english.configure_sender("juan", sender_settings(), "wrong")
    assert str(caught.value).startswith("The mail server smtp.empresa.mx rejected")


def test_settings_errors_speak_one_language() -> None:
    """A bad port is one sentence in one language: Spanish by default, English on request
    (release 1 mixed a Spanish frame with an English rule)."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        sender_settings(port=99999)
    assert (
        "El valor de «port» no es válido: debe ser un número entero de 1 a 65535.",
        "The value of “port” is not valid: it must be a whole number from 1 to 65535.",
    ) == (str(caught.value), caught.value.message("en"))
    with pytest.raises(pr.InvalidConfiguration) as policy:
        pr.Policy(max_failed_sign_ins=0)
    assert "it must" not in str(policy.value)
    assert ("max_failed_sign_ins", "positive_count") == (policy.value.setting, policy.value.rule)


def test_mails_go_in_the_recipients_language(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A bilingual office: a Spanish service mails an English-speaking user in English."""
    ready.set_user_locale("juan", "en")
    ready.request_recovery("juan")
    message = mailer.outbox[-1]
    assert "Your temporary password for the application" == message["Subject"]
    assert "It is valid until" in text_of(message)
    ready.set_user_locale("juan", None)
    ready.request_recovery("juan")
    assert "Tu clave temporal para la aplicación" == mailer.outbox[-1]["Subject"]


def test_a_users_locale_is_set_when_added(service: pr.RecoveryService) -> None:
    """add_user takes the user's language; an unknown one is refused, naming those known."""
    assert "en" == service.add_user("ana", "Clave de ana larga 1", locale="en").locale
    with pytest.raises(pr.InvalidConfiguration) as caught:
        service.add_user("luis", "Clave de luis larga 1", locale="fr")
    assert "es_MX" in str(caught.value)
    assert "en" == service.get_user("ana").locale


def test_mail_times_are_the_companys(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """timezone= makes every time a clerk reads the company's local time, with its zone."""
    mexico = make_service(timezone="America/Mexico_City")
    sent = mexico.request_recovery("juan")
    body = text_of(mailer.outbox[-1])
    assert "7 de enero de 2026, 18:00 (CST)" in body  # 2026-01-08 00:00 UTC
    assert "00:00 UTC" not in body
    assert "7 de enero de 2026, 18:00 (CST)" in sent.message()


def test_unknown_time_zone_is_refused(make_service: ServiceFactory) -> None:
    """A zone that is not an IANA name is refused with the reason."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        make_service(timezone="Mexico/Centro de Atención")
    assert "timezone" == caught.value.setting


def test_mails_carry_the_hosts_brand(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """branding= names the product in the subject and body; nothing names the host's screens."""
    make_service(branding="Contabilidad Plus").request_recovery("juan")
    message = mailer.outbox[-1]
    assert "Tu clave temporal para Contabilidad Plus" == message["Subject"]
    assert "Contabilidad Plus" in text_of(message)
    assert "catálogo" not in text_of(message)


def test_a_host_changes_a_sentence_without_forking(make_service: ServiceFactory) -> None:
    """Translations override one message; every other sentence stays pwrecovery's."""
    words = pr.Translations(
        {"es_MX": {"error.invalid_credentials": "Usuario o contraseña incorrectos."}}
    )
    service = make_service(translations=words)
    service.add_user("juan", USER_PASSWORD)
    with pytest.raises(pr.InvalidCredentials) as caught:
        service.authenticate("juan", "mal")
    with pytest.raises(pr.UnknownUser) as unknown:
        service.get_user("nadie")
    assert "Usuario o contraseña incorrectos." == str(caught.value)
    assert "No existe el usuario «nadie»." == str(unknown.value)


def test_a_host_adds_a_locale(make_service: ServiceFactory, mailer: pr.RecordingMailer) -> None:
    """A locale pwrecovery does not ship (es_ES) becomes available; what it does not say
    comes from the shipped locale of the same language."""
    words = pr.Translations({"es_ES": {"error.invalid_credentials": "Usuario o clave erróneos."}})
    service = make_service(translations=words, locale="es_ES")
    service.add_user("juan", USER_PASSWORD, locale="es_ES")
    with pytest.raises(pr.InvalidCredentials) as caught:
        service.authenticate("juan", "mal")
    with pytest.raises(pr.UnknownUser) as unknown:
        service.get_user("nadie")
    assert ("Usuario o clave erróneos.", "No existe el usuario «nadie».") == (
        str(caught.value),
        str(unknown.value),
    )


def test_unknown_locale_refused(make_service: ServiceFactory) -> None:
    """A locale neither shipped nor added by the host is refused."""
    with pytest.raises(pr.InvalidConfiguration):
        make_service(locale="fr")


def test_successes_have_sentences(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """RecoverySent.message() is the sentence the window shows, in the service's locale or
    any other."""
    sent = ready.request_recovery("juan")
    assert sent.message().startswith("Se envió una clave temporal a j***@empresa.mx")
    assert sent.message("en").startswith("A temporary password was sent to j***@empresa.mx")
    uniform = make_service(
        policy=pr.Policy(disclosure="uniform", uniform_response_time=timedelta(0))
    )
    generic = uniform.request_recovery("juan")
    assert "***" not in generic.message()
    assert temporary_password_in(mailer.outbox[-1])


def test_readiness_speaks_in_sentences(service: pr.RecoveryService) -> None:
    """readiness().problems() gives each finding a stable code and a sentence."""
    problems = service.readiness().problems()
    assert ["no_sender", "no_supervisor", "user_without_address", "user_without_address"] == [
        p.code for p in problems
    ]
    assert [] == [p for p in problems if not p.message().endswith(".")]
    assert "juan" in problems[-2].message("en")
