"""User and role administration (administrators only).

An administrator never learns anyone's password: new users and password resets get a one-time
code, valid for a limited time, with which the user chooses their own password at first sign-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.entities import Changes, Principal, User
from core.errors import AlreadyExists, InvalidInput, NotFound
from core.permissions import SIGNING_ACTIONS, PERMISSIONS, Action, Role, require
from core.security import Hasher, new_one_time_code
from core.services import settings as store_settings
from core.store.orm import SqlUser, SqlUserRole
from core.store.uow import Store, UnitOfWork
from core.timeutil import utcnow

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")

# Roles that sign or approve cannot be held together with the administrator role: the
# administrator grants roles, so holding both would let one person approve what they configured.
_SIGNING_ROLES = frozenset(r for r in Role if PERMISSIONS[r] & SIGNING_ACTIONS)


@dataclass(frozen=True)
class IssuedCode:
    """A one-time code to hand to the user; shown once, stored only as a hash."""

    user: User
    code: str
    expires_hours: int
    changes: Changes


def normalise_username(name: str) -> str:
    return name.strip().lower()


def check_username(name: str) -> str:
    username = normalise_username(name)
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            f"{name!r} is not a valid user name.",
            hint="Use 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter.",
        )
    return username


def parse_roles(names: Iterable[str | Role]) -> frozenset[Role]:
    roles = set()
    for name in names:
        try:
            roles.add(Role(str(name).strip().lower()))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise InvalidInput(f"{name!r} is not a role.", hint=f"Roles: {valid}.") from None
    if not roles:
        raise InvalidInput("A user needs at least one role.")
    if Role.ADMIN in roles and roles & _SIGNING_ROLES:
        clash = ", ".join(sorted(r.label for r in roles & _SIGNING_ROLES))
        raise InvalidInput(
            f"The administrator role cannot be combined with {clash}.",
            hint="An administrator never signs or approves; give those roles to another account.",
        )
    return frozenset(roles)


def get_user_row(session: Session, username: str) -> SqlUser:
    row = session.execute(
        select(SqlUser).where(SqlUser.username == normalise_username(username))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no user named {username!r}.",
                       hint="`charter user list` shows the users of this store.")
    return row


def _active_admins(session: Session) -> int:
    # FOR UPDATE on PostgreSQL: two administrators disabling each other at the same moment
    # queue here, and the second one counts what the first left (SQLite writers queue anyway).
    ids = session.execute(
        select(SqlUser.id).join(SqlUserRole).where(
            SqlUserRole.role == Role.ADMIN.value, SqlUser.disabled.is_(False)
        ).with_for_update(of=SqlUser)
    ).scalars().all()
    return len(ids)


def _roles_list(roles: Iterable[Role]) -> list[str]:
    return sorted(r.value for r in roles)


class UserService:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.store = store
        self.hasher = hasher

    # -- reading -----------------------------------------------------------------------------
    def list(self, principal: Principal, *, include_disabled: bool = True) -> list[User]:
        require(principal.role, Action.USER_MANAGE)
        with self.store.unit_of_work(principal, write=False) as uow:
            q = select(SqlUser).order_by(SqlUser.username)
            if not include_disabled:
                q = q.where(SqlUser.disabled.is_(False))
            return [row.to_entity() for row in uow.session.execute(q).scalars()]

    def usernames(self, principal: Principal) -> list[str]:
        """User names for filters (audit readers need them, not the whole user record)."""
        if not (principal.may(Action.AUDIT_READ) or principal.may(Action.USER_MANAGE)):
            require(principal.role, Action.AUDIT_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return list(uow.session.execute(
                select(SqlUser.username).order_by(SqlUser.username)).scalars())

    # -- creating ----------------------------------------------------------------------------
    def create_first_admin(self, username: str, display_name: str, password: str,
                           workstation: str | None = None) -> User:
        """Create the store's first administrator (``charter init``). Refused once any user
        exists. Audit: ``user.created``."""
        from core.security import check_password_rules

        username = check_username(username)
        if not display_name.strip():
            raise InvalidInput("The administrator needs a printed name (--name).")
        with self.store.unit_of_work(None) as uow:
            if uow.session.execute(select(func.count()).select_from(SqlUser)).scalar_one():
                raise AlreadyExists(
                    "This store already has users; the first administrator exists.",
                    hint="Sign in as an administrator and use `charter user add`.",
                )
            min_len = store_settings.read(uow.session, "auth.min_password_length")
            check_password_rules(password, username=username, min_length=min_len)
            now = utcnow()
            row = SqlUser(
                username=username, display_name=display_name.strip(), email=None,
                password_hash=self.hasher.hash(password), failed_sign_ins=0, disabled=False,
                created_at=now, password_changed_at=now,
                roles=[SqlUserRole(role=Role.ADMIN.value)],
            )
            uow.session.add(row)
            uow.session.flush()
            uow.record("user.created", "user", username, actor=None, role=None,
                       new={"display_name": row.display_name, "roles": [Role.ADMIN.value]},
                       reason="first administrator of a new store")
            return row.to_entity()

    def add(self, principal: Principal, username: str, display_name: str,
            roles: Iterable[str | Role], *, email: str | None = None) -> IssuedCode:
        """Create a user who chooses their own password with a one-time code.
        Raises PermissionDenied, InvalidInput, AlreadyExists. Audit: ``user.created``."""
        require(principal.role, Action.USER_MANAGE)
        username = check_username(username)
        role_set = parse_roles(roles)
        if not display_name.strip():
            raise InvalidInput("Give the user's printed name; it appears on their signatures.")
        if email is not None and email.strip() and "@" not in email:
            raise InvalidInput(f"{email!r} is not an e-mail address.")
        with self.store.unit_of_work(principal) as uow:
            exists = uow.session.execute(
                select(SqlUser.id).where(SqlUser.username == username)).scalar()
            if exists is not None:
                raise AlreadyExists(f"A user named {username!r} already exists.",
                                    hint="Choose another user name; users are never deleted.")
            row = SqlUser(
                username=username, display_name=display_name.strip(),
                email=(email or "").strip() or None, password_hash=None, failed_sign_ins=0,
                disabled=False, created_at=utcnow(),
                roles=[SqlUserRole(role=r.value) for r in role_set],
            )
            uow.session.add(row)
            code, hours = self._issue_code(uow, row)
            uow.session.flush()
            uow.record("user.created", "user", username,
                       new={"display_name": row.display_name, "email": row.email,
                            "roles": _roles_list(role_set)})
            user = row.to_entity()
        return IssuedCode(user, code, hours, Changes(users=True, audit=True))

    def _issue_code(self, uow: UnitOfWork, row: SqlUser) -> tuple[str, int]:
        hours = store_settings.read(uow.session, "auth.one_time_code_hours")
        code = new_one_time_code()
        row.one_time_code_hash = self.hasher.hash(code)
        row.one_time_code_expires_at = utcnow() + timedelta(hours=hours)
        return code, hours

    # -- changing ----------------------------------------------------------------------------
    def reset_password(self, principal: Principal, username: str, *, reason: str) -> IssuedCode:
        """Void the user's password and issue a one-time code; also unlocks the account.
        The administrator never sees the password the user then chooses.
        Audit: ``user.password_reset``."""
        require(principal.role, Action.USER_MANAGE)
        self._need_reason(reason)
        with self.store.unit_of_work(principal) as uow:
            row = get_user_row(uow.session, username)
            if row.id == principal.user_id:
                raise InvalidInput("You cannot reset your own password here.",
                                   hint="Change it from your account menu, or ask another "
                                   "administrator.")
            if row.disabled:
                raise InvalidInput(f"{row.username} is disabled; enable the account first.")
            was_locked = row.locked_at is not None
            row.password_hash = None
            row.locked_at = None
            row.failed_sign_ins = 0
            code, hours = self._issue_code(uow, row)
            uow.record("user.password_reset", "user", row.username,
                       old={"locked": was_locked}, new={"locked": False,
                                                        "must_set_password": True},
                       reason=reason.strip())
            user = row.to_entity()
        return IssuedCode(user, code, hours, Changes(users=True, audit=True))

    def set_roles(self, principal: Principal, username: str, roles: Iterable[str | Role], *,
                  reason: str) -> Changes:
        """Replace a user's roles. Refuses changing your own roles and removing the last active
        administrator. Audit: ``user.roles_changed``."""
        require(principal.role, Action.USER_MANAGE)
        self._need_reason(reason)
        role_set = parse_roles(roles)
        with self.store.unit_of_work(principal) as uow:
            row = get_user_row(uow.session, username)
            if row.id == principal.user_id:
                raise InvalidInput("You cannot change your own roles.",
                                   hint="Another administrator must do it.")
            old = row.role_set()
            if old == role_set:
                return Changes()
            if Role.ADMIN in old and Role.ADMIN not in role_set and not row.disabled:
                self._keep_an_admin(uow.session)
            row.roles = [SqlUserRole(role=r.value) for r in role_set]
            uow.record("user.roles_changed", "user", row.username,
                       old={"roles": _roles_list(old)}, new={"roles": _roles_list(role_set)},
                       reason=reason.strip())
        return Changes(users=True, audit=True)

    def disable(self, principal: Principal, username: str, *, reason: str) -> Changes:
        """Disable an account (users are never deleted). Audit: ``user.disabled``."""
        require(principal.role, Action.USER_MANAGE)
        self._need_reason(reason)
        with self.store.unit_of_work(principal) as uow:
            row = get_user_row(uow.session, username)
            if row.id == principal.user_id:
                raise InvalidInput("You cannot disable your own account.")
            if row.disabled:
                return Changes()
            if Role.ADMIN in row.role_set():
                self._keep_an_admin(uow.session)
            row.disabled = True
            uow.record("user.disabled", "user", row.username, old={"disabled": False},
                       new={"disabled": True}, reason=reason.strip())
        return Changes(users=True, audit=True)

    def enable(self, principal: Principal, username: str, *, reason: str) -> Changes:
        """Enable a disabled account. Audit: ``user.enabled``."""
        require(principal.role, Action.USER_MANAGE)
        self._need_reason(reason)
        with self.store.unit_of_work(principal) as uow:
            row = get_user_row(uow.session, username)
            if not row.disabled:
                return Changes()
            row.disabled = False
            uow.record("user.enabled", "user", row.username, old={"disabled": True},
                       new={"disabled": False}, reason=reason.strip())
        return Changes(users=True, audit=True)

    def unlock(self, principal: Principal, username: str, *, reason: str) -> Changes:
        """Unlock an account locked by failed sign-ins. Audit: ``user.unlocked``."""
        require(principal.role, Action.USER_MANAGE)
        self._need_reason(reason)
        with self.store.unit_of_work(principal) as uow:
            row = get_user_row(uow.session, username)
            if row.locked_at is None:
                return Changes()
            row.locked_at = None
            row.failed_sign_ins = 0
            uow.record("user.unlocked", "user", row.username, old={"locked": True},
                       new={"locked": False}, reason=reason.strip())
        return Changes(users=True, audit=True)

    @staticmethod
    def _need_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise InvalidInput("Give a reason; it is recorded in the audit trail.")

    @staticmethod
    def _keep_an_admin(session: Session) -> None:
        if _active_admins(session) <= 1:
            raise InvalidInput(
                "This is the last active administrator; the store would have nobody to manage "
                "users.", hint="Give another user the administrator role first.")
