"""The lifecycle of a model version, and which sign-offs each risk tier needs.

A transition names the states it leaves from, the state it reaches, the action a role must hold
and the meaning of the electronic signature it records (None: no signature). The service in
``core.services.workflow`` applies them; nothing else changes a version's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.permissions import Action

STATES = ("draft", "submitted", "in_validation", "changes_requested", "validated", "approved",
          "rejected", "staging", "canary", "production", "retired")
STATE_LABELS = {
    "draft": "Draft", "submitted": "Submitted", "in_validation": "In validation",
    "changes_requested": "Changes requested", "validated": "Validated", "approved": "Approved",
    "rejected": "Rejected", "staging": "Staging", "canary": "Canary",
    "production": "Production", "retired": "Retired",
}
MEANINGS = ("authored", "validated", "reviewed", "approved", "rejected")
SEVERITIES = ("high", "medium", "low")
# Approved for use (then deployed); and the states in which a version's sign-offs are settled.
IN_USE = ("approved", "staging", "canary", "production")
SETTLED = frozenset(IN_USE) | {"rejected", "retired"}


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not move (a compliance review)
    action: Action
    meaning: str | None
    label: str


TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("submit", ("draft", "changes_requested"), "submitted", Action.VERSION_SUBMIT,
               "authored", "Submit for validation"),
    Transition("start_validation", ("submitted",), "in_validation", Action.FINDING_RECORD, None,
               "Start validation"),
    Transition("request_changes", ("in_validation",), "changes_requested",
               Action.FINDING_RECORD, None, "Request changes"),
    Transition("validate", ("in_validation",), "validated", Action.VALIDATION_SIGN,
               "validated", "Sign the validation"),
    Transition("review", ("validated",), None, Action.COMPLIANCE_SIGN, "reviewed",
               "Sign the compliance review"),
    Transition("approve", ("validated", "submitted"), "approved", Action.VERSION_APPROVE,
               "approved", "Approve for use"),
    Transition("reject", ("submitted", "in_validation", "validated"), "rejected",
               Action.VERSION_APPROVE, "rejected", "Reject"),
)}


@dataclass(frozen=True)
class TierPolicy:
    """What a tier needs before approval, and how often it is revalidated."""

    tier: int
    validation: bool
    compliance: bool
    revalidate_months: int

    def required(self) -> tuple[str, ...]:
        """Signature meanings approval needs before it (besides the approval itself)."""
        return tuple(m for m, need in (("validated", self.validation),
                                       ("reviewed", self.compliance)) if need)


DEFAULT_POLICY = {1: (True, True, 12), 2: (True, False, 24), 3: (False, False, 36)}


def policy_for(tier: int | None, read_setting: Callable[[str], Any]) -> TierPolicy:
    """The store's policy for ``tier``; a model without a tier gets tier 1's (the strictest)."""
    use = tier if tier in (1, 2, 3) else 1
    return TierPolicy(use, bool(read_setting(f"workflow.tier{use}.requires_validation")),
                      bool(read_setting(f"workflow.tier{use}.requires_compliance")),
                      int(read_setting(f"workflow.tier{use}.revalidate_months")))
