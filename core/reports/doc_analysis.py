"""Sections 5 (sensitivity and explanations) and 6 (fairness) of the documentation, and its
appendices (latency, warnings, evaluation settings), read from the evaluation record.
"""

from __future__ import annotations

from typing import Any

from core.reports.doc_evidence import EVALUATE_HINT, charts_into, no_evidence, result_cell
from core.reports.formatting import fmt_number, fmt_percent, is_number
from core.reports.pdf_kit import FAIL, Story, esc, fmt_time, kv_table, p, table

MAX_IMPORTANCE_ROWS = 30
LOCAL_CONTRIBUTIONS = 8


# -- 5 explanations ----------------------------------------------------------------------------
def explanations(story: Story, ev: dict | None, charts: dict) -> None:
    story.heading("5 Sensitivity and explanations")
    if not ev:
        no_evidence(story)
        return
    ex = ev.get("explanations")
    if not isinstance(ex, dict):
        story.marker("No explanations recorded in this evaluation.")
        return
    if ex.get("skipped"):
        story.marker("Not computed: " + esc(ex["skipped"]) + " Re-run the evaluation with "
                     "explanations (and a larger time budget if it ran out).")
        return
    s = story.s
    approx = ex.get("approximate")
    story.add(kv_table([
        ("Method", f"{ex.get('method', '?')} ({ex.get('explainer', '?')})"),
        ("Output explained", str(ex.get("output", "?"))),
        ("Rows explained", f"{fmt_number(ex.get('sample_rows'))} of "
                           f"{fmt_number(ex.get('requested_rows'))} requested, against "
                           f"{fmt_number(ex.get('background_rows'))} background rows"),
        ("Approximate", ("yes – " + str(ex.get("approximation_note") or "see the method"))
         if approx else "no"),
        ("SHAP version, seed", f"{ex.get('shap_version', '?')}, seed {ex.get('seed', '?')}"),
        ("Time taken", f"{fmt_number(ex.get('elapsed_s'))} s"),
    ], s))
    if approx:
        story.marker("Approximate: " + esc(ex.get("approximation_note") or "the explainer's "
                                           "values are estimates"))
    story.text("SHAP values split the model's output for one row among its inputs, relative to "
               "the base value (the average output over the background rows). They describe "
               "how this model responds to its inputs – its sensitivity – not causal effects "
               "in the population.", "small")
    story.heading("5.1 Global importance", 1)
    importance = ex.get("global_importance") or []
    charts_into(story, charts, ["shap_global"])
    if importance:
        total = sum(i.get("mean_abs_shap") or 0 for i in importance) or 1.0
        rows = [["Rank", "Feature", "Mean |SHAP|", "Share of total"]]
        rows += [[str(n), i.get("feature", ""), fmt_number(i.get("mean_abs_shap")),
                  fmt_percent((i.get("mean_abs_shap") or 0) / total)]
                 for n, i in enumerate(importance[:MAX_IMPORTANCE_ROWS], start=1)]
        story.add(table(rows, [0.1, 0.5, 0.2, 0.2], s, numeric=(0, 2, 3)))
        if len(importance) > MAX_IMPORTANCE_ROWS:
            story.text(f"Top {MAX_IMPORTANCE_ROWS} of {len(importance)} features shown.", "small")
    story.heading("5.2 Local explanations", 1)
    local = ex.get("local") or []
    if not local:
        story.text("No individual rows were explained.")
    for item in local:
        row = item.get("row")
        mark = story.mark()
        story.heading(f"Holdout row {row}", 2)
        story.text(f"Prediction {fmt_number(item.get('prediction'))} ({ex.get('output', '')}); "
                   f"base value {fmt_number(item.get('base_value'))}.", "small")
        charts_into(story, charts, [f"shap_local:{row}"])
        contributions = item.get("contributions") or []
        rows = [["Feature", "Value", "SHAP"]]
        rows += [[c.get("feature", ""), _value(c.get("value")), f"{c.get('shap', 0):+.4g}"
                  if is_number(c.get("shap")) else "n/a"]
                 for c in contributions[:LOCAL_CONTRIBUTIONS]]
        story.add(table(rows, [0.45, 0.3, 0.25], s, numeric=(2,)))
        if len(contributions) > LOCAL_CONTRIBUTIONS:
            story.text(f"The {LOCAL_CONTRIBUTIONS} largest of {len(contributions)} "
                       "contributions.", "small")
        story.keep(mark)


# -- 6 fairness --------------------------------------------------------------------------------
def fairness(story: Story, ev: dict | None, charts: dict) -> None:
    story.heading("6 Fairness")
    if not ev:
        no_evidence(story)
        return
    fr = ev.get("fairness")
    if fr is None:
        story.marker("Not assessed: no sensitive feature was named for this evaluation. Re-run "
                     "it naming the protected attributes held in the holdout: "
                     + esc(EVALUATE_HINT))
        return
    if not isinstance(fr, dict) or fr.get("skipped"):
        reason = fr.get("skipped") if isinstance(fr, dict) else "no fairness report recorded"
        story.marker("Not assessed: " + esc(reason))
        return
    s = story.s
    story.text(f"Favourable decision: label {fr.get('favourable_label')!s} at threshold "
               f"{fr.get('threshold')}. Selection rate is the share of a group receiving the "
               "favourable decision; the four-fifths rule flags a group whose selection rate "
               "is below 80 % of the most-selected (reference) group's.")
    worst = fr.get("worst") or {}
    if worst:
        story.add(kv_table([
            ("Largest demographic parity difference",
             fmt_number(worst.get("demographic_parity_difference"))),
            ("Lowest demographic parity ratio", fmt_number(worst.get("demographic_parity_ratio"))),
            ("Largest equalized odds difference",
             fmt_number(worst.get("equalized_odds_difference"))),
            ("Four-fifths rule, all features", result_cell(s, worst.get("four_fifths_passed"))),
        ], s, key_width=0.4))
    for n, (feature, report) in enumerate((fr.get("features") or {}).items(), start=1):
        mark = story.mark()
        story.heading(f"6.{n} Sensitive feature: {feature}", 1)
        rows = [["Group", "Rows", "Selection rate", "TPR", "FPR", "Accuracy", "Note"]]
        rows += [[str(g.get("group")), fmt_number(g.get("count")),
                  fmt_number(g.get("selection_rate")), fmt_number(g.get("tpr")),
                  fmt_number(g.get("fpr")), fmt_number(g.get("accuracy")), g.get("note") or ""]
                 for g in report.get("groups") or []]
        story.add(table(rows, [0.2, 0.09, 0.12, 0.09, 0.09, 0.1, 0.31], s,
                        numeric=(1, 2, 3, 4, 5)))
        four = report.get("four_fifths") or {}
        verdict = ("passed" if four.get("passed") else
                   f"FLAGGED: {four.get('lowest_group')} is selected at "
                   f"{fmt_number(four.get('ratio'))} × the rate of {four.get('reference_group')}"
                   ) if four else "not computed"
        story.add(kv_table([
            ("Demographic parity difference",
             fmt_number(report.get("demographic_parity_difference"))),
            ("Demographic parity ratio", fmt_number(report.get("demographic_parity_ratio"))),
            ("Equalized odds difference", fmt_number(report.get("equalized_odds_difference"))),
            ("Four-fifths rule", p((f'<font color="{FAIL}"><b>{esc(verdict)}</b></font>'
                                    if four and not four.get("passed") else esc(verdict))
                                   + (f" (reference group {esc(four.get('reference_group'))})"
                                      if four.get("passed") else ""), s["cell"])),
        ], s, key_width=0.4))
        if report.get("note"):
            story.text(report["note"], "small")
        charts_into(story, charts, [f"fairness:{feature}"])
        story.keep(mark)


# -- appendices --------------------------------------------------------------------------------
def appendices(story: Story, ev: dict | None, evidence_sha256: str | None, charts: dict) -> None:
    s = story.s
    story.heading("Appendix A Latency profile")
    latency = (ev or {}).get("latency")
    if not ev:
        no_evidence(story)
    elif not isinstance(latency, dict):
        story.text("No latency profile recorded.")
    else:
        single, batch = latency.get("single_row_ms") or {}, latency.get("batch") or {}
        story.add(kv_table([
            ("Single row, median (p50)", _ms(single.get("p50"))),
            ("Single row, p95 / p99", f"{_ms(single.get('p95'))} / {_ms(single.get('p99'))}"),
            ("Single row, mean", _ms(single.get("mean"))),
            ("Single-row calls timed", fmt_number(single.get("runs"))),
            ("Batch throughput", f"{fmt_number(batch.get('rows_per_s'))} rows/s "
                                 f"({fmt_number(batch.get('batch_size'))} rows × "
                                 f"{fmt_number(batch.get('runs'))} runs)"),
            ("Time budget, elapsed", f"{fmt_number(latency.get('time_budget_s'))} s, "
                                     f"{fmt_number(latency.get('elapsed_s'))} s"
                                     + (" – cut short" if latency.get("cut_short") else "")),
        ], s, key_width=0.35))
        story.text("Measured on the evaluating workstation; serving hardware will differ.",
                   "small")
        charts_into(story, charts, ["latency"])
    story.heading("Appendix B Warnings recorded in the evidence")
    warnings = (ev or {}).get("warnings") or []
    if not ev:
        no_evidence(story)
    elif warnings:
        for w in warnings:
            story.markup("• " + esc(w))
    else:
        story.text("None recorded.")
    mark = story.mark()
    story.heading("Appendix C Evaluation settings")
    if not ev:
        no_evidence(story)
        return
    settings = ev.get("settings") or {}
    story.add(kv_table([
        ("Evidence schema", ev.get("schema", "?")),
        ("Evidence SHA-256", p(esc(evidence_sha256), s["hash"]) if evidence_sha256 else "–"),
        ("Recorded", fmt_time(ev.get("created_at"))),
        ("Decision threshold", fmt_number(settings.get("threshold"))),
        ("Positive label", str(settings.get("positive_label"))),
        ("Segment features", ", ".join(map(str, settings.get("segments") or [])) or "none"),
        ("Sensitive features", ", ".join(map(str, settings.get("sensitive") or [])) or "none"),
        ("Rows for SHAP", fmt_number(settings.get("shap_rows"))),
        ("Explanation time budget", f"{fmt_number(settings.get('time_budget_s'))} s"),
        ("Random seed", fmt_number(settings.get("seed"))),
    ], s, key_width=0.35))
    timings = ev.get("timings_s") or {}
    if timings:
        story.heading("Time per stage", 2)
        rows = [["Stage", "Seconds"]] + [[k, fmt_number(v)] for k, v in timings.items()]
        story.add(table(rows, [0.35, 0.2], s, numeric=(1,)))
    story.keep(mark)


def _value(value: Any) -> str:
    """A feature value as recorded: numbers compactly, anything else as text."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return fmt_number(value) if isinstance(value, int) else str(value)


def _ms(value: Any) -> str:
    return f"{value:.3g} ms" if is_number(value) else "not measured"
