"""The Store contract (ports.Store, DESIGN §2 adapters): every store behaves the same.

The ``store`` fixture (tests/contract/conftest.py) runs each test over every
registered store implementation.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest

import pwrecovery as pr
from pwrecovery import records
from pwrecovery._domain.logins import login_key
from tests.helpers import sender_settings

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def _user(login: str = "Juan", **changes: object) -> records.UserRecord:
    values: dict[str, object] = {"login": login, "key": login_key(login), "password_hash": HASH}
    values.update(changes)
    return records.UserRecord(**values)  # type: ignore[arg-type]


def _event(kind: str, login: str | None = "Juan", minutes: int = 0, **detail: str) -> pr.AuditEvent:
    return pr.AuditEvent(
        kind=kind, login=login, at=AT + timedelta(minutes=minutes), origin="CAJA-01", detail=detail
    )


def _sender(sender_id: str = "s-1", owner: str = "Ana", **changes: object) -> records.SenderRecord:
    account = pr.SenderAccount(
        id=sender_id, owner=owner, settings=sender_settings(), verified_at=AT
    )
    values: dict[str, object] = {"account": account, "secret": b"\x01sealed-blob"}
    values.update(changes)
    return records.SenderRecord(**values)  # type: ignore[arg-type]


def _by_id(senders: list[records.SenderRecord]) -> dict[str, records.SenderRecord]:
    return {s.account.id: s for s in senders}


def test_store_implements_the_port(store: pr.Store) -> None:
    """Every registered store is a Store."""
    assert isinstance(store, pr.Store)


def test_added_user_is_found_with_version_1(store: pr.Store) -> None:
    """add_user then get_user by key gives back the same record, at version 1."""
    record = _user()
    store.add_user(record)
    assert attrs.evolve(record, version=1) == store.get_user("juan")


def test_adding_a_taken_key_is_refused_and_writes_nothing(store: pr.Store) -> None:
    """A second add_user with the same key raises UserExists; the first record and trail stay."""
    store.add_user(_user("Juan"), [_event("user_added")])
    with pytest.raises(pr.UserExists):
        store.add_user(_user("JUAN", display_name="Otro"), [_event("user_added", "JUAN")])
    assert attrs.evolve(_user("Juan"), version=1) == store.get_user("juan")
    assert [_event("user_added")] == store.audit_trail()


def test_unknown_user_is_none(store: pr.Store) -> None:
    """get_user of a key nobody has returns None."""
    store.add_user(_user("Juan"))
    assert (None, None) == (store.get_user("ana"), store.get_user("Juan"))


def test_update_with_the_current_version_stores_and_bumps_it(store: pr.Store) -> None:
    """update_user with the stored version writes the record at version + 1 and returns True."""
    store.add_user(_user())
    changed = attrs.evolve(_user(), display_name="Juan Pérez", failed_sign_ins=2)
    assert True is store.update_user(changed, expected_version=1)
    assert attrs.evolve(changed, version=2) == store.get_user("juan")
    assert True is store.update_user(changed, expected_version=2)
    assert 3 == store.get_user("juan").version  # type: ignore[union-attr]


@pytest.mark.parametrize("stale", [0, 2, 7])
def test_update_with_a_stale_version_changes_nothing(store: pr.Store, stale: int) -> None:
    """update_user with any other version returns False, writes nothing and logs nothing."""
    store.add_user(_user(), [_event("user_added")])
    changed = attrs.evolve(_user(), display_name="Intruso")
    assert False is store.update_user(
        changed, expected_version=stale, events=[_event("changed", minutes=1)]
    )
    assert attrs.evolve(_user(), version=1) == store.get_user("juan")
    assert [_event("user_added")] == store.audit_trail()


def test_update_of_an_unknown_user_returns_false(store: pr.Store) -> None:
    """update_user never creates a user."""
    assert False is store.update_user(_user(), expected_version=0)
    assert (None, []) == (store.get_user("juan"), store.audit_trail())


def test_audit_events_are_kept_in_order(store: pr.Store) -> None:
    """Events given with add, update, put, remove and append are kept, oldest first."""
    events = [_event(f"e{i}", minutes=i, n=str(i)) for i in range(7)]
    store.add_user(_user(), events[0:1])
    store.update_user(_user(display_name="J"), expected_version=1, events=events[1:3])
    store.put_sender(_sender(), events[3:4])
    assert True is store.remove_sender("s-1", events[4:5])
    store.append_audit(events[5:7])
    assert events == store.audit_trail()


def test_audit_event_fields_round_trip(store: pr.Store) -> None:
    """Kind, login, time, origin and detail come back as given, and None stays None."""
    events = [
        pr.AuditEvent(
            kind="recovery_requested",
            login="Juan",
            at=AT,
            origin="CAJA-01 «norte»",
            detail={"masked": "j***@empresa.mx", "vacío": ""},
        ),
        pr.AuditEvent(kind="sender_removed", login=None, at=AT + timedelta(seconds=1)),
    ]
    store.append_audit(events)
    trail = store.audit_trail()
    assert events == trail
    assert [{"masked": "j***@empresa.mx", "vacío": ""}, {}] == [dict(e.detail) for e in trail]
    assert [timedelta(0), timedelta(0)] == [e.at.utcoffset() for e in trail]


def test_audit_trail_filters_by_login_case_insensitively(store: pr.Store) -> None:
    """audit_trail(key) returns only the events of that login, however it was written."""
    events = [
        _event("a", "Juan"),
        _event("b", "ana"),
        _event("c", "JUAN", minutes=1),
        _event("d", None, minutes=2),
        _event("e", "juan", minutes=3),
        _event("f", "Juana", minutes=4),
    ]
    store.append_audit(events)
    assert ["a", "c", "e"] == [e.kind for e in store.audit_trail("juan")]
    assert ["b"] == [e.kind for e in store.audit_trail("ana")]
    assert [] == store.audit_trail("pedro")
    assert events == store.audit_trail()


def test_list_users_is_sorted_by_key(store: pr.Store) -> None:
    """list_users gives every user, in the order of their keys."""
    for login in ("zeta", "Beto", "ana", "Ñandú", "carla"):
        store.add_user(_user(login))
    assert ["ana", "beto", "carla", "zeta", "ñandú"] == [u.key for u in store.list_users()]


def test_list_users_of_an_empty_store_is_empty(store: pr.Store) -> None:
    """A new store has no users, no senders and no audit events."""
    assert ([], [], [], False) == (
        store.list_users(),
        store.list_senders(),
        store.audit_trail(),
        store.has_verified_supervisor(),
    )


@pytest.mark.parametrize(
    ("supervisor", "email", "verified", "expected"),
    [
        (True, "sup@empresa.mx", True, True),
        (True, "sup@empresa.mx", False, False),
        (True, None, False, False),
        (True, None, True, False),
        (False, "juan@empresa.mx", True, False),
    ],
    ids=[
        "verified-supervisor",
        "unverified",
        "no-address",
        "flag-without-address",
        "not-supervisor",
    ],
)
def test_has_verified_supervisor(
    store: pr.Store, supervisor: bool, email: str | None, verified: bool, expected: bool
) -> None:
    """Only a supervisor whose recovery address is set and verified counts."""
    store.add_user(_user("juan", recovery_email="juan@empresa.mx", recovery_email_verified=True))
    store.add_user(
        _user(
            "SUPERVISOR",
            supervisor=supervisor,
            recovery_email=email,
            recovery_email_verified=verified,
        )
    )
    assert expected == store.has_verified_supervisor()


def test_has_verified_supervisor_follows_updates(store: pr.Store) -> None:
    """Verifying the supervisor's address through update_user makes it count."""
    store.add_user(_user("SUPERVISOR", supervisor=True, recovery_email="sup@empresa.mx"))
    before = store.has_verified_supervisor()
    record = store.get_user("supervisor")
    assert record is not None
    store.update_user(
        attrs.evolve(record, recovery_email_verified=True), expected_version=record.version
    )
    assert (False, True) == (before, store.has_verified_supervisor())


def test_put_sender_inserts_and_replaces_by_id(store: pr.Store) -> None:
    """put_sender adds a new id, and replaces the sender that already has the id."""
    store.add_user(_user("Ana"))
    store.put_sender(_sender("s-1"))
    store.put_sender(_sender("s-2"))
    replacement = _sender(
        "s-1",
        secret=b"\x01other-blob",
        account=pr.SenderAccount(
            id="s-1",
            owner="Ana",
            settings=sender_settings(host="smtp2.empresa.mx", display_name="Nómina"),
            verified_at=AT + timedelta(days=1),
        ),
    )
    store.put_sender(replacement)
    assert {"s-1": replacement, "s-2": _sender("s-2")} == _by_id(store.list_senders())


def test_sender_fields_round_trip(store: pr.Store) -> None:
    """Every field of a sender record, secret bytes and settings included, comes back equal."""
    store.add_user(_user("Ana"))
    settings = pr.SenderSettings(
        host="::1",
        port=2525,
        security=pr.Security.NONE,
        username="usuario local",
        from_address="envíos@empresa.mx",
        display_name="Contabilidad «Pérez»",
    )
    record = records.SenderRecord(
        account=pr.SenderAccount(id="s-9", owner="Ana", settings=settings, verified_at=AT),
        secret=bytes(range(256)),
    )
    store.put_sender(record)
    [stored] = store.list_senders()
    assert record == stored
    assert timedelta(0) == stored.account.verified_at.utcoffset()


def test_list_senders_reflects_the_owner_current_role(store: pr.Store) -> None:
    """owner_supervisor follows the owner's supervisor flag now, not the one stored with it."""
    store.add_user(_user("Ana"))
    store.add_user(_user("SUPERVISOR", supervisor=True))
    store.put_sender(_sender("s-ana", "Ana", owner_supervisor=True))
    store.put_sender(_sender("s-sup", "SUPERVISOR", owner_supervisor=False))
    store.put_sender(_sender("s-gone", "Nadie", owner_supervisor=True))
    before = {k: v.owner_supervisor for k, v in _by_id(store.list_senders()).items()}
    ana = store.get_user("ana")
    assert ana is not None
    store.update_user(attrs.evolve(ana, supervisor=True), expected_version=ana.version)
    sup = store.get_user("supervisor")
    assert sup is not None
    store.update_user(attrs.evolve(sup, supervisor=False), expected_version=sup.version)
    after = {k: v.owner_supervisor for k, v in _by_id(store.list_senders()).items()}
    assert {"s-ana": False, "s-sup": True, "s-gone": False} == before
    assert {"s-ana": True, "s-sup": False, "s-gone": False} == after


def test_remove_sender_once(store: pr.Store) -> None:
    """remove_sender returns True when it deleted the sender, then False."""
    store.put_sender(_sender("s-1"))
    store.put_sender(_sender("s-2"))
    assert (True, False, False) == (
        store.remove_sender("s-1"),
        store.remove_sender("s-1"),
        store.remove_sender("nunca"),
    )
    assert ["s-2"] == [s.account.id for s in store.list_senders()]


def test_datetimes_round_trip_as_aware_utc(store: pr.Store) -> None:
    """Every datetime comes back equal to the instant stored, aware and in UTC."""
    store.add_user(
        _user(
            locked_until=AT,
            recovery_requests=(AT, AT + timedelta(microseconds=1)),
            temporary=records.TemporaryCredential(
                id="t-1", hash=HASH, issued_at=AT, expires_at=AT + timedelta(days=7)
            ),
            pending_verification=records.PendingVerification(
                code_hash=HASH, expires_at=AT + timedelta(hours=24)
            ),
        )
    )
    stored = store.get_user("juan")
    assert stored is not None
    assert stored.temporary is not None
    assert stored.pending_verification is not None
    moments = [
        stored.locked_until,
        *stored.recovery_requests,
        stored.temporary.issued_at,
        stored.temporary.expires_at,
        stored.pending_verification.expires_at,
    ]
    assert [
        AT,
        AT,
        AT + timedelta(microseconds=1),
        AT,
        AT + timedelta(days=7),
        AT + timedelta(hours=24),
    ] == moments
    assert [timedelta(0)] * len(moments) == [m.utcoffset() for m in moments]  # type: ignore[union-attr]


def test_every_user_field_round_trips(store: pr.Store) -> None:
    """A record with every field set comes back equal, through add and through update."""
    full = _user(
        "Juan Pérez",
        display_name="Juan «JP» Pérez",
        supervisor=True,
        recovery_email="juan@empresa.mx",
        recovery_email_verified=True,
        pending_verification=records.PendingVerification(
            code_hash=HASH, expires_at=AT + timedelta(hours=24), attempts=2
        ),
        temporary=records.TemporaryCredential(
            id="t-1", hash=HASH, issued_at=AT, expires_at=AT + timedelta(days=7)
        ),
        failed_sign_ins=4,
        locked_until=AT + timedelta(minutes=2),
        recovery_requests=(AT, AT + timedelta(minutes=5), AT + timedelta(minutes=9)),
    )
    store.add_user(full)
    added = store.get_user("juan pérez")
    cleared = attrs.evolve(
        full,
        recovery_email=None,
        recovery_email_verified=False,
        pending_verification=None,
        temporary=None,
        locked_until=None,
        recovery_requests=(),
        failed_sign_ins=0,
    )
    store.update_user(cleared, expected_version=1)
    assert attrs.evolve(full, version=1) == added
    assert attrs.evolve(cleared, version=2) == store.get_user("juan pérez")


def test_concurrent_read_modify_write_loses_no_update(store: pr.Store) -> None:
    """8 threads × 50 conditional increments with retry end at exactly 400."""
    store.add_user(_user())
    threads_count, rounds = 8, 50
    start = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def increment() -> None:
        try:
            start.wait()
            for _ in range(rounds):
                while True:
                    current = store.get_user("juan")
                    assert current is not None
                    bumped = attrs.evolve(current, failed_sign_ins=current.failed_sign_ins + 1)
                    if store.update_user(bumped, expected_version=current.version):
                        break
        except BaseException as error:  # noqa: BLE001 (reported to the main thread below)
            failures.append(error)

    threads = [threading.Thread(target=increment) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    final = store.get_user("juan")
    assert final is not None
    assert ([], threads_count * rounds) == (failures, final.failed_sign_ins)
    assert 1 + threads_count * rounds == final.version


# -- the outbox (queued delivery) --------------------------------------------------------


def _message(message_id: str = "m-1", minutes: int = 0, **changes: object) -> records.QueuedMessage:
    values: dict[str, object] = {
        "id": message_id,
        "user_key": "juan",
        "purpose": pr.Purpose.TEMPORARY_PASSWORD,
        "credential_id": "c-1",
        "payload": b"\x01sealed-mail",
        "created_at": AT,
        "next_attempt_at": AT + timedelta(minutes=minutes),
    }
    values.update(changes)
    return records.QueuedMessage(**values)  # type: ignore[arg-type]


def test_enqueue_rides_on_the_user_update(store: pr.Store) -> None:
    """Messages given to update_user are stored (version 1) with it, and only if it writes."""
    store.add_user(_user())
    assert False is store.update_user(_user(), expected_version=7, enqueue=[_message("lost")])
    assert [] == store.due_messages(AT + timedelta(days=1), 10)
    assert True is store.update_user(_user(), expected_version=1, enqueue=[_message()])
    assert [attrs.evolve(_message(), version=1)] == store.due_messages(AT, 10)


def test_due_messages_in_order_up_to_the_limit(store: pr.Store) -> None:
    """Only messages whose time has come, oldest first, at most ``limit``."""
    store.add_user(_user())
    queue = [_message("c", 2), _message("a", 0), _message("b", 1), _message("later", 90)]
    store.update_user(_user(), expected_version=1, enqueue=queue)
    due = store.due_messages(AT + timedelta(minutes=2), 10)
    assert ["a", "b", "c"] == [m.id for m in due]
    assert ["a", "b"] == [m.id for m in store.due_messages(AT + timedelta(minutes=2), 2)]
    assert [] == store.due_messages(AT - timedelta(seconds=1), 10)


def test_update_message_is_conditional(store: pr.Store) -> None:
    """A claim with the read version wins once; a stale one changes nothing."""
    store.add_user(_user())
    store.update_user(_user(), expected_version=1, enqueue=[_message()])
    claimed = _message(minutes=5, attempts=1, last_error="delivery_failed")
    assert True is store.update_message(claimed, expected_version=1, events=[_event("claim")])
    assert False is store.update_message(claimed, expected_version=1)
    assert [attrs.evolve(claimed, version=2)] == store.due_messages(AT + timedelta(minutes=5), 10)
    assert "claim" == store.audit_trail()[-1].kind


def test_delete_message(store: pr.Store) -> None:
    """A message is deleted once, with its audit events; a second delete says False."""
    store.add_user(_user())
    store.update_user(_user(), expected_version=1, enqueue=[_message()])
    assert True is store.delete_message("m-1", [_event("queued_mail_sent")])
    assert False is store.delete_message("m-1", [_event("never")])
    assert [] == store.due_messages(AT + timedelta(days=1), 10)
    assert "queued_mail_sent" == store.audit_trail()[-1].kind
