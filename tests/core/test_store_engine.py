"""Engines: SQLite safety settings, refused locations and URLs, and errors the user can act on."""

from __future__ import annotations

import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import exc
from sqlalchemy.engine import make_url

from storekit import WORKSTATION, make_console, raw_sqlite
from core.errors import InvalidInput, StorageUnavailable
from core.store import engine as store_engine
from core.store.engine import create_store_engine, parse_url, translate_db_error
from core.store.opening import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sqlite_safety_settings_hold_on_every_new_connection(sqlite_url) -> None:
    engine = create_store_engine(sqlite_url)
    try:
        engine.dispose()  # forget the connection the start-up check used
        with engine.connect() as conn:
            got = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
        assert got == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                       "busy_timeout": store_engine.BUSY_TIMEOUT_MS}
    finally:
        engine.dispose()
    # WAL is a property of the file: any other program sees it too.
    with closing(raw_sqlite(sqlite_url)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_store_folder_is_created(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "charter.db"
    engine = create_store_engine(f"sqlite:///{path}")
    engine.dispose()
    assert path.parent.is_dir()


def test_sqlite_on_a_network_file_system_is_refused(tmp_path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "proc /proc proc rw 0 0\n"
        "/dev/sda1 / ext4 rw 0 0\n"
        f"fileserver:/export/home {tmp_path} nfs4 rw,relatime 0 0\n"
    )
    path = tmp_path / "shared" / "charter.db"
    with pytest.raises(StorageUnavailable) as info:
        create_store_engine(f"sqlite:///{path}", mounts_file=str(mounts))
    err = info.value
    assert "network file system (nfs4)" in err.message
    assert "PostgreSQL" in err.hint
    assert not path.exists() and not path.parent.exists()  # nothing created on the share


def test_sqlite_on_a_local_disk_under_a_network_mount_point_is_accepted(tmp_path) -> None:
    """The deepest mount point decides: a local disk mounted inside an NFS tree is fine."""
    local = tmp_path / "local"
    local.mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/x {tmp_path} nfs rw 0 0\n/dev/sdb1 {local} ext4 rw 0 0\n")
    engine = create_store_engine(f"sqlite:///{local / 'charter.db'}", mounts_file=str(mounts))
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://charter@db/charter",
        "mssql+pyodbc://charter@db/charter",
        "sqlite+aiosqlite:////tmp/charter.db",
        "postgresql://charter@db/charter",  # psycopg2, not the supported psycopg 3
        "postgresql+asyncpg://charter@db/charter",
        "just some words",
    ],
)
def test_unsupported_urls_are_refused(url) -> None:
    with pytest.raises(InvalidInput) as info:
        create_store_engine(url)
    assert "sqlite" in str(info.value).lower() or "postgresql" in str(info.value).lower()


def test_supported_urls_parse() -> None:
    assert parse_url("sqlite:////var/charter.db").get_backend_name() == "sqlite"
    assert parse_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.postgres
def test_unreachable_postgres_names_the_server_not_the_password() -> None:
    secret = "Sup3r-Secret-pw"
    url = f"postgresql+psycopg://charter:{secret}@127.0.0.1:{_free_port()}/charter"
    with pytest.raises(StorageUnavailable) as info:
        create_store_engine(url)
    text = str(info.value)
    assert "Cannot reach the database server" in info.value.message
    assert "127.0.0.1" in text
    assert secret not in text and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.postgres
def test_wrong_postgres_password_is_refused_without_echoing_it(pg_url, pg_server) -> None:
    wrong = "not-the-right-one-" + pg_server.password[:6]
    url = make_url(pg_url).set(password=wrong).render_as_string(hide_password=False)
    with pytest.raises(StorageUnavailable) as info:
        create_store_engine(url)
    text = str(info.value)
    assert "refused the credentials" in info.value.message
    assert wrong not in text and pg_server.password not in text


@pytest.mark.postgres
def test_missing_postgres_database_says_so(pg_server) -> None:
    url = pg_server.url("charter_no_such_db")
    with pytest.raises(StorageUnavailable) as info:
        create_store_engine(url)
    assert "does not exist" in info.value.message
    assert pg_server.password not in str(info.value)


def test_a_locked_sqlite_store_is_reported_and_nothing_is_written(sqlite_url, hasher,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 1000)
    store = open_store(sqlite_url, create=True, workstation=WORKSTATION)
    try:
        console = make_console(store, hasher)
        before = console.head()
        with closing(raw_sqlite(sqlite_url)) as other:
            other.execute("BEGIN EXCLUSIVE")
            try:
                with pytest.raises(StorageUnavailable) as info:
                    console.settings.set(console.admin, "auth.idle_lock_minutes", 30,
                                         reason="shorter screens")
                # Readers are not blocked by a writer in WAL mode.
                assert [u.username for u in console.users.list(console.admin)] == ["root.admin"]
            finally:
                other.execute("ROLLBACK")
        assert "locked by another program" in info.value.message
        assert "Close other programs" in info.value.hint
        assert console.head() == before
        assert console.settings.get("auth.idle_lock_minutes") == 15
        # Once the other program lets go, the same change goes through.
        console.settings.set(console.admin, "auth.idle_lock_minutes", 30, reason="shorter screens")
        assert console.settings.get("auth.idle_lock_minutes") == 30
    finally:
        store.dispose()


def _sqlite_error(message: str) -> exc.OperationalError:
    return exc.OperationalError("INSERT INTO x VALUES (1)", {}, sqlite3.OperationalError(message))


def test_a_read_only_sqlite_store_is_reported(tmp_path) -> None:
    path = tmp_path / "ro.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("create table x (v integer)")
        conn.commit()
    # A real driver error from a read-only connection, wrapped the way SQLAlchemy wraps it.
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as ro:
        with pytest.raises(sqlite3.OperationalError) as raw:
            ro.execute("insert into x values (1)")
    err = translate_db_error(exc.OperationalError("insert", {}, raw.value),
                             make_url(f"sqlite:///{path}"))
    assert isinstance(err, StorageUnavailable)
    assert err.message == f"The store {path} is read-only for this user."
    assert "permissions" in err.hint


@pytest.mark.parametrize(
    ("driver_message", "expected"),
    [
        ("database or disk is full", "is full; nothing was saved"),
        ("unable to open database file", "cannot be opened"),
        ("database disk image is malformed", "not a readable Charter store"),
    ],
)
def test_sqlite_environment_errors_name_the_next_step(driver_message, expected) -> None:
    err = translate_db_error(_sqlite_error(driver_message), make_url("sqlite:////srv/c.db"))
    assert expected in err.message
    assert err.hint


def test_a_file_that_is_not_a_database_is_refused(tmp_path) -> None:
    path = tmp_path / "charter.db"
    path.write_bytes(b"this is a spreadsheet, not a database" * 200)
    with pytest.raises(StorageUnavailable) as info:
        create_store_engine(f"sqlite:///{path}")
    assert "not a readable Charter store" in info.value.message
    assert "backup" in info.value.hint


def test_translated_postgres_errors_never_contain_the_password() -> None:
    secret = "hunter2-hunter2"
    url = make_url(f"postgresql+psycopg://bob:{secret}@db.example:5432/charter")
    orig = Exception(f'connection to server failed: FATAL: bad option in "password={secret}"\n'
                     "second line")
    err = translate_db_error(exc.OperationalError("connect", {}, orig), url)
    assert secret not in str(err)
    assert "second line" not in str(err)
    assert "db.example" in str(err)


def test_relative_sqlite_path_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = create_store_engine("sqlite:///rel/charter.db")
    try:
        assert Path(engine.url.database) == tmp_path / "rel" / "charter.db"
    finally:
        engine.dispose()
