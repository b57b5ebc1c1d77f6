"""A throwaway PostgreSQL server for the test suite.

The server runs from Debian's binaries (/usr/lib/postgresql/<version>/bin, the newest version
present), in a fresh directory /tmp/charter-pg.XXXXXXXX, listening only on 127.0.0.1 on a free
port. Authentication is scram-sha-256 with a random superuser password (no default password
anywhere). Durability is switched off (fsync=off): it is for tests only.

As root, initdb / pg_ctl run as the ``postgres`` user through ``runuser -u postgres --`` (PostgreSQL
refuses to run as root); otherwise they run as the current user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

START_TIMEOUT_S = 30
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries or the ``postgres`` user are missing."""


def find_bindir() -> Path:
    """Newest /usr/lib/postgresql/<version>/bin that has initdb, pg_ctl and postgres."""
    override = os.environ.get("CHARTER_PG_BINDIR")
    candidates = [override] if override else glob.glob("/usr/lib/postgresql/*/bin")

    def version_key(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin", path)
        return tuple(int(x) for x in match.group(1).split(".") if x) if match else (0,)

    for bindir in sorted(candidates, key=version_key, reverse=True):
        if all(os.access(os.path.join(bindir, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(bindir)
    where = override or "/usr/lib/postgresql/*/bin"
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in {where}. "
        "Install them with `./installers/dev.sh setup` as root "
        "(or `apt-get install --no-install-recommends postgresql`)."
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One running throwaway server. Use :meth:`start` / :meth:`stop` (or ``with PgServer() as pg``)."""

    host = "127.0.0.1"
    user = SUPERUSER

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self._pg_pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root but there is no `postgres` user to run the server as "
                    "(it comes with Debian's postgresql package)"
                ) from None
        self.password = secrets.token_hex(24)
        self.port: int | None = None
        self.base: Path | None = None
        self.datadir: Path | None = None
        self.logfile: Path | None = None
        self._running = False

    # -- helpers ------------------------------------------------------------------------------

    def _run(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / exe), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n{self._log_tail()}"
            )
        return proc

    def _log_tail(self, lines: int = 30) -> str:
        if self.logfile is None or not self.logfile.exists():
            return ""
        text = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        return "server log (tail):\n" + "\n".join(text)

    def _chown(self, path: Path) -> None:
        if self.as_root:
            os.chown(path, self._pg_pw.pw_uid, self._pg_pw.pw_gid)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "PgServer":
        self.base = Path(tempfile.mkdtemp(prefix="charter-pg.", dir="/tmp"))
        try:
            self._chown(self.base)
            self.datadir = self.base / "data"
            self.logfile = self.base / "server.log"
            pwfile = self.base / "pwfile"
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.password + "\n")
            self._chown(pwfile)
            self._run(
                "initdb",
                "--no-sync",
                "--auth=scram-sha-256",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                f"--pgdata={self.datadir}",
            )
            pwfile.unlink()
            # The port is found by binding port 0; another process could take it before the
            # server binds it, so retry a few times with a new one.
            last_error: Exception | None = None
            for _ in range(3):
                self.port = free_port()
                opts = " ".join(
                    [
                        "-c listen_addresses=127.0.0.1",
                        f"-c port={self.port}",
                        f"-c unix_socket_directories={self.base}",
                        "-c fsync=off",
                        "-c synchronous_commit=off",
                        "-c full_page_writes=off",
                        "-c max_connections=100",
                    ]
                )
                proc = self._run(
                    "pg_ctl",
                    "start",
                    "--wait",
                    f"--timeout={START_TIMEOUT_S}",
                    f"--pgdata={self.datadir}",
                    f"--log={self.logfile}",
                    f"--options={opts}",
                    check=False,
                )
                if proc.returncode == 0:
                    self._running = True
                    break
                last_error = RuntimeError(
                    f"pg_ctl start exited {proc.returncode}\n{proc.stdout}{proc.stderr}\n{self._log_tail()}"
                )
                self._run("pg_ctl", "stop", "-m", "immediate", f"--pgdata={self.datadir}", check=False)
            else:
                raise last_error  # type: ignore[misc]
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on 127.0.0.1:{self.port} not ready after {START_TIMEOUT_S} s: {exc}\n"
                        f"{self._log_tail()}"
                    ) from exc
                time.sleep(0.1)

    def stop(self) -> None:
        try:
            if self._running and self.datadir is not None:
                self._run("pg_ctl", "stop", "-m", "immediate", "--wait", f"--pgdata={self.datadir}", check=False)
                self._running = False
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- connection strings and databases -------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for ``dbname`` as the superuser."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string for psycopg.connect()."""
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={dbname}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        # WITH (FORCE) ends connections a test left open (e.g. an undisposed engine pool).
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
