"""Open a store: engine, safety checks, schema revision, and the store's own audit events."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.store import migrate
from core.store.engine import create_store_engine
from core.store.orm import SqlStoreInfo
from core.store.uow import Store
from core.timeutil import to_iso, utcnow


def open_store(url: str, *, create: bool = False, workstation: str | None = None,
               demo: bool = False) -> Store:
    """Open (and with ``create`` make or upgrade) the store at ``url``.

    Raises InvalidInput, StorageUnavailable, MigrationRequired, StoreTooNew.
    Audit: ``store.created`` for a new store, ``store.upgraded`` after an upgrade (SQLite
    upgrades itself on opening; the copy made before is named in the event).
    """
    engine = create_store_engine(url)
    try:
        outcome = migrate.ensure_current(engine, create=create)
    except BaseException:
        engine.dispose()
        raise
    store = Store(engine, workstation=workstation)
    if outcome is not None:
        with store.unit_of_work(None) as uow:
            if outcome.before is None:
                info = {"store_id": str(uuid.uuid4()), "created_at": to_iso(utcnow()),
                        "kind": "demo" if demo else "production"}
                uow.session.add_all(SqlStoreInfo(key=k, value=v) for k, v in info.items())
                uow.record("store.created", "store", info["store_id"], actor=None, role=None,
                           new={"schema": outcome.after, "kind": info["kind"]})
            else:
                uow.record("store.upgraded", "store", "schema", actor=None, role=None,
                           old={"schema": outcome.before},
                           new={"schema": outcome.after,
                                "backup": outcome.backup.name if outcome.backup else None})
    return store


def store_info(store: Store) -> dict[str, str]:
    with store.unit_of_work(None, write=False) as uow:
        rows = uow.session.execute(select(SqlStoreInfo.key, SqlStoreInfo.value)).all()
        return dict(rows)


def is_demo(store: Store) -> bool:
    return store_info(store).get("kind") == "demo"
