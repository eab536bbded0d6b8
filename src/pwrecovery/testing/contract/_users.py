"""The users: lookups, batches, conditional writes, fields, times."""

from __future__ import annotations

import threading
from datetime import timedelta, timezone

import attrs
import pytest

from pwrecovery._domain.logins import login_key
from pwrecovery.exceptions import UserExists
from pwrecovery.ports import Store
from pwrecovery.records import (
    Attempts,
    PendingVerification,
    TemporaryCredential,
)
from pwrecovery.testing.contract._records import (
    AT,
    HASH,
    _event,
    _message,
    _stored,
    _user,
)


class UsersContract:
    """The users: lookups, batches, conditional writes, fields, times.
    Mixed into ``StoreContract``."""

    def test_store_implements_the_port(self, store: Store) -> None:
        """The store is a ``pwrecovery.Store``."""
        assert isinstance(store, Store)

    def test_a_new_store_is_empty(self, store: Store) -> None:
        """A new store has no users, senders, messages, fingerprints or audit events."""
        assert (
            store.list_users(),
            store.list_senders(),
            store.audit_trail(),
            store.due_messages(AT + timedelta(days=365), 10),
            store.has_verified_supervisor(),
            store.get_throttle("#0123456789abcdef"),
        ) == ([], [], [], [], False, None)

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
        assert store.due_messages(AT + timedelta(days=1), 10) == []

    def test_a_batch_of_users_is_added_with_its_events_and_messages(self, store: Store) -> None:
        """add_users stores every user of the batch, the events and queued messages."""
        users = [_user(f"user{i:03}") for i in range(120)]
        events = [_event("user_imported", u.login) for u in users]
        store.add_users(users, events, [_message("m-7", user_key="user007")])
        assert [u.key for u in users] == [u.key for u in store.list_users()]
        assert (
            len(store.audit_trail()),
            [m.id for m in store.due_messages(AT, 10)],
        ) == (120, ["m-7"])

    def test_unknown_user_is_none(self, store: Store) -> None:
        """get_user of a key nobody has returns None (keys are exact: "Juan" is not one)."""
        store.add_users([_user("Juan")])
        assert (store.get_user("ana"), store.get_user("Juan")) == (None, None)

    @pytest.mark.parametrize(
        ("stored", "asked"),
        [("jose", "josé"), ("josé", "jose"), ("i", "ı"), ("😀", "😃"), ("a", "á"), ("o", "ö")],
    )
    def test_keys_compare_by_code_point(self, store: Store, stored: str, asked: str) -> None:
        """Lookups never match accents, dotless i, ß or one emoji with another (a database
        collation that does would let "josé" sign in as "jose")."""
        store.add_users([_user(stored)], [_event("user_added", stored)])
        assert (
            store.get_user(login_key(asked)),
            store.audit_trail(login_key(asked)),
        ) == (None, [])
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
        assert _stored(store, "juan").version == 3

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
        assert store.due_messages(AT + timedelta(days=1), 10) == []

    def test_update_of_an_unknown_user_returns_false(self, store: Store) -> None:
        """update_user never creates a user."""
        assert False is store.update_user(_user(), expected_version=0)
        assert (store.get_user("juan"), store.audit_trail()) == (None, [])

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
        assert (
            store.get_user("juan"),
            [m.id for m in store.due_messages(AT, 10)],
            store.audit_trail()[-1].kind,
        ) == (None, ["m-ana"], "user_removed")

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
        assert [m for m in moments if m is None or m.utcoffset() is None] == []

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
