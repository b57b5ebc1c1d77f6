"""The demo portfolio's versions at the workflow's stages, so every role's inbox has work.

Every step goes through the workflow service with the demo users' own passwords, as a person
would sign: signatures are real, bound to the artifacts and documentation PDFs they signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from core.registry.artifact_store import ArtifactStore
from core.services.auth import AuthService
from core.services.calendar import CalendarService
from core.services.findings import FindingsService
from core.services.workflow import ExceptionService, WorkflowService
from core.store.uow import Store
from core.timeutil import utcnow


def build_workflow(store: Store, auth: AuthService, artifacts: ArtifactStore,
                   passwords: Mapping[str, str]) -> None:
    """Screening v2 approved (validated, reviewed), screening v1 validated and reviewed and
    waiting for a manager's approval, credit v1 in validation with an open high finding owned
    by dana and a policy exception for a pilot, the collections scorecard submitted for its
    revalidation, wine v1 rejected, and the
    collections scorecard's validation before Charter, 13 months ago: its revalidation is
    overdue."""
    who = {name: auth.sign_in(name, passwords[name]) for name in ("dana", "victor", "cora",
                                                                     "max")}
    flow = WorkflowService(store, artifacts, auth)
    findings = FindingsService(store)

    def step(user: str, model: str, number: int, name: str, reason: str) -> None:
        flow.transition(who[user], model, number, name, reason=reason, password=passwords[user])

    def claim(model: str, number: int) -> None:
        flow.transition(who["victor"], model, number, "start_validation",
                        reason="Assigned in the model-risk queue")

    step("dana", "Screening classifier", 2, "submit", "Gradient boosting replaces the "
         "logistic baseline; evaluation recorded")
    claim("Screening classifier", 2)
    findings.record(who["victor"], "Screening classifier", 2, title="Calibration above 0.8",
                    description="Observed rates run below predicted scores in the top bin.",
                    severity="low", owner="dana", due_date=(utcnow() + timedelta(days=60)).date())
    step("victor", "Screening classifier", 2, "validate", "Independent validation complete; "
         "one low finding accepted")
    step("cora", "Screening classifier", 2, "review", "Documentation and evidence complete")
    step("max", "Screening classifier", 2, "approve", "Approved for the review queues")

    step("dana", "Retail credit default", 1, "submit", "First version for validation")
    claim("Retail credit default", 1)
    findings.record(who["victor"], "Retail credit default", 1,
                    title="Four-fifths rule fails for age band 18-25",
                    description="Approval rate for 18-25 is below 80 % of 61+; investigate "
                                "income as a proxy before approval.",
                    severity="high", owner="dana",
                    due_date=(utcnow() + timedelta(days=21)).date())

    step("dana", "Screening classifier", 1, "submit", "Baseline kept as a challenger")
    claim("Screening classifier", 1)
    step("victor", "Screening classifier", 1, "validate", "Sound as a challenger; no findings")
    step("cora", "Screening classifier", 1, "review", "Documentation complete")

    step("dana", "Collections early warning", 1, "submit", "Annual revalidation of the "
         "legacy scorecard, now overdue")

    step("dana", "Wine cultivar", 1, "submit", "Vendor model for the demo")
    step("max", "Wine cultivar", 1, "reject", "No business owner has signed up to use it")

    ExceptionService(store, auth).grant(
        who["max"], "Retail credit default", 1, until=(utcnow() + timedelta(days=60)).date(),
        reason="Pilot in two branches before the validation completes; outcomes reviewed "
               "weekly", password=passwords["max"])
    CalendarService(store, auth).record_prior_validation(
        who["cora"], "Collections early warning",
        validated_on=(utcnow() - timedelta(days=400)).date(), reference="MRM-VAL-2025-014",
        validated_by="Model Risk Office (before Charter)",
        reason="Portfolio onboarding: the last validation report on file",
        password=passwords["cora"])
    # The approved version's documentation again, now printing its findings and sign-offs
    # (its content is unchanged, so the signatures bound to it still hold).
    from core.services.documentation import DocumentationService

    DocumentationService(store, artifacts).generate(who["cora"], "Screening classifier", 2)
    for principal in who.values():
        auth.record_session_event(principal, "auth.signed_out")
