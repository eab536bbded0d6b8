"""Security review, finding 4 (files): every SQLite store file is readable by its owner only.

``tests/integration/test_sqlite_store.py::test_the_file_and_its_journal_are_private``
proves it for a new file given by path. These are the other ways a host opens a
store: a ``file:`` URI, and a file release 1 made (0644, for every local user to
read), which release 2 keeps using after the upgrade.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import pwrecovery as pr
from tests.helpers import USER_PASSWORD, cheap_hasher, raw_sqlite

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(path: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.glob(f"{path.name}*")}


def write_something(store: pr.Store) -> None:
    """Enough writes for SQLite to make its -wal and -shm."""
    service = pr.RecoveryService(
        store=store, mailer=pr.RecordingMailer(), secret_key=None, hasher=cheap_hasher()
    )
    service.add_user("juan", USER_PASSWORD)


def test_a_store_opened_by_uri_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    """``SqliteStore("file:empresa.db")``: SQLite reads it as a URI and makes
    ``empresa.db``; it, its -wal and its -shm are 0600 like a store opened by path.
    Before the fix the store skipped ``file:`` names and SQLite made them 0644."""
    monkeypatch.chdir(tmp_path)
    with pr.SqliteStore("file:empresa.db") as store:
        write_something(store)
        found = modes(tmp_path / "empresa.db")
    assert {"empresa.db", "empresa.db-wal", "empresa.db-shm"} <= set(found)
    assert {0o600} == set(found.values())


def test_a_release_1_file_is_made_private(db_path: Path, loose_umask: None) -> None:
    """A store file that exists already with a looser mode (release 1 made them 0644) is
    narrowed to 0600 when release 2 opens it, and SQLite's -wal and -shm, which take
    its mode, are 0600 too. Release 1, and release 2 before the fix, left it 0644."""
    with raw_sqlite(db_path) as connection:
        connection.execute("CREATE TABLE release_1_was_here (x)")
    connection.close()
    db_path.chmod(0o644)
    with pr.SqliteStore(db_path) as store:
        write_something(store)
        found = modes(db_path)
    assert {db_path.name, f"{db_path.name}-wal", f"{db_path.name}-shm"} <= set(found)
    assert {0o600} == set(found.values())


def test_an_in_memory_store_touches_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``:memory:`` and ``file::memory:`` stores leave nothing on disk."""
    monkeypatch.chdir(tmp_path)
    for name in (":memory:", "file::memory:"):
        with pr.SqliteStore(name) as store:
            write_something(store)
    assert [] == list(tmp_path.iterdir())
