"""Users, sign-in, lock-out, one-time codes and store settings, with their audit events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from storekit import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, WORKSTATION
from core.errors import (
    AccountDisabled,
    AccountLocked,
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    PermissionDenied,
)
from core.permissions import Role
from core.services import auth as auth_module
from core.services.users import UserService
from core.timeutil import utcnow


def _hash_of(console, username: str) -> str | None:
    return console.sql("select password_hash from user_account where username = :u",
                       u=username)[0][0]


def _last(console, action: str):
    return console.events(action)[-1]


# -- the first administrator ----------------------------------------------------------------------


def test_first_admin_is_created_once_and_audited(console) -> None:
    ev = console.events("user.created")
    assert len(ev) == 1 and ev[0].object_id == ADMIN and ev[0].actor is None
    assert json.loads(ev[0].new_values) == {"display_name": "Rhea Root",
                                            "roles": ["administrator"]}
    assert console.admin.role is Role.ADMIN and console.admin.roles == (Role.ADMIN,)
    with pytest.raises(AlreadyExists, match="already has users"):
        console.users.create_first_admin("second.admin", "Second", "another long passphrase")
    assert [u.username for u in console.users.list(console.admin)] == [ADMIN]


def test_password_is_stored_as_argon2id_only(console) -> None:
    stored = _hash_of(console, ADMIN)
    assert stored.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in stored
    dump = json.dumps([list(r) for r in console.sql("select * from user_account")])
    assert ADMIN_PASSWORD not in dump


@pytest.mark.parametrize(
    ("username", "password", "rule"),
    [
        ("ann.admin", "short", "too short: 5 characters, at least 12"),
        ("ann.admin", "my name is ANN.ADMIN ok", "must not contain the user name"),
        ("ann.admin", "abababababababab", "repeats too few characters"),
    ],
)
def test_password_rules_name_the_broken_rule(store, hasher, username, password, rule) -> None:
    from core.services.users import UserService

    users = UserService(store, hasher)
    with pytest.raises(InvalidInput, match=rule):
        users.create_first_admin(username, "Ann", password)
    assert store_is_empty(store)


def store_is_empty(store) -> bool:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return conn.execute(text("select count(*) from user_account")).scalar_one() == 0


def test_user_names_are_checked(console) -> None:
    for bad in ("", "x", "1abc", "has space", "Ünïcode", "a" * 65):
        with pytest.raises(InvalidInput, match="not a valid user name"):
            console.users.add(console.admin, bad, "Someone", [Role.EXECUTIVE])
    # Names are case-insensitive: "Dana" and "dana" are one account.
    console.users.add(console.admin, "Dana", "Dana", [Role.EXECUTIVE])
    with pytest.raises(AlreadyExists):
        console.users.add(console.admin, "dana", "Dana again", [Role.EXECUTIVE])


# -- one-time codes -------------------------------------------------------------------------------


def test_new_user_gets_a_one_time_code_and_chooses_a_password(console) -> None:
    issued = console.users.add(console.admin, "dana", "Dana Scientist", [Role.DATA_SCIENTIST],
                               email="dana@bank.example")
    assert issued.user.status == "awaiting first sign-in"
    assert issued.expires_hours == 72
    assert len(issued.code) == 23 and issued.code.count("-") == 3
    assert _hash_of(console, "dana") is None
    with pytest.raises(PasswordChangeRequired) as info:
        console.auth.sign_in("dana", issued.code)
    assert info.value.username == "dana"
    # Codes are forgiving about case and dashes (read aloud, typed in a hurry).
    typed = issued.code.replace("-", "").lower()
    p = console.auth.set_password_with_code("dana", typed, USER_PASSWORD)
    assert (p.username, p.role, p.workstation) == ("dana", Role.DATA_SCIENTIST, WORKSTATION)
    assert _hash_of(console, "dana").startswith("$argon2id$")
    assert [e.action for e in console.events()[-3:]] == ["user.created", "user.password_set",
                                                         "auth.signed_in"]
    assert _last(console, "user.password_set").actor == "dana"
    # The code worked once; it is void now, and the password works.
    with pytest.raises(AuthenticationFailed):
        console.auth.set_password_with_code("dana", issued.code, "yet another passphrase")
    with pytest.raises(AuthenticationFailed):
        console.auth.sign_in("dana", issued.code)
    assert console.auth.sign_in("dana", USER_PASSWORD).username == "dana"


def test_a_weak_password_chosen_with_a_code_keeps_the_code_valid(console) -> None:
    issued = console.users.add(console.admin, "dana", "Dana", [Role.DATA_SCIENTIST])
    with pytest.raises(InvalidInput, match="must not contain the user name"):
        console.auth.set_password_with_code("dana", issued.code, "dana-is-my-password")
    assert _hash_of(console, "dana") is None
    console.auth.set_password_with_code("dana", issued.code, USER_PASSWORD)


def test_an_expired_code_is_refused(console, monkeypatch) -> None:
    issued = console.users.add(console.admin, "dana", "Dana", [Role.DATA_SCIENTIST])
    later = utcnow() + timedelta(hours=72, minutes=1)
    monkeypatch.setattr(auth_module, "utcnow", lambda: later)
    with pytest.raises(AuthenticationFailed, match="one-time code has expired"):
        console.auth.sign_in("dana", issued.code)
    with pytest.raises(AuthenticationFailed, match="one-time code has expired") as err:
        console.auth.set_password_with_code("dana", issued.code, USER_PASSWORD)
    assert "reset-password" in (err.value.hint or "")
    assert _hash_of(console, "dana") is None
    failed = console.events("auth.sign_in_failed")
    assert [json.loads(e.new_values)["reason"] for e in failed[-2:]] == [
        "one-time code expired", "one-time code expired"]
    # An expired code is not a guess: it does not count toward the lock-out.
    assert [u.failed_sign_ins for u in console.users.list(console.admin)
            if u.username == "dana"] == [0]


def test_code_lifetime_follows_the_store_setting(console, monkeypatch) -> None:
    console.settings.set(console.admin, "auth.one_time_code_hours", 1, reason="policy")
    issued = console.users.add(console.admin, "dana", "Dana", [Role.DATA_SCIENTIST])
    assert issued.expires_hours == 1
    later = utcnow() + timedelta(minutes=61)
    monkeypatch.setattr(auth_module, "utcnow", lambda: later)
    with pytest.raises(AuthenticationFailed):
        console.auth.set_password_with_code("dana", issued.code, USER_PASSWORD)


# -- signing in, failing, locking -----------------------------------------------------------------


def test_unknown_user_and_wrong_password_look_the_same(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    with pytest.raises(AuthenticationFailed) as unknown:
        console.auth.sign_in("nobody", USER_PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        console.auth.sign_in("dana", "not the password at all")
    assert str(unknown.value) == str(wrong.value)
    assert "nobody" not in str(unknown.value)
    failed = console.events("auth.sign_in_failed")[-2:]
    assert [(e.object_id, e.actor) for e in failed] == [("nobody", None), ("dana", None)]
    assert json.loads(failed[0].new_values) == {"reason": "unknown user",
                                                "workstation": WORKSTATION}


def test_sign_in_is_audited_and_resets_the_failure_count(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            console.auth.sign_in("dana", "wrong wrong wrong", workstation="ws-kiosk")
    failed = _last(console, "auth.sign_in_failed")
    assert failed.workstation == "ws-kiosk"
    assert json.loads(failed.new_values)["reason"] == "wrong password (4 of 5)"
    p = console.auth.sign_in("dana", USER_PASSWORD, workstation="ws-dana")
    ev = _last(console, "auth.signed_in")
    assert (ev.actor, ev.role, ev.workstation) == ("dana", "data_scientist", "ws-dana")
    assert p.workstation == "ws-dana"
    user = [u for u in console.users.list(console.admin) if u.username == "dana"][0]
    assert user.failed_sign_ins == 0 and not user.locked and user.last_sign_in_at is not None
    # The count starts again: four more failures still do not lock.
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            console.auth.sign_in("dana", "wrong wrong wrong")
    console.auth.sign_in("dana", USER_PASSWORD)


def test_signing_in_in_a_role_not_held_is_refused(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST, Role.IT])
    p = console.auth.sign_in("dana", USER_PASSWORD, role=Role.IT)
    assert p.role is Role.IT and p.roles == (Role.DATA_SCIENTIST, Role.IT)
    with pytest.raises(PermissionDenied, match="does not hold the Manager role"):
        console.auth.sign_in("dana", USER_PASSWORD, role=Role.MANAGER)


def _lock(console, username: str, times: int) -> None:
    for i in range(times - 1):
        with pytest.raises(AuthenticationFailed):
            console.auth.sign_in(username, f"wrong guess number {i}")
    with pytest.raises(AccountLocked, match="now locked"):
        console.auth.sign_in(username, "the last wrong guess")


def test_five_failures_lock_the_account(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    _lock(console, "dana", 5)
    locked = _last(console, "user.locked")
    assert (locked.object_id, locked.actor) == ("dana", None)
    assert json.loads(locked.new_values) == {"locked": True, "failed_sign_ins": 5}
    with pytest.raises(AccountLocked, match="is locked"):
        console.auth.sign_in("dana", USER_PASSWORD)
    assert json.loads(_last(console, "auth.sign_in_failed").new_values)["reason"] == \
        "account locked"
    user = [u for u in console.users.list(console.admin) if u.username == "dana"][0]
    assert user.status == "locked"


def test_lockout_threshold_follows_the_store_setting(console) -> None:
    console.settings.set(console.admin, "auth.max_failed_sign_ins", 3, reason="audit finding 12")
    console.add_user("dana", [Role.DATA_SCIENTIST])
    with pytest.raises(AuthenticationFailed, match="Wrong user name or password") as info:
        console.auth.sign_in("dana", "guess one")
    assert "locks after 3 failed attempts" in info.value.hint
    with pytest.raises(AuthenticationFailed):
        console.auth.sign_in("dana", "guess two")
    with pytest.raises(AccountLocked, match="after 3 failed attempts"):
        console.auth.sign_in("dana", "guess three")
    assert json.loads(_last(console, "user.locked").new_values)["failed_sign_ins"] == 3


def test_unlock_lets_the_user_back_in(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    _lock(console, "dana", 5)
    changes = console.users.unlock(console.admin, "dana", reason="called the help desk")
    assert changes.users and changes.audit
    ev = _last(console, "user.unlocked")
    assert (ev.actor, ev.role, ev.reason) == (ADMIN, "administrator", "called the help desk")
    assert console.auth.sign_in("dana", USER_PASSWORD).username == "dana"
    # Unlocking an account that is not locked changes nothing and records nothing.
    n = console.head()[0]
    assert console.users.unlock(console.admin, "dana", reason="again") == type(changes)()
    assert console.head()[0] == n


def test_reset_password_gives_the_admin_only_a_code(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    _lock(console, "dana", 5)
    old_hash = _hash_of(console, "dana")
    issued = console.users.reset_password(console.admin, "dana", reason="forgot password")
    assert not hasattr(issued, "password")
    assert issued.user.status == "awaiting first sign-in" and not issued.user.locked
    ev = _last(console, "user.password_reset")
    assert (ev.actor, ev.reason) == (ADMIN, "forgot password")
    assert json.loads(ev.old_values) == {"locked": True}
    # The old password is void; no new password exists until the user chooses it.
    assert _hash_of(console, "dana") is None
    with pytest.raises(AuthenticationFailed):
        console.auth.sign_in("dana", USER_PASSWORD)
    with pytest.raises(PasswordChangeRequired):
        console.auth.sign_in("dana", issued.code)
    console.auth.set_password_with_code("dana", issued.code, "a brand new passphrase")
    new_hash = _hash_of(console, "dana")
    assert new_hash.startswith("$argon2id$") and new_hash != old_hash
    assert console.auth.sign_in("dana", "a brand new passphrase").username == "dana"


def test_an_admin_cannot_reset_their_own_password_here(console) -> None:
    with pytest.raises(InvalidInput, match="your own password"):
        console.users.reset_password(console.admin, ADMIN, reason="x")


def test_a_disabled_user_is_refused_even_with_the_right_password(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    console.users.disable(console.admin, "dana", reason="left the bank")
    ev = _last(console, "user.disabled")
    assert (ev.actor, ev.object_id, ev.reason) == (ADMIN, "dana", "left the bank")
    with pytest.raises(AccountDisabled, match="disabled"):
        console.auth.sign_in("dana", USER_PASSWORD)
    assert json.loads(_last(console, "auth.sign_in_failed").new_values)["reason"] == \
        "account disabled"
    with pytest.raises(InvalidInput, match="enable the account first"):
        console.users.reset_password(console.admin, "dana", reason="x")
    console.users.enable(console.admin, "dana", reason="rehired")
    assert _last(console, "user.enabled").reason == "rehired"
    assert console.auth.sign_in("dana", USER_PASSWORD).username == "dana"


def test_changes_need_a_reason(console) -> None:
    console.add_user("dana", [Role.DATA_SCIENTIST])
    n = console.head()[0]
    for call in (console.users.disable, console.users.unlock, console.users.reset_password,
                 console.users.enable):
        with pytest.raises(InvalidInput, match="reason"):
            call(console.admin, "dana", reason="   ")
    with pytest.raises(InvalidInput, match="reason"):
        console.users.set_roles(console.admin, "dana", [Role.IT], reason="")
    assert console.head()[0] == n


def test_unknown_user_is_not_found(console) -> None:
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        console.users.disable(console.admin, "ghost", reason="x")


# -- administrators -------------------------------------------------------------------------------


def test_you_cannot_disable_yourself_or_change_your_own_roles(console) -> None:
    with pytest.raises(InvalidInput, match="your own account"):
        console.users.disable(console.admin, ADMIN, reason="oops")
    with pytest.raises(InvalidInput, match="your own roles"):
        console.users.set_roles(console.admin, ADMIN, [Role.EXECUTIVE], reason="oops")
    assert console.auth.sign_in(ADMIN, ADMIN_PASSWORD).role is Role.ADMIN


def test_the_last_active_administrator_cannot_be_removed(console) -> None:
    """Two administrators disable and demote each other: the second move is refused, also from
    a console that was signed in before its own account was disabled."""
    console.add_user("ben.admin", [Role.ADMIN])
    ben = console.auth.sign_in("ben.admin", USER_PASSWORD)
    console.users.disable(ben, ADMIN, reason="handover")
    # The first administrator's console is still open: its next action is refused outright.
    with pytest.raises(AccountDisabled):
        console.users.disable(console.admin, "ben.admin", reason="revenge")
    with pytest.raises(AccountDisabled):
        console.users.set_roles(console.admin, "ben.admin", [Role.EXECUTIVE], reason="revenge")
    assert console.auth.sign_in("ben.admin", USER_PASSWORD).role is Role.ADMIN
    # The guard itself, for two administrators acting at the same moment: with one active
    # administrator left it refuses (sequential calls cannot get here, the actor counts too).
    with console.store.unit_of_work(None) as uow, \
            pytest.raises(InvalidInput, match="last active administrator"):
        UserService._keep_an_admin(uow.session)
    # A disabled administrator does not count: demoting them is allowed.
    console.users.set_roles(ben, ADMIN, [Role.EXECUTIVE], reason="role review")
    ev = _last(console, "user.roles_changed")
    assert json.loads(ev.old_values) == {"roles": ["administrator"]}
    assert json.loads(ev.new_values) == {"roles": ["executive"]}
    assert (ev.actor, ev.reason) == ("ben.admin", "role review")


def test_revoking_a_role_takes_effect_at_the_next_action(console) -> None:
    console.add_user("ops", [Role.ADMIN, Role.IT])
    ops = console.auth.sign_in("ops", USER_PASSWORD, role=Role.ADMIN)
    assert console.users.list(ops)
    console.users.set_roles(console.admin, "ops", [Role.IT], reason="moved to operations")
    before = len(console.events("user.created"))
    with pytest.raises(PermissionDenied, match="no longer holds the Administrator role"):
        console.users.add(ops, "x.user", "X", [Role.EXECUTIVE])
    assert len(console.events("user.created")) == before


@pytest.mark.parametrize("signer", [Role.VALIDATOR, Role.COMPLIANCE, Role.MANAGER])
def test_administrator_role_is_never_combined_with_signing_roles(console, signer) -> None:
    with pytest.raises(InvalidInput, match=f"cannot be combined with {signer.label}"):
        console.users.add(console.admin, "dual", "Dual Hat", [Role.ADMIN, signer])
    console.add_user("sam", [signer])
    with pytest.raises(InvalidInput, match="cannot be combined"):
        console.users.set_roles(console.admin, "sam", [signer, Role.ADMIN], reason="x")
    assert [u.roles for u in console.users.list(console.admin) if u.username == "sam"] == [
        (signer,)]


def test_administrator_may_hold_non_signing_roles(console) -> None:
    issued = console.users.add(console.admin, "ops.admin", "Ops", [Role.ADMIN, Role.IT])
    assert set(issued.user.roles) == {Role.ADMIN, Role.IT}


def test_roles_are_checked(console) -> None:
    with pytest.raises(InvalidInput, match="not a role"):
        console.users.add(console.admin, "zed", "Zed", ["superuser"])
    with pytest.raises(InvalidInput, match="at least one role"):
        console.users.add(console.admin, "zed", "Zed", [])


# -- store settings -------------------------------------------------------------------------------


def test_setting_change_is_audited_with_old_new_and_reason(console) -> None:
    changes = console.settings.set(console.admin, "auth.idle_lock_minutes", "30",
                                   reason="branch policy 4.1")
    assert changes.settings and changes.audit
    ev = _last(console, "setting.changed")
    assert (ev.object_type, ev.object_id, ev.actor, ev.reason) == (
        "setting", "auth.idle_lock_minutes", ADMIN, "branch policy 4.1")
    assert json.loads(ev.old_values) == {"value": 15}
    assert json.loads(ev.new_values) == {"value": 30}
    assert console.auth.idle_lock_minutes() == 30
    listed = {s.spec.key: (s.value, s.is_default) for s in console.settings.list(console.admin)}
    assert listed["auth.idle_lock_minutes"] == (30, False)
    assert listed["auth.max_failed_sign_ins"] == (5, True)
    # Setting the same value again is not a change.
    n = console.head()[0]
    assert not console.settings.set(console.admin, "auth.idle_lock_minutes", 30, reason="x").audit
    assert console.head()[0] == n


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("auth.max_failed_sign_ins", 0, "must be at least 1"),
        ("auth.max_failed_sign_ins", 51, "must be at most 50"),
        ("auth.idle_lock_minutes", "ten", "must be a whole number; got 'ten'"),
        ("auth.idle_lock_minutes", "2.5", "must be a whole number"),
        ("auth.idle_lock_minutes", True, "must be a whole number"),
        ("auth.min_password_length", 7, "must be at least 8"),
        ("auth.one_time_code_hours", 721, "must be at most 720"),
    ],
)
def test_bad_setting_values_are_refused_clearly(console, key, raw, message) -> None:
    n = console.head()[0]
    with pytest.raises(InvalidInput, match=message) as info:
        console.settings.set(console.admin, key, raw, reason="try")
    assert key in str(info.value)
    assert console.head()[0] == n


def test_unknown_and_workstation_settings_are_refused(console) -> None:
    with pytest.raises(NotFound, match="no setting named"):
        console.settings.set(console.admin, "auth.nope", 1, reason="x")
    with pytest.raises(InvalidInput, match="belongs to this workstation"):
        console.settings.set(console.admin, "store.url", "sqlite:///x", reason="x")
    with pytest.raises(InvalidInput, match="Say why"):
        console.settings.set(console.admin, "auth.idle_lock_minutes", 20, reason=" ")


def test_minimum_password_length_setting_applies(console) -> None:
    console.settings.set(console.admin, "auth.min_password_length", 20, reason="policy")
    issued = console.users.add(console.admin, "dana", "Dana", [Role.DATA_SCIENTIST])
    with pytest.raises(InvalidInput, match="at least 20"):
        console.auth.set_password_with_code("dana", issued.code, USER_PASSWORD[:19])
    console.auth.set_password_with_code("dana", issued.code, USER_PASSWORD)


# -- the rest of a session ------------------------------------------------------------------------


def test_change_password_and_reauthenticate(console) -> None:
    dana = console.add_user("dana", [Role.DATA_SCIENTIST])
    with pytest.raises(AuthenticationFailed, match="Wrong current password"):
        console.auth.change_password(dana, "not my password", "a different passphrase")
    console.auth.change_password(dana, USER_PASSWORD, "a different passphrase")
    assert _last(console, "user.password_changed").actor == "dana"
    console.auth.confirm_identity(dana, "a different passphrase", purpose="idle unlock")
    ev = _last(console, "auth.reauthenticated")
    assert json.loads(ev.new_values) == {"purpose": "idle unlock"}
    with pytest.raises(AuthenticationFailed):
        console.auth.sign_in("dana", USER_PASSWORD)


def test_switching_role_is_audited(console) -> None:
    dana = console.add_user("dana", [Role.DATA_SCIENTIST, Role.IT])
    it = console.auth.switch_role(dana, Role.IT)
    assert it.role is Role.IT
    ev = _last(console, "auth.role_switched")
    assert (json.loads(ev.old_values), json.loads(ev.new_values)) == (
        {"role": "data_scientist"}, {"role": "it_operations"})
    with pytest.raises(PermissionDenied):
        console.auth.switch_role(dana, Role.MANAGER)
