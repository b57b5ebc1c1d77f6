"""Charts of the analysis parts of an evaluation record: segments, SHAP, fairness, latency.

Public through :mod:`core.reports.charts`; see there for the chart keys.
"""

from __future__ import annotations

from typing import Any

from core.reports.chart_style import (
    BLUE,
    FONT,
    GREY,
    INK,
    LIGHT,
    ORANGE,
    SHORT,
    TALL,
    VERMILLION,
    WIDE,
    empty_message,
    new_figure,
    note,
    number,
    safe_text,
    style_axes,
)
from core.reports.formatting import fmt_metric, fmt_number, metric_label, shorten

BOUNDED = frozenset({"roc_auc", "accuracy", "precision", "recall", "f1", "positive_rate", "ks",
                     "brier"})


def _tick_size(n: int) -> float:
    return FONT if n <= 10 else 7.0 if n <= 16 else 6.0


def _bar_size(rows: int) -> tuple[float, float]:
    """One of three fixed sizes for a horizontal bar chart of ``rows`` bars."""
    return SHORT if rows <= 6 else WIDE if rows <= 12 else TALL


def segment_chart(entries: list[dict], metric: str, *, weakest: list[dict] | None = None,
                  overall: Any = None, max_segments: int = 20) -> Any:
    """``metric`` for each segment of one feature as horizontal bars, the worst in vermillion.

    ``entries`` are :func:`core.validation.segments.segment_metrics` items for one feature. The
    worst evaluated segment of the feature is highlighted (lowest value, or highest for error
    metrics); segments listed in ``weakest`` (the record's weakest across features) are marked.
    ``overall`` draws the whole-holdout value as a dashed line. Segments without metrics are
    listed with their note.
    """
    from core.validation.segments import LOWER_IS_BETTER

    feature = entries[0].get("feature", "") if entries else ""
    shown = entries[:max_segments]
    fig = new_figure(_bar_size(len(shown)), f"{metric_label(metric)} by {shorten(feature, 40)}")
    ax = fig.add_subplot()
    style_axes(ax, metric_label(metric), None, grid="x")
    if not shown:
        empty_message(ax, "No segments recorded")
        return fig
    values = [number((e.get("metrics") or {}).get(metric)) for e in shown]
    rated = [v for v in values if v is not None]
    worst = (max(rated) if metric in LOWER_IS_BETTER else min(rated)) if rated else None
    flagged = {str(w.get("segment")) for w in weakest or []
               if w.get("feature") == feature and w.get("metric") == metric}
    positions = list(range(len(shown)))
    colours = [VERMILLION if v is not None and v == worst else BLUE for v in values]
    ax.barh([p for p, v in zip(positions, values) if v is not None], rated,
            color=[c for c, v in zip(colours, values) if v is not None], height=0.65)
    top = max(rated + [number(overall) or 0.0, 0.0])
    span = 1.0 if metric in BOUNDED and top <= 1.0 else (top or 1.0) * 1.15
    for p, v, entry in zip(positions, values, shown):
        if v is not None and v >= span * 0.2:  # inside the bar's end, clear of the line
            ax.text(v - span * 0.01, p, fmt_metric(metric, v), va="center", ha="right",
                    fontsize=7, color="white", fontweight="bold")
        elif v is not None:
            ax.text(v + span * 0.01, p, fmt_metric(metric, v), va="center", fontsize=7,
                    color=INK)
        else:
            reason = entry.get("note") or "not evaluated"
            ax.text(span * 0.01, p, safe_text(f"not evaluated: {reason}", 70), va="center",
                    fontsize=7, color=GREY, style="italic")
    labels = []
    for entry in shown:
        mark = " ◆" if str(entry.get("segment")) in flagged else ""
        labels.append(f"{safe_text(entry.get('segment'), 26)} (n={entry.get('count', 0):,}){mark}")
    ax.set_yticks(positions, labels, fontsize=_tick_size(len(shown)))
    ax.invert_yaxis()
    ax.set_xlim(0, span * 1.12)
    text = "Vermillion: weakest here"
    if number(overall) is not None:
        ax.axvline(float(overall), color=INK, linestyle="--", linewidth=1, zorder=0.9)
        text += f" · dashed: whole holdout {fmt_metric(metric, overall)}"
    if flagged:
        text += " · ◆ weakest overall"
    if len(entries) > max_segments:
        text += f" · {max_segments} of {len(entries)} shown"
    note(ax, text)
    return fig


def shap_importance_chart(explanations: dict, top: int = 15) -> Any:
    """Mean absolute SHAP value of the ``top`` most important features, largest at the top."""
    items = [(i.get("feature"), number(i.get("mean_abs_shap")))
             for i in explanations.get("global_importance") or []]
    items = [(f, v) for f, v in items if v is not None][:top]
    fig = new_figure(_bar_size(len(items)), "Global feature importance (mean |SHAP|)")
    ax = fig.add_subplot()
    output = explanations.get("output") or "model output"
    style_axes(ax, f"Mean |SHAP value| ({safe_text(output, 50)})", None, grid="x")
    if not items:
        empty_message(ax, "No global importance recorded")
        return fig
    positions = list(range(len(items)))
    ax.barh(positions, [v for _, v in items], color=BLUE, height=0.65)
    span = max(v for _, v in items) or 1.0
    for p, (_, v) in zip(positions, items):
        ax.text(v + span * 0.01, p, fmt_number(v), va="center", fontsize=7, color=INK)
    ax.set_yticks(positions, [safe_text(f, 32) for f, _ in items], fontsize=_tick_size(len(items)))
    ax.invert_yaxis()
    ax.set_xlim(0, span * 1.15)
    total = len(explanations.get("global_importance") or [])
    rows = explanations.get("sample_rows")
    text = f"{explanations.get('method', '?')} explainer on {fmt_number(rows)} rows"
    if total > top:
        text += f" · top {top} of {total} features"
    if explanations.get("approximate"):
        text += " · approximate"
    note(ax, text)
    return fig


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return shorten(value, 18)


def shap_local_chart(local: dict, output: str | None = None, top: int = 10) -> Any:
    """One row's explanation as a waterfall: from the base value, each feature's SHAP value.

    The ``top`` largest contributions are drawn; the rest are summed into one bar. Bars pushing
    the output up are vermillion, down blue. The bar chain ends at base value + sum of SHAP
    values, which equals the prediction in the explainer's output units.
    """
    row = local.get("row")
    contributions = [c for c in local.get("contributions") or []
                     if number(c.get("shap")) is not None]
    bars = min(len(contributions), top) + (1 if len(contributions) > top else 0)
    fig = new_figure(_bar_size(bars), f"Local explanation: holdout row {row}")
    ax = fig.add_subplot()
    style_axes(ax, f"Model output ({safe_text(output or 'model output', 50)})", None, grid="x")
    base = number(local.get("base_value"))
    if not contributions or base is None:
        empty_message(ax, "No contributions recorded for this row")
        return fig
    items = [(f"{safe_text(c.get('feature'), 24)} = {safe_text(_value_text(c.get('value')))}",
              float(c["shap"])) for c in contributions[:top]]
    rest = contributions[top:]
    if rest:
        items.append((f"{len(rest)} other features", sum(float(c["shap"]) for c in rest)))
    n = len(items)
    start = base
    lefts: list[float] = [0.0] * n
    for i in range(n - 1, -1, -1):  # the chain runs bottom (smallest) to top (largest)
        lefts[i] = start
        start += items[i][1]
    end = start
    widths = [v for _, v in items]
    colours = [VERMILLION if v >= 0 else BLUE for v in widths]
    ax.barh(range(n), widths, left=lefts, color=colours, height=0.6)
    lo = min([base, end] + [lefts[i] + min(0.0, widths[i]) for i in range(n)])
    hi = max([base, end] + [lefts[i] + max(0.0, widths[i]) for i in range(n)])
    pad = (hi - lo) * 0.18 or 1.0
    for i, v in enumerate(widths):
        x = lefts[i] + v
        ax.text(x + (pad * 0.04 if v >= 0 else -pad * 0.04), i, f"{v:+.3g}", va="center",
                ha="left" if v >= 0 else "right", fontsize=7, color=INK)
    ax.axvline(base, color=GREY, linestyle="--", linewidth=1, zorder=0.9)
    ax.axvline(end, color=INK, linewidth=1, zorder=0.9)
    ax.set_yticks(range(n), [label for label, _ in items], fontsize=_tick_size(n))
    ax.invert_yaxis()
    ax.set_xlim(lo - pad, hi + pad)
    note(ax, f"Dashed: base value {base:.4g} · solid: base + ΣSHAP {end:.4g} · recorded "
             f"prediction {fmt_number(number(local.get('prediction')))}")
    fig.supxlabel("Vermillion raises the output, blue lowers it; the chain runs from the base "
                  "value (bottom) to the row's output (top).", fontsize=7, color=GREY)
    return fig


def fairness_chart(feature: str, report: dict, max_groups: int = 12) -> Any:
    """Selection rate, TPR and FPR of each group of one sensitive feature.

    The selection-rate panel draws the four-fifths line (0.8 x the reference group's rate) and
    colours groups below it vermillion. An undefined TPR/FPR (a group without positives or
    negatives) is written as n/a.
    """
    groups = list(report.get("groups") or [])[:max_groups]
    fig = new_figure(_bar_size(len(groups)), f"Fairness by {shorten(feature, 40)}")
    axes = fig.subplots(1, 3, sharey=True)
    four = report.get("four_fifths") or {}
    rates = [number(g.get("selection_rate")) for g in groups]
    reference = next((number(g.get("selection_rate")) for g in groups
                      if str(g.get("group")) == str(four.get("reference_group"))), None)
    if reference is None and any(r is not None for r in rates):
        reference = max(r for r in rates if r is not None)
    line = 0.8 * reference if reference is not None else None
    panels = (("selection_rate", "Selection rate"), ("tpr", "True positive rate"),
              ("fpr", "False positive rate"))
    positions = list(range(len(groups)))
    for ax, (key, label) in zip(axes, panels):
        style_axes(ax, None, None, grid="x")
        ax.set_title(label, fontsize=FONT, color=INK, loc="left")
        ax.set_xlim(0, 1.0)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        if not groups:
            empty_message(ax, "No groups")
            continue
        for p, g in zip(positions, groups):
            v = number(g.get(key))
            if v is None:
                ax.text(0.02, p, "n/a", va="center", fontsize=7, color=GREY, style="italic")
                continue
            below = key == "selection_rate" and line is not None and v < line
            ax.barh(p, v, color=VERMILLION if below else (BLUE if key != "fpr" else ORANGE),
                    height=0.65)
            # Near the end of the axis the label goes inside the bar, in white, to stay legible.
            inside = v >= 0.85
            ax.text(v - 0.02 if inside else v + 0.02, p, f"{v:.2f}", va="center", fontsize=6.5,
                    color="white" if inside else INK, ha="right" if inside else "left")
        if key == "selection_rate" and line is not None:
            ax.axvline(line, color=INK, linestyle="--", linewidth=1)
    if groups:
        axes[0].set_yticks(positions, [f"{safe_text(g.get('group'), 18)} (n={g.get('count', 0):,})"
                                       for g in groups], fontsize=_tick_size(len(groups)))
        axes[0].invert_yaxis()
    verdict = "passed" if four.get("passed") else "FLAGGED" if four else "not computed"
    text = (f"Dashed line: four-fifths of {safe_text(four.get('reference_group'), 20)}'s "
            f"selection rate · rule {verdict} (ratio {fmt_number(number(four.get('ratio')))})"
            f" · DP difference {fmt_number(number(report.get('demographic_parity_difference')))}"
            f" · EO difference {fmt_number(number(report.get('equalized_odds_difference')))}")
    fig.supxlabel(text, fontsize=7, color=GREY)
    if len(report.get("groups") or []) > max_groups:
        axes[2].text(1.0, -0.2, f"first {max_groups} groups shown", transform=axes[2].transAxes,
                     ha="right", fontsize=7, color=GREY)
    return fig


def latency_chart(latency: dict) -> Any:
    """Single-row latency percentiles in milliseconds, with batch throughput in the note."""
    fig = new_figure(SHORT, "Latency profile")
    ax = fig.add_subplot()
    style_axes(ax, None, "Single-row latency (ms)")
    single = latency.get("single_row_ms") or {}
    keys = (("p50", "median (p50)"), ("p95", "p95"), ("p99", "p99"), ("mean", "mean"))
    values = [number(single.get(k)) for k, _ in keys]
    if all(v is None for v in values):
        empty_message(ax, "No single-row timings recorded")
    else:
        positions = range(len(keys))
        ax.bar([p for p, v in zip(positions, values) if v is not None],
               [v for v in values if v is not None], color=[BLUE, BLUE, BLUE, LIGHT][:4],
               width=0.55)
        top = max(v for v in values if v is not None) or 1.0
        for p, v in zip(positions, values):
            ax.text(p, (v or 0) + top * 0.02, "n/a" if v is None else f"{v:.3g} ms",
                    ha="center", va="bottom", fontsize=7, color=INK)
        ax.set_xticks(list(positions), [label for _, label in keys])
        ax.set_ylim(0, top * 1.2)
    batch = latency.get("batch") or {}
    rate = number(batch.get("rows_per_s"))
    text = (f"{fmt_number(single.get('runs'))} single-row calls · batch throughput "
            + (f"{rate:,.0f} rows/s" if rate is not None else "not measured")
            + f" ({fmt_number(batch.get('batch_size'))} rows × {fmt_number(batch.get('runs'))}"
              " runs)")
    if latency.get("cut_short"):
        text += " · cut short by the time budget"
    note(ax, text)
    return fig
