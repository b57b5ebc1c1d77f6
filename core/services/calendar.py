"""The compliance calendar: when each model in use is due for revalidation.

The clock starts at the model's newest approval signed in Charter, or, for a model validated
before Charter was adopted, at the date of that validation as recorded by a validator or
compliance officer (:meth:`CalendarService.record_prior_validation`: date, report reference,
who validated, written once, audited, with the recorder's password). The tier policy gives the
interval (``workflow.tierN.revalidate_months``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.entities import Changes, Principal
from core.errors import InvalidInput, PermissionDenied
from core.permissions import Action, allowed, require
from core.services.auth import AuthService
from core.services.inventory import check_text, model_row
from core.services.settings import read as read_setting
from core.store.orm_registry import SqlModel, SqlModelVersion
from core.store.orm_workflow import SqlPriorValidation, SqlSignature
from core.store.uow import Store
from core.timeutil import utcnow
from core.workflow.lifecycle import IN_USE, policy_for

CHANGES = Changes(kinds=frozenset({"workflow"}), audit=True)
EARLIEST = date(1990, 1, 1)


@dataclass(frozen=True)
class PriorValidation:
    id: int
    model: str
    validated_on: date
    reference: str
    validated_by: str
    reason: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class DueItem:
    """One model (or approved version) on the calendar. ``version`` is None when the clock runs
    from a validation done before Charter; ``basis`` says where the clock starts."""

    model: str
    version: int | None
    tier: int
    validated_at: datetime
    basis: str
    due: datetime
    overdue: bool


def _entity(row: SqlPriorValidation, model: str) -> PriorValidation:
    return PriorValidation(row.id, model, row.validated_on, row.reference, row.validated_by,
                           row.reason, row.recorded_by, row.recorded_at)


def add_months(when: datetime, months: int) -> datetime:
    """``when`` plus whole calendar months; the 31st becomes the month's last day."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


class CalendarService:
    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    def record_prior_validation(self, principal: Principal, model: str, *, validated_on: date,
                                reference: str, validated_by: str, reason: str,
                                password: str) -> tuple[PriorValidation, Changes]:
        """Record the last validation ``model`` had before Charter: its date, the report's
        reference and who validated (a team or firm). A later record supersedes an earlier
        one; none is ever changed.

        Raises PermissionDenied (validators and compliance officers only), AuthenticationFailed
        (wrong password; counts toward lock-out), NotFound, InvalidInput (a date in the future
        or before 1990, a missing reference, validator or reason). Audit:
        ``model.prior_validation_recorded``.
        """
        if not (allowed(principal.role, Action.VALIDATION_SIGN)
                or allowed(principal.role, Action.COMPLIANCE_SIGN)):
            raise PermissionDenied(f"The {principal.role.label} role cannot record "
                                   "validations; a validator or compliance officer does.")
        reference = check_text("report reference", reference or "", limit=200, multiline=False)
        validated_by = check_text("validated by", validated_by or "", limit=200,
                                  multiline=False)
        reason = check_text("reason", reason or "")
        today = utcnow().date()
        if not EARLIEST <= validated_on <= today:
            raise InvalidInput(f"The validation date must be between {EARLIEST.isoformat()} "
                               f"and today ({today.isoformat()}); got "
                               f"{validated_on.isoformat()}.")
        for label, value in (("the validation report's reference", reference),
                             ("who validated it (team or firm)", validated_by),
                             ("a reason", reason)):
            if not value:
                raise InvalidInput(f"Give {label}; it is kept with the record and in the "
                                   "audit trail.")
        if not password:
            raise InvalidInput("Recording a validation needs your password, entered again now.")
        self.auth.confirm_identity(principal, password, purpose="prior validation")
        with self.store.unit_of_work(principal) as uow:
            m = model_row(uow.session, model)
            if m.status == "retired":
                raise InvalidInput(f"{m.name} is retired; it is no longer revalidated.")
            row = SqlPriorValidation(model_id=m.id, validated_on=validated_on,
                                     reference=reference, validated_by=validated_by,
                                     reason=reason, recorded_by=principal.username,
                                     recorded_at=utcnow())
            uow.session.add(row)
            uow.session.flush()
            uow.record("model.prior_validation_recorded", "model", m.name, reason=reason,
                       new={"validated_on": validated_on.isoformat(), "reference": reference,
                            "validated_by": validated_by, "record": row.id})
            return _entity(row, m.name), CHANGES

    def model_names(self, principal: Principal) -> list[str]:
        """Names of the models not retired (those a prior validation may be recorded for)."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return list(uow.session.execute(select(SqlModel.name).where(
                SqlModel.status != "retired").order_by(SqlModel.name)).scalars())

    def prior_validations(self, principal: Principal, model: str) -> list[PriorValidation]:
        """Every validation recorded for ``model`` from before Charter, newest first."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            m = model_row(uow.session, model)
            rows = uow.session.execute(select(SqlPriorValidation).where(
                SqlPriorValidation.model_id == m.id).order_by(
                SqlPriorValidation.id.desc())).scalars().all()
            return [_entity(r, m.name) for r in rows]

    def revalidation_due(self, principal: Principal, *, within_days: int = 30,
                         now: datetime | None = None) -> list[DueItem]:
        """Models in use whose revalidation is overdue or due within ``within_days``, soonest
        first: each approved (or deployed) version from its newest approval signature, and a
        model without a newer approval in Charter from its recorded prior validation."""
        require(principal.role, Action.MODEL_READ)
        if within_days < 0:
            raise InvalidInput(f"--within-days must be 0 or more; got {within_days}.")
        now = now or utcnow()
        horizon = now + timedelta(days=within_days)
        out: list[DueItem] = []
        with self.store.unit_of_work(principal, write=False) as uow:
            s = uow.session
            newest: dict[int, datetime] = {}
            for m, v, approved in _approvals(s):
                newest[m.id] = max(approved, newest.get(m.id, approved))
                item = _item(s, m, v.number, approved, "approved in Charter", now)
                if item.due <= horizon:
                    out.append(item)
            for m, prior in _latest_priors(s):
                start = datetime.combine(prior.validated_on, time(), tzinfo=UTC)
                if m.id in newest and newest[m.id] >= start:
                    continue
                basis = (f"validated before Charter by {prior.validated_by} "
                         f"(report {prior.reference})")
                item = _item(s, m, None, start, basis, now)
                if item.due <= horizon:
                    out.append(item)
        return sorted(out, key=lambda r: (r.due, r.model))


def _item(s: Session, m: SqlModel, number: int | None, start: datetime, basis: str,
          now: datetime) -> DueItem:
    policy = policy_for(m.risk_tier, lambda key: read_setting(s, key))
    due = add_months(start, policy.revalidate_months)
    return DueItem(m.name, number, policy.tier, start, basis, due, due < now)


def _approvals(s: Session) -> list[tuple[SqlModel, SqlModelVersion, datetime]]:
    """(model, version, newest approval time) of every approved or deployed version."""
    newest = (select(SqlSignature.version_id, func.max(SqlSignature.id).label("sig"))
              .where(SqlSignature.meaning == "approved")
              .group_by(SqlSignature.version_id).subquery())
    return [tuple(r) for r in s.execute(
        select(SqlModel, SqlModelVersion, SqlSignature.signed_at)
        .join(SqlModelVersion, SqlModelVersion.model_id == SqlModel.id)
        .join(newest, newest.c.version_id == SqlModelVersion.id)
        .join(SqlSignature, SqlSignature.id == newest.c.sig)
        .where(SqlModelVersion.state.in_(IN_USE), SqlModel.status != "retired")).all()]


def _latest_priors(s: Session) -> list[tuple[SqlModel, SqlPriorValidation]]:
    newest = (select(SqlPriorValidation.model_id, func.max(SqlPriorValidation.id).label("pv"))
              .group_by(SqlPriorValidation.model_id).subquery())
    return [tuple(r) for r in s.execute(
        select(SqlModel, SqlPriorValidation)
        .join(newest, newest.c.model_id == SqlModel.id)
        .join(SqlPriorValidation, SqlPriorValidation.id == newest.c.pv)
        .where(SqlModel.status != "retired")).all()]
