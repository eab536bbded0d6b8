"""The stores the contract suite runs against: one entry per Store implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pwrecovery as pr

# Each factory receives a fresh temporary folder, for stores that keep files.
STORE_FACTORIES: dict[str, Callable[[Path], pr.Store]] = {
    "memory": lambda _tmp_path: pr.InMemoryStore(),
    "sqlite": lambda tmp_path: pr.SqliteStore(tmp_path / "store.db"),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """A new, empty store of each kind in turn; closed afterwards if it can be."""
    made = STORE_FACTORIES[request.param](tmp_path)
    yield made
    close = getattr(made, "close", None)
    if callable(close):
        close()
