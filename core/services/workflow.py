"""Moving a version through its lifecycle, with electronic signatures bound to what was signed.

One method, :meth:`WorkflowService.transition`, applies every transition of
``core.workflow.lifecycle``: permission, password re-entry for a signature, segregation of
duties, the tier policy's required sign-offs, open findings, the artifact's integrity, then the
state change, the signature and the audit event in one transaction. The version row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite's writer lock does the same), so of two managers
approving at once exactly one succeeds and the other is told the version changed.
A refusal after the password was checked is itself audited (``version.transition_refused``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.entities import Changes, Principal
from core.entities_workflow import Signature
from core.errors import InvalidInput, KnownError, PermissionDenied
from core.permissions import Action, Role, require
from core.registry.artifact_store import ArtifactStore
from core.services.auth import AuthService
from core.services.evaluation import version_row
from core.services.inventory import check_text
from core.services.settings import read as read_setting
from core.store.orm import SqlAuditEvent, SqlUser
from core.store.orm_registry import SqlModel, SqlModelVersion
from core.store.orm_validation import SqlDocumentation
from core.store.orm_workflow import SqlFinding, SqlPolicyException, SqlSignature
from core.store.uow import Store
from core.timeutil import utcnow
from core.workflow.lifecycle import (
    SETTLED,
    STATE_LABELS,
    TRANSITIONS,
    TierPolicy,
    policy_for,
)

CHANGES = Changes(kinds=frozenset({"versions", "workflow"}), audit=True)
NEEDS_DOCUMENTATION = frozenset({"validated", "reviewed", "approved"})


class VersionChanged(KnownError):
    code = "version_changed"


@dataclass(frozen=True)
class InboxItem:
    """One thing waiting for the principal: a version to act on, or a finding to answer."""

    model: str
    version: int
    state: str
    tier: int | None
    wanted: str  # what is wanted of me, in words
    step: str | None  # the transition it waits for (None: a finding)
    since: datetime  # when the version reached its state (or the finding was recorded)
    finding_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    model: str
    version: int
    state: str
    signature: Signature | None


class WorkflowService:
    def __init__(self, store: Store, artifacts: ArtifactStore, auth: AuthService) -> None:
        self.store = store
        self.artifacts = artifacts
        self.auth = auth

    # -- transitions ------------------------------------------------------------------------
    def transition(self, principal: Principal, model: str, version: int, name: str, *,
                   reason: str, password: str | None = None,
                   expected_state: str | None = None) -> tuple[Outcome, Changes]:
        """Apply transition ``name`` (submit, start_validation, request_changes, validate,
        review, approve, reject) to ``model`` version ``version``.

        A transition that signs needs the principal's ``password`` (checked again; wrong ones
        count toward lock-out). ``expected_state`` is the state the user saw: if the version
        moved on meanwhile, VersionChanged is raised and nothing happens.
        Raises PermissionDenied (role, segregation of duties), AuthenticationFailed,
        InvalidInput (wrong state, missing sign-offs, open high findings, no documentation),
        VersionChanged, ArtifactCorrupt, NotFound.
        Audit: ``version.<name>`` (with the signature and its hashes), or
        ``version.transition_refused`` when a signer was refused.
        """
        if name not in TRANSITIONS:
            raise InvalidInput(f"{name!r} is not a workflow step; use one of "
                               f"{', '.join(TRANSITIONS)}.")
        step = TRANSITIONS[name]
        require(principal.role, step.action)
        reason = check_text("reason", reason or "")
        if not reason:
            raise InvalidInput("Give a reason; it is recorded with the step and in the audit "
                               "trail.")
        if step.meaning is not None:
            if not password:
                raise InvalidInput("A signature needs your password, entered again now.")
            self.auth.confirm_identity(principal, password, purpose=f"signature: {step.meaning}")
        try:
            return self._apply(principal, model, version, step, reason, expected_state)
        except (InvalidInput, PermissionDenied, VersionChanged) as refusal:
            if step.meaning is not None:
                self._record_refusal(principal, model, version, name, refusal)
            raise

    def _apply(self, principal, model, number, step, reason, expected):  # noqa: ANN001, ANN202
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            m, v = version_row(s, model, number)
            # Lock the row, and read it again once locked (populate_existing: the copy loaded a
            # moment ago may be stale by the time a concurrent approver's commit lets us in).
            v = s.execute(select(SqlModelVersion).where(SqlModelVersion.id == v.id)
                          .with_for_update().execution_options(populate_existing=True)
                          ).scalar_one()
            if expected is not None and v.state != expected:
                raise VersionChanged(
                    f"{m.name} version {v.number} changed while you were deciding: it is now "
                    f"{STATE_LABELS.get(v.state, v.state)}.", hint="Look at it again first.")
            if v.state not in step.sources:
                if step.name == "approve" and v.state == "approved":
                    raise VersionChanged(f"{m.name} version {v.number} changed: it was "
                                         "approved meanwhile; nothing was changed.",
                                         hint="Look at its signatures.")
                raise InvalidInput(
                    f"{step.label} is not possible while {m.name} version {v.number} is "
                    f"{STATE_LABELS.get(v.state, v.state)}; it needs "
                    + " or ".join(STATE_LABELS[x] for x in step.sources) + ".")
            policy = policy_for(m.risk_tier, lambda key: read_setting(s, key))
            signatures = self._valid_signatures(s, v)
            self._segregation(principal, v, step.name, signatures)
            if step.name == "approve":
                self._ready_for_approval(s, m, v, policy, signatures)
            doc = None
            if step.meaning in NEEDS_DOCUMENTATION:
                doc = _newest_documentation(s, v.id)
                if doc is None:
                    raise InvalidInput(
                        "There is no documentation to sign: a signature is bound to the "
                        "artifact and to the documentation PDF.",
                        hint="Generate the documentation first (Validation tab, or charter "
                             "report documentation).")
            if step.meaning is not None:
                self.artifacts.verify(v.artifact_sha256)  # altered on disk: ArtifactCorrupt
            old = v.state
            if step.target is not None:
                v.state = step.target
            signature = None
            if step.meaning is not None:
                row = SqlSignature(
                    version_id=v.id, meaning=step.meaning, signer=principal.username,
                    printed_name=principal.display_name, role=principal.role.value,
                    reason=reason, signed_at=utcnow(), artifact_sha256=v.artifact_sha256,
                    documentation_sha256=doc.pdf_sha256 if doc else None,
                    documentation_source_sha256=doc.source_sha256 if doc else None)
                s.add(row)
                s.flush()
                signature = row.to_entity(m.name, v.number)
            uow.record(f"version.{step.name}", "model", m.name, reason=reason,
                       old={"version": v.number, "state": old},
                       new={"version": v.number, "state": v.state,
                            **({"signature": signature.id, "meaning": signature.meaning,
                                "artifact_sha256": signature.artifact_sha256,
                                "documentation_sha256": signature.documentation_sha256}
                               if signature else {})})
            outcome = Outcome(m.name, v.number, v.state, signature)
        return outcome, CHANGES

    def _record_refusal(self, principal: Principal, model: str, version: int, name: str,
                        refusal: KnownError) -> None:
        with self.store.unit_of_work(principal) as uow:
            uow.record("version.transition_refused", "model", model,
                       new={"version": version, "step": name, "why": refusal.message})

    @staticmethod
    def _segregation(principal: Principal, v: SqlModelVersion, name: str,
                     signatures: list[SqlSignature]) -> None:
        me = principal.username
        if name in ("start_validation", "request_changes", "validate") and me == v.author:
            raise PermissionDenied("You authored this version; someone else must validate it.")
        if name in ("approve", "reject"):
            if me == v.author:
                raise PermissionDenied("You authored this version; you cannot approve or "
                                       "reject it.")
            if any(sig.meaning == "validated" and sig.signer == me for sig in signatures):
                raise PermissionDenied("You validated this version; someone else must approve "
                                       "or reject it.")
        if name == "review" and me == v.author:
            raise PermissionDenied("You authored this version; someone else must review it.")

    def _ready_for_approval(self, s: Session, m: SqlModel, v: SqlModelVersion,
                            policy: TierPolicy, signatures: list[SqlSignature]) -> None:
        if v.state == "submitted" and policy.validation:
            raise InvalidInput(f"Tier {policy.tier} needs validation before approval; this "
                               "version has not been validated.")
        have = {sig.meaning for sig in signatures}
        missing = [meaning for meaning in policy.required() if meaning not in have]
        if missing:
            raise InvalidInput(
                f"Tier {policy.tier} needs " + " and ".join(
                    {"validated": "a valid validation signature",
                     "reviewed": "a valid compliance review signature"}[x] for x in missing)
                + " before approval.",
                hint="A signature stops counting when the artifact or the documentation it "
                     "was bound to changes.")
        if read_setting(s, "workflow.block_on_open_high_findings"):
            open_high = _open_high_findings(s, v)
            if open_high:
                raise InvalidInput(
                    f"{len(open_high)} high-severity finding(s) are still open: "
                    + "; ".join(f"#{i} {t}" for i, t in open_high[:5]) + ".",
                    hint="A validator closes a finding once its remediation is accepted.")

    def _valid_signatures(self, s: Session, v: SqlModelVersion) -> list[SqlSignature]:
        """The signatures since the newest submission that still hold."""
        check = self._validity(s, v, check_file=False)
        return [r for r in self._since_submission(s, v) if check(r) is None]

    @staticmethod
    def _since_submission(s: Session, v: SqlModelVersion) -> list[SqlSignature]:
        rows = s.execute(select(SqlSignature).where(SqlSignature.version_id == v.id)
                         .order_by(SqlSignature.id)).scalars().all()
        start = max((i for i, r in enumerate(rows) if r.meaning == "authored"), default=0)
        return list(rows[start:])

    def _validity(self, s: Session, v: SqlModelVersion, *, check_file: bool
                  ) -> Callable[[SqlSignature], str | None]:
        """A check saying why a signature of ``v`` no longer holds (None: it holds). The
        artifact file (when ``check_file``) and the newest documentation are read once here,
        not once per signature."""
        file_changed = False
        if check_file:
            try:
                self.artifacts.verify(v.artifact_sha256)
            except KnownError:
                file_changed = True
        doc = _newest_documentation(s, v.id)
        current_source = doc.source_sha256 if doc is not None else None

        def why(row: SqlSignature) -> str | None:
            if row.artifact_sha256 != v.artifact_sha256:
                return "signed for another artifact"
            if file_changed:
                return "the artifact file changed on disk after signing"
            if row.documentation_source_sha256 is not None and \
                    current_source != row.documentation_source_sha256:
                return "the documentation changed after signing"
            return None
        return why

    # -- reading --------------------------------------------------------------------------------
    def signatures(self, principal: Principal, model: str, version: int) -> list[Signature]:
        """Every signature of a version, oldest first, each marked valid or not (and why):
        the artifact file is hashed again."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            m, v = version_row(uow.session, model, version)
            rows = uow.session.execute(select(SqlSignature).where(
                SqlSignature.version_id == v.id).order_by(SqlSignature.id)).scalars().all()
            check = self._validity(uow.session, v, check_file=True)
            out = []
            for r in rows:
                why = check(r)
                out.append(r.to_entity(m.name, v.number, valid=why is None, invalid_reason=why))
            return out

    def inbox(self, principal: Principal) -> list[InboxItem]:
        """What waits for ``principal`` in their current role, oldest first.

        Data scientist: own versions in draft or changes requested, open findings they own.
        Validator: versions submitted or in validation they did not author, and remediated
        findings to close. Compliance officer: validated versions whose tier needs a compliance
        review and that have no valid review signature. Manager: versions ready for approval
        (every sign-off the tier needs is valid; tier 3 from submitted) that they neither
        authored nor validated. Other roles: nothing. Reads only; raises PermissionDenied.
        """
        require(principal.role, Action.MODEL_READ)
        role, me = principal.role, principal.username
        states = {Role.DATA_SCIENTIST: ("draft", "changes_requested"),
                  Role.VALIDATOR: ("submitted", "in_validation"),
                  Role.COMPLIANCE: ("validated",),
                  Role.MANAGER: ("submitted", "validated")}.get(role)
        if states is None:
            return []
        out: list[InboxItem] = []
        with self.store.unit_of_work(principal, write=False) as uow:
            s = uow.session
            rows = s.execute(select(SqlModel, SqlModelVersion).join(
                SqlModelVersion, SqlModelVersion.model_id == SqlModel.id).where(
                SqlModelVersion.state.in_(states), SqlModel.status != "retired")
                .order_by(SqlModel.name, SqlModelVersion.number)).all()
            times: dict[str, dict[int, datetime]] = {}
            for m, v in rows:
                wanted = self._wanted(s, role, me, m, v)
                if wanted is None:
                    continue
                step, text = wanted
                when = times.setdefault(m.name, _state_times(s, m.name)).get(v.number)
                out.append(InboxItem(m.name, v.number, v.state, m.risk_tier, text, step,
                                     when or v.created_at))
            if role in (Role.DATA_SCIENTIST, Role.VALIDATOR):
                q = (select(SqlFinding, SqlModel, SqlModelVersion)
                     .join(SqlModelVersion, SqlModelVersion.id == SqlFinding.version_id)
                     .join(SqlModel, SqlModel.id == SqlModelVersion.model_id))
                q = (q.where(SqlFinding.owner == me, SqlFinding.status == "open")
                     if role == Role.DATA_SCIENTIST else
                     q.where(SqlFinding.status == "remediated", SqlModelVersion.author != me))
                for f, m, v in s.execute(q.order_by(SqlFinding.id)).all():
                    text = (f"Answer finding #{f.id} ({f.severity}): {f.title}"
                            if role == Role.DATA_SCIENTIST else
                            f"Close finding #{f.id} ({f.severity}) or ask for more: {f.title}")
                    out.append(InboxItem(m.name, v.number, v.state, m.risk_tier, text, None,
                                         f.created_at, f.id))
        return sorted(out, key=lambda item: item.since)

    def _wanted(self, s: Session, role: Role, me: str, m: SqlModel, v: SqlModelVersion
                ) -> tuple[str, str] | None:
        """(step, what is wanted) of ``me`` for this version, or None."""
        if role == Role.DATA_SCIENTIST:
            if v.author != me:
                return None
            return ("submit", "Submit for validation" if v.state == "draft"
                    else "Make the requested changes and submit again")
        if v.author == me:
            return None  # segregation of duties: never one's own version
        if role == Role.VALIDATOR:
            return (("start_validation", "Start the validation") if v.state == "submitted"
                    else ("validate", "Validate: record findings, then sign or request "
                                      "changes"))
        policy = policy_for(m.risk_tier, lambda key: read_setting(s, key))
        valid = self._valid_signatures(s, v)
        have = {sig.meaning for sig in valid}
        if role == Role.COMPLIANCE:
            if policy.compliance and "reviewed" not in have:
                return ("review", "Review and sign the compliance review")
            return None
        if any(sig.meaning == "validated" and sig.signer == me for sig in valid):
            return None
        if v.state == "submitted" and policy.validation:
            return None
        if not all(meaning in have for meaning in policy.required()):
            return None
        blocking = (_open_high_findings(s, v)
                    if read_setting(s, "workflow.block_on_open_high_findings") else [])
        if blocking:
            return ("reject", f"Reject, or wait: {len(blocking)} open high-severity "
                              f"finding(s) block approval (#{blocking[0][0]} {blocking[0][1]})")
        return ("approve", "Approve or reject for use")

    def finding_owners(self, principal: Principal) -> list[tuple[str, str]]:
        """(username, display name) of the enabled users a finding may be assigned to; for
        whoever records findings. Raises PermissionDenied."""
        require(principal.role, Action.FINDING_RECORD)
        with self.store.unit_of_work(principal, write=False) as uow:
            return [(u, n) for u, n in uow.session.execute(
                select(SqlUser.username, SqlUser.display_name).where(
                    SqlUser.disabled.is_(False)).order_by(SqlUser.username)).all()]


def _state_times(s: Session, model: str) -> dict[int, datetime]:
    """version number -> time of its newest workflow event (from the audit trail)."""
    rows = s.execute(select(SqlAuditEvent.ts, SqlAuditEvent.new_values).where(
        SqlAuditEvent.object_type == "model", SqlAuditEvent.object_id == model,
        SqlAuditEvent.action.like("version.%"),
        SqlAuditEvent.action != "version.transition_refused")
        .order_by(SqlAuditEvent.seq.desc())).all()
    out: dict[int, datetime] = {}
    for ts, new in rows:
        try:
            number = json.loads(new or "{}").get("version")
            when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            continue
        if isinstance(number, int) and number not in out:
            out[number] = when
    return out


def _open_high_findings(s: Session, v: SqlModelVersion) -> list[tuple[int, str]]:
    """(id, title) of the version's high-severity findings not yet closed."""
    return [tuple(r) for r in s.execute(select(SqlFinding.id, SqlFinding.title).where(
        SqlFinding.version_id == v.id, SqlFinding.severity == "high",
        SqlFinding.status != "closed").order_by(SqlFinding.id)).all()]


def _newest_documentation(s: Session, version_id: int) -> SqlDocumentation | None:
    return s.execute(select(SqlDocumentation).where(SqlDocumentation.version_id == version_id)
                     .order_by(SqlDocumentation.id.desc()).limit(1)).scalar()


@dataclass(frozen=True)
class PolicyException:
    id: int
    model: str
    version: int
    granted_by: str
    reason: str
    granted_at: datetime
    expires_on: date
    version_state: str
    expired: bool  # past its date while the version still waits for its sign-offs


class ExceptionService:
    """Policy exceptions: a version used before its sign-offs, approved by a manager with an
    expiry. An expired exception flags its model in the compliance calendar."""

    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    def grant(self, principal: Principal, model: str, version: int, *, until: date,
              reason: str, password: str) -> tuple[PolicyException, Changes]:
        """Raises PermissionDenied (needs policy.exception; never the version's author),
        AuthenticationFailed, InvalidInput (no reason, a date not in the future or more than a
        year ahead, an approved or rejected version). Audit: ``policy.exception_granted``."""
        from core.permissions import Action

        require(principal.role, Action.POLICY_EXCEPTION)
        reason = check_text("reason", reason or "")
        if not reason:
            raise InvalidInput("Say why the version may be used before its sign-offs.")
        today = utcnow().date()
        if not today < until <= today + timedelta(days=366):
            raise InvalidInput(f"An exception runs from tomorrow to at most a year ahead; got "
                               f"{until.isoformat()}.")
        self.auth.confirm_identity(principal, password, purpose="policy exception")
        with self.store.unit_of_work(principal) as uow:
            m, v = version_row(uow.session, model, version)
            if v.author == principal.username:
                raise PermissionDenied("You authored this version; someone else must grant "
                                       "its exception.")
            if v.state in SETTLED:
                raise InvalidInput(f"{m.name} version {v.number} is {v.state}; an exception is "
                                   "for a version still waiting for its sign-offs.")
            row = SqlPolicyException(version_id=v.id, granted_by=principal.username,
                                     reason=reason, granted_at=utcnow(), expires_on=until)
            uow.session.add(row)
            uow.session.flush()
            uow.record("policy.exception_granted", "model", m.name, reason=reason,
                       new={"version": v.number, "exception": row.id,
                            "expires_on": until.isoformat()})
            return _exception(row, m.name, v.number, v.state, today), CHANGES

    def exceptions(self, principal: Principal, *, today: date | None = None
                   ) -> list[PolicyException]:
        """Every exception, newest first, each with its version's state and marked expired
        when its date has passed while the version still waits for its sign-offs."""
        from core.permissions import Action

        require(principal.role, Action.MODEL_READ)
        today = today or utcnow().date()
        with self.store.unit_of_work(principal, write=False) as uow:
            rows = uow.session.execute(
                select(SqlPolicyException, SqlModel.name, SqlModelVersion.number,
                       SqlModelVersion.state)
                .join(SqlModelVersion, SqlModelVersion.id == SqlPolicyException.version_id)
                .join(SqlModel, SqlModel.id == SqlModelVersion.model_id)
                .order_by(SqlPolicyException.id.desc())).all()
            return [_exception(r, name, n, state, today) for r, name, n, state in rows]


def _exception(row: SqlPolicyException, model: str, number: int, state: str, today: date
               ) -> PolicyException:
    return PolicyException(row.id, model, number, row.granted_by, row.reason, row.granted_at,
                           row.expires_on, state,
                           row.expires_on < today and state not in SETTLED)
