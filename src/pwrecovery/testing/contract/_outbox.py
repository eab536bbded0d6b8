"""The outbox: messages ride on user writes, come due in order, are claimed and deleted once."""

from __future__ import annotations

from datetime import timedelta

import attrs

from pwrecovery.ports import Store
from pwrecovery.testing.contract._records import (
    AT,
    _event,
    _message,
    _user,
)


class OutboxContract:
    """The outbox: messages ride on user writes, come due in order, are claimed and deleted once.
    Mixed into ``StoreContract``."""

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
        assert [m.id for m in due] == ["a", "b", "c"]
        assert [m.id for m in store.due_messages(AT + timedelta(minutes=2), 2)] == ["a", "b"]
        assert store.due_messages(AT - timedelta(seconds=1), 10) == []

    def test_update_message_is_conditional(self, store: Store) -> None:
        """A claim with the read version wins once; a stale one changes nothing."""
        store.add_users([_user()])
        store.update_user(_user(), expected_version=1, enqueue=[_message()])
        claimed = _message(minutes=5, attempts=1, last_error="delivery_failed")
        assert True is store.update_message(claimed, expected_version=1, events=[_event("claim")])
        assert False is store.update_message(claimed, expected_version=1)
        due = store.due_messages(AT + timedelta(minutes=5), 10)
        assert [attrs.evolve(claimed, version=2)] == due
        assert store.audit_trail()[-1].kind == "claim"

    def test_delete_message(self, store: Store) -> None:
        """A message is deleted once, with its audit events; a second delete says False."""
        store.add_users([_user()])
        store.update_user(_user(), expected_version=1, enqueue=[_message()])
        assert True is store.delete_message("m-1", [_event("queued_mail_sent")])
        assert False is store.delete_message("m-1", [_event("never")])
        assert (
            store.due_messages(AT + timedelta(days=1), 10),
            [e.kind for e in store.audit_trail()],
        ) == ([], ["queued_mail_sent"])
