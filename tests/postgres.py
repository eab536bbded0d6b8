"""A private PostgreSQL server on loopback for the tests, started from Debian's binaries.

Nothing is shared with a system cluster: a new data directory in a temporary
folder, trust authentication, listening on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pwrecovery.testing.smtp import free_port


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian's layout), if any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return candidates[-1].parent if candidates else None


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as the postgres user then.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _run(command: list[str], *, check: bool = True) -> None:
    subprocess.run(  # noqa: S603 (our own arguments)
        _as_postgres(command), check=check, capture_output=True, timeout=120
    )


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yield its SQLAlchemy URL; stop and delete it."""
    binaries = postgres_bin()
    if binaries is None:
        msg = "PostgreSQL server binaries are not installed (apt-get install postgresql)"
        raise FileNotFoundError(msg)
    folder = Path(tempfile.mkdtemp(prefix="pwrecovery-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    initdb = [str(binaries / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"]
    _run([*initdb, "-E", "UTF8", "--no-sync"])
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder}"
        " -c fsync=off -c max_connections=60"
    )
    pg_ctl = str(binaries / "pg_ctl")
    _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(  # noqa: S603 (our own arguments)
            _as_postgres(
                [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            ),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)
