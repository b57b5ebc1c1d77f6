"""Schema revisions: creating, comparing with the ORM, upgrading SQLite, refusing PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from storekit import WORKSTATION, make_console
from core.errors import MigrationRequired, StorageUnavailable, StoreTooNew
from core.store import migrate
from core.store.engine import create_store_engine
from core.store.opening import open_store, store_info
from core.store.orm import Base

MIGRATIONS = Path(migrate.__file__).parent / "migrations"

HEAD = migrate.head_revision()  # this Charter's newest revision
NEXT = "9000"  # a newer Charter's, in the tests that need one

NOOP_NEXT = f'''"""A later schema revision that changes nothing (test only).

Revision ID: {NEXT}
Revises: {HEAD}
"""
revision = "{NEXT}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def _version(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


@pytest.fixture
def upgrade_charter(tmp_path, monkeypatch):
    """Call it to make this process behave like a newer Charter whose migrations end in a no-op
    revision NEXT (the real migrations folder plus one script, in a temp copy)."""
    scripts = tmp_path / "migrations-next"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{NEXT}_noop.py").write_text(NOOP_NEXT)

    def config() -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(scripts))
        return cfg

    def activate() -> None:
        monkeypatch.setattr(migrate, "alembic_config", config)
        assert migrate.head_revision() == NEXT

    return activate


def password_of(url: str) -> str:
    """The URL's password, or a marker that cannot occur in a message."""
    return make_url(url).password or "\x00no password\x00"


def test_one_head_only() -> None:
    heads = migrate.script_directory().get_heads()
    assert len(heads) == 1
    assert migrate.head_revision() == heads[0]


def test_two_heads_are_refused(tmp_path, monkeypatch) -> None:
    scripts = tmp_path / "forked"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (f"{NEXT}a", f"{NEXT}b"):
        (scripts / "versions" / f"{name}.py").write_text(
            NOOP_NEXT.replace(f'"{NEXT}"', f'"{name}"'))
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    monkeypatch.setattr(migrate, "alembic_config", lambda: cfg)
    with pytest.raises(RuntimeError, match="2 heads"):
        migrate.head_revision()


def test_upgrade_from_empty_matches_the_orm(store_url) -> None:
    engine = create_store_engine(store_url)
    try:
        outcome = migrate.ensure_current(engine, create=True)
        assert outcome is not None and outcome.before is None
        assert outcome.after == migrate.head_revision()
        assert outcome.backup is None  # nothing to copy aside for a new store
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(mc, Base.metadata)
            assert diff == []
            assert mc.get_current_revision() == migrate.head_revision()
        # A second start-up has nothing to do.
        assert migrate.ensure_current(engine) is None
    finally:
        engine.dispose()


def test_new_store_is_refused_without_create(store_url) -> None:
    engine = create_store_engine(store_url)
    try:
        with pytest.raises(StorageUnavailable) as info:
            migrate.ensure_current(engine)
        assert "no Charter store" in info.value.message
        assert "charter init" in info.value.hint
        assert password_of(store_url) not in str(info.value)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []  # nothing created
    finally:
        engine.dispose()


def test_open_store_creates_and_audits_a_new_store(store_url, hasher) -> None:
    store = open_store(store_url, create=True, workstation=WORKSTATION)
    try:
        info = store_info(store)
        assert info["kind"] == "production"
        console = make_console(store, hasher)
        created = console.events("store.created")
        assert len(created) == 1 and created[0].seq == 1
        assert created[0].object_id == info["store_id"]
        assert created[0].actor is None
        assert f'"schema":"{migrate.head_revision()}"' in created[0].new_values
    finally:
        store.dispose()


def test_versioned_but_empty_store_is_created(store_url) -> None:
    """An ``alembic_version`` table with no row (an interrupted ``charter init``) is a new store."""
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table alembic_version (version_num varchar(32) not null "
                              "primary key)"))
        st = migrate.status(engine)
        assert st.current is None and st.is_new
        outcome = migrate.ensure_current(engine, create=True)
        assert outcome is not None and outcome.after == migrate.head_revision()
        assert migrate.status(engine).up_to_date
    finally:
        engine.dispose()


def test_foreign_tables_are_not_taken_over(store_url) -> None:
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table invoices (id integer primary key)"))
        with pytest.raises(StorageUnavailable, match="not a Charter store"):
            migrate.ensure_current(engine, create=True)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == ["invoices"]
    finally:
        engine.dispose()


def test_store_written_by_newer_charter_is_refused(store_url) -> None:
    open_store(store_url, create=True).dispose()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreTooNew) as info:
        open_store(store_url)
    assert "newer Charter" in info.value.message and "0099" in info.value.message
    assert _version(store_url) == "0099"  # left alone


def test_backup_sqlite_is_a_consistent_copy(sqlite_url, hasher) -> None:
    store = open_store(sqlite_url, create=True)
    try:
        make_console(store, hasher)
        path = Path(make_url(sqlite_url).database)
        # The WAL holds recent commits; the backup must contain them too.
        assert Path(f"{path}-wal").exists()
        backup = migrate.backup_sqlite(path, HEAD)
    finally:
        store.dispose()
    assert backup.exists() and backup.parent == path.parent
    assert backup.name.startswith(f"charter.before-upgrade-{HEAD}-") and backup.suffix == ".db"
    with closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        assert conn.execute("select username from user_account").fetchall() == [("root.admin",)]
        assert conn.execute("select version_num from alembic_version").fetchone() == (HEAD,)


def test_old_sqlite_store_is_backed_up_then_upgraded(sqlite_url, hasher, upgrade_charter) -> None:
    # Made by this Charter (HEAD) ...
    store = open_store(sqlite_url, create=True, workstation=WORKSTATION)
    make_console(store, hasher)
    store.dispose()
    assert _version(sqlite_url) == HEAD
    upgrade_charter()

    # ... opened by a newer one: copied aside, upgraded, and the upgrade is in the trail.
    store = open_store(sqlite_url, workstation=WORKSTATION)
    try:
        assert _version(sqlite_url) == NEXT
        folder = Path(make_url(sqlite_url).database).parent
        backups = sorted(folder.glob(f"charter.before-upgrade-{HEAD}-*.db"))
        assert len(backups) == 1
        with closing(sqlite3.connect(backups[0])) as conn:
            assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
            assert conn.execute("select version_num from alembic_version").fetchone() == (HEAD,)
            assert conn.execute("select count(*) from user_account").fetchone() == (1,)
        console_events = _events(store)
        upgraded = [e for e in console_events if e.action == "store.upgraded"]
        assert len(upgraded) == 1
        assert upgraded[0].old_values == f'{{"schema":"{HEAD}"}}'
        assert f'"backup":"{backups[0].name}"' in upgraded[0].new_values
        assert f'"schema":"{NEXT}"' in upgraded[0].new_values
        _assert_chain_intact(store)
    finally:
        store.dispose()


@pytest.mark.postgres
def test_postgres_store_behind_is_refused_with_the_command(pg_url, pg_server,
                                                            upgrade_charter) -> None:
    open_store(pg_url, create=True).dispose()
    assert _version(pg_url) == HEAD
    upgrade_charter()

    with pytest.raises(MigrationRequired) as info:
        open_store(pg_url)
    err = info.value
    assert HEAD in err.message and NEXT in err.message
    assert "charter db upgrade --db" in err.hint
    assert make_url(pg_url).database in err.hint
    assert pg_server.password not in str(err)
    assert _version(pg_url) == HEAD  # refused means untouched

    # The person who runs the upgrade command gets it, and it is audited.
    store = open_store(pg_url, create=True)
    try:
        assert _version(pg_url) == NEXT
        upgraded = [e for e in _events(store) if e.action == "store.upgraded"]
        assert len(upgraded) == 1
        assert '"backup":null' in upgraded[0].new_values
        _assert_chain_intact(store)
    finally:
        store.dispose()


def _events(store):
    from core import audit

    with store.unit_of_work(None, write=False) as uow:
        return [audit.to_entity(r) for r in audit.iter_rows(uow.session)]


def _assert_chain_intact(store) -> None:
    from core import audit

    with store.unit_of_work(None, write=False) as uow:
        report = audit.verify(uow.session)
    assert report.ok, report.message


def test_a_foundation_store_upgrades_to_the_registry_keeping_its_history(store_url, hasher
                                                                         ) -> None:
    """A real upgrade: a store made at 0001 with users and events opens under this Charter
    (SQLite upgrades itself after a backup; PostgreSQL by `charter db upgrade`)."""
    from alembic import command

    from core import audit
    from core.services.users import UserService

    engine = create_store_engine(store_url)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    from core.store.uow import Store

    old_store = Store(engine)  # the 0001 schema: users and the audit trail only
    UserService(old_store, hasher).create_first_admin("root", "Root", "long enough password")
    engine.dispose()
    open_store(store_url, create=True).dispose()  # what `charter db upgrade` does
    store = open_store(store_url)
    try:
        assert _version(store_url) == HEAD
        with store.unit_of_work(None, write=False) as uow:
            report = audit.verify(uow.session)
            tables = set(uow.session.connection().dialect.get_table_names(
                uow.session.connection()))
        assert report.ok and report.count >= 2
        assert {"model", "model_version", "dataset", "version_dataset"} <= tables
    finally:
        store.dispose()
