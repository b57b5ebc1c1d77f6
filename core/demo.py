"""The demo store: a separate store, marked DEMO, with one user per role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from core.errors import AlreadyExists, InvalidInput
from core.permissions import Role
from core.security import Hasher
from core.services.auth import AuthService
from core.services.users import UserService
from core.store.opening import open_store
from core.store.uow import Store

DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("ada", "Ada Admin", Role.ADMIN),
    ("dana", "Dana Scientist", Role.DATA_SCIENTIST),
    ("victor", "Victor Validator", Role.VALIDATOR),
    ("cora", "Cora Compliance", Role.COMPLIANCE),
    ("max", "Max Manager", Role.MANAGER),
    ("ivan", "Ivan Operations", Role.IT),
    ("eve", "Eve Executive", Role.EXECUTIVE),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    password: str


def _demo_password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


def demo_exists(url: str) -> bool:
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and bool(u.database) and Path(u.database).exists()


def create_demo(url: str, hasher: Hasher, *, replace: bool = False,
                with_portfolio: bool = True) -> tuple[Store, list[DemoAccount]]:
    """Create the demo store at ``url`` (a SQLite file) with one user per role and random
    passwords, which are returned once and never stored in clear. Raises AlreadyExists unless
    ``replace``; replacing deletes only that demo file."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        raise InvalidInput("The demo store is a SQLite file of its own, never a shared database.",
                           hint="Give --db sqlite:////path/demo.db, or no --db for the default "
                           "demo location.")
    path = Path(u.database)
    if path.exists():
        if not replace:
            raise AlreadyExists(f"A demo store already exists at {path}.",
                                hint="Use `charter demo --reset` to replace it with a new one.")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(url, create=True, demo=True)
    users = UserService(store, hasher)
    auth = AuthService(store, hasher)
    accounts = []
    admin_name, admin_display, _ = DEMO_USERS[0]
    admin_pw = _demo_password()
    users.create_first_admin(admin_name, admin_display, admin_pw)
    accounts.append(DemoAccount(admin_name, admin_display, Role.ADMIN, admin_pw))
    admin = auth.sign_in(admin_name, admin_pw)
    for username, display, role in DEMO_USERS[1:]:
        issued = users.add(admin, username, display, [role], email=f"{username}@demo.invalid")
        password = _demo_password()
        auth.set_password_with_code(username, issued.code, password)
        accounts.append(DemoAccount(username, display, role, password))
    auth.record_session_event(admin, "auth.signed_out")
    if with_portfolio:
        from core.demo_portfolio import build_portfolio

        from core.demo_workflow import build_workflow
        from core.registry.artifact_store import ArtifactStore

        scientist = auth.sign_in("dana", accounts[1].password)
        build_portfolio(store, scientist, path.parent)
        auth.record_session_event(scientist, "auth.signed_out")
        build_workflow(store, auth, ArtifactStore(path.parent / "artifacts"),
                       {a.username: a.password for a in accounts})
    return store, accounts
