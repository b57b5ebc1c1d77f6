"""Shared pytest fixtures for charter's test suite."""

from __future__ import annotations

import uuid
from pathlib import Path
from collections.abc import Iterator

import pytest
from servicekit import made_or_fail

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
    server = made_or_fail(PgServer, PostgresUnavailable, "PostgreSQL test server")
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
    # The agent kit's wheel downloads: one cache for every test run (not the user's), so a
    # fresh machine downloads them once per checkout's test runs, not once per test.
    monkeypatch.setenv("CHARTER_CACHE_DIR", str(Path.home() / ".cache" / "charter-test-cache"))
    for name in ("CHARTER_DB_URL", "CHARTER_USER", "CHARTER_STARTUP_PROBE"):
        monkeypatch.delenv(name, raising=False)


# ==============================================================================================
# OS keyring fixtures (see tests/keyring_service.py)
#
#   keyring_service  session-scoped: a private D-Bus session bus with GNOME Keyring's Secret
#                    Service on it, everything in /tmp/charter-keyring.XXXXXXXX; .bus_address,
#                    .env (the variables a client process needs), .connect() (a jeepney connection
#                    for secretstorage, use as `with`), .default_collection(conn), .unlock(),
#                    .clear(), .keyrings_dir.
#   os_keyring       function-scoped: this test uses that keyring: DBUS_SESSION_BUS_ADDRESS and
#                    PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring are set and
#                    keyring's current backend is the Secret Service; the default collection is
#                    unlocked and empty. The value is the keyring backend. core.secrets then
#                    stores in the real Secret Service.
#   _no_os_keyring   autouse: every test that does not ask for os_keyring gets keyring's fail
#                    backend, so nothing reaches the real user's keyring.
#
# Missing dbus-daemon / gnome-keyring-daemon make these fixtures FAIL (never skip): install them
# with `./installers/dev.sh setup` as root.
# ==============================================================================================
import sys  # noqa: E402

from keyring_service import KeyringService, KeyringServiceUnavailable  # noqa: E402

FAIL_KEYRING = "keyring.backends.fail.Keyring"


def _set_keyring_backend(name: str) -> None:
    # keyring caches the backend it found on first use. Importing keyring costs a quarter of a
    # second, so when nothing has imported it yet only PYTHON_KEYRING_BACKEND is set: keyring
    # reads that on first use.
    if "keyring" in sys.modules:
        import keyring.core

        keyring.core.set_keyring(keyring.core.load_keyring(name))


@pytest.fixture(autouse=True)
def _no_os_keyring(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", FAIL_KEYRING)
    _set_keyring_backend(FAIL_KEYRING)
    yield
    _set_keyring_backend(FAIL_KEYRING)


@pytest.fixture(scope="session")
def keyring_service() -> Iterator[KeyringService]:
    service = made_or_fail(KeyringService, KeyringServiceUnavailable, "OS keyring test service")
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def os_keyring(keyring_service: KeyringService, monkeypatch, _no_os_keyring):
    keyring_service.clear()
    for name, value in keyring_service.env.items():
        monkeypatch.setenv(name, value)
    import keyring.core

    backend = keyring.core.load_keyring(keyring_service.env["PYTHON_KEYRING_BACKEND"])
    keyring.core.set_keyring(backend)
    return backend


# ==============================================================================================
# end of OS keyring fixtures
# ==============================================================================================
