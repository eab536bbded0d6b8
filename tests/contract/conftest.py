"""The stores the contract suite runs against: one entry per Store implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import pwrecovery as pr

# Each factory receives the test's request (for server fixtures) and a fresh folder.
STORE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], pr.Store]] = {
    "memory": lambda _request, _tmp_path: pr.InMemoryStore(),
    "sqlite": lambda _request, tmp_path: pr.SqliteStore(tmp_path / "store.db"),
    "postgresql": lambda request, _tmp_path: pr.SqlAlchemyStore(
        request.getfixturevalue("postgres_engine")
    ),
    "mariadb": lambda request, _tmp_path: pr.SqlAlchemyStore(
        request.getfixturevalue("mariadb_engine")
    ),
    # The server store's SQL on a second dialect, to keep it portable.
    "sqlalchemy-sqlite": lambda _request, tmp_path: pr.SqlAlchemyStore(
        sa.create_engine(f"sqlite:///{tmp_path / 'sa.db'}", connect_args={"timeout": 30})
    ),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """A new, empty store of each kind in turn; closed afterwards if it can be."""
    made = STORE_FACTORIES[request.param](request, tmp_path)
    yield made
    close = getattr(made, "close", None)
    if callable(close):
        close()
