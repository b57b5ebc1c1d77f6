"""Segment analysis: per-segment metrics, notes for small or one-class segments, weakest named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, root_mean_squared_error

from core.errors import InvalidInput
from core.validation.segments import segment_metrics, weakest


@pytest.fixture
def holdout():
    """Scores separate the classes well everywhere except in region "south" (pure noise)."""
    rng = np.random.default_rng(11)
    n = 4000
    region = rng.choice(["north", "east", "west", "south"], n)
    y = rng.integers(0, 2, n)
    good = np.clip(0.4 * y + rng.normal(0.3, 0.15, n), 0, 1)
    noise = rng.uniform(0, 1, n)
    scores = np.where(region == "south", noise, good)
    income = rng.lognormal(10, 0.5, n)
    return pd.DataFrame({"region": region, "income": income, "y": y, "score": scores})


def test_categorical_segments_match_sklearn_and_the_bad_one_is_weakest(holdout):
    segments = segment_metrics(holdout, "y", "score", "region", task="classification")
    assert {s["segment"] for s in segments} == {"north", "east", "west", "south"}
    assert sum(s["count"] for s in segments) == len(holdout)
    for s in segments:
        part = holdout[holdout["region"] == s["segment"]]
        assert s["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(part["y"], part["score"]))
    worst = weakest(segments, "roc_auc", n=2)
    assert worst[0]["segment"] == "south"
    assert worst[0]["value"] < 0.6 < worst[1]["value"]
    assert weakest(segments, "log_loss", n=1)[0]["segment"] == "south"


def test_numeric_feature_is_cut_into_quantile_bins(holdout):
    segments = segment_metrics(
        holdout, holdout["y"].to_numpy(), holdout["score"].to_numpy(), "income",
        task="classification", bins=4,
    )
    assert len(segments) == 4
    assert all(900 <= s["count"] <= 1100 for s in segments)
    # Labels from the quantile edges: the first bin closed, the rest open on the left.
    edges = np.quantile(holdout["income"], [0, 0.25, 0.5, 0.75, 1])
    assert [s["segment"] for s in segments] == [
        f"{'[' if i == 0 else '('}{edges[i]:.4g}, {edges[i + 1]:.4g}]" for i in range(4)]


def test_small_and_one_class_segments_get_a_note_not_metrics(holdout):
    frame = holdout.copy()
    frame.loc[frame.index[:10], "region"] = "tiny"
    pure = frame["region"] == "east"
    frame.loc[pure, "y"] = 1
    segments = {
        s["segment"]: s
        for s in segment_metrics(frame, "y", "score", "region", task="classification")
    }
    assert segments["tiny"]["metrics"] is None
    assert "Too few rows" in segments["tiny"]["note"]
    assert segments["east"]["metrics"] is None
    assert "only one class" in segments["east"]["note"]
    names = [w["segment"] for w in weakest(list(segments.values()), n=5)]
    assert "tiny" not in names and "east" not in names


def test_missing_values_form_their_own_segment(holdout):
    frame = holdout.copy()
    frame.loc[frame.index[:200], "income"] = np.nan
    segments = segment_metrics(frame, "y", "score", "income", task="classification")
    assert segments[-1]["segment"] == "(missing)" and segments[-1]["count"] == 200


def test_regression_segments(holdout):
    rng = np.random.default_rng(5)
    target = holdout["income"].to_numpy()
    noise = np.where(holdout["region"] == "west", 4000.0, 200.0)
    predicted = target + rng.normal(0, 1, target.size) * noise
    segments = segment_metrics(holdout, target, predicted, "region", task="regression")
    west = next(s for s in segments if s["segment"] == "west")
    mask = (holdout["region"] == "west").to_numpy()
    assert west["metrics"]["rmse"] == pytest.approx(
        root_mean_squared_error(target[mask], predicted[mask])
    )
    assert weakest(segments, "rmse", n=1)[0]["segment"] == "west"
    with pytest.raises(InvalidInput, match="no 'roc_auc'"):
        weakest(segments, "roc_auc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "colour"}, "Column 'colour' is not in the holdout"),
        ({"task": "ranking"}, "task must be one of"),
        ({"scores": [0.5, 0.5]}, "2 values but the holdout has 4000 rows"),
    ],
)
def test_bad_segment_requests_are_refused(holdout, kwargs, message):
    args = {"y_true": "y", "scores": "score", "by": "region", "task": "classification"}
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=message):
        segment_metrics(holdout, **args)


def test_unknown_metric_is_refused():
    with pytest.raises(InvalidInput, match="Unknown metric"):
        weakest([], "auc")
