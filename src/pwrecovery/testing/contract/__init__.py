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

from pwrecovery.testing.contract._audit import AuditContract
from pwrecovery.testing.contract._batches import BatchesContract
from pwrecovery.testing.contract._outbox import OutboxContract
from pwrecovery.testing.contract._senders import SendersContract
from pwrecovery.testing.contract._unknown import UnknownLoginsContract
from pwrecovery.testing.contract._users import UsersContract

__all__ = ["StoreContract"]


class StoreContract(
    UsersContract,
    UnknownLoginsContract,
    SendersContract,
    OutboxContract,
    BatchesContract,
    AuditContract,
):
    """The behaviour every store shares. Subclass it and define a ``store`` fixture (in
    the class or a conftest.py) that gives a new, empty store for each test."""
