"""Routing policies: drafted as charter.routing/1 documents, approved or rejected by a manager.

A draft is checked as the agent will check it (core.serving.routing) and against the registry:
every version it routes to must be approved and carry the artifact hash the document names. A
manager other than the drafter approves it with the password again; what is approved is the
canonical document's SHA-256 and, for a canary, its plan: ``{"rule", "stable", "candidate",
"steps"}`` (percent to the candidate, rising, ending at 100). Each canary step deploys the
approved document with only that rule's weights set from the plan (:func:`canary_document`),
so every step is covered by the one approval. An approved policy is never edited: a change is a
new version of the policy.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from core.entities import Changes, Principal
from core.entities_deploy import RoutingPolicyRecord
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.permissions import Action, require
from core.services.auth import AuthService
from core.services.inventory import check_text
from core.store.orm_deploy import SqlRoutingPolicy
from core.store.uow import Store
from core.timeutil import utcnow

CHANGES = Changes(kinds=frozenset({"deployment"}), audit=True)


def policy_row(s: DbSession, policy_id: str, version: int) -> SqlRoutingPolicy:
    row = s.execute(select(SqlRoutingPolicy).where(
        SqlRoutingPolicy.policy_id == policy_id,
        SqlRoutingPolicy.version == version)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no routing policy {policy_id} v{version}.")
    return row


def _entity(row: SqlRoutingPolicy) -> RoutingPolicyRecord:
    return RoutingPolicyRecord(
        id=row.id, policy_id=row.policy_id, version=row.version, document=row.document,
        sha256=row.sha256, canary=json.loads(row.canary) if row.canary else None,
        state=row.state, created_by=row.created_by, created_at=row.created_at,
        decided_by=row.decided_by, decided_at=row.decided_at,
        decision_reason=row.decision_reason)


def check_canary(doc: Any, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan in its stored form; raises InvalidInput."""
    rule_name = plan.get("rule")
    rule = next((r for r in doc.rules if r.name == rule_name), None)
    if rule is None:
        raise InvalidInput(f"The canary plan names rule {rule_name!r}, which the policy does "
                           "not have.")
    arms = [version for version, _ in rule.arms] if len(rule.arms) > 1 else []
    stable, candidate = plan.get("stable"), plan.get("candidate")
    if sorted(arms) != sorted([stable, candidate]) or stable == candidate:
        raise InvalidInput(f"The canary rule {rule_name!r} must split between the stable "
                           f"{stable} and the candidate {candidate}; it splits "
                           f"{', '.join(arms) or 'nothing'}.")
    steps = plan.get("steps")
    if not (isinstance(steps, list) and steps and all(isinstance(p, int) and 0 < p <= 100
                                                      for p in steps)
            and steps == sorted(set(steps)) and steps[-1] == 100):
        raise InvalidInput(f"Canary steps are rising whole percentages ending at 100, such as "
                           f"5, 25, 50, 100; got {steps!r}.")
    return {"rule": rule_name, "stable": stable, "candidate": candidate, "steps": steps}


def canary_document(row: SqlRoutingPolicy, percent: int) -> str:
    """The approved document with the canary rule's weights at ``percent`` to the candidate
    (0: abort, all to the stable version; 100: all to the candidate)."""
    from core.serving.routing import RoutingPolicy

    plan = json.loads(row.canary)
    doc = json.loads(row.document)
    for rule in doc["rules"]:
        if rule["name"] == plan["rule"]:
            if percent <= 0:
                rule["target"] = plan["stable"]
            elif percent >= 100:
                rule["target"] = plan["candidate"]
            else:
                # the candidate listed last keeps its customers as its weight grows
                rule["target"] = [{"version": plan["stable"], "weight": 100 - percent},
                                  {"version": plan["candidate"], "weight": percent}]
    return RoutingPolicy.from_json(json.dumps(doc)).canonical_json()


class PolicyService:
    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    def draft(self, principal: Principal, document: str, *,
              canary: dict[str, Any] | None = None) -> tuple[RoutingPolicyRecord, Changes]:
        """Record a policy document for approval. Raises InvalidInput naming what is wrong."""
        from core.permissions import Role

        if principal.role not in (Role.IT, Role.DATA_SCIENTIST):
            raise PermissionDenied(f"The {principal.role.label} role cannot draft routing "
                                   "policies; IT operations or a data scientist does.")
        from core.serving.routing import PolicyError, RoutingPolicy

        try:
            doc = RoutingPolicy.from_json(document)
        except PolicyError as err:
            raise InvalidInput(f"The routing policy is not valid: {err}") from None
        plan = check_canary(doc, canary) if canary else None
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            self._check_versions(s, doc)
            newest = s.execute(select(func.max(SqlRoutingPolicy.version)).where(
                SqlRoutingPolicy.policy_id == doc.policy_id)).scalar()
            if newest is not None and doc.version <= newest:
                raise InvalidInput(f"Policy {doc.policy_id} already has version {newest}; a "
                                   f"change is version {newest + 1} (set \"version\").")
            row = SqlRoutingPolicy(policy_id=doc.policy_id, version=doc.version,
                                   document=doc.canonical_json(), sha256=doc.sha256,
                                   canary=json.dumps(plan, sort_keys=True) if plan else None,
                                   state="draft", created_by=principal.username,
                                   created_at=utcnow())
            s.add(row)
            s.flush()
            uow.record("routing_policy.drafted", "routing_policy",
                       f"{doc.policy_id} v{doc.version}",
                       new={"sha256": doc.sha256, "versions": sorted(doc.versions()),
                            "canary": plan})
            return _entity(row), CHANGES

    def decide(self, principal: Principal, policy_id: str, version: int, *, approve: bool,
               reason: str, password: str) -> tuple[RoutingPolicyRecord, Changes]:
        """A manager approves or rejects a draft, password again; never their own draft.
        Audit: ``routing_policy.approved`` / ``routing_policy.rejected`` with the SHA-256."""
        require(principal.role, Action.POLICY_APPROVE)
        reason = check_text("reason", reason or "")
        if not reason:
            raise InvalidInput("Give a reason; it is kept with the decision.")
        if not password:
            raise InvalidInput("Deciding on a routing policy needs your password again.")
        self.auth.confirm_identity(principal, password, purpose="routing policy")
        from core.serving.routing import RoutingPolicy

        with self.store.unit_of_work(principal) as uow:
            row = policy_row(uow.session, policy_id, version)
            if row.state != "draft":
                raise InvalidInput(f"{policy_id} v{version} is already {row.state}.")
            if row.created_by == principal.username:
                raise PermissionDenied("You drafted this policy; another manager decides.")
            if approve:
                self._check_versions(uow.session, RoutingPolicy.from_json(row.document))
            row.state = "approved" if approve else "rejected"
            row.decided_by, row.decided_at, row.decision_reason = (
                principal.username, utcnow(), reason)
            uow.record(f"routing_policy.{row.state}", "routing_policy",
                       f"{policy_id} v{version}", reason=reason,
                       new={"sha256": row.sha256, "canary": json.loads(row.canary)
                            if row.canary else None})
            return _entity(row), CHANGES

    def policies(self, principal: Principal) -> list[RoutingPolicyRecord]:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            rows = uow.session.execute(select(SqlRoutingPolicy).order_by(
                SqlRoutingPolicy.policy_id, SqlRoutingPolicy.version.desc())).scalars()
            return [_entity(r) for r in rows]

    @staticmethod
    def _check_versions(s: DbSession, doc: Any) -> None:
        from core.services.deployments import _split_ref
        from core.store.orm_registry import SqlModel, SqlModelVersion
        from core.workflow.lifecycle import IN_USE

        for ref, sha in doc.versions().items():
            model, number = _split_ref(s, ref)
            v = s.execute(select(SqlModelVersion).join(SqlModel).where(
                SqlModel.name == model, SqlModelVersion.number == number)).scalar_one_or_none()
            if v is None:
                raise InvalidInput(f"The policy routes to {ref}, which does not exist.")
            if v.state not in IN_USE:
                raise InvalidInput(f"The policy routes to {ref} ({model} v{number}), which is "
                                   f"{v.state.replace('_', ' ')}, not approved.")
            if v.artifact_sha256 != sha:
                raise InvalidInput(f"The policy names artifact {sha[:12]}… for {ref}, but that "
                                   f"version's artifact is {v.artifact_sha256[:12]}….")
