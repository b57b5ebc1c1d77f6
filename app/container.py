"""Build the services for one open store. Nothing here runs at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass

from core import paths
from core.security import Hasher
from core.services.audit_trail import AuditTrailService
from core.services.auth import AuthService
from core.services.inventory import InventoryService
from core.services.settings import SettingsService
from core.services.users import UserService
from core.settings import WorkstationSettings
from core.store.opening import is_demo, open_store
from core.store.uow import Store


@dataclass
class Services:
    store: Store
    auth: AuthService
    users: UserService
    settings: SettingsService
    audit: AuditTrailService
    demo: bool
    inventory: InventoryService

    def close(self) -> None:
        self.store.dispose()


def resolve_store_url(cli_url: str | None, *, demo: bool = False) -> str:
    """``--db``, then ``CHARTER_DB_URL``, then the workstation settings, then the SQLite file in
    the user data folder (``--demo`` picks the separate demo store)."""
    if cli_url:
        return cli_url
    if demo:
        return paths.demo_store_url()
    env = os.environ.get("CHARTER_DB_URL")
    if env:
        return env
    configured = WorkstationSettings().get("store.url")
    if configured:
        return configured
    return paths.default_store_url()


def build_services(store: Store, hasher: Hasher | None = None) -> Services:
    hasher = hasher or Hasher()
    return Services(
        store=store,
        auth=AuthService(store, hasher),
        users=UserService(store, hasher),
        settings=SettingsService(store),
        audit=AuditTrailService(store),
        demo=is_demo(store),
        inventory=InventoryService(store),
    )


def open_services(url: str, *, create: bool = False, hasher: Hasher | None = None) -> Services:
    return build_services(open_store(url, create=create), hasher)
