"""A private MariaDB server on loopback for the tests, started from Debian's binaries.

Nothing is shared with a system server: a new data directory in a temporary folder
(``mariadb-install-db``), ``mariadbd`` listening on 127.0.0.1 only, on a free port, with
its socket, pid file and log in that folder, as the ``mysql`` user when run as root. No
option file is read (``--no-defaults``): /etc/mysql is neither read nor changed, and no
system service is started. The server keeps its defaults (REPEATABLE READ, strict
``sql_mode``) but for the character set, which is set to what Debian's packaged server
is configured with (``character-set-server = utf8mb4``, ``collation-server =
utf8mb4_general_ci`` in /etc/mysql/mariadb.conf.d/50-server.cnf); the compiled-in
default would be latin1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pwrecovery.testing.smtp import free_port

_SEARCH_PATH = os.pathsep.join(("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"))
# What Debian's mariadb-server package configures (50-server.cnf); the binary's own
# default is latin1 / latin1_swedish_ci.
SERVER_CHARSET = ("--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci")
DATABASE = "pwrecovery"
USER = "pwrecovery"
PASSWORD = "clave-de-prueba"  # a throw-away server on loopback


@dataclass(frozen=True)
class MariaDbBinaries:
    server: Path
    install_db: Path


@dataclass(frozen=True)
class MariaDb:
    """A running server: where it listens, and SQLAlchemy URLs for the test user.

    The test user owns every database whose name starts with ``pwrecovery`` (it may
    create more, e.g. one with another default character set); ``admin_url`` is root
    over the server's own socket.
    """

    port: int
    socket: Path
    folder: Path
    database: str = DATABASE

    def url(self, driver: str = "pymysql", *, database: str | None = None, query: str = "") -> str:
        """The test user's URL through ``driver`` ("pymysql" or "mysqldb").

        ``query`` is the URL's query string as is: "charset=utf8mb4" unless told.
        """
        name = self.database if database is None else database
        tail = f"?{query}" if query else ""
        return f"mysql+{driver}://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{name}{tail}"

    @property
    def pymysql_url(self) -> str:
        return self.url("pymysql", query="charset=utf8mb4")

    @property
    def mysqldb_url(self) -> str:
        return self.url("mysqldb", query="charset=utf8mb4")

    @property
    def admin_url(self) -> str:
        return f"mysql+pymysql://root@localhost/?unix_socket={self.socket}&charset=utf8mb4"


def mariadb_bin() -> MariaDbBinaries | None:
    """Debian's MariaDB server binaries (package ``mariadb-server``), if installed."""
    server = shutil.which("mariadbd", path=_SEARCH_PATH)
    install_db = shutil.which("mariadb-install-db", path=_SEARCH_PATH)
    if server is None or install_db is None:
        return None
    return MariaDbBinaries(Path(server), Path(install_db))


def _as_root() -> bool:
    return os.geteuid() == 0


def _connect_root(socket: Path) -> object:
    import pymysql  # noqa: PLC0415 (a dev dependency: only the MariaDB tests need it)

    return pymysql.connect(
        unix_socket=str(socket), user="root", password="", connect_timeout=2, autocommit=True
    )


def _wait_until_ready(process: subprocess.Popen[bytes], socket: Path, log: Path) -> None:
    import pymysql  # noqa: PLC0415

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"mariadbd exited with {process.returncode}: {_tail(log)}"
            raise RuntimeError(msg)
        if socket.exists():
            try:
                connection = _connect_root(socket)
            except pymysql.err.OperationalError:
                pass
            else:
                connection.close()  # type: ignore[attr-defined]
                return
        time.sleep(0.02)
    msg = f"mariadbd did not accept connections within 60 s: {_tail(log)}"
    raise TimeoutError(msg)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _create_test_user(socket: Path) -> None:
    connection = _connect_root(socket)
    try:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(f"CREATE DATABASE {DATABASE}")
            cursor.execute(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
            # `pwrecovery%`: the test database and any other a test makes for itself.
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{DATABASE}%`.* TO '{USER}'@'%'")
    finally:
        connection.close()  # type: ignore[attr-defined]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM is mariadbd's clean shutdown; kill it only if that hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_mariadb() -> Iterator[MariaDb]:
    """Start a throw-away MariaDB server; yield where it is; stop it and delete its folder."""
    binaries = mariadb_bin()
    if binaries is None:
        msg = "MariaDB server binaries are not installed (apt-get install mariadb-server)"
        raise FileNotFoundError(msg)
    folder = Path(tempfile.mkdtemp(prefix="pwrecovery-mariadb-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        # mariadbd refuses to run as root: it switches to the mysql user itself (--user).
        as_user = ["--user=mysql"] if _as_root() else []
        if _as_root():
            shutil.chown(folder, "mysql")
        data, socket, log = folder / "data", folder / "mysqld.sock", folder / "log"
        port = free_port()
        subprocess.run(  # noqa: S603 (our own arguments)
            [
                str(binaries.install_db),
                "--no-defaults",  # must come first
                f"--datadir={data}",
                *as_user,
                "--auth-root-authentication-method=normal",  # root without password, local only
                "--skip-test-db",
                "--skip-name-resolve",
                *SERVER_CHARSET,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603 (our own arguments)
                [
                    str(binaries.server),
                    "--no-defaults",  # must come first
                    f"--datadir={data}",
                    *as_user,
                    "--bind-address=127.0.0.1",
                    f"--port={port}",
                    f"--socket={socket}",
                    f"--pid-file={folder / 'mysqld.pid'}",
                    f"--log-error={log}",
                    "--skip-name-resolve",
                    *SERVER_CHARSET,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _wait_until_ready(process, socket, log)
        _create_test_user(socket)
        yield MariaDb(port=port, socket=socket, folder=folder)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)
