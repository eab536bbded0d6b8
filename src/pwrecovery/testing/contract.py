"""The tests every ``Store`` passes: run them against a store of your own.

pwrecovery runs this suite against ``InMemoryStore``, ``SqliteStore`` and
``SqlAlchemyStore`` on PostgreSQL, MariaDB and SQLite. A host that writes its
own store subclasses ``StoreContract`` in its tests and gives a ``store``
fixture that returns a new, empty store::

    import pytest
    from pwrecovery.testing.contract import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self):
            return MyStore(...)

Needs pytest (and hypothesis is not needed). Times are compared as instants;
text is compared by code point (``josé`` is not ``jose``).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from pwrecovery._domain.logins import login_key
from pwrecovery.exceptions import UserExists
from pwrecovery.models import AuditEvent, Purpose, SenderAccount, SenderSettings
from pwrecovery.ports import Store
from pwrecovery.records import (
    Attempts,
    PendingVerification,
    QueuedMessage,
    SenderRecord,
    SenderUsage,
    TemporaryCredential,
    Throttle,
    UserRecord,
)

__all__ = ["StoreContract"]

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def _user(login: str = "Juan", **changes: Any) -> UserRecord:  # noqa: ANN401 (record fields)
    values: dict[str, Any] = {"login": login, "key": login_key(login), "password_hash": HASH}
    values.update(changes)
    return UserRecord(**values)


def _event(kind: str, login: str | None = "Juan", minutes: int = 0, **detail: str) -> AuditEvent:
    return AuditEvent(
        kind=kind, login=login, at=AT + timedelta(minutes=minutes), origin="CAJA-01", detail=detail
    )


def _settings(**changes: Any) -> SenderSettings:  # noqa: ANN401 (settings fields)
    values: dict[str, Any] = {
        "host": "smtp.empresa.mx",
        "port": 587,
        "security": "starttls",
        "username": "envios@empresa.mx",
        "from_address": "envios@empresa.mx",
        "display_name": "Contabilidad",
    }
    values.update(changes)
    return SenderSettings(**values)


def _sender(sender_id: str = "s-1", owner: str = "Ana", **changes: Any) -> SenderRecord:  # noqa: ANN401
    account = SenderAccount(id=sender_id, owner=owner, settings=_settings(), verified_at=AT)
    values: dict[str, Any] = {"account": account, "secret": b"\x02sealed-blob"}
    values.update(changes)
    return SenderRecord(**values)


def _message(message_id: str = "m-1", minutes: int = 0, **changes: Any) -> QueuedMessage:  # noqa: ANN401
    values: dict[str, Any] = {
        "id": message_id,
        "user_key": "juan",
        "purpose": Purpose.TEMPORARY_PASSWORD,
        "credential_id": "c-1",
        "payload": b'{"purpose": "temporary-password"}',
        "created_at": AT,
        "next_attempt_at": AT + timedelta(minutes=minutes),
    }
    values.update(changes)
    return QueuedMessage(**values)


def _throttle(fingerprint: str = "#0123456789abcdef", **changes: Any) -> Throttle:  # noqa: ANN401
    values: dict[str, Any] = {"fingerprint": fingerprint, "touched_at": AT}
    values.update(changes)
    return Throttle(**values)


def _by_id(senders: list[SenderRecord]) -> dict[str, SenderRecord]:
    return {s.account.id: s for s in senders}


def _stored(store: Store, key: str) -> UserRecord:
    found = store.get_user(key)
    assert found is not None
    return found


class StoreContract:
    """The behaviour every store shares. Subclass it and define a ``store`` fixture (in
    the class or a conftest.py) that gives a new, empty store for each test."""

    # -- users ---------------------------------------------------------------

    def test_store_implements_the_port(self, store: Store) -> None:
        """The store is a ``pwrecovery.Store``."""
        assert isinstance(store, Store)

    def test_a_new_store_is_empty(self, store: Store) -> None:
        """A new store has no users, senders, messages, fingerprints or audit events."""
        assert ([], [], [], [], False, None) == (
            store.list_users(),
            store.list_senders(),
            store.audit_trail(),
            store.due_messages(AT + timedelta(days=365), 10),
            store.has_verified_supervisor(),
            store.get_throttle("#0123456789abcdef"),
        )

    def test_added_user_is_found_with_version_1(self, store: Store) -> None:
        """add_users then get_user by key gives back the same record, at version 1."""
        store.add_users([_user()])
        assert attrs.evolve(_user(), version=1) == store.get_user("juan")

    def test_adding_a_taken_key_is_refused_and_writes_nothing(self, store: Store) -> None:
        """A batch holding a taken key raises UserExists and writes none of its users,
        events or messages: all or nothing."""
        store.add_users([_user("Juan")], [_event("user_added")])
        with pytest.raises(UserExists):
            store.add_users(
                [_user("Ana"), _user("JUAN", display_name="Otro")],
                [_event("user_added", "Ana"), _event("user_added", "JUAN")],
                [_message("m-ana", user_key="ana")],
            )
        assert attrs.evolve(_user("Juan"), version=1) == store.get_user("juan")
        assert (None, [_event("user_added")]) == (store.get_user("ana"), store.audit_trail())
        assert [] == store.due_messages(AT + timedelta(days=1), 10)

    def test_a_batch_of_users_is_added_with_its_events_and_messages(self, store: Store) -> None:
        """add_users stores every user of the batch, the events and queued messages."""
        users = [_user(f"user{i:03}") for i in range(120)]
        events = [_event("user_imported", u.login) for u in users]
        store.add_users(users, events, [_message("m-7", user_key="user007")])
        assert [u.key for u in users] == [u.key for u in store.list_users()]
        assert (120, ["m-7"]) == (
            len(store.audit_trail()),
            [m.id for m in store.due_messages(AT, 10)],
        )

    def test_unknown_user_is_none(self, store: Store) -> None:
        """get_user of a key nobody has returns None (keys are exact: "Juan" is not one)."""
        store.add_users([_user("Juan")])
        assert (None, None) == (store.get_user("ana"), store.get_user("Juan"))

    @pytest.mark.parametrize(
        ("stored", "asked"),
        [("jose", "josé"), ("josé", "jose"), ("i", "ı"), ("😀", "😃"), ("a", "á"), ("o", "ö")],
    )
    def test_keys_compare_by_code_point(self, store: Store, stored: str, asked: str) -> None:
        """Lookups never match accents, dotless i, ß or one emoji with another (a database
        collation that does would let "josé" sign in as "jose")."""
        store.add_users([_user(stored)], [_event("user_added", stored)])
        assert (None, []) == (
            store.get_user(login_key(asked)),
            store.audit_trail(login_key(asked)),
        )
        assert stored == _stored(store, login_key(stored)).login

    def test_list_users_is_in_code_point_order(self, store: Store) -> None:
        """list_users gives every user in the code point order of their keys, whatever the
        database's collation."""
        for login in ("zeta", "Beto", "ana", "Ñandú", "carla", "Ana María", "álvaro", "😀"):
            store.add_users([_user(login)])
        keys = [u.key for u in store.list_users()]
        assert sorted(keys) == keys

    def test_update_with_the_current_version_stores_and_bumps_it(self, store: Store) -> None:
        """update_user with the stored version writes the record at version + 1."""
        store.add_users([_user()])
        changed = attrs.evolve(_user(), display_name="Juan Pérez", sign_in=Attempts(2, None, AT))
        assert True is store.update_user(changed, expected_version=1)
        assert attrs.evolve(changed, version=2) == store.get_user("juan")
        assert True is store.update_user(changed, expected_version=2)
        assert 3 == _stored(store, "juan").version

    @pytest.mark.parametrize("stale", [0, 2, 7])
    def test_update_with_a_stale_version_changes_nothing(self, store: Store, stale: int) -> None:
        """update_user with any other version returns False and writes nothing."""
        store.add_users([_user()], [_event("user_added")])
        changed = attrs.evolve(_user(), display_name="Intruso")
        assert False is store.update_user(
            changed,
            expected_version=stale,
            events=[_event("changed", minutes=1)],
            enqueue=[_message("lost")],
        )
        assert attrs.evolve(_user(), version=1) == store.get_user("juan")
        assert [_event("user_added")] == store.audit_trail()
        assert [] == store.due_messages(AT + timedelta(days=1), 10)

    def test_update_of_an_unknown_user_returns_false(self, store: Store) -> None:
        """update_user never creates a user."""
        assert False is store.update_user(_user(), expected_version=0)
        assert (None, []) == (store.get_user("juan"), store.audit_trail())

    def test_remove_user_is_conditional_and_takes_its_queue(self, store: Store) -> None:
        """remove_user deletes the user (over the version read) and its queued messages."""
        store.add_users([_user(), _user("Ana")])
        store.update_user(_user(), expected_version=1, enqueue=[_message()])
        store.update_user(
            _user("Ana"), expected_version=1, enqueue=[_message("m-ana", user_key="ana")]
        )
        assert False is store.remove_user("juan", expected_version=1)
        assert True is store.remove_user(
            "juan", expected_version=2, events=[_event("user_removed")]
        )
        assert False is store.remove_user("juan", expected_version=2)
        assert (None, ["m-ana"], "user_removed") == (
            store.get_user("juan"),
            [m.id for m in store.due_messages(AT, 10)],
            store.audit_trail()[-1].kind,
        )

    def test_every_user_field_round_trips(self, store: Store) -> None:
        """A record with every field set comes back equal, through add and through update."""
        full = _user(
            "Juan Pérez",
            display_name="Juan «JP» Pérez",
            supervisor=True,
            recovery_email="juan@empresa.mx",
            recovery_email_verified=True,
            pending_verification=PendingVerification(
                code_hash=HASH, expires_at=AT + timedelta(hours=24), attempts=2, id="p-1"
            ),
            temporary=TemporaryCredential(
                id="t-1", hash=HASH, issued_at=AT, expires_at=AT + timedelta(days=7)
            ),
            sign_in=Attempts(4, AT + timedelta(minutes=2), AT),
            temporary_sign_in=Attempts(1, None, AT + timedelta(seconds=1)),
            recovery_requests=(AT, AT + timedelta(minutes=5), AT + timedelta(minutes=9)),
            disabled=True,
            locale="en",
            created_at=AT - timedelta(days=30),
        )
        store.add_users([full])
        added = store.get_user("juan pérez")
        cleared = attrs.evolve(
            full,
            recovery_email=None,
            recovery_email_verified=False,
            pending_verification=None,
            temporary=None,
            sign_in=Attempts(),
            temporary_sign_in=Attempts(),
            recovery_requests=(),
            disabled=False,
            locale=None,
        )
        store.update_user(cleared, expected_version=1)
        assert attrs.evolve(full, version=1) == added
        assert attrs.evolve(cleared, version=2) == store.get_user("juan pérez")

    def test_secrets_still_to_be_made_round_trip(self, store: Store) -> None:
        """A temporary password or code the worker has yet to make (hash None) stays so."""
        pending = PendingVerification(code_hash=None, expires_at=AT, id="p-2")
        temporary = TemporaryCredential(id="t-2", hash=None, issued_at=AT, expires_at=AT)
        store.add_users([_user(pending_verification=pending, temporary=temporary)])
        stored = _stored(store, "juan")
        assert (pending, temporary) == (stored.pending_verification, stored.temporary)

    def test_times_are_kept_as_instants_in_utc(self, store: Store) -> None:
        """Every time comes back as the instant stored, aware, with its microseconds, even
        when it was given in another zone (a database must not keep the wall clock)."""
        mexico = timezone(timedelta(hours=-6))
        local = AT.astimezone(mexico)
        store.add_users(
            [
                _user(
                    sign_in=Attempts(5, local, local),
                    recovery_requests=(local, local + timedelta(microseconds=1)),
                    temporary=TemporaryCredential(
                        id="t-1", hash=HASH, issued_at=local, expires_at=local + timedelta(days=7)
                    ),
                )
            ]
        )
        stored = _stored(store, "juan")
        assert stored.temporary is not None
        moments = [
            stored.sign_in.locked_until,
            *stored.recovery_requests,
            stored.temporary.issued_at,
            stored.temporary.expires_at,
        ]
        assert [AT, AT, AT + timedelta(microseconds=1), AT, AT + timedelta(days=7)] == moments
        assert [] == [m for m in moments if m is None or m.utcoffset() is None]

    @pytest.mark.parametrize(
        ("supervisor", "email", "verified", "disabled", "expected"),
        [
            (True, "sup@empresa.mx", True, False, True),
            (True, "sup@empresa.mx", False, False, False),
            (True, None, False, False, False),
            (True, None, True, False, False),
            (False, "juan@empresa.mx", True, False, False),
            (True, "sup@empresa.mx", True, True, False),
        ],
        ids=["verified", "unverified", "no-address", "flag-only", "not-supervisor", "disabled"],
    )
    def test_has_verified_supervisor(
        self,
        store: Store,
        *,
        supervisor: bool,
        email: str | None,
        verified: bool,
        disabled: bool,
        expected: bool,
    ) -> None:
        """Only an enabled supervisor whose recovery address is set and verified counts."""
        store.add_users(
            [
                _user("juan", recovery_email="juan@empresa.mx", recovery_email_verified=True),
                _user(
                    "SUPERVISOR",
                    supervisor=supervisor,
                    recovery_email=email,
                    recovery_email_verified=verified,
                    disabled=disabled,
                ),
            ]
        )
        assert expected == store.has_verified_supervisor()

    def test_concurrent_read_modify_write_loses_no_update(self, store: Store) -> None:
        """8 threads × 25 conditional increments with retry end at exactly 200."""
        store.add_users([_user()])
        threads_count, rounds = 8, 25
        start = threading.Barrier(threads_count)
        failures: list[BaseException] = []

        def increment() -> None:
            try:
                start.wait()
                for _ in range(rounds):
                    while True:
                        current = _stored(store, "juan")
                        failures_now = current.sign_in.failures + 1
                        bumped = attrs.evolve(current, sign_in=Attempts(failures_now, None, AT))
                        if store.update_user(bumped, expected_version=current.version):
                            break
            except BaseException as error:  # noqa: BLE001 (reported to the main thread)
                failures.append(error)

        threads = [threading.Thread(target=increment) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        final = _stored(store, "juan")
        assert ([], threads_count * rounds) == (failures, final.sign_in.failures)
        assert 1 + threads_count * rounds == final.version

    # -- logins that do not exist ------------------------------------------------

    def test_fingerprint_key_is_made_once(self, store: Store) -> None:
        """The store's fingerprint key is 32 random bytes, the same on every read."""
        key = store.fingerprint_key()
        assert (32, key) == (len(key), store.fingerprint_key())

    def test_throttles_insert_once_then_update_conditionally(self, store: Store) -> None:
        """put_throttle inserts at version 0 only when absent, then writes only over the
        version read."""
        counted = _throttle(sign_in=Attempts(1, None, AT))
        assert True is store.put_throttle(counted, expected_version=0, events=[_event("a", None)])
        assert False is store.put_throttle(counted, expected_version=0)
        assert attrs.evolve(counted, version=1) == store.get_throttle(counted.fingerprint)
        more = attrs.evolve(
            counted,
            sign_in=Attempts(5, AT + timedelta(minutes=1), AT),
            temporary_sign_in=Attempts(2, None, AT),
            touched_at=AT + timedelta(minutes=1),
        )
        assert False is store.put_throttle(more, expected_version=3)
        assert True is store.put_throttle(more, expected_version=1)
        assert attrs.evolve(more, version=2) == store.get_throttle(counted.fingerprint)
        assert ["a"] == [e.kind for e in store.audit_trail()]

    def test_prune_throttles_forgets_the_idle_and_keeps_a_bound(self, store: Store) -> None:
        """Fingerprints untouched since a moment are forgotten, and beyond ``keep`` the
        least recently touched go first."""
        for minute in range(10):
            fingerprint = f"#{minute:016x}"
            store.put_throttle(
                _throttle(fingerprint, touched_at=AT + timedelta(minutes=minute)),
                expected_version=0,
            )
        gone = store.prune_throttles(AT + timedelta(minutes=3), keep=4)
        kept = [f"#{m:016x}" for m in range(10) if store.get_throttle(f"#{m:016x}") is not None]
        assert (6, [f"#{m:016x}" for m in (6, 7, 8, 9)]) == (gone, kept)

    # -- senders -------------------------------------------------------------

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
        assert {"s-ana": False, "s-sup": True, "s-gone": False} == before
        assert {"s-ana": True, "s-sup": False, "s-gone": False} == after

    def test_remove_sender_once(self, store: Store) -> None:
        """remove_sender returns True when it deleted the sender, then False."""
        store.put_sender(_sender("s-1"))
        store.put_sender(_sender("s-2"))
        assert (True, False, False) == (
            store.remove_sender("s-1"),
            store.remove_sender("s-1"),
            store.remove_sender("nunca"),
        )
        assert ["s-2"] == [s.account.id for s in store.list_senders()]

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
        assert ([], 21, 20) == (failures, len(senders), senders["s-shared"].version)

    # -- the outbox ----------------------------------------------------------

    def test_enqueue_rides_on_the_user_update(self, store: Store) -> None:
        """Messages given to update_user are stored (version 1) with it, and only if it
        writes."""
        store.add_users([_user()])
        assert False is store.update_user(_user(), expected_version=7, enqueue=[_message("lost")])
        assert True is store.update_user(_user(), expected_version=1, enqueue=[_message()])
        assert [attrs.evolve(_message(), version=1)] == store.due_messages(AT, 10)

    def test_due_messages_in_order_up_to_the_limit(self, store: Store) -> None:
        """Only messages whose time has come, oldest first, at most ``limit``."""
        store.add_users([_user()])
        queue = [_message("c", 2), _message("a", 0), _message("b", 1), _message("later", 90)]
        store.update_user(_user(), expected_version=1, enqueue=queue)
        due = store.due_messages(AT + timedelta(minutes=2), 10)
        assert ["a", "b", "c"] == [m.id for m in due]
        assert ["a", "b"] == [m.id for m in store.due_messages(AT + timedelta(minutes=2), 2)]
        assert [] == store.due_messages(AT - timedelta(seconds=1), 10)

    def test_update_message_is_conditional(self, store: Store) -> None:
        """A claim with the read version wins once; a stale one changes nothing."""
        store.add_users([_user()])
        store.update_user(_user(), expected_version=1, enqueue=[_message()])
        claimed = _message(minutes=5, attempts=1, last_error="delivery_failed")
        assert True is store.update_message(claimed, expected_version=1, events=[_event("claim")])
        assert False is store.update_message(claimed, expected_version=1)
        due = store.due_messages(AT + timedelta(minutes=5), 10)
        assert [attrs.evolve(claimed, version=2)] == due
        assert "claim" == store.audit_trail()[-1].kind

    def test_delete_message(self, store: Store) -> None:
        """A message is deleted once, with its audit events; a second delete says False."""
        store.add_users([_user()])
        store.update_user(_user(), expected_version=1, enqueue=[_message()])
        assert True is store.delete_message("m-1", [_event("queued_mail_sent")])
        assert False is store.delete_message("m-1", [_event("never")])
        assert ([], ["queued_mail_sent"]) == (
            store.due_messages(AT + timedelta(days=1), 10),
            [e.kind for e in store.audit_trail()],
        )

    # -- audit ---------------------------------------------------------------

    def test_audit_events_are_kept_in_order(self, store: Store) -> None:
        """Events given with every write are kept, oldest first."""
        events = [_event(f"e{i}", minutes=i, n=str(i)) for i in range(7)]
        store.add_users([_user()], events[0:1])
        store.update_user(_user(display_name="J"), expected_version=1, events=events[1:3])
        store.put_sender(_sender(), events[3:4])
        assert True is store.remove_sender("s-1", events[4:5])
        store.append_audit(events[5:7])
        assert events == store.audit_trail()

    def test_audit_event_fields_round_trip(self, store: Store) -> None:
        """Kind, login, time, origin and detail come back as given; None stays None."""
        events = [
            AuditEvent(
                kind="recovery_requested",
                login="Juan",
                at=AT,
                origin="CAJA-01 «norte» " + "x" * 100,
                detail={"masked": "j***@empresa.mx", "vacío": "", "emoji": "😀"},
            ),
            AuditEvent(kind="sender_removed", login=None, at=AT + timedelta(seconds=1)),
        ]
        store.append_audit(events)
        trail = store.audit_trail()
        assert events == trail
        assert [timedelta(0), timedelta(0)] == [e.at.utcoffset() for e in trail]

    def test_audit_trail_filters_by_login_case_insensitively(self, store: Store) -> None:
        """audit_trail(key) returns only the events of that login, however it was written,
        and a fingerprint is its own key."""
        events = [
            _event("a", "Juan"),
            _event("b", "ana"),
            _event("c", "JUAN", minutes=1),
            _event("d", None, minutes=2),
            _event("e", "juan", minutes=3),
            _event("f", "Juana", minutes=4),
            _event("g", "#0123456789abcdef", minutes=5),
            _event("h", "josé", minutes=6),
        ]
        store.append_audit(events)
        assert ["a", "c", "e"] == [e.kind for e in store.audit_trail("juan")]
        assert ["b"] == [e.kind for e in store.audit_trail("ana")]
        assert ["g"] == [e.kind for e in store.audit_trail("#0123456789abcdef")]
        assert ([], []) == (store.audit_trail("pedro"), store.audit_trail("jose"))
        assert events == store.audit_trail()
