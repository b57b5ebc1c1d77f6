"""The headline metrics per segment of one feature, and the weakest segments.

A segment is a value of a categorical column, or a quantile bin of a numeric column. Segments too
small or (for classification) holding one class are listed with a note instead of metrics, so the
table always accounts for every row.
"""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput
from core.validation.metrics import (
    binary_target,
    classification_metrics,
    multiclass_metrics,
    regression_metrics,
)

TASKS = ("classification", "multiclass", "regression")
CLASSIFICATION_HEADLINE = (
    "roc_auc", "gini", "ks", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
)
REGRESSION_HEADLINE = ("rmse", "mae", "mape", "r2")
MULTICLASS_HEADLINE = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "log_loss")
# For these a larger value is worse; for every other headline metric a smaller value is worse.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "mape"})
MISSING = "(missing)"


def _column(frame: Any, values: Any, name: str) -> Any:
    """A column of ``frame`` named by ``values``, or ``values`` itself aligned to the frame."""
    import numpy as np

    if isinstance(values, str):
        if values not in frame.columns:
            raise InvalidInput(f"{name}: column {values!r} is not in the holdout.")
        return frame[values].to_numpy()
    array = np.asarray(values)
    if array.ndim != 1 or array.size != len(frame):
        raise InvalidInput(f"{name} has {array.size} values but the holdout has {len(frame)} rows.")
    return array


def _segment_labels(column: Any, bins: int) -> tuple[Any, list[str]]:
    """Per-row segment labels and the segments in display order."""
    import pandas as pd

    is_numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if is_numeric and column.nunique(dropna=True) > bins:
        # Quantile bins; ties can merge edges, hence duplicates="drop". Labels are written from
        # the edges with four significant digits (pandas' own labels nudge the lowest edge down
        # by 0.1 % and print it as 0.0169999999999998).
        codes, edges = pd.qcut(column, q=bins, duplicates="drop", labels=False, retbins=True)
        order = [f"{'[' if i == 0 else '('}{edges[i]:.4g}, {edges[i + 1]:.4g}]"
                 for i in range(len(edges) - 1)]
        names = pd.Series(order, dtype=object)
        labels = codes.map(lambda c: MISSING if pd.isna(c) else names[int(c)])
    else:
        labels = column.astype(str).where(column.notna(), MISSING)
        counts = labels.value_counts()
        order = sorted(counts.index, key=lambda s: (s == MISSING, -counts[s], s))
    if (labels == MISSING).any() and MISSING not in order:
        order.append(MISSING)
    return labels.to_numpy(), order


def _one_class_note(y: Any, positive_label: Any) -> str | None:
    try:
        binary_target(y, positive_label)
    except InvalidInput as exc:
        return exc.message
    return None


def segment_metrics(
    frame: Any,
    y_true: Any,
    scores: Any,
    by: str,
    *,
    task: str,
    bins: int = 5,
    min_count: int = 30,
    threshold: float = 0.5,
    positive_label: Any = 1,
    classes: Any = None,
) -> list[dict]:
    """Headline metrics for each segment of column ``by`` of ``frame``.

    ``y_true`` and ``scores`` are column names of ``frame`` or arrays aligned with its rows
    (``scores`` are predictions for a regression). A categorical (or low-cardinality numeric)
    column gives one segment per value; a numeric one is cut into ``bins`` quantile bins; missing
    values form a ``"(missing)"`` segment. Each entry is ``{"feature", "segment", "count",
    "metrics", "note"}``: ``metrics`` is None and ``note`` says why when the segment has fewer
    than ``min_count`` rows or, for classification, a single class. For ``task="multiclass"``
    ``scores`` is the (rows x classes) probability array and ``classes`` the model's classes.

    Raises InvalidInput for an unknown task or column, or misaligned inputs; errors in the
    whole-holdout inputs (NaN scores, bad labels) surface from the metric functions.
    Writes no audit events.
    """
    import pandas as pd

    if task not in TASKS:
        raise InvalidInput(f"task must be one of {TASKS}; got {task!r}.")
    if by not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise InvalidInput(f"Column {by!r} is not in the holdout (columns: {shown}).")
    if bins < 1 or min_count < 1:
        raise InvalidInput("bins and min_count must be at least 1.")
    y = _column(frame, y_true, "y_true")
    if task == "multiclass":
        import numpy as np

        s = np.asarray(scores, dtype=float)
        if s.ndim != 2 or s.shape[0] != len(frame) or classes is None:
            raise InvalidInput("Multi-class segments need one probability row per holdout row "
                               "and the model's classes.")
    else:
        s = _column(frame, scores, "scores")
    labels, order = _segment_labels(pd.Series(frame[by].to_numpy()), bins)
    results = []
    for segment in order:
        mask = labels == segment
        count = int(mask.sum())
        entry: dict[str, Any] = {
            "feature": by, "segment": segment, "count": count, "metrics": None, "note": None,
        }
        if count < min_count:
            entry["note"] = f"Too few rows to evaluate ({count} < {min_count})."
        elif task == "classification" and (note := _one_class_note(y[mask], positive_label)):
            entry["note"] = note
        elif task == "classification":
            full = classification_metrics(
                y[mask], s[mask], threshold=threshold, positive_label=positive_label
            )
            entry["metrics"] = {k: full[k] for k in CLASSIFICATION_HEADLINE}
            entry["metrics"]["positive_rate"] = full["class_counts"]["positive_rate"]
        elif task == "multiclass":
            full = multiclass_metrics(y[mask], s[mask], classes)
            entry["metrics"] = {k: full[k] for k in MULTICLASS_HEADLINE}
        else:
            full = regression_metrics(y[mask], s[mask])
            entry["metrics"] = {k: full[k] for k in REGRESSION_HEADLINE}
        results.append(entry)
    return results


def weakest(segments: list[dict], metric: str = "roc_auc", n: int = 3) -> list[dict]:
    """The ``n`` segments that do worst on ``metric``, worst first.

    "Worst" is the lowest value, or the highest for error metrics (log loss, Brier, RMSE, MAE,
    MAPE). Segments without metrics, or where the metric is undefined, are skipped. Each entry is
    ``{"feature", "segment", "count", "metric", "value"}``.

    Raises InvalidInput for an unknown metric, or one no segment carries (wrong task).
    """
    known = (set(CLASSIFICATION_HEADLINE) | set(REGRESSION_HEADLINE)
             | set(MULTICLASS_HEADLINE) | {"positive_rate"})
    if metric not in known:
        raise InvalidInput(f"Unknown metric {metric!r}; choose one of {sorted(known)}.")
    rated = [
        (entry, entry["metrics"][metric])
        for entry in segments
        if entry.get("metrics") and entry["metrics"].get(metric) is not None
    ]
    evaluated = [e["metrics"] for e in segments if e.get("metrics")]
    if evaluated and not any(metric in m for m in evaluated):
        raise InvalidInput(f"The segments carry no {metric!r}; is this the right task?")
    worse_high = metric in LOWER_IS_BETTER
    rated.sort(key=lambda pair: -pair[1] if worse_high else pair[1])
    return [
        {
            "feature": entry["feature"], "segment": entry["segment"], "count": entry["count"],
            "metric": metric, "value": value,
        }
        for entry, value in rated[:n]
    ]
