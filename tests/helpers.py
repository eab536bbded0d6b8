"""Helpers shared by the tests: secrets out of mails, a cheap hasher, settings."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from email.message import EmailMessage

import pwrecovery as pr

SUPERVISOR_PASSWORD = "Supervisor de 2026"
USER_PASSWORD = "Caballo azul 77"
NEW_PASSWORD = "Tortuga verde 2026"
SMTP_PASSWORD = "smtp-app-password"
TEMPORARY_PATTERN = re.compile(r"^[2-9A-HJ-NP-Za-km-z]{12}$", re.MULTILINE)
CODE_PATTERN = re.compile(r"^\d{8}$", re.MULTILINE)


def cheap_hasher() -> pr.Argon2idHasher:
    """Argon2id at its smallest parameters: the real code path, fast enough for unit tests."""
    return pr.Argon2idHasher(memory_cost=8, iterations=1, lanes=1)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # a mail that crossed SMTP has CRLF line ends


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def secret_in(message: EmailMessage, pattern: re.Pattern[str] = TEMPORARY_PATTERN) -> str:
    """The one secret that stands alone on its own line of the text part."""
    found = pattern.findall(text_of(message))
    assert len(found) == 1, found
    return str(found[0])


def sender_settings(
    host: str = "smtp.empresa.mx", username: str = "envios@empresa.mx", **changes: object
) -> pr.SenderSettings:
    values: dict[str, object] = {
        "host": host,
        "port": 587,
        "security": pr.Security.STARTTLS,
        "username": username,
        "from_address": username,
        "display_name": "Contabilidad",
    }
    values.update(changes)
    return pr.SenderSettings(**values)  # type: ignore[arg-type]


def verify_address(
    svc: pr.RecoveryService, mailer: pr.RecordingMailer, login: str, address: str
) -> None:
    """Set and confirm a recovery address with the code mailed to it."""
    svc.set_recovery_email(login, address)
    svc.confirm_recovery_email(login, secret_in(mailer.outbox[-1], CODE_PATTERN))


def race_to_change(services: Sequence[pr.RecoveryService], login: str, temporary: str) -> list[str]:
    """Let every service try, at the same instant, to change ``login``'s password with the
    temporary one; return each outcome ("ok" or an error code)."""
    barrier = threading.Barrier(len(services))
    outcomes: list[str] = []

    def change(service: pr.RecoveryService, number: int) -> None:
        new = f"Nueva clave numero {number}"
        barrier.wait()
        try:
            service.change_password(login, temporary, new, new)
        except pr.PwRecoveryError as error:
            outcomes.append(error.code)
        else:
            outcomes.append("ok")

    threads = [threading.Thread(target=change, args=(s, n)) for n, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
