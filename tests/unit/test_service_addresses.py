"""The recovery address through the service: its codes, as stored and as queued, and a
user who is gone meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest

import pwrecovery as pr
from pwrecovery._domain.mail import MailContent, content_from_json
from pwrecovery.records import UserRecord
from tests.conftest import ServiceFactory
from tests.helpers import SMTP_PASSWORD, VanishesAfterFirstRead, sender_settings


@pytest.fixture
def catalog(service: pr.RecoveryService) -> pr.RecoveryService:
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    return service


def pending_id(store: pr.InMemoryStore, key: str) -> str:
    record = store.get_user(key)
    assert record is not None
    assert record.pending_verification is not None
    return record.pending_verification.id


def test_each_mailed_code_is_stored_under_an_id_of_its_own(
    catalog: pr.RecoveryService, store: pr.InMemoryStore
) -> None:
    """A code mailed at once is stored, like a queued one, under an id of its own: a newer
    code for the same user has another."""
    catalog.set_recovery_email("juan", "juan@empresa.mx")
    first = pending_id(store, "juan")
    catalog.set_recovery_email("juan", "otro@empresa.mx")
    second = pending_id(store, "juan")
    assert (True, True, True) == (first != "", second != "", first != second)


def test_a_queued_code_mail_says_who_where_until_when_and_in_which_language(
    make_service: ServiceFactory,
    catalog: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """Without the key, the verification mail waiting in the outbox holds the user's name
    and login, the address, the code's expiry and the user's language, and no new address
    (that is only for the notice of a change)."""
    catalog.set_user_locale("juan", "en")
    make_service(secret_key=None).set_recovery_email("juan", "juan@empresa.mx")
    (message,) = store.due_messages(clock.now(), 10)
    content, _ = content_from_json(message.payload)
    assert (
        MailContent(
            purpose=pr.Purpose.EMAIL_VERIFICATION,
            to_address="juan@empresa.mx",
            to_name="Juan Pérez",
            login="juan",
            expires_at=clock.now() + timedelta(hours=24),
            locale="en",
            new_address="",
        )
        == content
    )


def test_an_address_set_for_a_user_removed_meanwhile_is_unknown_and_its_mail_audited(
    make_service: ServiceFactory,
    catalog: pr.RecoveryService,
    store: pr.InMemoryStore,
    clock: pr.ManualClock,
) -> None:
    """When the user is removed while the code is being mailed, the address is not stored:
    UnknownUser naming the user, and the mail that did go out is still audited."""
    racing = make_service(store=VanishesAfterFirstRead(store))
    (sender,) = (account.id for account in catalog.senders())
    start = len(store.audit_trail())
    with pytest.raises(pr.UnknownUser) as caught:
        racing.set_recovery_email("juan", "juan@empresa.mx", origin="CAJA-01")
    assert "juan" == caught.value.login
    assert [
        pr.AuditEvent(
            "mail_sent",
            "juan",
            clock.now(),
            "CAJA-01",
            {"purpose": "email-verification", "sender": sender},
        )
    ] == store.audit_trail()[start:]


class RecordsReads:
    """An ``InMemoryStore`` that records the keys of the users it is asked for."""

    def __init__(self, inner: pr.InMemoryStore) -> None:
        self._inner = inner
        self.keys: list[object] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def get_user(self, key: str) -> UserRecord | None:
        self.keys.append(key)
        return self._inner.get_user(key)


@pytest.mark.parametrize(("login", "shown"), [("na\ndie", "na\ufffddie"), (None, ""), (7, "")])
def test_a_login_that_cannot_be_one_is_unknown_without_asking_the_store(
    make_service: ServiceFactory,
    service: pr.RecoveryService,
    store: pr.InMemoryStore,
    login: object,
    shown: str,
) -> None:
    """A login that no user can have is UnknownUser (named printably) before the store is
    asked for it: the store is only ever asked for a key that is text."""
    reads = RecordsReads(store)
    with pytest.raises(pr.UnknownUser) as caught:
        make_service(store=reads).get_user(login)  # type: ignore[arg-type]
    assert (shown, []) == (caught.value.login, reads.keys)
