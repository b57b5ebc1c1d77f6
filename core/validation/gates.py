"""Acceptance gates: per risk tier, the thresholds an evaluation must meet.

Each gate reads one figure from an evaluation record and compares it with a threshold that is a
store setting per risk tier (``gates.<key>.tier<N>``, changed with ``charter settings set`` and
audited like any policy). A gate that does not apply to the model's kind is left out; one that
applies but has nothing to read (no sensitive feature named, latency not measured) is listed as
not assessed, and the overall result is then "incomplete" rather than "passed".

This module is imported by the settings schema, so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

STRICTEST_TIER = 1


def _metric(name: str) -> Callable[[Mapping], Any]:
    return lambda ev: (ev.get("metrics") or {}).get(name)


def _fairness(name: str) -> Callable[[Mapping], Any]:
    def read(ev: Mapping) -> Any:
        fair = ev.get("fairness")
        if not isinstance(fair, Mapping) or "worst" not in fair:
            return None
        return fair["worst"].get(name)
    return read


def _latency_p99(ev: Mapping) -> Any:
    lat = ev.get("latency")
    if not isinstance(lat, Mapping):
        return None
    return (lat.get("single_row_ms") or {}).get("p99")


@dataclass(frozen=True)
class Gate:
    key: str
    label: str
    op: str  # ">=" or "<="
    kinds: tuple[str, ...]
    defaults: tuple[float, float, float]  # tiers 1, 2, 3
    read: Callable[[Mapping], Any]
    minimum: float
    maximum: float
    help: str
    not_assessed: str = "Not measured in this evaluation."

    def setting_key(self, tier: int) -> str:
        return f"gates.{self.key}.tier{tier}"


_FAIR_HINT = ("Not assessed: name a sensitive feature to measure fairness (--sensitive on the "
              "command line).")
GATES: tuple[Gate, ...] = (
    Gate("min_roc_auc", "Minimum ROC AUC", ">=", ("binary",), (0.75, 0.70, 0.65),
         _metric("roc_auc"), 0.0, 1.0, "A binary classifier's holdout ROC AUC must reach this "
         "(0 turns the gate off)."),
    Gate("min_ks", "Minimum KS statistic", ">=", ("binary",), (0.30, 0.25, 0.20),
         _metric("ks"), 0.0, 1.0, "Separation of the two classes' score distributions "
         "(0 turns the gate off)."),
    Gate("min_macro_f1", "Minimum macro F1", ">=", ("multiclass",), (0.80, 0.70, 0.60),
         _metric("macro_f1"), 0.0, 1.0, "A multi-class classifier's macro-averaged F1 "
         "(0 turns the gate off)."),
    Gate("min_r2", "Minimum R²", ">=", ("regression",), (0.50, 0.40, 0.30),
         _metric("r2"), -1.0, 1.0, "A regression's holdout R² (-1 turns the gate off)."),
    Gate("max_dp_difference", "Maximum demographic parity difference", "<=", ("binary",),
         (0.10, 0.15, 0.20), _fairness("demographic_parity_difference"), 0.0, 1.0,
         "Largest gap in selection rate between groups of any sensitive feature (1 turns the "
         "gate off).", _FAIR_HINT),
    Gate("min_dp_ratio", "Minimum demographic parity ratio (four-fifths rule)", ">=",
         ("binary",), (0.80, 0.80, 0.80), _fairness("demographic_parity_ratio"), 0.0, 1.0,
         "Lowest over highest group selection rate; 0.8 is the four-fifths rule (0 turns the "
         "gate off).", _FAIR_HINT),
    Gate("max_eo_difference", "Maximum equalized odds difference", "<=", ("binary",),
         (0.10, 0.15, 0.20), _fairness("equalized_odds_difference"), 0.0, 1.0,
         "Largest gap in true or false positive rate between groups (1 turns the gate off).",
         _FAIR_HINT),
    Gate("max_p99_latency_ms", "Maximum single-row p99 latency (ms)", "<=",
         ("binary", "multiclass", "regression"), (100.0, 250.0, 1000.0), _latency_p99,
         0.0, 600000.0, "99th percentile of one-row prediction time on the evaluating "
         "workstation, in milliseconds."),
)


def thresholds_for(tier: int | None, read_setting: Callable[[str], Any]) -> dict[str, float]:
    """The gate thresholds for ``tier`` (the strictest tier when it is unset), by gate key."""
    use = tier if tier in (1, 2, 3) else STRICTEST_TIER
    return {g.key: float(read_setting(g.setting_key(use))) for g in GATES}


def check_gates(evidence: Mapping, tier: int | None, thresholds: Mapping[str, float]) -> dict:
    """Compare an evaluation record with the thresholds; the record's "gates" section.

    ``thresholds`` come from :func:`thresholds_for`. Returns ``{"tier", "tier_used", "passed",
    "status", "results", "note"}``; ``passed`` is True only when every applicable gate was
    assessed and passed, False when any failed, None when some could not be assessed.
    """
    kind = evidence.get("kind")
    use = tier if tier in (1, 2, 3) else STRICTEST_TIER
    results = []
    for gate in GATES:
        if kind not in gate.kinds:
            continue
        threshold = float(thresholds[gate.key])
        value = gate.read(evidence)
        if value is None:
            passed, note = None, gate.not_assessed
        else:
            value = float(value)
            passed = value >= threshold if gate.op == ">=" else value <= threshold
            note = None
        results.append({"gate": gate.key, "label": gate.label, "metric": gate.key.split("_", 1)[1],
                        "op": gate.op, "threshold": threshold, "value": value, "passed": passed,
                        "note": note})
    if any(r["passed"] is False for r in results):
        passed, status = False, "failed"
    elif any(r["passed"] is None for r in results):
        passed, status = None, "incomplete"
    else:
        passed, status = True, "passed"
    note = None
    if tier not in (1, 2, 3):
        note = ("The model has no risk tier; the strictest (tier 1) gates were applied. Set its "
                "risk tier in the inventory.")
    return {"tier": tier, "tier_used": use, "passed": passed, "status": status,
            "results": results, "note": note}
