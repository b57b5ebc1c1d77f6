"""Classification and regression metrics agree with scikit-learn/scipy; bad input is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from core.errors import InvalidInput
from core.validation import metrics
from core.validation.metrics import classification_metrics, regression_metrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scored():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 3000)
    scores = np.clip(0.35 * y + rng.normal(0.35, 0.2, y.size), 0, 1)
    return y, scores


def test_importing_metrics_does_not_load_sklearn():
    code = (
        "import sys, core.validation.metrics, core.validation.segments, core.validation.latency;"
        "print(sorted(m for m in ('sklearn', 'numpy', 'pandas', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_classification_metrics_match_sklearn(scored):
    y, scores = scored
    result = classification_metrics(y, scores, threshold=0.45)
    predicted = (scores >= 0.45).astype(int)
    auc = skm.roc_auc_score(y, scores)
    assert result["roc_auc"] == pytest.approx(auc)
    assert result["gini"] == pytest.approx(2 * auc - 1)
    assert result["ks"] == pytest.approx(ks_2samp(scores[y == 1], scores[y == 0]).statistic)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert result["precision"] == pytest.approx(skm.precision_score(y, predicted))
    assert result["recall"] == pytest.approx(skm.recall_score(y, predicted))
    assert result["f1"] == pytest.approx(skm.f1_score(y, predicted))
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, scores))
    assert result["brier"] == pytest.approx(skm.brier_score_loss(y, scores))
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted).ravel()
    assert result["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert result["class_counts"]["positive"] == int(y.sum())
    assert result["class_counts"]["negative"] == int((y == 0).sum())
    json.dumps(result)  # evidence must be storable as JSON


def test_ks_score_is_where_the_cdfs_are_farthest_apart(scored):
    y, scores = scored
    result = classification_metrics(y, scores)
    at = result["ks_score"]
    gap = abs(np.mean(scores[y == 1] <= at) - np.mean(scores[y == 0] <= at))
    assert gap == pytest.approx(result["ks"])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_matches_sklearn(scored, strategy):
    y, scores = scored
    cal = classification_metrics(
        y, scores, calibration_bins=8, calibration_strategy=strategy
    )["calibration"]
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=8, strategy=strategy)
    observed = [v for v in cal["observed_rate"] if v is not None]
    predicted = [v for v in cal["mean_predicted"] if v is not None]
    assert observed == pytest.approx(prob_true.tolist())
    assert predicted == pytest.approx(prob_pred.tolist())
    assert sum(cal["count"]) == y.size and len(cal["bin_edges"]) == 9


def test_score_distribution_counts_each_class_on_common_bins(scored):
    y, scores = scored
    dist = classification_metrics(y, scores, histogram_bins=10)["score_distribution"]
    edges = np.linspace(0, 1, 11)
    assert dist["bin_edges"] == pytest.approx(edges.tolist())
    assert dist["positive"] == np.histogram(scores[y == 1], bins=edges)[0].tolist()
    assert dist["negative"] == np.histogram(scores[y == 0], bins=edges)[0].tolist()


def test_string_labels_with_a_named_positive_label(scored):
    y, scores = scored
    labels = np.where(y == 1, "default", "repaid")
    result = classification_metrics(labels, scores, positive_label="default")
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores))
    assert result["positive_label"] == "default"


@pytest.mark.parametrize(
    ("y_true", "scores", "kwargs", "message"),
    [
        ([1, 1, 1], [0.2, 0.6, 0.9], {}, "only one class.*AUC.*undefined"),
        ([0, 1, 1], [0.2, float("nan"), 0.9], {}, "NaN or infinite"),
        ([0, 1, 1], [0.2, 0.9], {}, "3 rows but scores has 2"),
        ([0, 1, 2], [0.2, 0.6, 0.9], {}, "two classes.*found 3 labels"),
        (["a", "b"], [0.2, 0.9], {}, "positive_label 1 is not one of the labels"),
        ([0, 1], [0.2, 0.9], {"positive_label": "yes"}, "positive_label 'yes'"),
        ([0, 1], [-0.2, 1.9], {}, r"probabilities in \[0, 1\]"),
        ([0, None], [0.2, 0.9], {}, "missing label"),
        ([], [], {}, "no rows"),
    ],
)
def test_bad_classification_input_is_refused_clearly(y_true, scores, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        classification_metrics(y_true, scores, **kwargs)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    actual = rng.normal(100, 20, 2000)
    actual[:5] = 0.0
    predicted = actual + rng.normal(0, 5, actual.size)
    result = regression_metrics(actual, predicted)
    assert result["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(actual, predicted)))
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(actual, predicted))
    assert result["r2"] == pytest.approx(skm.r2_score(actual, predicted))
    nz = actual != 0
    assert result["mape"] == pytest.approx(
        skm.mean_absolute_percentage_error(actual[nz], predicted[nz])
    )
    assert result["mape_excluded_zero_targets"] == 5
    residual = actual - predicted
    assert result["residual_summary"]["quantiles"]["0.5"] == pytest.approx(np.median(residual))
    assert sum(result["residual_histogram"]["counts"]) == actual.size
    assert len(result["residual_points"]["predicted"]) <= 2000
    json.dumps(result)


def test_regression_undefined_values_are_none_not_errors():
    result = regression_metrics([0.0, 0.0, 0.0], [0.1, -0.1, 0.0])
    assert result["mape"] is None and result["mape_excluded_zero_targets"] == 3
    assert result["r2"] is None  # constant target: R² undefined


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([1.0, 2.0], [1.0], "2 rows but y_pred has 1"),
        ([1.0, float("inf")], [1.0, 2.0], "y_true contains 1 NaN or infinite"),
        ([1.0, 2.0], ["a", "b"], "y_pred must be numeric"),
    ],
)
def test_bad_regression_input_is_refused_clearly(y_true, y_pred, message):
    with pytest.raises(InvalidInput, match=message):
        regression_metrics(y_true, y_pred)


def test_roc_curve_points_match_sklearn_and_are_bounded(scored):
    y, scores = scored
    curve = metrics.classification_metrics(y, scores)["roc_curve"]
    fpr, tpr, _ = skm.roc_curve(y, scores)
    assert len(curve["fpr"]) <= metrics.ROC_POINTS
    assert (curve["fpr"][0], curve["tpr"][0]) == (fpr[0], tpr[0])
    assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    # Every kept point lies on sklearn's curve.
    pairs = set(zip(fpr.round(12), tpr.round(12)))
    assert all((round(f, 12), round(t, 12)) in pairs for f, t in zip(curve["fpr"], curve["tpr"]))


def test_multiclass_metrics_match_sklearn():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_wine(return_X_y=True)
    y = np.array(["barolo", "grignolino", "barbera"])[y]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05)).fit(x[::2], y[::2])
    probs = model.predict_proba(x[1::2])
    result = metrics.multiclass_metrics(y[1::2], probs, model.classes_)
    predicted = model.predict(x[1::2])
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y[1::2], predicted))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(y[1::2], predicted, average="macro"))
    assert result["log_loss"] == pytest.approx(skm.log_loss(y[1::2], probs, labels=model.classes_))
    assert result["roc_auc_ovr_macro"] == pytest.approx(
        skm.roc_auc_score(y[1::2], probs, multi_class="ovr", labels=model.classes_))
    assert result["confusion"]["matrix"] == skm.confusion_matrix(
        y[1::2], predicted, labels=model.classes_).tolist()
    assert [c["support"] for c in result["per_class"]] == [
        int((y[1::2] == c).sum()) for c in model.classes_]


def test_multiclass_refuses_labels_the_model_does_not_know():
    probs = np.full((3, 3), 1 / 3)
    with pytest.raises(InvalidInput, match="labels the model does not know: rose"):
        metrics.multiclass_metrics(["red", "white", "rose"], probs, ["red", "white", "sparkling"])
