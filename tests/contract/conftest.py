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


# The contract tests SqlAlchemyStore fails on MariaDB today, each with its cause: marked
# xfail(strict=True) for the "mariadb" store only, so that a fix shows up as XPASS (a failure
# under strict) and the entry is then removed. Both causes are proven in
# tests/integration/test_mariadb_findings.py; with DATETIME(6) time columns and utf8mb4_bin
# key columns every contract test passes on MariaDB.
_MICROSECONDS = (
    "DateTime(timezone=True) is DATETIME (whole seconds) on MariaDB: the microseconds of the"
    " times written are lost; needs DATETIME(6)"
)
MARIADB_KNOWN_FAILURES: dict[str, str] = {
    "test_adding_a_taken_key_is_refused_and_writes_nothing": _MICROSECONDS,
    "test_update_with_a_stale_version_changes_nothing": _MICROSECONDS,
    "test_audit_events_are_kept_in_order": _MICROSECONDS,
    "test_audit_event_fields_round_trip": _MICROSECONDS,
    "test_audit_trail_filters_by_login_case_insensitively": _MICROSECONDS,
    "test_put_sender_inserts_and_replaces_by_id": _MICROSECONDS,
    "test_sender_fields_round_trip": _MICROSECONDS,
    "test_datetimes_round_trip_as_aware_utc": _MICROSECONDS,
    "test_every_user_field_round_trips": _MICROSECONDS,
    "test_enqueue_rides_on_the_user_update": _MICROSECONDS,
    "test_update_message_is_conditional": _MICROSECONDS,
    "test_unknown_user_is_none": (
        "the key column's collation utf8mb4_general_ci ignores case: get_user('Juan') finds"
        " the key 'juan'; needs utf8mb4_bin"
    ),
    "test_list_users_is_sorted_by_key": (
        "utf8mb4_general_ci sorts 'ñandú' with 'n' (before 'zeta'), not by code point;"
        " needs utf8mb4_bin"
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the known MariaDB failures of this suite (and nothing outside it)."""
    here = Path(__file__).parent
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            callspec is None
            or callspec.params.get("store") != "mariadb"
            or item.path.parent != here
        ):
            continue
        reason = MARIADB_KNOWN_FAILURES.get(getattr(item, "originalname", item.name))
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """A new, empty store of each kind in turn; closed afterwards if it can be."""
    made = STORE_FACTORIES[request.param](request, tmp_path)
    yield made
    close = getattr(made, "close", None)
    if callable(close):
        close()
