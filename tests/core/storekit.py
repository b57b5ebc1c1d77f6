"""Helpers shared by the tests of ``core``: the wired services of one store, raw database access.

Kept out of ``conftest.py`` so that test modules import them by a name no other folder uses.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.entities import Principal
from core.permissions import Role
from core.security import Hasher
from core.services.audit_trail import AuditTrailService
from core.services.auth import AuthService
from core.services.settings import SettingsService
from core.services.users import UserService
from core.store.uow import Store

WORKSTATION = "ws-test-01"
ADMIN = "root.admin"
ADMIN_NAME = "Rhea Root"
ADMIN_PASSWORD = "correct horse battery staple"
USER_PASSWORD = "purple monkey dishwasher 42"


@dataclass
class Console:
    """The services of one open store, wired the way ``app`` wires them."""

    store: Store
    users: UserService
    auth: AuthService
    settings: SettingsService
    trail: AuditTrailService
    admin: Principal

    def add_user(self, username: str, roles: list[Role], *, display_name: str | None = None,
                 password: str = USER_PASSWORD, role: Role | None = None) -> Principal:
        """Create a user as the administrator and finish their first sign-in."""
        issued = self.users.add(self.admin, username, display_name or username.title(), roles)
        return self.auth.set_password_with_code(username, issued.code, password, role=role)

    def events(self, action: str | None = None) -> list:
        """Every audit event, oldest first (read straight from the store, no permission)."""
        from core import audit

        with self.store.unit_of_work(None, write=False) as uow:
            rows = [audit.to_entity(r) for r in audit.iter_rows(uow.session)]
        return [e for e in rows if action is None or e.action == action]

    def head(self) -> tuple[int, str]:
        from core import audit

        with self.store.unit_of_work(None, write=False) as uow:
            return audit.head(uow.session)

    def sql(self, statement: str, **params) -> list[tuple]:
        """Run raw SQL outside Charter's services (what a person with database access can do)."""
        with self.store.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []


def make_console(store: Store, hasher: Hasher) -> Console:
    users = UserService(store, hasher)
    auth = AuthService(store, hasher)
    users.create_first_admin(ADMIN, ADMIN_NAME, ADMIN_PASSWORD)
    admin = auth.sign_in(ADMIN, ADMIN_PASSWORD, workstation=WORKSTATION)
    return Console(store, users, auth, SettingsService(store), AuditTrailService(store), admin)


def raw_sqlite(url: str) -> sqlite3.Connection:
    """A plain sqlite3 connection to the store file, in autocommit mode."""
    return sqlite3.connect(make_url(url).database, isolation_level=None)


def drop_audit_triggers(store: Store) -> None:
    """What an attacker with database access does first: switch the append-only guards off."""
    if store.is_sqlite:
        with closing(raw_sqlite(str(store.url))) as conn:
            conn.execute("DROP TRIGGER audit_event_no_update")
            conn.execute("DROP TRIGGER audit_event_no_delete")
    else:
        url = store.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
