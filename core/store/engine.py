"""Engines for the two supported stores, with their safety settings checked at start-up.

SQLite (one workstation): WAL journal, ``synchronous=FULL``, foreign keys on, a busy timeout. Write
transactions begin with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking on a lock
upgrade. PostgreSQL (a team): ``postgresql+psycopg://`` URLs only.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from core.errors import InvalidInput, StorageUnavailable

BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "charter_write"

# File systems on which SQLite's locking is unreliable: a shared store belongs on PostgreSQL.
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph",
     "glusterfs", "fuse.glusterfs", "lustre", "gpfs", "fuse.sshfs", "sshfs", "davfs",
     "fuse.davfs2", "fuse.rclone", "fuse.s3fs", "beegfs", "ocfs2", "gfs2", "virtiofs"}
)


def parse_url(text: str) -> URL:
    try:
        url = make_url(text)
    except exc.ArgumentError:
        raise InvalidInput(
            f"{text!r} is not a database URL.",
            hint="Use sqlite:////absolute/path/charter.db or "
            "postgresql+psycopg://user@host:5432/charter.",
        ) from None
    if url.get_backend_name() == "sqlite":
        if url.drivername not in {"sqlite", "sqlite+pysqlite"}:
            raise InvalidInput(f"Unsupported SQLite driver {url.drivername!r}; use sqlite:///PATH.")
    elif url.get_backend_name() == "postgresql":
        if url.drivername != "postgresql+psycopg":
            raise InvalidInput(
                f"Unsupported PostgreSQL driver {url.drivername!r}.",
                hint="Write the URL as postgresql+psycopg://user@host:5432/database.",
            )
    else:
        raise InvalidInput(
            f"Charter stores live in SQLite or PostgreSQL, not {url.get_backend_name()!r}.",
            hint="Use sqlite:///PATH or postgresql+psycopg://user@host/database.",
        )
    return url


def safe_location(url: URL) -> str:
    """The store's location for people to read: never the password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    # Without the password at all (not "***"): the text is pasted into commands and reports, and
    # libpq finds the password itself in PGPASSWORD or ~/.pgpass.
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database,
                      url.query)
    return bare.render_as_string(hide_password=False)


def filesystem_type(path: Path, mounts_file: str = "/proc/mounts") -> str | None:
    """The type of the file system that holds ``path`` (Linux), or None when unknown."""
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        prefix = mount_point.rstrip("/") + "/"
        if (target == mount_point or target.startswith(prefix)) and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def check_sqlite_path(path: Path, mounts_file: str = "/proc/mounts") -> None:
    """Refuse a SQLite file on a network file system, and a folder we cannot write."""
    folder = path.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    fstype = filesystem_type(probe, mounts_file)
    if fstype in NETWORK_FILESYSTEMS:
        raise StorageUnavailable(
            f"{path} is on a network file system ({fstype}); SQLite cannot lock files safely there "
            "and the store could be corrupted.",
            hint="Keep the SQLite store on a local disk, or share a store through PostgreSQL: "
            "charter --db postgresql+psycopg://user@dbhost/charter",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageUnavailable(
            f"Cannot create the store folder {folder}: {err.strerror}.",
            hint="Choose another location with --db sqlite:////path/charter.db.",
        ) from None
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StorageUnavailable(
            f"The store {path} is not writable by this user.",
            hint="Check the file's permissions, or open another store with --db.",
        )


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def check_sqlite_pragmas(engine: Engine) -> dict[str, object]:
    """Read the connection's pragmas back and refuse to run if any is not what we asked for."""
    with engine.connect() as conn:
        got = {
            "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            "foreign_keys": conn.exec_driver_sql("PRAGMA foreign_keys").scalar(),
            "busy_timeout": conn.exec_driver_sql("PRAGMA busy_timeout").scalar(),
        }
    want = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
            "busy_timeout": BUSY_TIMEOUT_MS}
    if engine.url.database in (None, "", ":memory:"):
        want["journal_mode"] = "memory"
    bad = {k: v for k, v in got.items() if str(v).lower() != str(want[k]).lower()}
    if bad:
        raise StorageUnavailable(
            f"The SQLite store refused its safety settings: {bad} (wanted {want}).",
            hint="The file system may not support WAL; move the store to a local disk.",
        )
    return got


def create_store_engine(url_text: str, *, mounts_file: str = "/proc/mounts") -> Engine:
    """Create an engine for a store URL and check it is usable.

    Raises InvalidInput for a malformed or unsupported URL and StorageUnavailable when the store
    cannot be reached, is unsafe (network file system) or rejects its settings.
    """
    url = parse_url(url_text)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser()
            if not path.is_absolute():
                path = path.resolve()
                url = url.set(database=str(path))
            check_sqlite_path(path, mounts_file)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _install_sqlite_hooks(engine)
        try:
            check_sqlite_pragmas(engine)
        except exc.DBAPIError as err:  # "file is not a database" is a DatabaseError
            engine.dispose()
            raise translate_db_error(err, url) from None
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "charter"},
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except exc.DBAPIError as err:
        engine.dispose()
        raise translate_db_error(err, url) from None
    return engine


def translate_db_error(err: exc.DBAPIError, url: URL) -> StorageUnavailable:
    """Turn a driver error the user can act on into a message that names the next step."""
    text = str(err.orig if err.orig is not None else err).strip()
    low = text.lower()
    where = safe_location(url)
    if "database is locked" in low or "database table is locked" in low:
        return StorageUnavailable(
            f"The store {where} is locked by another program and stayed locked for "
            f"{BUSY_TIMEOUT_MS // 1000} s.",
            hint="Close other programs using the store (another Charter window, a backup tool) "
            "and try again.",
        )
    if "readonly" in low or "read-only" in low:
        return StorageUnavailable(
            f"The store {where} is read-only for this user.",
            hint="Check the file's permissions or open another store with --db.",
        )
    if "disk is full" in low or "no space" in low:
        return StorageUnavailable(
            f"The disk holding {where} is full; nothing was saved.",
            hint="Free disk space and try again.",
        )
    if "unable to open database" in low or "disk i/o error" in low:
        return StorageUnavailable(
            f"The store {where} cannot be opened ({text}).",
            hint="Check that the folder exists and is on a local disk that is mounted.",
        )
    if "file is not a database" in low or "malformed" in low:
        return StorageUnavailable(
            f"{where} is not a readable Charter store ({text}).",
            hint="Restore it from a backup (Charter keeps a copy before each upgrade).",
        )
    if url.get_backend_name() == "postgresql":
        # psycopg messages can quote the connection string; keep only the first line and
        # strip anything that looks like a password.
        first = text.splitlines()[0] if text else "no answer"
        if url.password:
            first = first.replace(str(url.password), "***")
        if "password authentication failed" in low or "no password supplied" in low:
            return StorageUnavailable(
                f"The database server at {where} refused the credentials.",
                hint="Check the user name and password with your database administrator.",
            )
        if "does not exist" in low and "database" in low:
            return StorageUnavailable(
                f"The database in {where} does not exist.",
                hint="Ask your database administrator to create it, then run charter init --db URL.",
            )
        return StorageUnavailable(
            f"Cannot reach the database server for {where}: {first}.",
            hint="Check the host name, port, network or VPN, and that the server is running.",
        )
    return StorageUnavailable(f"The store {where} failed: {text}.")
