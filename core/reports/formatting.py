"""Names and number formats shared by the charts and the PDF, so both say the same thing."""

from __future__ import annotations

import math
from typing import Any

METRIC_LABELS: dict[str, str] = {
    "roc_auc": "ROC AUC",
    "gini": "Gini",
    "ks": "KS statistic",
    "ks_score": "KS at score",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "log_loss": "Log loss",
    "brier": "Brier score",
    "positive_rate": "Positive rate",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "roc_auc_ovr_macro": "ROC AUC (one-vs-rest, macro)",
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE",
    "r2": "R²",
    "n": "Rows evaluated",
    "threshold": "Decision threshold",
}
# Shown as percentages (they are fractions in the evidence).
PERCENT_METRICS = frozenset({"mape"})


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_", " "))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_number(value: Any, digits: int = 3) -> str:
    """A metric value for a reader: 4 significant-ish decimals, thousands separators, n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** -digits):
            return f"{value:.{digits}g}"
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def fmt_metric(key: str, value: Any) -> str:
    if key in PERCENT_METRICS and is_number(value):
        return f"{value * 100:.2f} %"
    return fmt_number(value, 4 if key not in ("n",) else 0)


def fmt_percent(value: Any, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f} %" if is_number(value) else "n/a"


def shorten(text: Any, limit: int) -> str:
    """``text`` as a string of at most ``limit`` characters, cut with an ellipsis."""
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: max(1, limit - 1)] + "…"
