"""The batch methods the delivery worker uses: several reads or conditional writes in one
call, each write over the version its own record carries, answered one by one."""

from __future__ import annotations

import threading
from datetime import timedelta

import attrs

from pwrecovery.ports import Store
from pwrecovery.records import QueuedMessage, TemporaryCredential
from pwrecovery.testing.contract._records import AT, _event, _message, _stored, _user


def _queued(store: Store, *ids: str) -> list[QueuedMessage]:
    """Juan with the messages ``ids``, each due at ``AT``, stored at version 1."""
    store.add_users([_user()])
    store.update_user(_user(), expected_version=1, enqueue=[_message(i) for i in ids])
    return store.due_messages(AT, 100)


class BatchesContract:
    """The batch methods: ``get_users``, ``update_users``, ``update_messages``,
    ``delete_messages``. Mixed into ``StoreContract``."""

    def test_get_users_reads_those_that_exist(self, store: Store) -> None:
        """get_users gives the users whose keys exist, each once, by key; a key without a
        user is left out, and no key reads nothing."""
        store.add_users([_user("Juan"), _user("Ana"), _user("Luis")])
        found = store.get_users(["juan", "nadie", "ana", "juan"])
        assert [attrs.evolve(_user("Ana"), version=1), attrs.evolve(_user("Juan"), version=1)] == (
            found
        )
        assert [] == store.get_users([])

    def test_get_users_beyond_one_statement(self, store: Store) -> None:
        """1,200 keys (more than one IN list of a SQL store) are all read."""
        logins = [f"usuario{number:04d}" for number in range(1200)]
        store.add_users([_user(login) for login in logins])
        found = store.get_users([*(login.lower() for login in logins), "nadie"])
        assert [login.lower() for login in logins] == [user.key for user in found]

    def test_update_users_writes_each_over_its_own_version(self, store: Store) -> None:
        """Each record is written only if its version is still the stored one (then it
        is stored one higher); the answer says which, in order; a stale record changes
        nothing, and the others are written all the same."""
        store.add_users([_user("Juan"), _user("Ana"), _user("Luis")])
        temporary = TemporaryCredential("t-1", None, AT, AT + timedelta(days=7))
        batch = [
            attrs.evolve(_user("Juan"), version=1, temporary=temporary),
            attrs.evolve(_user("Ana"), version=7, display_name="Stale"),
            attrs.evolve(_user("Luis"), version=1, display_name="Luis Pérez"),
        ]
        assert [True, False, True] == store.update_users(batch)
        assert attrs.evolve(batch[0], version=2) == _stored(store, "juan")
        assert attrs.evolve(_user("Ana"), version=1) == _stored(store, "ana")
        assert attrs.evolve(batch[2], version=2) == _stored(store, "luis")
        assert [False, False, False] == store.update_users(batch)
        assert [] == store.update_users([])

    def test_update_messages_writes_each_over_its_own_version(self, store: Store) -> None:
        """A batch claim: each message written only over its own version; a message
        claimed meanwhile, or gone, is left as it is and answered False."""
        first, second, third = _queued(store, "m-1", "m-2", "m-3")
        store.delete_message("m-3")
        lease = AT + timedelta(minutes=5)
        claims = [
            attrs.evolve(m, attempts=1, next_attempt_at=lease) for m in (first, second, third)
        ]
        stale = attrs.evolve(claims[1], version=9)
        assert [True, False, False] == store.update_messages([claims[0], stale, claims[2]])
        assert [second] == store.due_messages(AT, 10)
        assert [second, attrs.evolve(claims[0], version=2)] == store.due_messages(lease, 10)
        assert [False] == store.update_messages([claims[0]])
        assert [] == store.update_messages([])

    def test_delete_messages_writes_the_events_of_those_deleted(self, store: Store) -> None:
        """Each message goes with its own events, written only if it was still there,
        in the order given; a second delete finds nothing and writes nothing."""
        _queued(store, "m-1", "m-2")
        deletions = [
            ("m-2", [_event("sent-2")]),
            ("gone", [_event("never")]),
            ("m-1", [_event("sent-1a"), _event("sent-1b")]),
        ]
        assert [True, False, True] == store.delete_messages(deletions)
        assert [] == store.due_messages(AT + timedelta(days=1), 10)
        assert ["sent-2", "sent-1a", "sent-1b"] == [e.kind for e in store.audit_trail()]
        assert [False, False, False] == store.delete_messages(deletions)
        assert 3 == len(store.audit_trail())
        assert [] == store.delete_messages([])

    def test_concurrent_batch_claims_take_each_message_once(self, store: Store) -> None:
        """Four threads at once each claim 20 of 40 messages, every message in two of the
        batches, half of them given in reverse order: every message is claimed by exactly
        one thread, and no thread fails (no deadlock between two batches)."""
        due = _queued(store, *(f"m-{number:02d}" for number in range(40)))
        lease = AT + timedelta(minutes=5)
        start = threading.Barrier(4)
        won: list[list[str]] = [[] for _ in range(4)]
        failures: list[BaseException] = []

        def claim(worker: int) -> None:
            mine = (due + due)[worker * 10 : worker * 10 + 20]
            claims = [attrs.evolve(m, attempts=1, next_attempt_at=lease) for m in mine]
            ordered = claims[::-1] if worker % 2 else claims
            try:
                start.wait()
                answers = store.update_messages(ordered)
                won[worker] = [c.id for c, ok in zip(ordered, answers, strict=True) if ok]
            except BaseException as error:  # noqa: BLE001 (reported to the main thread)
                failures.append(error)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [] == failures
        assert sorted(m.id for m in due) == sorted(i for ids in won for i in ids)
        assert [2] * 40 == [m.version for m in store.due_messages(lease, 100)]
