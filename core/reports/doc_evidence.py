"""Section 4 of the documentation (performance and outcomes), read from the evaluation
record, and the helpers the other evidence sections share (see ``doc_analysis``).

Each function appends to a :class:`core.reports.pdf_kit.Story`; ``charts`` maps chart keys (see
:mod:`core.reports.charts`) to ``(title, png, size)``. A part missing from the record is said
to be missing, never guessed.
"""

from __future__ import annotations

from typing import Any

from core.entities_registry import ModelVersion
from core.reports.formatting import (
    fmt_metric,
    fmt_number,
    fmt_percent,
    is_number,
    metric_label,
)
from core.reports.pdf_kit import (
    FAIL,
    MARK_FILL,
    MUTED,
    PASS,
    Story,
    esc,
    fmt_time,
    kv_table,
    p,
    table,
)

EVALUATE_HINT = ("charter evaluate MODEL@VERSION [--holdout FILE] [--sensitive COLUMN ...], or "
                 "Validate... on the version in the console")
PERFORMANCE_CHARTS = ("roc", "calibration", "score_distribution", "confusion", "per_class",
                      "residuals")
HEADLINE = {
    "binary": ("roc_auc", "gini", "ks", "accuracy", "precision", "recall", "f1", "log_loss",
               "brier"),
    "multiclass": ("accuracy", "macro_precision", "macro_recall", "macro_f1", "log_loss",
                   "roc_auc_ovr_macro"),
    "regression": ("rmse", "mae", "mape", "r2"),
}
SEGMENT_COLUMNS = {
    "binary": ("roc_auc", "ks", "accuracy", "positive_rate"),
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "regression": ("rmse", "mae", "mape", "r2"),
}
MEANING = {
    "roc_auc": "Chance a random positive scores above a random negative (0.5 = no skill)",
    "gini": "2 × ROC AUC − 1",
    "ks": "Largest gap between the two classes' cumulative score distributions",
    "accuracy": "Share of rows classified correctly",
    "precision": "Share of predicted positives that are positive",
    "recall": "Share of actual positives predicted positive (true positive rate)",
    "f1": "Harmonic mean of precision and recall",
    "log_loss": "Penalty for confident wrong probabilities; lower is better",
    "brier": "Mean squared error of the predicted probabilities; lower is better",
    "macro_precision": "Precision averaged over classes, each class weighted equally",
    "macro_recall": "Recall averaged over classes, each class weighted equally",
    "macro_f1": "F1 averaged over classes, each class weighted equally",
    "roc_auc_ovr_macro": "Each class against the rest, averaged; n/a if a class is absent",
    "rmse": "Root mean squared error, in target units; lower is better",
    "mae": "Mean absolute error, in target units; lower is better",
    "mape": "Mean absolute error relative to the target (non-zero targets only)",
    "r2": "Share of the target's variance explained (1 = perfect, 0 = the mean)",
}


def no_evidence(story: Story) -> None:
    story.marker("No evaluation recorded yet. Run one with: " + esc(EVALUATE_HINT))


def charts_into(story: Story, charts: dict, keys: Any) -> None:
    for key in keys:
        if key in charts:
            _title, png, size = charts[key]
            story.chart(png, size)


def result_cell(s: dict, passed: Any) -> Any:
    if passed is True:
        return p(f'<font color="{PASS}"><b>PASS</b></font>', s["cell"])
    if passed is False:
        return p(f'<font color="{FAIL}"><b>FAIL</b></font>', s["cell"])
    return p(f'<font color="{MUTED}"><b>NOT ASSESSED</b></font>', s["cell"])


def gate_verdict(s: dict, gates: dict) -> Any:
    """One-line verdict of the record's acceptance gates, coloured."""
    results = gates.get("results") or []
    if not results:
        return p("no gates apply", s["cell"])
    failed = sum(1 for r in results if r.get("passed") is False)
    unknown = sum(1 for r in results if r.get("passed") is None)
    tier = gates.get("tier_used", gates.get("tier"))
    where = f" (tier {tier} thresholds)" if tier is not None else ""
    if failed:
        text = f'<font color="{FAIL}"><b>FAILED</b></font> – {failed} of {len(results)} failed'
    elif unknown:
        text = (f'<font color="{MUTED}"><b>INCOMPLETE</b></font> – {unknown} of {len(results)} '
                "not assessed")
    else:
        text = f'<font color="{PASS}"><b>PASSED</b></font> – all {len(results)} passed'
    return p(text + where, s["cell"])


# -- 4 performance -----------------------------------------------------------------------------
def performance(story: Story, ev: dict | None, version: ModelVersion, charts: dict) -> None:
    story.heading("4 Performance and outcomes analysis")
    if not ev:
        no_evidence(story)
        return
    kind, metrics = ev.get("kind"), ev.get("metrics") or {}
    hold = ev.get("holdout") or {}
    story.text(f"Measured on the holdout {hold.get('name', '(unnamed)')} "
               f"({fmt_number(hold.get('rows'))} rows, SHA-256 {str(hold.get('sha256'))[:12]}…), "
               f"target {hold.get('target')}, {kind} model; evaluation recorded "
               f"{fmt_time(ev.get('created_at'))}.")
    story.heading("4.1 Headline metrics", 1)
    _headline(story, kind, metrics, version)
    mark = story.mark()
    story.heading("4.2 Acceptance gates", 1)
    _gates(story, ev.get("gates") or {})
    story.keep(mark)
    perf = [k for k in PERFORMANCE_CHARTS if k in charts]
    if perf:
        story.heading("4.3 Charts", 1)
        charts_into(story, charts, perf)
    story.heading("4.4 Segment analysis", 1)
    _segments(story, kind, ev.get("segments") or {}, charts)


def _headline(story: Story, kind: str | None, metrics: dict, version: ModelVersion) -> None:
    s = story.s
    reported = version.metrics if isinstance(version.metrics, dict) else {}
    keys = [k for k in HEADLINE.get(kind or "", ()) if k in metrics]
    with_reported = any(k in reported for k in keys)
    header = ["Metric", "Holdout value"] + (["Reported at import"] if with_reported else [])
    rows = [header + ["What it measures"]]
    for k in keys:
        value = fmt_metric(k, metrics.get(k))
        if k == "ks" and is_number(metrics.get("ks_score")):
            value += f" (at score {fmt_number(metrics['ks_score'])})"
        row = [metric_label(k), value]
        if with_reported:
            row.append(fmt_metric(k, reported.get(k)) if k in reported else "–")
        rows.append(row + [MEANING.get(k, "")])
    widths = [0.2, 0.2, 0.16, 0.44] if with_reported else [0.22, 0.22, 0.56]
    story.add(table(rows, widths, s))
    facts = [f"{fmt_number(metrics.get('n'))} rows evaluated"]
    if kind == "binary":
        counts = metrics.get("class_counts") or {}
        facts.append(f"positive label {metrics.get('positive_label')!s}, decision threshold "
                     f"{metrics.get('threshold')}")
        facts.append(f"positive rate {fmt_percent(counts.get('positive_rate'))}")
        c = metrics.get("confusion") or {}
        if c:
            facts.append(f"at the threshold: TP {fmt_number(c.get('tp'))}, FP "
                         f"{fmt_number(c.get('fp'))}, FN {fmt_number(c.get('fn'))}, TN "
                         f"{fmt_number(c.get('tn'))}")
    if kind == "regression" and metrics.get("mape_excluded_zero_targets"):
        facts.append(f"MAPE leaves out {fmt_number(metrics['mape_excluded_zero_targets'])} rows "
                     "with a zero target")
    story.text("; ".join(facts) + ".", "small")
    if kind == "multiclass" and metrics.get("per_class"):
        rows = [["Class", "Precision", "Recall", "F1", "Support"]]
        rows += [[str(r.get("label")), fmt_metric("precision", r.get("precision")),
                  fmt_metric("recall", r.get("recall")), fmt_metric("f1", r.get("f1")),
                  fmt_number(r.get("support"))] for r in metrics["per_class"]]
        story.add(table(rows, [0.32, 0.17, 0.17, 0.17, 0.17], s, numeric=(1, 2, 3, 4)))
    if kind == "regression" and metrics.get("residual_summary"):
        summary = metrics["residual_summary"]
        quantiles = summary.get("quantiles") or {}
        rows = [["Residual (actual − predicted)", "Value"],
                ["Mean", fmt_number(summary.get("mean"))],
                ["Standard deviation", fmt_number(summary.get("std"))]]
        rows += [[f"Quantile {q}", fmt_number(v)] for q, v in quantiles.items()]
        story.add(table(rows, [0.4, 0.25], s, numeric=(1,)))


def _gates(story: Story, gates: dict) -> None:
    s = story.s
    results = gates.get("results") or []
    if not results:
        story.text("No acceptance gates apply to this record.")
        return
    story.add(kv_table([("Overall", gate_verdict(s, gates))], s, key_width=0.2))
    if gates.get("note"):
        story.marker(esc(gates["note"]))
    rows = [["Gate", "Rule", "Value", "Result", "Note"]]
    for r in results:
        op = {">=": "≥", "<=": "≤"}.get(r.get("op"), r.get("op") or "")
        rows.append([r.get("label") or r.get("gate", ""), f"{op} {fmt_number(r.get('threshold'))}",
                     fmt_number(r.get("value")), result_cell(s, r.get("passed")),
                     r.get("note") or ""])
    story.add(table(rows, [0.34, 0.11, 0.11, 0.14, 0.3], s, numeric=(1, 2)))


def _segments(story: Story, kind: str | None, segments: dict, charts: dict) -> None:
    from reportlab.lib import colors

    from core.validation.segments import LOWER_IS_BETTER

    s = story.s
    per_feature = segments.get("features") or {}
    metric = segments.get("metric") or ""
    if not per_feature:
        story.text("No segment analysis recorded.")
        return
    weakest = segments.get("weakest") or []
    if weakest:
        named = "; ".join(f"{w.get('feature')} = {w.get('segment')} ({fmt_number(w.get('count'))} "
                          f"rows): {fmt_metric(metric, w.get('value'))}" for w in weakest)
        story.markup(f"<b>Weakest segments on {esc(metric_label(metric))}</b> (worst first): "
                     f"{esc(named)}.")
    columns = [metric] + [c for c in SEGMENT_COLUMNS.get(kind or "", ()) if c != metric]
    for feature, entries in per_feature.items():
        mark = story.mark()
        story.heading(f"Segments of {feature}", 2)
        rated = [(e, (e.get("metrics") or {}).get(metric)) for e in entries]
        values = [v for _, v in rated if is_number(v)]
        worst = (max(values) if metric in LOWER_IS_BETTER else min(values)) if values else None
        rows = [["Segment", "Rows"] + [metric_label(c) for c in columns] + ["Note"]]
        marks = []
        for i, (e, v) in enumerate(rated, start=1):
            m = e.get("metrics") or {}
            rows.append([str(e.get("segment")), fmt_number(e.get("count"))]
                        + [fmt_metric(c, m.get(c)) if m else "–" for c in columns]
                        + [e.get("note") or ""])
            if worst is not None and v == worst:
                marks.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor(MARK_FILL)))
        n = len(columns)
        metric_w = min(0.13, 0.52 / n)
        widths = [0.24, 0.09] + [metric_w] * n + [1 - 0.33 - metric_w * n]
        story.add(table(rows, widths, s, numeric=tuple(range(1, 2 + n)), extra=marks))
        story.text("Highlighted: the feature's weakest segment on "
                   f"{metric_label(metric)}.", "small")
        charts_into(story, charts, [f"segment:{feature}"])
        story.keep(mark)
