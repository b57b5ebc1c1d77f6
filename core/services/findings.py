"""Validation findings: recorded by validators, answered by their owner, closed by a validator."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.entities import Changes, Principal
from core.entities_workflow import Finding
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Action, require
from core.services.evaluation import version_row
from core.services.inventory import check_text
from core.store.orm import SqlUser
from core.store.orm_registry import SqlModel, SqlModelVersion
from core.store.orm_workflow import SqlFinding
from core.store.uow import Store
from core.timeutil import utcnow
from core.workflow.lifecycle import SEVERITIES

CHANGES = Changes(kinds=frozenset({"findings", "workflow"}), audit=True)


class FindingsService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, principal: Principal, model: str, version: int, *, title: str,
               description: str, severity: str, owner: str,
               due_date: date | None = None) -> tuple[Finding, Changes]:
        """A validator records a finding against a version. Raises PermissionDenied,
        InvalidInput (empty title, unknown severity or owner, a due date in the past), NotFound.
        Audit: ``finding.recorded``."""
        require(principal.role, Action.FINDING_RECORD)
        title = check_text("title", title, limit=200, multiline=False)
        description = check_text("description", description)
        if not title:
            raise InvalidInput("A finding needs a title.")
        if severity not in SEVERITIES:
            raise InvalidInput(f"Severity must be one of {', '.join(SEVERITIES)}; got "
                               f"{severity!r}.")
        if due_date is not None and due_date < utcnow().date():
            raise InvalidInput(f"The due date {due_date.isoformat()} is in the past.")
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            m, v = version_row(s, model, version)
            if s.execute(select(SqlUser.id).where(SqlUser.username == owner)).scalar() is None:
                raise InvalidInput(f"There is no user named {owner!r} to own the finding.")
            row = SqlFinding(version_id=v.id, title=title, description=description,
                             severity=severity, owner=owner, due_date=due_date, status="open",
                             remediation="", created_by=principal.username, created_at=utcnow())
            s.add(row)
            s.flush()
            uow.record("finding.recorded", "finding", str(row.id), new={
                "model": m.name, "version": v.number, "title": title, "severity": severity,
                "owner": owner, "due_date": due_date.isoformat() if due_date else None})
            return row.to_entity(m.name, v.number), CHANGES

    def remediate(self, principal: Principal, finding_id: int, text: str
                  ) -> tuple[Finding, Changes]:
        """The finding's owner answers it. Audit: ``finding.remediated``."""
        require(principal.role, Action.FINDING_REMEDIATE)
        text = check_text("remediation", text)
        if not text:
            raise InvalidInput("Say what was done about the finding.")
        with self.store.unit_of_work(principal) as uow:
            row, m, v = _row(uow.session, finding_id)
            if row.owner != principal.username:
                raise PermissionDenied(f"Finding #{row.id} is owned by {row.owner}; only its "
                                       "owner answers it.")
            if row.status == "closed":
                raise InvalidInput(f"Finding #{row.id} is closed.")
            old = {"status": row.status, "remediation": row.remediation}
            row.status, row.remediation = "remediated", text
            uow.record("finding.remediated", "finding", str(row.id), old=old,
                       new={"status": row.status, "remediation": text})
            return row.to_entity(m.name, v.number), CHANGES

    def close(self, principal: Principal, finding_id: int, *, reason: str
              ) -> tuple[Finding, Changes]:
        """Only a validator closes a finding. Audit: ``finding.closed``."""
        require(principal.role, Action.FINDING_RECORD)
        reason = check_text("reason", reason)
        if not reason:
            raise InvalidInput("Say why the finding is closed.")
        with self.store.unit_of_work(principal) as uow:
            row, m, v = _row(uow.session, finding_id)
            if row.status == "closed":
                raise InvalidInput(f"Finding #{row.id} is already closed.")
            old = row.status
            row.status, row.closed_by, row.closed_at = "closed", principal.username, utcnow()
            uow.record("finding.closed", "finding", str(row.id), reason=reason,
                       old={"status": old}, new={"status": "closed"})
            return row.to_entity(m.name, v.number), CHANGES

    def for_version(self, principal: Principal, model: str, version: int) -> list[Finding]:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            m, v = version_row(uow.session, model, version)
            rows = uow.session.execute(select(SqlFinding).where(
                SqlFinding.version_id == v.id).order_by(SqlFinding.id)).scalars()
            return [r.to_entity(m.name, v.number) for r in rows]

    def owned_by(self, principal: Principal, username: str, *, open_only: bool = True
                 ) -> list[Finding]:
        require(principal.role, Action.MODEL_READ)
        q = (select(SqlFinding, SqlModel.name, SqlModelVersion.number)
             .join(SqlModelVersion, SqlModelVersion.id == SqlFinding.version_id)
             .join(SqlModel, SqlModel.id == SqlModelVersion.model_id)
             .where(SqlFinding.owner == username).order_by(SqlFinding.id))
        if open_only:
            q = q.where(SqlFinding.status != "closed")
        with self.store.unit_of_work(principal, write=False) as uow:
            return [r.to_entity(name, n) for r, name, n in uow.session.execute(q).all()]


def _row(s, finding_id: int):  # noqa: ANN001, ANN202
    row = s.get(SqlFinding, finding_id)
    if row is None:
        raise NotFound(f"There is no finding #{finding_id}.")
    v = s.get(SqlModelVersion, row.version_id)
    return row, s.get(SqlModel, v.model_id), v
