"""Headline evaluation metrics for binary classifiers and regressors.

Results are plain dicts of floats, ints and lists (JSON-serialisable) so they can be recorded as
evidence and drawn by charts. numpy and scikit-learn are imported inside the functions so that
importing this module does not load them.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import InvalidInput

CALIBRATION_STRATEGIES = ("uniform", "quantile")
RESIDUAL_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
ROC_POINTS = 200


def plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar (for JSON); anything else unchanged."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict)) else value


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def _numeric(values: Any, name: str) -> Any:
    import numpy as np

    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numeric.") from exc
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional; got shape {array.shape}.")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise InvalidInput(
            f"{name} contains {bad} NaN or infinite value(s).",
            hint="Remove or impute those rows before evaluating.",
        )
    return array


def _check_lengths(n_true: int, n_other: int, other: str) -> None:
    if n_true != n_other:
        raise InvalidInput(f"y_true has {n_true} rows but {other} has {n_other}.")
    if n_true == 0:
        raise InvalidInput("Nothing to evaluate: no rows.")


def binary_target(y_true: Any, positive_label: Any = 1) -> Any:
    """``y_true`` as a 0/1 integer array where 1 means ``positive_label``.

    Raises InvalidInput for missing labels, more than two distinct labels, a ``positive_label``
    that is not among them, or a single class (AUC and KS are then undefined).
    """
    import numpy as np
    import pandas as pd

    labels = pd.Series(np.asarray(y_true, dtype=object).ravel())
    if labels.isna().any():
        raise InvalidInput(f"y_true contains {int(labels.isna().sum())} missing label(s).")
    distinct = sorted({plain(v) for v in labels}, key=repr)
    if len(distinct) > 2:
        shown = ", ".join(repr(v) for v in distinct[:10])
        raise InvalidInput(
            f"y_true must have two classes for binary classification; found {len(distinct)} "
            f"labels ({shown}{', ...' if len(distinct) > 10 else ''})."
        )
    is_positive = (labels == positive_label).to_numpy()
    if len(distinct) == 2 and not is_positive.any():
        raise InvalidInput(
            f"positive_label {positive_label!r} is not one of the labels in y_true "
            f"({', '.join(repr(v) for v in distinct)})."
        )
    if len(distinct) < 2:
        which = "positive" if is_positive.any() else "negative"
        raise InvalidInput(
            f"y_true holds only one class (all {which}, label {distinct[0]!r}): ROC AUC, Gini "
            "and KS are undefined.",
            hint="Evaluate on a holdout that contains both classes.",
        )
    return is_positive.astype(int)


def ks_statistic(y: Any, scores: Any) -> tuple[float, float]:
    """Largest distance between the score CDFs of the two classes, and the score where it occurs.

    Equal to the two-sided two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``).
    """
    import numpy as np

    pos = np.sort(scores[y == 1])
    neg = np.sort(scores[y == 0])
    grid = np.unique(scores)
    cdf_pos = np.searchsorted(pos, grid, side="right") / pos.size
    cdf_neg = np.searchsorted(neg, grid, side="right") / neg.size
    gaps = np.abs(cdf_pos - cdf_neg)
    at = int(np.argmax(gaps))
    return float(gaps[at]), float(grid[at])


def calibration_table(y: Any, scores: Any, n_bins: int, strategy: str) -> dict:
    """Per-bin mean predicted score, observed positive rate and count (bins as in sklearn)."""
    import numpy as np

    if strategy not in CALIBRATION_STRATEGIES:
        raise InvalidInput(f"Calibration strategy must be one of {CALIBRATION_STRATEGIES}.")
    if n_bins < 1:
        raise InvalidInput("calibration_bins must be at least 1.")
    if strategy == "quantile":
        edges = np.percentile(scores, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], scores)
    counts = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=scores, minlength=n_bins)
    hits = np.bincount(ids, weights=y, minlength=n_bins)
    nonempty = counts > 0
    return {
        "strategy": strategy,
        "bin_edges": _floats(edges),
        # None for an empty bin: there is nothing to plot there.
        "mean_predicted": [float(s / c) if c else None for s, c in zip(sums, counts)],
        "observed_rate": [float(h / c) if c else None for h, c in zip(hits, counts)],
        "count": [int(c) for c in counts],
        "nonempty_bins": int(nonempty.sum()),
    }


def classification_metrics(
    y_true: Any,
    scores: Any,
    *,
    threshold: float = 0.5,
    positive_label: Any = 1,
    calibration_bins: int = 10,
    calibration_strategy: str = "uniform",
    histogram_bins: int = 20,
) -> dict:
    """Evaluate a binary classifier's probability scores against true labels.

    ``scores`` are probabilities of ``positive_label`` in [0, 1]; a row is predicted positive
    when its score is ``>= threshold``. Returns ROC AUC, Gini, KS (and the score where it
    occurs), accuracy, precision, recall, F1, log loss, Brier score, the confusion matrix at the
    threshold, a calibration table, score histograms per class on common bins and class counts.
    Precision/recall/F1 are 0.0 when undefined (no predicted or no actual positives).

    Raises InvalidInput for mismatched lengths, no rows, NaN/infinite or out-of-range scores,
    labels that are not binary or do not contain ``positive_label``, and a single class.
    Writes no audit events.
    """
    import numpy as np
    from sklearn import metrics as skm

    score = _numeric(scores, "scores")
    _check_lengths(len(np.asarray(y_true, dtype=object).ravel()), score.size, "scores")
    if score.min() < 0.0 or score.max() > 1.0:
        raise InvalidInput(
            f"scores must be probabilities in [0, 1]; found values from {score.min():g} "
            f"to {score.max():g}.",
            hint="Use the model's predict_proba output for the positive class.",
        )
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold must be within [0, 1]; got {threshold!r}.")
    y = binary_target(y_true, positive_label)
    predicted = (score >= threshold).astype(int)
    auc = float(skm.roc_auc_score(y, score))
    ks, ks_at = ks_statistic(y, score)
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    edges = np.linspace(0.0, 1.0, histogram_bins + 1)
    n_pos = int(y.sum())
    return {
        "n": int(y.size),
        "threshold": float(threshold),
        "positive_label": plain(positive_label),
        "roc_auc": auc,
        "gini": 2.0 * auc - 1.0,
        "ks": ks,
        "ks_score": ks_at,
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0.0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0.0)),
        "f1": float(skm.f1_score(y, predicted, zero_division=0.0)),
        "log_loss": float(skm.log_loss(y, score, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, score)),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "roc_curve": roc_points(y, score),
        "calibration": calibration_table(y, score, calibration_bins, calibration_strategy),
        "score_distribution": {
            "bin_edges": _floats(edges),
            "positive": [int(c) for c in np.histogram(score[y == 1], bins=edges)[0]],
            "negative": [int(c) for c in np.histogram(score[y == 0], bins=edges)[0]],
        },
        "class_counts": {
            "positive": n_pos,
            "negative": int(y.size) - n_pos,
            "positive_rate": n_pos / y.size,
        },
    }


def roc_points(y: Any, scores: Any, max_points: int = ROC_POINTS) -> dict:
    """The ROC curve as at most ``max_points`` (fpr, tpr) pairs, always including both ends."""
    import numpy as np
    from sklearn import metrics as skm

    fpr, tpr, _ = skm.roc_curve(y, scores, drop_intermediate=True)
    if fpr.size > max_points:
        keep = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": _floats(fpr), "tpr": _floats(tpr)}


def multiclass_metrics(y_true: Any, probabilities: Any, classes: Any) -> dict:
    """Evaluate a classifier with more than two classes from its class probabilities.

    ``probabilities`` has one column per entry of ``classes`` (the model's order); the predicted
    class is the most probable one. Returns accuracy, macro precision/recall/F1, log loss,
    one-vs-rest macro ROC AUC (None when a class is absent from ``y_true``), the confusion
    matrix (rows actual, columns predicted) and per-class figures.

    Raises InvalidInput for mismatched shapes, NaN/out-of-range probabilities, missing labels or
    labels the model does not know. Writes no audit events.
    """
    import numpy as np
    from sklearn import metrics as skm

    labels = [plain(c) for c in classes]
    probs = np.asarray(probabilities, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise InvalidInput(f"probabilities must have one column per class ({len(labels)}); got "
                           f"shape {probs.shape}.")
    _numeric(probs.ravel(), "probabilities")
    actual = np.asarray(y_true, dtype=object).ravel()
    _check_lengths(actual.size, probs.shape[0], "probabilities")
    by_text = {str(c): c for c in labels}
    unknown = sorted({str(v) for v in actual} - set(by_text))
    if unknown:
        raise InvalidInput(f"y_true holds labels the model does not know: {', '.join(unknown[:10])}"
                           f" (the model's classes: {', '.join(map(str, labels))}).")
    index = {str(c): i for i, c in enumerate(labels)}
    y = np.array([index[str(v)] for v in actual])
    predicted = probs.argmax(axis=1)
    ids = list(range(len(labels)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, predicted, labels=ids, zero_division=0.0)
    present = np.unique(y).size == len(labels)
    return {
        "n": int(y.size),
        "classes": labels,
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "log_loss": float(skm.log_loss(y, np.clip(probs, 1e-15, 1.0), labels=ids)),
        "roc_auc_ovr_macro": float(skm.roc_auc_score(y, probs, multi_class="ovr",
                                                      labels=ids)) if present else None,
        "confusion": {"labels": labels,
                      "matrix": skm.confusion_matrix(y, predicted, labels=ids).tolist()},
        "per_class": [
            {"label": labels[i], "precision": float(precision[i]), "recall": float(recall[i]),
             "f1": float(f1[i]), "support": int(support[i])} for i in ids],
    }


def regression_metrics(
    y_true: Any, y_pred: Any, *, histogram_bins: int = 30, max_points: int = 2000
) -> dict:
    """Evaluate a regressor: RMSE, MAE, MAPE, R² and residuals (actual minus predicted).

    MAPE is a fraction (0.1 = 10 %) over rows whose target is non-zero; the number of rows left
    out is ``mape_excluded_zero_targets`` and MAPE is None when every target is zero. R² is None
    when the targets are constant (it is undefined). ``residual_points`` is an evenly strided
    sample of at most ``max_points`` (predicted, residual) pairs for a residual plot.

    Raises InvalidInput for mismatched lengths, no rows, or NaN/infinite values.
    Writes no audit events.
    """
    import numpy as np

    actual = _numeric(y_true, "y_true")
    predicted = _numeric(y_pred, "y_pred")
    _check_lengths(actual.size, predicted.size, "y_pred")
    residual = actual - predicted
    nonzero = actual != 0
    ss_tot = float(np.sum((actual - actual.mean()) ** 2))
    counts, edges = np.histogram(residual, bins=histogram_bins)
    stride = max(1, math.ceil(residual.size / max_points))
    return {
        "n": int(actual.size),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
        "mape": float(np.mean(np.abs(residual[nonzero] / actual[nonzero])))
        if nonzero.any()
        else None,
        "mape_excluded_zero_targets": int((~nonzero).sum()),
        "r2": 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else None,
        "residual_summary": {
            "mean": float(residual.mean()),
            "std": float(residual.std()),
            "quantiles": {
                f"{q:g}": float(v)
                for q, v in zip(RESIDUAL_QUANTILES, np.quantile(residual, RESIDUAL_QUANTILES))
            },
        },
        "residual_histogram": {"bin_edges": _floats(edges), "counts": [int(c) for c in counts]},
        "residual_points": {
            "predicted": _floats(predicted[::stride]),
            "residual": _floats(residual[::stride]),
        },
    }
