"""Shared pytest fixtures for charter's test suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

# ==============================================================================================
# PostgreSQL fixtures (see tests/pg_server.py)
#
#   pg_server  session-scoped: one throwaway PostgreSQL server on 127.0.0.1 for the whole run;
#              .url(dbname) -> "postgresql+psycopg://postgres:<pw>@127.0.0.1:<port>/<dbname>",
#              .dsn(dbname) -> libpq string for psycopg, .create_database(name), .drop_database(name)
#   pg_url     function-scoped: a fresh, uniquely named, empty database per test (dropped after);
#              the value is its SQLAlchemy URL.
#
# Missing PostgreSQL binaries make these fixtures FAIL (never skip): install them with
# `./installers/dev.sh setup` as root.
# ==============================================================================================
from pg_server import PgServer, PostgresUnavailable


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    problem = None
    try:
        server = PgServer()
    except PostgresUnavailable as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"PostgreSQL test server unavailable: {problem}", pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    name = f"charter_test_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name)
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


# ==============================================================================================
# end of PostgreSQL fixtures
# ==============================================================================================


# ==============================================================================================
# Every test gets its own user folders: nothing reads or writes the real ~/.config/charter,
# ~/.local/share/charter or the log folder, and no CHARTER_* variable leaks in from the shell.
# ==============================================================================================
@pytest.fixture(autouse=True)
def _own_user_folders(tmp_path_factory, monkeypatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CHARTER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("CHARTER_LOG_DIR", str(home / "log"))
    for name in ("CHARTER_DB_URL", "CHARTER_USER", "CHARTER_STARTUP_PROBE"):
        monkeypatch.delenv(name, raising=False)
