"""The Store contract, run over every store pwrecovery ships (tests/contract/conftest.py).

The suite itself ships in ``pwrecovery.testing.contract`` so that a host who writes
its own store runs exactly these tests.
"""

from __future__ import annotations

from pwrecovery.testing.contract import StoreContract


class TestEveryStore(StoreContract):
    """Each test runs once per store kind (the ``store`` fixture of conftest.py)."""
