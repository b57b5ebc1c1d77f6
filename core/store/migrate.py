"""Schema revisions at start-up.

* A new, empty store is created only on request (``charter init``, ``charter demo``).
* An older SQLite store is copied aside (SQLite's online backup, so the copy is consistent even in
  WAL mode), then upgraded.
* An older PostgreSQL store is refused with the exact command that upgrades it: a shared database
  is upgraded by a person who chose the moment, not by whoever opens the console first.
* A store written by a newer Charter is refused.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from core.errors import MigrationRequired, StorageUnavailable, StoreTooNew
from core.store.engine import safe_location
from core.timeutil import utcnow


@dataclass(frozen=True)
class StoreStatus:
    current: str | None
    head: str
    has_tables: bool

    @property
    def is_new(self) -> bool:
        return self.current is None and not self.has_tables

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class UpgradeOutcome:
    before: str | None
    after: str
    backup: Path | None


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "core.store:migrations")
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    heads = script_directory().get_heads()
    if len(heads) != 1:  # two developers' migrations merged without a merge revision
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}; add a merge revision")
    return heads[0]


def status(engine: Engine) -> StoreStatus:
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    return StoreStatus(current=current, head=head_revision(), has_tables=bool(tables))


def upgrade_command(engine: Engine) -> str:
    return f"charter db upgrade --db '{safe_location(engine.url)}'"


def ensure_current(engine: Engine, *, create: bool = False) -> UpgradeOutcome | None:
    """Make sure the store's schema is this Charter's; create or upgrade where that is safe.

    Returns what was done, or None when nothing was needed. Raises StorageUnavailable (not a
    Charter store / not created yet), MigrationRequired (PostgreSQL behind) or StoreTooNew.
    """
    st = status(engine)
    if st.up_to_date:
        return None
    known = {rev.revision for rev in script_directory().walk_revisions()}
    if st.current is not None and st.current not in known:
        raise StoreTooNew(
            f"The store {safe_location(engine.url)} was written by a newer Charter "
            f"(schema {st.current}).",
            hint="Install that newer Charter version to open it.",
        )
    if st.current is None and st.has_tables:
        raise StorageUnavailable(
            f"{safe_location(engine.url)} holds tables but is not a Charter store.",
            hint="Point --db at an empty database or an existing Charter store.",
        )
    if st.is_new:
        if not create:
            raise StorageUnavailable(
                f"There is no Charter store at {safe_location(engine.url)} yet.",
                hint=f"Create it and its first administrator with: charter init --db "
                f"'{safe_location(engine.url)}'",
            )
        return upgrade(engine)
    if engine.url.get_backend_name() == "postgresql" and not create:
        raise MigrationRequired(
            f"The store {safe_location(engine.url)} uses schema {st.current}; this Charter "
            f"needs {st.head}.",
            hint=f"Back up the database, then run: {upgrade_command(engine)}",
        )
    return upgrade(engine)


def upgrade(engine: Engine) -> UpgradeOutcome:
    """Upgrade to head; an existing SQLite store is first copied aside. Returns what was done."""
    st = status(engine)
    backup = None
    if engine.url.get_backend_name() == "sqlite" and st.current is not None and engine.url.database:
        backup = backup_sqlite(Path(engine.url.database), st.current)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return UpgradeOutcome(before=st.current, after=st.head, backup=backup)


def backup_sqlite(path: Path, revision: str) -> Path:
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.before-upgrade-{revision}-{stamp}{path.suffix}")
    src = sqlite3.connect(path)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target
