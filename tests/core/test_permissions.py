"""The role x action table: every service method enforces it, and DESIGN.md's rules hold over it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from storekit import Console, make_console
from core.errors import AccountLocked, AuthenticationFailed, PermissionDenied
from core.permissions import (
    PERMISSIONS,
    READ_ACTIONS,
    SIGNING_ACTIONS,
    Action,
    Role,
    allowed,
    require,
)
from core.store.opening import open_store


@dataclass(frozen=True)
class Op:
    """One service method, the action that guards it, and what its success looks like."""

    name: str
    action: Action
    prepare: Callable[[Console, str], None]  # put the target user in the state the call needs
    call: Callable[[Console, object, str, object], object]
    done: Callable[[Console, str, object], bool]  # the effect a user would see


def _user(console: Console, username: str):
    return next(u for u in console.users.list(console.admin) if u.username == username)


def _nothing(console: Console, target: str) -> None:
    return None


def _disable(console: Console, target: str) -> None:
    console.users.disable(console.admin, target, reason="set-up")


def _lock(console: Console, target: str) -> None:
    for i in range(5):
        with pytest.raises((AuthenticationFailed, AccountLocked)):
            console.auth.sign_in(target, f"wrong {i}")


OPS = [
    Op("UserService.list", Action.USER_MANAGE, _nothing,
       lambda c, p, t, tmp: c.users.list(p),
       lambda c, t, out: t in [u.username for u in out]),
    Op("UserService.add", Action.USER_MANAGE, _nothing,
       lambda c, p, t, tmp: c.users.add(p, t + ".new", "New Person", [Role.EXECUTIVE]),
       lambda c, t, out: _user(c, t + ".new").status == "awaiting first sign-in"),
    Op("UserService.disable", Action.USER_MANAGE, _nothing,
       lambda c, p, t, tmp: c.users.disable(p, t, reason="left"),
       lambda c, t, out: _user(c, t).disabled),
    Op("UserService.enable", Action.USER_MANAGE, _disable,
       lambda c, p, t, tmp: c.users.enable(p, t, reason="back"),
       lambda c, t, out: not _user(c, t).disabled),
    Op("UserService.unlock", Action.USER_MANAGE, _lock,
       lambda c, p, t, tmp: c.users.unlock(p, t, reason="help desk"),
       lambda c, t, out: not _user(c, t).locked),
    Op("UserService.reset_password", Action.USER_MANAGE, _nothing,
       lambda c, p, t, tmp: c.users.reset_password(p, t, reason="forgot"),
       lambda c, t, out: _user(c, t).must_set_password and len(out.code) == 23),
    Op("UserService.set_roles", Action.USER_MANAGE, _nothing,
       lambda c, p, t, tmp: c.users.set_roles(p, t, [Role.IT], reason="moved team"),
       lambda c, t, out: _user(c, t).roles == (Role.IT,)),
    Op("SettingsService.set", Action.SETTINGS_MANAGE, _nothing,
       lambda c, p, t, tmp: c.settings.set(p, "auth.idle_lock_minutes",
                                           100 + sum(map(ord, t)) % 300, reason="policy"),
       lambda c, t, out: c.settings.get("auth.idle_lock_minutes") == 100 + sum(map(ord, t)) % 300),
    Op("AuditTrailService.page", Action.AUDIT_READ, _nothing,
       lambda c, p, t, tmp: c.trail.page(p, limit=5),
       lambda c, t, out: len(out.items) == 5 and out.items[0].seq > out.items[-1].seq),
    Op("AuditTrailService.head", Action.AUDIT_READ, _nothing,
       lambda c, p, t, tmp: c.trail.head(p),
       lambda c, t, out: out == c.head()),
    Op("AuditTrailService.verify", Action.AUDIT_VERIFY, _nothing,
       lambda c, p, t, tmp: c.trail.verify(p)[0],
       lambda c, t, out: out.ok and out.count > 0),
    Op("AuditTrailService.export", Action.AUDIT_EXPORT, _nothing,
       lambda c, p, t, tmp: c.trail.export(p, tmp / "trail.json", "json")[0],
       lambda c, t, out: out > 0),
]


@pytest.fixture(scope="module")
def org(tmp_path_factory, hasher):
    """One store with one real user per role, signed in; shared by the walk below."""
    url = f"sqlite:///{tmp_path_factory.mktemp('perm') / 'charter.db'}"
    store = open_store(url, create=True, workstation="ws-perm")
    console = make_console(store, hasher)
    principals = {Role.ADMIN: console.admin}
    for role in Role:
        if role is not Role.ADMIN:
            principals[role] = console.add_user(f"{role.value.replace('_', '.')}.one", [role])
    try:
        yield console, principals
    finally:
        store.dispose()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_role_for_every_service_method(org, tmp_path, role, op) -> None:
    console, principals = org
    principal = principals[role]
    assert principal.role is role and principal.roles == (role,)
    target = f"t.{role.value[:4]}.{op.name.split('.')[1]}".replace("_", "")
    console.users.add(console.admin, target, "Target", [Role.DATA_SCIENTIST])
    op.prepare(console, target)
    before_head = console.head()
    before_user = _user(console, target)
    if allowed(role, op.action):
        out = op.call(console, principal, target, tmp_path)
        assert op.done(console, target, out), f"{op.name} as {role.value} had no effect"
    else:
        with pytest.raises(PermissionDenied) as info:
            op.call(console, principal, target, tmp_path)
        assert role.label in info.value.message and op.action.value in info.value.message
        assert console.head() == before_head  # nothing written, not even an audit event
        assert _user(console, target) == before_user
        assert not (tmp_path / "trail.json").exists()


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_user_names_for_filters_are_for_audit_readers_and_admins(org, role) -> None:
    console, principals = org
    if allowed(role, Action.AUDIT_READ) or allowed(role, Action.USER_MANAGE):
        assert "root.admin" in console.users.usernames(principals[role])
    else:
        with pytest.raises(PermissionDenied):
            console.users.usernames(principals[role])


def test_store_settings_are_readable_by_everyone_signed_in(org) -> None:
    console, principals = org
    for principal in principals.values():
        keys = {s.spec.key for s in console.settings.list(principal)}
        assert "auth.max_failed_sign_ins" in keys


@pytest.mark.parametrize(("role", "action"), list(itertools.product(Role, Action)),
                         ids=lambda v: v.value)
def test_require_follows_the_table(role, action) -> None:
    if action in PERMISSIONS[role]:
        require(role, action)
    else:
        with pytest.raises(PermissionDenied) as info:
            require(role, action)
        holders = [r.label for r in Role if action in PERMISSIONS[r]]
        for label in holders:
            assert label in info.value.hint


# -- DESIGN.md's "never does" column, over the whole table ----------------------------------------


def test_every_role_has_a_row() -> None:
    assert set(PERMISSIONS) == set(Role)


def test_administrator_never_signs_or_approves() -> None:
    assert not PERMISSIONS[Role.ADMIN] & SIGNING_ACTIONS


def test_executive_only_reads() -> None:
    assert PERMISSIONS[Role.EXECUTIVE] <= READ_ACTIONS


def test_compliance_officer_never_edits_or_imports_models() -> None:
    assert not PERMISSIONS[Role.COMPLIANCE] & {Action.MODEL_EDIT, Action.MODEL_IMPORT}


def test_it_never_approves_or_signs() -> None:
    assert not PERMISSIONS[Role.IT] & SIGNING_ACTIONS


def test_data_scientist_never_validates_or_approves() -> None:
    assert not PERMISSIONS[Role.DATA_SCIENTIST] & SIGNING_ACTIONS


def test_validator_never_approves_for_use() -> None:
    assert not PERMISSIONS[Role.VALIDATOR] & {Action.VERSION_APPROVE, Action.POLICY_APPROVE}


def test_read_and_signing_actions_are_disjoint() -> None:
    assert not READ_ACTIONS & SIGNING_ACTIONS


def test_every_role_holds_an_action_and_every_action_has_a_role() -> None:
    assert all(PERMISSIONS[r] for r in Role)
    granted = set().union(*PERMISSIONS.values())
    assert granted == set(Action), set(Action) - granted
