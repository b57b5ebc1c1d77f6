"""Signing in, choosing a password, locking and unlocking.

Failed attempts count per account; at the store's threshold (``auth.max_failed_sign_ins``) the
account locks until an administrator unlocks it or resets its password. Every outcome is audited,
including sign-ins with unknown user names.
"""

from __future__ import annotations

from sqlalchemy import select

from core.entities import Changes, Principal
from core.errors import (
    AccountDisabled,
    AccountLocked,
    AuthenticationFailed,
    InvalidInput,
    PasswordChangeRequired,
    PermissionDenied,
)
from core.permissions import Role
from core.security import Hasher, check_password_rules, normalise_code
from core.services import settings as store_settings
from core.services.users import normalise_username
from core.store.orm import SqlUser
from core.store.uow import Store, UnitOfWork
from core.timeutil import utcnow

_WRONG = "Wrong user name or password."
_EXPIRED = "This one-time code has expired."
_EXPIRED_HINT = "Ask an administrator for a new one (charter user reset-password)."


def _principal(row: SqlUser, role: Role | None, workstation: str) -> Principal:
    roles = tuple(r for r in Role if r in row.role_set())
    if role is None:
        role = roles[0]
    elif role not in roles:
        raise PermissionDenied(
            f"{row.username} does not hold the {role.label} role.",
            hint="Holds: " + ", ".join(r.label for r in roles) + ".")
    return Principal(row.id, row.username, row.display_name, role, roles, workstation)


class AuthService:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.store = store
        self.hasher = hasher

    def sign_in(self, username: str, secret: str, *, role: Role | None = None,
                workstation: str | None = None) -> Principal:
        """Check a password and return the signed-in principal, acting in ``role`` (default:
        the user's first role). A valid one-time code raises PasswordChangeRequired; then call
        :meth:`set_password_with_code`.

        Raises AuthenticationFailed, AccountLocked, AccountDisabled, PasswordChangeRequired,
        PermissionDenied (role not held). Audit: ``auth.signed_in``, ``auth.sign_in_failed``,
        ``user.locked``.
        """
        workstation = workstation or self.store.workstation
        name = normalise_username(username)
        failure: Exception | None = None
        with self.store.unit_of_work(None, workstation=workstation) as uow:
            row = uow.session.execute(
                select(SqlUser).where(SqlUser.username == name)).scalar_one_or_none()
            password_ok = self.hasher.verify(row.password_hash if row else None, secret)
            if row is None:
                self._failed(uow, name, workstation, "unknown user")
                failure = AuthenticationFailed(_WRONG, hint=self._wrong_hint(uow))
            elif row.disabled:
                self._failed(uow, name, workstation, "account disabled")
                failure = AccountDisabled(
                    f"The account {name} is disabled.",
                    hint="Ask an administrator to enable it if you still need access.")
            elif row.locked_at is not None:
                self._failed(uow, name, workstation, "account locked")
                failure = AccountLocked(
                    f"The account {name} is locked after too many failed sign-ins.",
                    hint="Ask an administrator to unlock it or reset your password.")
            elif password_ok:
                self._succeeded(uow, row, role, workstation)
                principal = _principal(row, role, workstation)
                uow.record("auth.signed_in", "user", name, actor=name, role=principal.role.value)
                return principal
            elif self._code_ok(row, secret):
                failure = PasswordChangeRequired(
                    "Choose your own password to finish signing in.", username=name)
            elif self._code_ok(row, secret, expired_too=True):
                self._failed(uow, name, workstation, "one-time code expired")
                failure = AuthenticationFailed(_EXPIRED, hint=_EXPIRED_HINT)
            else:
                failure = self._count_failure(uow, row, workstation)
        raise failure

    def set_password_with_code(self, username: str, code: str, new_password: str, *,
                               role: Role | None = None,
                               workstation: str | None = None) -> Principal:
        """First sign-in after an account was created or its password reset: the user proves
        the one-time code and chooses a password. Audit: ``user.password_set``,
        ``auth.signed_in`` (or ``auth.sign_in_failed`` for a wrong code)."""
        workstation = workstation or self.store.workstation
        name = normalise_username(username)
        failure: Exception | None = None
        with self.store.unit_of_work(None, workstation=workstation) as uow:
            row = uow.session.execute(
                select(SqlUser).where(SqlUser.username == name)).scalar_one_or_none()
            if row is None or row.disabled or row.locked_at is not None \
                    or not self._code_ok(row, code):
                if row is None:
                    self._failed(uow, name, workstation, "unknown user")
                    failure = AuthenticationFailed(_WRONG)
                elif self._code_ok(row, code, expired_too=True):
                    self._failed(uow, name, workstation, "one-time code expired")
                    failure = AuthenticationFailed(_EXPIRED, hint=_EXPIRED_HINT)
                else:
                    failure = self._count_failure(uow, row, workstation, what="one-time code")
            else:
                min_len = store_settings.read(uow.session, "auth.min_password_length")
                check_password_rules(new_password, username=name, min_length=min_len)
                row.password_hash = self.hasher.hash(new_password)
                row.password_changed_at = utcnow()
                row.one_time_code_hash = None
                row.one_time_code_expires_at = None
                self._succeeded(uow, row, role, workstation)
                principal = _principal(row, role, workstation)
                uow.record("user.password_set", "user", name, actor=name,
                           role=principal.role.value, reason="first sign-in with one-time code")
                uow.record("auth.signed_in", "user", name, actor=name, role=principal.role.value)
                return principal
        raise failure

    def change_password(self, principal: Principal, current: str, new_password: str) -> Changes:
        """Change your own password. Audit: ``user.password_changed``."""
        if current == new_password:
            raise InvalidInput("The new password must differ from the current one.")
        failure: Exception | None = None
        with self.store.unit_of_work(principal) as uow:
            row = uow.session.get(SqlUser, principal.user_id)
            assert row is not None
            if not self.hasher.verify(row.password_hash, current):
                failure = self._count_failure(uow, row, principal.workstation,
                                              what="current password")
            else:
                min_len = store_settings.read(uow.session, "auth.min_password_length")
                check_password_rules(new_password, username=row.username, min_length=min_len)
                row.password_hash = self.hasher.hash(new_password)
                row.password_changed_at = utcnow()
                uow.record("user.password_changed", "user", row.username)
                return Changes(users=True, audit=True)
        raise failure

    def confirm_identity(self, principal: Principal, password: str, *, purpose: str) -> None:
        """Re-check the signed-in user's password (idle unlock; later, each signature).
        Wrong passwords count toward lock-out. Audit: ``auth.reauthenticated`` or
        ``auth.sign_in_failed``."""
        failure: Exception | None = None
        with self.store.unit_of_work(principal) as uow:
            row = uow.session.get(SqlUser, principal.user_id)
            assert row is not None
            if row.disabled:
                failure = AccountDisabled(f"The account {row.username} was disabled.")
            elif row.locked_at is not None:
                failure = AccountLocked(f"The account {row.username} is locked.",
                                        hint="Ask an administrator to unlock it.")
            elif self.hasher.verify(row.password_hash, password):
                row.failed_sign_ins = 0
                uow.record("auth.reauthenticated", "user", row.username, new={"purpose": purpose})
                return
            else:
                failure = self._count_failure(uow, row, principal.workstation)
        raise failure

    def record_session_event(self, principal: Principal, action: str) -> None:
        """Audit a console session event: ``auth.session_locked``, ``auth.signed_out``,
        ``auth.role_switched``."""
        if action not in {"auth.session_locked", "auth.signed_out"}:
            raise ValueError(action)
        with self.store.unit_of_work(principal) as uow:
            uow.record(action, "user", principal.username)

    def switch_role(self, principal: Principal, role: Role) -> Principal:
        """Act in another of your roles. Audit: ``auth.role_switched``."""
        if role not in principal.roles:
            raise PermissionDenied(f"You do not hold the {role.label} role.")
        with self.store.unit_of_work(principal) as uow:
            uow.record("auth.role_switched", "user", principal.username,
                       old={"role": principal.role.value}, new={"role": role.value})
        return Principal(principal.user_id, principal.username, principal.display_name, role,
                         principal.roles, principal.workstation)

    def idle_lock_minutes(self) -> int:
        with self.store.unit_of_work(None, write=False) as uow:
            return store_settings.read(uow.session, "auth.idle_lock_minutes")

    # -- helpers ----------------------------------------------------------------------------
    def _code_ok(self, row: SqlUser, code: str, *, expired_too: bool = False) -> bool:
        if row.one_time_code_hash is None or row.one_time_code_expires_at is None:
            return False
        if row.one_time_code_expires_at < utcnow() and not expired_too:
            return False
        return self.hasher.verify(row.one_time_code_hash, normalise_code(code))

    @staticmethod
    def _failed(uow: UnitOfWork, name: str, workstation: str, why: str) -> None:
        uow.record("auth.sign_in_failed", "user", name, actor=None, role=None,
                   new={"reason": why, "workstation": workstation})

    def _count_failure(self, uow: UnitOfWork, row: SqlUser, workstation: str,
                       what: str = "password") -> Exception:
        limit = store_settings.read(uow.session, "auth.max_failed_sign_ins")
        row.failed_sign_ins += 1
        self._failed(uow, row.username, workstation, f"wrong {what} ({row.failed_sign_ins} of "
                     f"{limit})")
        if row.failed_sign_ins >= limit:
            row.locked_at = utcnow()
            uow.record("user.locked", "user", row.username, actor=None, role=None,
                       old={"locked": False}, new={"locked": True,
                                                   "failed_sign_ins": row.failed_sign_ins})
            return AccountLocked(
                f"The account {row.username} is now locked after {limit} failed attempts.",
                hint="Ask an administrator to unlock it or reset your password.")
        # Same words whether or not the account exists, so the message reveals no user names.
        return AuthenticationFailed(_WRONG if what == "password" else f"Wrong {what}.",
                                    hint=self._wrong_hint(uow))

    @staticmethod
    def _wrong_hint(uow: UnitOfWork) -> str:
        limit = store_settings.read(uow.session, "auth.max_failed_sign_ins")
        return (f"Check the user name and Caps Lock. An account locks after {limit} failed "
                "attempts in a row.")

    @staticmethod
    def _succeeded(uow: UnitOfWork, row: SqlUser, role: Role | None, workstation: str) -> None:
        if role is not None and role not in row.role_set():
            raise PermissionDenied(f"{row.username} does not hold the {role.label} role.")
        row.failed_sign_ins = 0
        row.last_sign_in_at = utcnow()
