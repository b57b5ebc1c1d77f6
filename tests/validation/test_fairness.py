"""Group fairness: figures equal to fairlearn's, the four-fifths rule, and clear refusals."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from core.errors import InvalidInput
from core.validation.fairness import fairness_report


def _fairlearn():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning)
        import fairlearn.metrics as flm
    return flm


@pytest.fixture(scope="module")
def holdout():
    """Scores favour region "west" (planted bias); sex is treated alike."""
    rng = np.random.default_rng(21)
    n = 3000
    region = rng.choice(["north", "south", "east", "west"], n)
    sex = rng.choice(["F", "M"], n)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + rng.uniform(0, 0.6, n) + np.where(region == "west", 0.3, 0), 0, 1)
    return pd.DataFrame({"region": region, "sex": sex, "y": y, "score": score})


def test_group_figures_equal_fairlearns_metric_frame(holdout):
    flm = _fairlearn()
    report = fairness_report(holdout["y"], holdout["score"],
                             {"region": holdout["region"], "sex": holdout["sex"].to_numpy()})
    json.dumps(report, allow_nan=False)
    assert report["favourable_label"] == 1 and report["threshold"] == 0.5
    decided = (holdout["score"] >= 0.5).astype(int).to_numpy()
    y = holdout["y"].to_numpy()
    for feature in ("region", "sex"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning)
            frame = flm.MetricFrame(
                metrics={"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                         "fpr": flm.false_positive_rate, "accuracy": accuracy_score,
                         "count": flm.count},
                y_true=y, y_pred=decided, sensitive_features=holdout[feature].to_numpy())
            expected = {
                "demographic_parity_difference": flm.demographic_parity_difference(
                    y, decided, sensitive_features=holdout[feature]),
                "demographic_parity_ratio": flm.demographic_parity_ratio(
                    y, decided, sensitive_features=holdout[feature]),
                "equalized_odds_difference": flm.equalized_odds_difference(
                    y, decided, sensitive_features=holdout[feature]),
            }
        result = report["features"][feature]
        assert {g["group"] for g in result["groups"]} == set(frame.by_group.index)
        for group in result["groups"]:
            row = frame.by_group.loc[group["group"]]
            assert group["count"] == row["count"]
            for key in ("selection_rate", "tpr", "fpr", "accuracy"):
                assert group[key] == pytest.approx(row[key], abs=1e-12)
            assert group["note"] is None
        for key, value in expected.items():
            assert result[key] == pytest.approx(value, abs=1e-12)
        assert result["four_fifths"]["ratio"] == pytest.approx(expected["demographic_parity_ratio"])
        assert result["note"] is None


def test_four_fifths_rule_flags_the_planted_bias_only(holdout):
    report = fairness_report(holdout["y"], holdout["score"],
                             {"region": holdout["region"], "sex": holdout["sex"]})
    region = report["features"]["region"]
    rates = {g["group"]: g["selection_rate"] for g in region["groups"]}
    assert region["four_fifths"]["passed"] is False
    assert region["four_fifths"]["reference_group"] == "west" == max(rates, key=rates.get)
    assert region["four_fifths"]["lowest_group"] == min(rates, key=rates.get)
    assert region["four_fifths"]["ratio"] == pytest.approx(min(rates.values()) / rates["west"])
    assert region["four_fifths"]["ratio"] < 0.8
    sex = report["features"]["sex"]
    assert sex["four_fifths"]["passed"] is True and sex["demographic_parity_ratio"] > 0.9
    worst = report["worst"]
    assert worst["four_fifths_passed"] is False
    assert worst["demographic_parity_difference"] == region["demographic_parity_difference"]
    assert worst["demographic_parity_ratio"] == region["demographic_parity_ratio"]


def test_labels_compare_to_the_favourable_label(holdout):
    decided = np.where(holdout["score"] >= 0.5, "approve", "deny")
    actual = np.where(holdout["y"] == 1, "approve", "deny")
    by_label = fairness_report(actual, decided, {"region": holdout["region"]},
                               favourable_label="approve")
    by_score = fairness_report(holdout["y"], holdout["score"], {"region": holdout["region"]})
    assert by_label["features"] == by_score["features"]
    assert by_label["favourable_label"] == "approve"
    # favourable = 0 flips what counts as selected
    flipped = fairness_report(holdout["y"], (holdout["score"] >= 0.5).astype(int),
                              {"region": holdout["region"]}, favourable_label=0)
    for a, b in zip(flipped["features"]["region"]["groups"],
                    by_score["features"]["region"]["groups"], strict=True):
        assert a["selection_rate"] == pytest.approx(1 - b["selection_rate"])


def test_small_groups_are_listed_but_left_out_of_the_summary(holdout):
    region = holdout["region"].to_numpy().copy()
    region[:12] = "islands"  # 12 rows, all of them selected below
    score = holdout["score"].to_numpy().copy()
    score[:12] = 0.99
    report = fairness_report(holdout["y"][12:], score[12:], {"region": region[12:]})
    with_small = fairness_report(holdout["y"], score, {"region": region})
    result = with_small["features"]["region"]
    islands = next(g for g in result["groups"] if g["group"] == "islands")
    assert islands["count"] == 12 and islands["selection_rate"] == 1.0
    assert "fewer than 30" in islands["note"]
    assert "islands" in result["note"] and "left out" in result["note"]
    assert result["four_fifths"]["reference_group"] == "west"
    assert result["demographic_parity_difference"] == pytest.approx(
        report["features"]["region"]["demographic_parity_difference"])


def test_missing_sensitive_values_form_their_own_group(holdout):
    sex = holdout["sex"].to_numpy(dtype=object).copy()
    sex[:100] = None
    sex[100:150] = np.nan
    report = fairness_report(holdout["y"], holdout["score"], {"sex": sex})
    groups = report["features"]["sex"]["groups"]
    assert groups[-1]["group"] == "(missing)" and groups[-1]["count"] == 150
    assert sum(g["count"] for g in groups) == len(holdout)


def test_an_undefined_true_positive_rate_is_none_with_a_note(holdout):
    y = holdout["y"].to_numpy().copy()
    y[holdout["region"] == "east"] = 0  # nobody in "east" actually deserved the favourable outcome
    report = fairness_report(y, holdout["score"], {"region": holdout["region"]})
    result = report["features"]["region"]
    east = next(g for g in result["groups"] if g["group"] == "east")
    assert east["tpr"] is None and "true positive rate is undefined" in east["note"]
    assert east["fpr"] is not None
    assert "True positive rate undefined for east" in result["note"]
    defined = [g["tpr"] for g in result["groups"] if g["tpr"] is not None]
    fprs = [g["fpr"] for g in result["groups"]]
    assert result["equalized_odds_difference"] == pytest.approx(
        max(max(defined) - min(defined), max(fprs) - min(fprs)))


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: ([0, 1], h["score"], {"region": h["region"]}),
     "predictions have 3000 values but y_true has 2"),
    (lambda h: (h["y"], h["score"], {"region": h["region"][:10]}),
     "'region' has 10 values but y_true has 3000"),
    (lambda h: (h["y"].where(h.index > 4), h["score"], {"region": h["region"]}),
     "y_true contains 5 missing label"),
    (lambda h: (h["y"], h["score"], {"country": np.full(len(h), "NL")}),
     "'country' has a single group ('NL')"),
    (lambda h: (h["y"], h["score"], {"income": np.arange(len(h)) % 73}),
     "'income' has 73 distinct values; at most 50 groups"),
    (lambda h: (h["y"], h["score"], {"region": np.where(h.index < 20, "a", "b")}),
     "1 group(s) have at least 30 rows (b); fairness comparisons need two"),
    (lambda h: (h["y"], h["score"] * 2 - 0.5, {"region": h["region"]}),
     "fall outside [0, 1]"),
    (lambda h: (h["y"], h["score"], {}), "Name at least one sensitive feature"),
])
def test_bad_input_is_refused_with_a_clear_message(holdout, change, message):
    y, predictions, sensitive = change(holdout)
    with pytest.raises(InvalidInput) as info:
        fairness_report(y, predictions, sensitive)
    assert message in info.value.message


def test_refusal_hints_say_what_to_do(holdout):
    with pytest.raises(InvalidInput) as info:
        fairness_report(holdout["y"], holdout["score"], {"age": np.arange(len(holdout)) % 60})
    assert "Bin it" in info.value.hint
    with pytest.raises(InvalidInput, match="'1' does not occur in y_true") as info:
        fairness_report(holdout["y"], holdout["score"], {"region": holdout["region"]},
                        favourable_label="1")
    assert "1 and '1' differ" in info.value.hint


def test_a_large_holdout_with_several_features(holdout):
    """100,000 rows and three features: the counts and fairlearn's check agree (no timing)."""
    rng = np.random.default_rng(4)
    n = 100_000
    y = rng.integers(0, 2, n)
    score = rng.uniform(0, 1, n)
    sensitive = {"a": rng.choice(list("ABCD"), n), "b": rng.integers(0, 12, n),
                 "c": rng.choice(["x", "y", None], n)}
    report = fairness_report(y, score, sensitive)
    for feature, result in report["features"].items():
        assert sum(g["count"] for g in result["groups"]) == n, feature
        assert result["demographic_parity_difference"] < 0.05
