"""Acceptance gates: thresholds per tier from store settings, pass/fail/not-assessed."""

from __future__ import annotations

import pytest

from core import settings as schema
from core.validation.gates import GATES, check_gates, thresholds_for


def _defaults(key: str) -> float:
    return schema.spec(key).default


def _binary(auc: float, dp: float | None = None, p99: float | None = 5.0) -> dict:
    fairness = None if dp is None else {"worst": {
        "demographic_parity_difference": dp, "demographic_parity_ratio": 1 - dp,
        "equalized_odds_difference": dp, "four_fifths_passed": dp < 0.2}}
    return {"kind": "binary", "metrics": {"roc_auc": auc, "ks": 0.5}, "fairness": fairness,
            "latency": {"single_row_ms": {"p99": p99}}}


def test_every_gate_has_a_setting_per_tier_with_stricter_defaults_for_tier_1() -> None:
    for gate in GATES:
        values = [_defaults(gate.setting_key(t)) for t in (1, 2, 3)]
        assert values == list(gate.defaults)
        if gate.op == ">=":
            assert values == sorted(values, reverse=True), gate.key
        else:
            assert values == sorted(values), gate.key


def test_pass_fail_and_threshold_are_reported() -> None:
    thresholds = thresholds_for(2, _defaults)
    passed = check_gates(_binary(0.80, dp=0.05), 2, thresholds)
    assert passed["status"] == "passed" and passed["passed"] is True
    auc = next(r for r in passed["results"] if r["gate"] == "min_roc_auc")
    assert (auc["op"], auc["threshold"], auc["value"], auc["passed"]) == (">=", 0.70, 0.80, True)
    failed = check_gates(_binary(0.65, dp=0.30), 2, thresholds)
    assert failed["status"] == "failed" and failed["passed"] is False
    assert {r["gate"] for r in failed["results"] if r["passed"] is False} == {
        "min_roc_auc", "max_dp_difference", "min_dp_ratio", "max_eo_difference"}


def test_unassessed_fairness_makes_the_result_incomplete_not_passed() -> None:
    result = check_gates(_binary(0.9), 1, thresholds_for(1, _defaults))
    assert result["status"] == "incomplete" and result["passed"] is None
    fair = [r for r in result["results"] if r["gate"].endswith(("difference", "ratio"))]
    assert fair and all(r["passed"] is None and "--sensitive" in r["note"] for r in fair)


def test_gates_apply_by_kind_and_missing_tier_uses_the_strictest() -> None:
    evidence = {"kind": "regression", "metrics": {"r2": 0.45},
                "latency": {"single_row_ms": {"p99": 1.0}}}
    result = check_gates(evidence, None, thresholds_for(None, _defaults))
    assert [r["gate"] for r in result["results"]] == ["min_r2", "max_p99_latency_ms"]
    assert result["tier_used"] == 1 and "no risk tier" in result["note"]
    assert result["status"] == "failed"  # 0.45 < tier 1's 0.50
    assert check_gates(evidence, 2, thresholds_for(2, _defaults))["status"] == "passed"


@pytest.mark.parametrize("raw,message", [("abc", "finite number"), ("nan", "finite number"),
                                         ("1.5", "at most 1"), ("-0.1", "at least 0")])
def test_gate_settings_refuse_bad_values(raw, message) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        schema.spec("gates.min_roc_auc.tier1").parse(raw)
