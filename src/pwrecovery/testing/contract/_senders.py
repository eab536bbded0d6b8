"""Sender accounts: saves, conditional usage updates, the owner's role, racing saves."""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs

from pwrecovery.models import SenderAccount, SenderSettings
from pwrecovery.ports import Store
from pwrecovery.records import (
    SenderRecord,
    SenderUsage,
)
from pwrecovery.testing.contract._records import (
    AT,
    _by_id,
    _event,
    _sender,
    _settings,
    _stored,
    _user,
)


class SendersContract:
    """Sender accounts: saves, conditional usage updates, the owner's role, racing saves.
    Mixed into ``StoreContract``."""

    def test_put_sender_inserts_and_replaces_by_id(self, store: Store) -> None:
        """put_sender adds a new id (version 1), and replaces the sender that has the id
        (its version grows)."""
        store.add_users([_user("Ana")])
        store.put_sender(_sender("s-1"))
        store.put_sender(_sender("s-2"))
        replacement = _sender(
            "s-1",
            secret=b"\x02other-blob",
            account=SenderAccount(
                id="s-1",
                owner="Ana",
                settings=_settings(host="smtp2.empresa.mx", display_name="Nómina"),
                verified_at=AT + timedelta(days=1),
            ),
        )
        store.put_sender(replacement)
        assert {
            "s-1": attrs.evolve(replacement, version=2),
            "s-2": attrs.evolve(_sender("s-2"), version=1),
        } == _by_id(store.list_senders())

    def test_sender_fields_round_trip(self, store: Store) -> None:
        """Every field of a sender record, secret bytes, usage and settings included, comes
        back equal."""
        store.add_users([_user("Ana")])
        settings = SenderSettings(
            host="::1",
            port=2525,
            security="none",
            username="usuario local",
            from_address="envíos@empresa.mx",
            display_name="Contabilidad «Pérez»",
            authentication="xoauth2",
        )
        record = SenderRecord(
            account=SenderAccount(id="s-9", owner="Ana", settings=settings, verified_at=AT),
            secret=bytes(range(256)),
            usage=SenderUsage(
                logins=(AT, AT + timedelta(seconds=1)),
                auth_failures=2,
                cooldown_until=AT + timedelta(minutes=15),
            ),
        )
        store.put_sender(record)
        [stored] = store.list_senders()
        assert attrs.evolve(record, version=1) == stored

    def test_update_sender_is_conditional(self, store: Store) -> None:
        """update_sender writes over the version read only."""
        store.put_sender(_sender())
        used = attrs.evolve(_sender(), usage=SenderUsage(logins=(AT,)))
        assert False is store.update_sender(used, expected_version=5)
        assert True is store.update_sender(used, expected_version=1, events=[_event("u")])
        assert False is store.update_sender(used, expected_version=1)
        assert (attrs.evolve(used, version=2), "u") == (
            store.list_senders()[0],
            store.audit_trail()[-1].kind,
        )

    def test_list_senders_reflects_the_owner_current_role(self, store: Store) -> None:
        """owner_supervisor follows the owner's role now: an enabled supervisor's senders
        rank first, a disabled one's do not."""
        store.add_users([_user("Ana"), _user("SUPERVISOR", supervisor=True)])
        store.put_sender(_sender("s-ana", "Ana", owner_supervisor=True))
        store.put_sender(_sender("s-sup", "SUPERVISOR", owner_supervisor=False))
        store.put_sender(_sender("s-gone", "Nadie", owner_supervisor=True))
        before = {k: v.owner_supervisor for k, v in _by_id(store.list_senders()).items()}
        ana = _stored(store, "ana")
        store.update_user(attrs.evolve(ana, supervisor=True), expected_version=ana.version)
        sup = _stored(store, "supervisor")
        store.update_user(attrs.evolve(sup, disabled=True), expected_version=sup.version)
        after = {k: v.owner_supervisor for k, v in _by_id(store.list_senders()).items()}
        assert before == {"s-ana": False, "s-sup": True, "s-gone": False}
        assert after == {"s-ana": True, "s-sup": False, "s-gone": False}

    def test_remove_sender_once(self, store: Store) -> None:
        """remove_sender returns True when it deleted the sender, then False."""
        store.put_sender(_sender("s-1"))
        store.put_sender(_sender("s-2"))
        assert (
            store.remove_sender("s-1"),
            store.remove_sender("s-1"),
            store.remove_sender("nunca"),
        ) == (True, False, False)
        assert [s.account.id for s in store.list_senders()] == ["s-2"]

    def test_concurrent_saves_of_senders_all_land(self, store: Store) -> None:
        """Four supervisors saving senders at once (new ones and the same one) all land:
        no save is lost or refused."""
        start = threading.Barrier(4)
        failures: list[BaseException] = []

        def save(number: int) -> None:
            try:
                start.wait()
                for round_ in range(5):
                    store.put_sender(_sender(f"s-{number}-{round_}"))
                    store.put_sender(_sender("s-shared", secret=bytes([number, round_])))
            except BaseException as error:  # noqa: BLE001 (reported to the main thread)
                failures.append(error)

        threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        senders = _by_id(store.list_senders())
        assert (failures, len(senders), senders["s-shared"].version) == ([], 21, 20)
