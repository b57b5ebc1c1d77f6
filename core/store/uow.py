"""The store facade and its unit of work: one session, one transaction, one audit writer.

``with store.unit_of_work(principal) as uow:`` commits on success, rolls back on error and always
closes. Services record domain events on it with :meth:`UnitOfWork.record`; at commit the audit
writer (:func:`core.audit.append`) turns them into chained audit rows inside the same transaction,
so a change and its audit event are saved together or not at all.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, exc, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.entities import Principal
from core.errors import AccountDisabled, CharterError, ConcurrentChange, PermissionDenied
from core.store.engine import WRITE_OPTION, safe_location, translate_db_error

_FROM_PRINCIPAL: Any = object()


@dataclass(frozen=True)
class PendingEvent:
    action: str
    object_type: str
    object_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None
    actor: str | None
    role: str | None


class Store:
    """One open store. Made by ``app`` from settings; services receive it in their constructor."""

    def __init__(self, engine: Engine, *, workstation: str | None = None) -> None:
        self.engine = engine
        self.url = engine.url
        self.workstation = workstation or socket.gethostname()
        self._write_bind = (
            engine.execution_options(**{WRITE_OPTION: True}) if self.is_sqlite else engine
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def location(self) -> str:
        return safe_location(self.url)

    def unit_of_work(self, principal: Principal | None = None, *, write: bool = True,
                     workstation: str | None = None) -> UnitOfWork:
        """``workstation`` names where events without a principal come from (sign-in);
        otherwise events carry the principal's workstation, or this store's."""
        return UnitOfWork(self, principal, write=write, workstation=workstation)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    def __init__(self, store: Store, principal: Principal | None, *, write: bool,
                 workstation: str | None = None) -> None:
        self.store = store
        self.principal = principal
        self.write = write
        self.workstation = workstation
        self.events: list[PendingEvent] = []
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        bind = self.store._write_bind if self.write else self.store.engine
        self.session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        if self.principal is not None:
            try:
                self._check_principal(self.principal)
            except exc.DBAPIError as err:
                self.session.close()
                raise translate_db_error(err, self.store.url) from None
            except BaseException:
                self.session.close()
                raise
        return self

    def _check_principal(self, p: Principal) -> None:
        """Re-read the acting account in this transaction: disabling a user or taking a role
        away takes effect at their next action, not when they happen to sign out."""
        from core.store.orm import SqlUser, SqlUserRole

        holds = (select(SqlUserRole.role)
                 .where(SqlUserRole.user_id == SqlUser.id, SqlUserRole.role == p.role.value)
                 .exists())
        row = self.session.execute(
            select(SqlUser.disabled, holds).where(SqlUser.id == p.user_id)).one_or_none()
        if row is None or row[0]:
            raise AccountDisabled(f"The account {p.username} is disabled; you have been signed "
                                  "out of this action.",
                                  hint="Ask an administrator if you still need access.")
        if not row[1]:
            raise PermissionDenied(f"{p.username} no longer holds the {p.role.label} role.",
                                   hint="Sign in again to act in the roles you now hold.")

    def record(
        self,
        action: str,
        object_type: str,
        object_id: object,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        reason: str | None = None,
        actor: str | None = _FROM_PRINCIPAL,
        role: str | None = _FROM_PRINCIPAL,
    ) -> None:
        """Queue an audit event; it is written at commit, in the same transaction."""
        if not self.write:
            raise RuntimeError("audit events need a write unit of work")
        p = self.principal
        self.events.append(
            PendingEvent(
                action=action,
                object_type=object_type,
                object_id=str(object_id),
                old=old,
                new=new,
                reason=reason,
                actor=(p.username if p else None) if actor is _FROM_PRINCIPAL else actor,
                role=(p.role.value if p else None) if role is _FROM_PRINCIPAL else role,
            )
        )

    def __exit__(self, exc_type, exc_value, tb) -> None:  # noqa: ANN001
        from core import audit

        try:
            if exc_type is None:
                try:
                    self.session.flush()
                    if self.events:
                        workstation = self.workstation or (
                            self.principal.workstation if self.principal else self.store.workstation
                        )
                        audit.append(self.session, self.events, workstation)
                    self.session.commit()
                except StaleDataError:
                    self.session.rollback()
                    raise ConcurrentChange(
                        "Someone else changed this record since you opened it; nothing was saved.",
                        hint="Refresh and make the change again.",
                    ) from None
                except exc.DBAPIError as err:
                    self.session.rollback()
                    raise translate_db_error(err, self.store.url) from None
            else:
                self.session.rollback()
                if isinstance(exc_value, exc.DBAPIError) and not isinstance(
                    exc_value, exc.IntegrityError
                ):
                    raise translate_db_error(exc_value, self.store.url) from None
        finally:
            self.session.close()


__all__ = ["Store", "UnitOfWork", "PendingEvent", "CharterError"]
