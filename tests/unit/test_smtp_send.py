"""The bytes a message goes out as (``_smtp_send.as_sent``): for a mail as ``compose``
writes it, written directly and byte for byte what the email package's generator writes
(what ``smtplib.SMTP.send_message`` sent before); any other message through the generator,
without its blind copies."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, MailStyle, compose
from pwrecovery._secret import Secret
from pwrecovery.adapters import _smtp_send
from pwrecovery.adapters._smtp_send import as_sent
from pwrecovery.adapters.outgoing import needs_smtputf8, recipients_of
from tests.helpers import sender_settings

NOW = datetime(2026, 3, 14, 10, 30, 15, tzinfo=UTC)
NAMES = st.one_of(
    st.sampled_from(["", "Juan Pérez", 'Ana "la jefa" Ruiz', "x@y.mx, z@w.mx", "=?utf-8?q?a?="]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=90),
)
ADDRESSES = st.sampled_from(["juan@empresa.mx", "josé@ñandú.mx", "a.b+c@sub.empresa.mx"])
PRODUCTS = st.one_of(st.sampled_from(["", "Contabilidad Ñandú"]), st.text(max_size=120))


def send_message_bytes(message: EmailMessage, *, utf8: bool) -> bytes:
    """What smtplib.SMTP.send_message writes for ``message`` (Python 3.11-3.13)."""
    blind = copy.copy(message)
    del blind["Bcc"]
    del blind["Resent-Bcc"]
    policy = message.policy.clone(utf8=True) if utf8 else None  # type: ignore[call-arg]
    with io.BytesIO() as written:
        BytesGenerator(written, policy=policy).flatten(blind, linesep="\r\n")
        return written.getvalue()


def composed(name: str, address: str, product: str, purpose: pr.Purpose) -> EmailMessage:
    content = MailContent(
        purpose=purpose,
        to_address=address,
        to_name=name,
        login="juan",
        expires_at=NOW + timedelta(days=7) if purpose.carries_secret else None,
    )
    secret = {
        pr.Purpose.TEMPORARY_PASSWORD: Secret("Kx7P-mQ2z-H9aB"),
        pr.Purpose.EMAIL_VERIFICATION: Secret("48215937"),
    }.get(purpose)
    return compose(
        content,
        sender_settings(),
        now=NOW,
        message_token="k3Jd9sQ2xPz",
        secret=secret,
        style=MailStyle(product=product),
    )


@given(
    name=NAMES,
    address=ADDRESSES,
    product=PRODUCTS,
    purpose=st.sampled_from(list(pr.Purpose)),
)
def test_a_composed_mail_is_written_as_the_generator_writes_it(
    name: str, address: str, product: str, purpose: pr.Purpose
) -> None:
    try:
        message = composed(name, address, product, purpose)
    except pr.InvalidHeaderValue:
        event("refused by compose")
        return
    utf8 = needs_smtputf8(*recipients_of(message))
    event(f"utf8={utf8}")
    policy = message.policy.clone(linesep="\r\n", utf8=utf8)  # type: ignore[call-arg]
    direct = _smtp_send._as_composed(message, policy)
    assert direct is not None  # the direct writer took it, not the generator
    assert direct == send_message_bytes(message, utf8=utf8)
    assert as_sent(message, utf8=utf8) == direct


def test_a_mail_changed_after_composing_is_still_written_as_the_generator_writes_it() -> None:
    """A header replaced through the email package's API is folded by its policy, as the
    generator folds it; a part of another kind sends the mail through the generator."""
    message = composed("Juan Pérez", "juan@empresa.mx", "", pr.Purpose.PASSWORD_CHANGED)
    policy = message.policy.clone(linesep="\r\n")
    message.replace_header("Subject", "Otro asunto " * 10)
    assert _smtp_send._as_composed(message, policy) == send_message_bytes(message, utf8=False)
    assert b"Subject: Otro asunto Otro asunto" in as_sent(message, utf8=False)
    message.attach(EmailMessage())
    assert _smtp_send._as_composed(message, policy) is None
    assert as_sent(message, utf8=False) == send_message_bytes(message, utf8=False)


@pytest.mark.parametrize("utf8", [False, True])
def test_other_messages_are_written_by_the_generator_without_blind_copies(utf8: bool) -> None:
    message = EmailMessage()
    message["From"] = "envios@empresa.mx"
    message["Bcc"] = "oculto@empresa.mx"
    message["Subject"] = "Aviso"
    message.set_content("Hola\n.\nadiós\n")
    written = as_sent(message, utf8=utf8)
    assert written == send_message_bytes(message, utf8=utf8)
    assert b"oculto" not in written
    assert b"Bcc" not in written
    assert message["Bcc"] == "oculto@empresa.mx"  # the caller's message is left as it was
