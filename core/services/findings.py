"""Validation findings: recorded by validators, answered by their owner, closed by a validator;
and the portfolio's findings across every model, filtered, counted and exported."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from core.entities import Changes, Principal
from core.entities_workflow import Finding
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.files import write_atomically
from core.permissions import Action, require
from core.services.audit_trail import csv_cell
from core.services.evaluation import version_row
from core.services.inventory import check_text
from core.store.orm import SqlUser
from core.store.orm_registry import SqlModel, SqlModelVersion
from core.store.orm_workflow import SqlFinding
from core.store.uow import Store
from core.timeutil import to_iso, utcnow
from core.workflow.lifecycle import SEVERITIES

CHANGES = Changes(kinds=frozenset({"findings", "workflow"}), audit=True)
STATUSES = ("open", "remediated", "closed")
UNRESOLVED = ("open", "remediated")  # a validator has not closed it yet
ORDERS = ("newest", "due")
CSV_FIELDS = ("id", "model", "version", "severity", "status", "overdue", "title", "description",
              "owner", "due_date", "remediation", "created_by", "created_at", "closed_by",
              "closed_at")


def today() -> date:
    """The date findings fall due against: UTC, as ``record`` checks a due date."""
    return utcnow().date()


def is_overdue(finding: Finding, on: date | None = None) -> bool:
    """Not closed and past its due date (``on``: today, UTC)."""
    return (finding.status in UNRESOLVED and finding.due_date is not None
            and finding.due_date < (on or today()))


@dataclass(frozen=True)
class FindingFilter:
    """Which of the portfolio's findings to list; an empty set or None means any."""

    statuses: frozenset[str] = field(default_factory=frozenset)
    severities: frozenset[str] = field(default_factory=frozenset)
    owner: str | None = None  # exact username
    model: str | None = None  # part of the model's name, any case
    text: str | None = None  # part of the model's name or of the title, any case
    overdue: bool = False  # unresolved and past the due date
    order: str = "newest"  # "newest" first, or by "due" date (findings with no date last)


@dataclass(frozen=True)
class FindingCounts:
    """For a screen header: unresolved (open or remediated) findings, the high ones among them,
    and the unresolved ones past their due date."""

    open: int
    open_high: int
    overdue: int


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


    def portfolio(self, principal: Principal, flt: FindingFilter | None = None, *,
                  on: date | None = None) -> list[Finding]:
        """Findings across every model and version matching ``flt``, each with its model's
        name and version number, newest first or by due date; one query. ``on`` is the day
        "overdue" is judged against (default: today, UTC). Raises PermissionDenied,
        InvalidInput (an unknown status, severity or order). Writes no audit event."""
        require(principal.role, Action.MODEL_READ)
        q = _portfolio_query(flt or FindingFilter(), on or today())
        with self.store.unit_of_work(principal, write=False) as uow:
            return [r.to_entity(name, n) for r, name, n in uow.session.execute(q).all()]

    def counts(self, principal: Principal, *, on: date | None = None) -> FindingCounts:
        """How many findings of the whole portfolio are unresolved, unresolved and high, and
        overdue; one query. Raises PermissionDenied."""
        require(principal.role, Action.MODEL_READ)
        unresolved = SqlFinding.status.in_(UNRESOLVED)
        overdue = unresolved & (SqlFinding.due_date < (on or today()))
        q = select(func.count(SqlFinding.id),
                   func.sum(case((SqlFinding.severity == "high", 1), else_=0)),
                   func.sum(case((overdue, 1), else_=0))).where(unresolved)
        with self.store.unit_of_work(principal, write=False) as uow:
            total, high, late = uow.session.execute(q).one()
        return FindingCounts(open=total or 0, open_high=high or 0, overdue=late or 0)

    def owners(self, principal: Principal) -> list[str]:
        """The usernames owning at least one finding, sorted (for an owner filter). Raises
        PermissionDenied."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return list(uow.session.execute(
                select(SqlFinding.owner).distinct().order_by(SqlFinding.owner)).scalars())

    def export_csv(self, principal: Principal, flt: FindingFilter | None, path: Path, *,
                   on: date | None = None) -> tuple[int, Changes]:
        """Write the findings matching ``flt`` to ``path`` as CSV (UTF-8, a header row, times
        in UTC); every cell escaped so a spreadsheet never runs it as a formula. Written to a
        temporary file and renamed (core.files). Raises PermissionDenied, InvalidInput (cannot
        write).
        Audit: ``findings.exported`` (how many, the filter, the file's name)."""
        require(principal.role, Action.MODEL_READ)
        require(principal.role, Action.REPORT_EXPORT)
        flt, on, path = flt or FindingFilter(), on or today(), Path(path)
        found = self.portfolio(principal, flt, on=on)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(CSV_FIELDS)
        for f in found:
            writer.writerow([csv_cell(v) for v in _csv_values(f, on)])
        write_atomically(path, buffer.getvalue().encode("utf-8"))
        with self.store.unit_of_work(principal) as uow:
            uow.record("findings.exported", "finding", "portfolio", new={
                "findings": len(found), "file": path.name, "filter": _filter_json(flt)})
        return len(found), Changes(audit=True)


def _portfolio_query(flt: FindingFilter, on: date) -> Select:
    for values, known, what in ((flt.statuses, STATUSES, "status"),
                                (flt.severities, SEVERITIES, "severity")):
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInput(f"Unknown {what} {', '.join(unknown)}; choose from "
                               f"{', '.join(known)}.")
    if flt.order not in ORDERS:
        raise InvalidInput(f"Unknown order {flt.order!r}; choose newest or due.")
    q = (select(SqlFinding, SqlModel.name, SqlModelVersion.number)
         .join(SqlModelVersion, SqlModelVersion.id == SqlFinding.version_id)
         .join(SqlModel, SqlModel.id == SqlModelVersion.model_id))
    if flt.statuses:
        q = q.where(SqlFinding.status.in_(sorted(flt.statuses)))
    if flt.severities:
        q = q.where(SqlFinding.severity.in_(sorted(flt.severities)))
    if flt.owner:
        q = q.where(SqlFinding.owner == flt.owner)
    if flt.model and flt.model.strip():
        q = q.where(SqlModel.name.icontains(flt.model.strip(), autoescape=True))
    if flt.text and flt.text.strip():
        words = flt.text.strip()
        q = q.where(SqlModel.name.icontains(words, autoescape=True)
                    | SqlFinding.title.icontains(words, autoescape=True))
    if flt.overdue:
        q = q.where(SqlFinding.status.in_(UNRESOLVED), SqlFinding.due_date < on)
    if flt.order == "due":
        return q.order_by(SqlFinding.due_date.is_(None), SqlFinding.due_date, SqlFinding.id)
    return q.order_by(SqlFinding.created_at.desc(), SqlFinding.id.desc())


def _csv_values(f: Finding, on: date) -> tuple:
    return (f.id, f.model_name, f.version_number, f.severity, f.status,
            "yes" if is_overdue(f, on) else "no", f.title, f.description, f.owner,
            f.due_date.isoformat() if f.due_date else None, f.remediation, f.created_by,
            to_iso(f.created_at), f.closed_by, to_iso(f.closed_at) if f.closed_at else None)


def _filter_json(flt: FindingFilter) -> dict:
    return {"statuses": sorted(flt.statuses), "severities": sorted(flt.severities),
            "owner": flt.owner, "model": flt.model, "text": flt.text, "overdue": flt.overdue}


def _row(s: Session, finding_id: int) -> tuple[SqlFinding, SqlModel, SqlModelVersion]:
    row = s.get(SqlFinding, finding_id)
    if row is None:
        raise NotFound(f"There is no finding #{finding_id}.")
    v = s.get(SqlModelVersion, row.version_id)
    return row, s.get(SqlModel, v.model_id), v
