"""The vendor's story end to end, in memory: run it and read what it prints.

A supervisor and a user, a sender account checked on save (one refused for a
wrong password), verified recovery addresses, "Recuperar clave", sign-in with
the temporary password, the forced change, and sign-in with the new password.
"""

from __future__ import annotations

import re

import pwrecovery as pr

SMTP_PASSWORD = "smtp-app-password"  # what the (recorded) mail server accepts


def secret_in(message: pr.RecordingMailer, pattern: str) -> str:
    """The secret that stands alone on its own line of the last mail's text part."""
    body = message.outbox[-1].get_body(("plain",))
    assert body is not None
    found = re.search(pattern, body.get_content(), re.MULTILINE)
    assert found is not None
    return found.group(0)


def main() -> None:
    mailer = pr.RecordingMailer(passwords={"envios@empresa.mx": SMTP_PASSWORD})
    service = pr.RecoveryService(
        store=pr.InMemoryStore(),
        mailer=mailer,
        secret_key=pr.generate_key(),
        locale="es_MX",
    )
    service.add_user("SUPERVISOR", "Supervisor de 2026", supervisor=True)
    service.add_user("juan", "Caballo azul 77", display_name="Juan Pérez")
    print("1. Users: SUPERVISOR and juan")

    settings = pr.SenderSettings(
        host="smtp.empresa.mx",
        port=587,
        security=pr.Security.STARTTLS,
        username="envios@empresa.mx",
        from_address="envios@empresa.mx",
        display_name="Contabilidad",
    )
    try:
        service.configure_sender("SUPERVISOR", settings, "not-the-password")
    except pr.SenderAuthenticationFailed as error:
        print(f"2. Sender refused on save: {error}")
    account = service.configure_sender("SUPERVISOR", settings, SMTP_PASSWORD)
    print(f"3. Sender saved after its login was checked: {account.settings.username}")

    for login, address in (("SUPERVISOR", "supervisor@empresa.mx"), ("juan", "juan@empresa.mx")):
        service.set_recovery_email(login, address)
        service.confirm_recovery_email(login, secret_in(mailer, r"^\d{8}$"))
    print("4. Recovery addresses verified with the codes mailed to them")

    sent = service.request_recovery("juan", origin="CAJA-01")
    until = f"{sent.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"5. Recuperar clave: mail sent to {sent.masked_address}, valid until {until}")

    temporary = secret_in(mailer, r"^[2-9A-HJ-NP-Za-km-z]{12}$")
    result = service.authenticate("juan", temporary)
    assert result.status is pr.LoginStatus.MUST_CHANGE_PASSWORD
    print("6. Signed in with the temporary password: a new one is required")

    service.change_password("juan", temporary, "Tortuga verde 2026", "Tortuga verde 2026")
    print("7. Clave recuperada con éxito")

    assert service.authenticate("juan", "Tortuga verde 2026").status is pr.LoginStatus.OK
    print("8. Signed in with the new password")
    print(f"   (and a notice went to juan: “{mailer.outbox[-1]['Subject']}”)")

    print("9. Audit trail:")
    for event in service.audit_trail("juan"):
        print(f"   {event.at:%H:%M:%S} {event.kind} {dict(event.detail)}")


if __name__ == "__main__":
    main()
