"""Logins that do not exist: the fingerprint key and the bounded counters."""

from __future__ import annotations

from datetime import timedelta

import attrs

from pwrecovery.ports import Store
from pwrecovery.records import (
    Attempts,
)
from pwrecovery.testing.contract._records import (
    AT,
    _event,
    _throttle,
)


class UnknownLoginsContract:
    """Logins that do not exist: the fingerprint key and the bounded counters.
    Mixed into ``StoreContract``."""

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
        assert [e.kind for e in store.audit_trail()] == ["a"]

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
