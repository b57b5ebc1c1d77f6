"""Charts of an evaluation record, as matplotlib Figures built from its plain dicts.

One chart, two outputs: the evaluation screen embeds these Figures with ``FigureCanvasQTAgg``
and the documentation PDF prints them with :func:`figure_png`. Nothing here uses pyplot or a
GUI backend, and missing values (empty calibration bins, an undefined TPR, a segment too small
to evaluate) are drawn as gaps or notes, never as errors.

:func:`charts_for` lists the charts that apply to a record, in the order screen and PDF show
them. Their keys:

=====================  =================================================================
``roc``                ROC curve (binary)
``calibration``        reliability curve and rows per bin (binary)
``score_distribution`` score histogram per class with the threshold (binary)
``confusion``          confusion matrix (binary 2x2 or multiclass KxK)
``per_class``          precision, recall and F1 per class (multiclass)
``residuals``          residuals against predictions, and their histogram (regression)
``segment:<feature>``  the segment metric per segment of one feature, weakest highlighted
``shap_global``        mean |SHAP| of the top 15 features
``shap_local:<row>``   one row's SHAP contributions as a waterfall (first 3 rows recorded)
``fairness:<feature>`` selection rate, TPR and FPR per group, with the four-fifths line
``latency``            single-row latency percentiles and batch throughput
=====================  =================================================================
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from core.reports.chart_analysis import (
    fairness_chart,
    latency_chart,
    segment_chart,
    shap_importance_chart,
    shap_local_chart,
)
from core.reports.chart_style import (
    BLUE,
    INK,
    LIGHT,
    ORANGE,
    SERIES,
    SKY_FILL,
    SQUARE,
    TALL,
    WIDE,
    empty_message,
    legend,
    new_figure,
    note,
    number,
    safe_text,
    style_axes,
)
from core.reports.formatting import fmt_metric, fmt_number, metric_label

__all__ = [
    "LOCAL_CHARTS", "calibration_chart", "charts_for", "confusion_chart", "fairness_chart",
    "figure_png", "latency_chart", "per_class_chart", "residuals_chart", "roc_chart",
    "score_distribution_chart", "segment_chart", "shap_importance_chart", "shap_local_chart",
]

LOCAL_CHARTS = 3  # local explanations drawn per record; the rest are listed in tables
MAX_CLASSES_ANNOTATED = 10


def _points(xs: Any, ys: Any) -> tuple[list[float], list[float]]:
    """Pairs where both values are finite numbers (None marks an empty bin)."""
    pairs = [(number(x), number(y)) for x, y in zip(xs or [], ys or [])]
    kept = [(x, y) for x, y in pairs if x is not None and y is not None]
    return [x for x, _ in kept], [y for _, y in kept]


# -- binary classification ---------------------------------------------------------------------
def roc_chart(metrics: dict) -> Any:
    """ROC curve from ``metrics["roc_curve"]`` with the chance diagonal and the AUC."""
    fig = new_figure(SQUARE, "ROC curve")
    ax = fig.add_subplot()
    style_axes(ax, "False positive rate (share of negatives flagged)",
               "True positive rate (share of positives caught)", grid="both")
    curve = metrics.get("roc_curve") or {}
    fpr, tpr = _points(curve.get("fpr"), curve.get("tpr"))
    ax.plot([0, 1], [0, 1], linestyle="--", color=LIGHT, linewidth=1, label="Chance (AUC 0.5)")
    if fpr:
        ax.plot(fpr, tpr, color=BLUE, linewidth=1.8,
                label=f"Model (AUC {fmt_metric('roc_auc', metrics.get('roc_auc'))})")
        legend(ax, loc="lower right")
    else:
        empty_message(ax, "No ROC curve recorded")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    gini, ks = fmt_metric("gini", metrics.get("gini")), fmt_metric("ks", metrics.get("ks"))
    note(ax, f"{fmt_number(metrics.get('n'))} rows · Gini {gini} · KS {ks}")
    return fig


def calibration_chart(metrics: dict) -> Any:
    """Observed positive rate against mean predicted score per bin, and rows per bin below."""
    fig = new_figure(TALL, "Calibration (reliability)")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    style_axes(top, None, "Observed positive rate", grid="both")
    style_axes(bottom, "Mean predicted probability in bin", "Rows", grid="y")
    cal = metrics.get("calibration") or {}
    xs, ys = _points(cal.get("mean_predicted"), cal.get("observed_rate"))
    top.plot([0, 1], [0, 1], linestyle="--", color=LIGHT, linewidth=1, label="Perfect calibration")
    if xs:
        top.plot(xs, ys, color=BLUE, linewidth=1.5, marker="o", markersize=4, label="Model")
        legend(top, loc="upper left")
    else:
        empty_message(top, "No calibration bins recorded")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    edges = [number(e) for e in cal.get("bin_edges") or []]
    counts = [number(c) or 0 for c in cal.get("count") or []]
    if len(edges) == len(counts) + 1 and None not in edges and counts:
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        bottom.bar(edges[:-1], counts, width=widths, align="edge", color=SERIES[3],
                   edgecolor="white", linewidth=0.5)
    total = len(cal.get("count") or [])
    note(top, f"{cal.get('strategy', 'uniform')} bins, {cal.get('nonempty_bins', len(xs))} of "
              f"{total} non-empty · Brier score {fmt_metric('brier', metrics.get('brier'))}")
    return fig


def score_distribution_chart(metrics: dict) -> Any:
    """Score histogram of each class (share of that class per bin) and the decision threshold."""
    fig = new_figure(WIDE, "Score distribution by class")
    ax = fig.add_subplot()
    label = metrics.get("positive_label")
    style_axes(ax, f"Score (predicted probability of {safe_text(label, 30)})",
               "Share of the class's rows (%)")
    dist = metrics.get("score_distribution") or {}
    edges = [number(e) for e in dist.get("bin_edges") or []]
    drawn = False
    for key, name, colour in (("negative", "Actual negative", ORANGE),
                              ("positive", "Actual positive", BLUE)):
        counts = [number(c) or 0.0 for c in dist.get(key) or []]
        if len(edges) != len(counts) + 1 or None in edges or not sum(counts):
            continue
        shares = [100.0 * c / sum(counts) for c in counts]
        ax.stairs(shares, edges, fill=True, color=colour, alpha=0.25)
        ax.stairs(shares, edges, color=colour, linewidth=1.5, label=name)
        drawn = True
    threshold = number(metrics.get("threshold"))
    if drawn:
        if threshold is not None:
            ax.axvline(threshold, color=INK, linestyle="--", linewidth=1,
                       label=f"Threshold {threshold:g}")
        ax.set_xlim(0, 1)
        ax.set_ylim(bottom=0)
        legend(ax, loc="upper center")
    else:
        empty_message(ax, "No score distribution recorded")
    counts = metrics.get("class_counts") or {}
    note(ax, f"{fmt_number(counts.get('positive'))} positive and "
             f"{fmt_number(counts.get('negative'))} negative rows · KS "
             f"{fmt_metric('ks', metrics.get('ks'))} at score "
             f"{fmt_metric('ks_score', metrics.get('ks_score'))}")
    return fig


def confusion_chart(metrics: dict) -> Any:
    """Confusion matrix: counts, coloured by the share of each actual class (row)."""
    conf = metrics.get("confusion") or {}
    if "matrix" in conf:
        labels = [str(v) for v in conf.get("labels") or []]
        matrix = [[number(c) or 0 for c in row] for row in conf.get("matrix") or []]
    else:
        pos = metrics.get("positive_label")
        labels = ["Negative", f"Positive ({pos})" if pos is not None else "Positive"]
        matrix = [[number(conf.get(k)) or 0 for k in row] for row in (("tn", "fp"), ("fn", "tp"))]
    k = len(matrix)
    fig = new_figure(SQUARE if k <= 3 else TALL, "Confusion matrix")
    ax = fig.add_subplot()
    style_axes(ax, "Predicted class", "Actual class", grid=None)
    if not k or any(len(row) != k for row in matrix) or len(labels) != k:
        empty_message(ax, "No confusion matrix recorded")
        return fig
    shares = [[c / sum(row) if sum(row) else 0.0 for c in row] for row in matrix]
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ticks = [safe_text(v, 16) for v in labels]
    ax.set_xticks(range(k), ticks, rotation=30 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), ticks)
    if k <= MAX_CLASSES_ANNOTATED:
        for i in range(k):
            for j in range(k):
                text = f"{int(matrix[i][j]):,}\n({shares[i][j] * 100:.1f} %)"
                ax.text(j, i, text, ha="center", va="center", fontsize=8 if k <= 4 else 6.5,
                        color="white" if shares[i][j] > 0.55 else INK)
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("Share of the actual class (row)", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    total = sum(sum(row) for row in matrix)
    threshold = metrics.get("threshold")
    note(ax, f"{fmt_number(int(total))} rows" + (f" · threshold {threshold:g}"
                                                if number(threshold) is not None else ""))
    return fig


def per_class_chart(metrics: dict, max_classes: int = 20) -> Any:
    """Precision, recall and F1 of each class (multiclass), side by side."""
    fig = new_figure(WIDE, "Precision, recall and F1 per class")
    ax = fig.add_subplot()
    style_axes(ax, "Class", "Score (0 to 1)")
    rows = list(metrics.get("per_class") or [])[:max_classes]
    if not rows:
        empty_message(ax, "No per-class metrics recorded")
        return fig
    width = 0.26
    for offset, (key, colour) in enumerate((("precision", BLUE), ("recall", ORANGE),
                                            ("f1", SERIES[2]))):
        xs = [i + (offset - 1) * width for i in range(len(rows))]
        values = [number(r.get(key)) for r in rows]
        ax.bar([x for x, v in zip(xs, values) if v is not None],
               [v for v in values if v is not None], width=width, color=colour,
               label=metric_label(key))
    ax.set_xticks(range(len(rows)), [safe_text(r.get("label"), 14) for r in rows],
                  rotation=30 if len(rows) > 6 else 0, ha="right" if len(rows) > 6 else "center")
    ax.set_ylim(0, 1.2)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    legend(ax, loc="upper right", ncols=3)
    shown = len(metrics.get("per_class") or [])
    note(ax, f"{shown} classes" + (f", first {max_classes} shown" if shown > max_classes else "")
         + f" · macro F1 {fmt_metric('macro_f1', metrics.get('macro_f1'))}")
    return fig


# -- regression --------------------------------------------------------------------------------
def residuals_chart(metrics: dict, target: str | None = None) -> Any:
    """Residuals (actual minus predicted) against predictions, and the residual histogram."""
    fig = new_figure(WIDE, "Residuals")
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    unit = f"{safe_text(target, 24)} units" if target else "target units"
    style_axes(left, f"Predicted value ({unit})", "Residual (actual − predicted)", grid="both")
    style_axes(right, "Residual (actual − predicted)", "Rows")
    points = metrics.get("residual_points") or {}
    xs, ys = _points(points.get("predicted"), points.get("residual"))
    if xs:
        left.scatter(xs, ys, s=5, color=BLUE, alpha=0.35, linewidths=0, rasterized=False)
        left.axhline(0, color=INK, linewidth=0.8)
    else:
        empty_message(left, "No residual points recorded")
    hist = metrics.get("residual_histogram") or {}
    edges = [number(e) for e in hist.get("bin_edges") or []]
    counts = [number(c) or 0 for c in hist.get("counts") or []]
    if counts and len(edges) == len(counts) + 1 and None not in edges:
        right.stairs(counts, edges, fill=True, color=SKY_FILL)
        right.stairs(counts, edges, color=BLUE, linewidth=1)
        right.axvline(0, color=INK, linewidth=0.8)
    else:
        empty_message(right, "No residual histogram recorded")
    note(left, f"{fmt_number(len(xs))} of {fmt_number(metrics.get('n'))} rows plotted · RMSE "
               f"{fmt_metric('rmse', metrics.get('rmse'))} · R² "
               f"{fmt_metric('r2', metrics.get('r2'))}")
    summary = metrics.get("residual_summary") or {}
    note(right, f"mean {fmt_number(summary.get('mean'))}, sd {fmt_number(summary.get('std'))}")
    return fig



# -- the list ----------------------------------------------------------------------------------
def charts_for(evidence: dict) -> list[tuple[str, str, Any]]:
    """``(key, title, Figure)`` for each chart that applies to an evaluation record, in order.

    Performance charts for the record's kind first, then one segment chart per segmented
    feature, SHAP global importance and up to :data:`LOCAL_CHARTS` local explanations (unless
    explanations were skipped), one fairness chart per sensitive feature, and latency. A part
    absent from the record gives no chart. Raises nothing for malformed parts: a chart whose
    data is unusable draws a note saying so.
    """
    kind = evidence.get("kind")
    metrics = evidence.get("metrics") or {}
    out: list[tuple[str, str, Any]] = []
    if kind == "binary":
        if metrics.get("roc_curve"):
            out.append(("roc", "ROC curve", roc_chart(metrics)))
        if metrics.get("calibration"):
            out.append(("calibration", "Calibration", calibration_chart(metrics)))
        if metrics.get("score_distribution"):
            out.append(("score_distribution", "Score distribution by class",
                        score_distribution_chart(metrics)))
        if metrics.get("confusion"):
            out.append(("confusion", "Confusion matrix", confusion_chart(metrics)))
    elif kind == "multiclass":
        if metrics.get("confusion"):
            out.append(("confusion", "Confusion matrix", confusion_chart(metrics)))
        if metrics.get("per_class"):
            out.append(("per_class", "Precision, recall and F1 per class",
                        per_class_chart(metrics)))
    elif kind == "regression" and (metrics.get("residual_points") or
                                   metrics.get("residual_histogram")):
        target = (evidence.get("holdout") or {}).get("target")
        out.append(("residuals", "Residuals", residuals_chart(metrics, target)))
    segments = evidence.get("segments") or {}
    metric = segments.get("metric") or ("rmse" if kind == "regression" else "roc_auc")
    for feature, entries in (segments.get("features") or {}).items():
        if entries:
            title = f"{metric_label(metric)} by {feature}"
            out.append((f"segment:{feature}", title, segment_chart(
                entries, metric, weakest=segments.get("weakest"), overall=metrics.get(metric))))
    explanations = evidence.get("explanations")
    if isinstance(explanations, dict) and not explanations.get("skipped"):
        if explanations.get("global_importance"):
            out.append(("shap_global", "Global feature importance (SHAP)",
                        shap_importance_chart(explanations)))
        for local in (explanations.get("local") or [])[:LOCAL_CHARTS]:
            row = local.get("row")
            out.append((f"shap_local:{row}", f"Local explanation of holdout row {row}",
                        shap_local_chart(local, explanations.get("output"))))
    fairness = evidence.get("fairness")
    if isinstance(fairness, dict) and not fairness.get("skipped"):
        for feature, report in (fairness.get("features") or {}).items():
            out.append((f"fairness:{feature}", f"Fairness by {feature}",
                        fairness_chart(feature, report)))
    latency = evidence.get("latency")
    if isinstance(latency, dict) and ("single_row_ms" in latency or "batch" in latency):
        out.append(("latency", "Latency profile", latency_chart(latency)))
    return out


def figure_png(fig: Any, dpi: int = 150) -> bytes:
    """The Figure as PNG bytes, rendered through Agg, with no software or time metadata.

    A Figure freshly built from a record always gives the same bytes (the PDF relies on it).
    Constrained layout refines colorbars and figure-level labels on a later draw, so a Figure
    drawn before (by a screen, or at another dpi) may differ by a pixel's worth of layout.
    ``savefig`` switches canvas only for the call: a Figure embedded in a Qt canvas stays
    attached to it. A character missing from the font is drawn as a box without a warning: user
    text (segment labels, feature names) may be in any script.
    """
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                    facecolor="white")
    return buffer.getvalue()

