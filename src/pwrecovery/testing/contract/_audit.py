"""The audit trail: kept in order, fields round-trip, filtered by login key."""

from __future__ import annotations

from datetime import timedelta

from pwrecovery.models import AuditEvent
from pwrecovery.ports import Store
from pwrecovery.testing.contract._records import (
    AT,
    _event,
    _sender,
    _user,
)


class AuditContract:
    """The audit trail: kept in order, fields round-trip, filtered by login key.
    Mixed into ``StoreContract``."""

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
        assert [e.kind for e in store.audit_trail("juan")] == ["a", "c", "e"]
        assert [e.kind for e in store.audit_trail("ana")] == ["b"]
        assert [e.kind for e in store.audit_trail("#0123456789abcdef")] == ["g"]
        assert (store.audit_trail("pedro"), store.audit_trail("jose")) == ([], [])
        assert events == store.audit_trail()
