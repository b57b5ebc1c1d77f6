"""Result panels of the validation view, part two: Segments (a table per feature, the weakest
segments highlighted), Explanations (SHAP: method, sample, global importance, local rows) and
Fairness (a group table per sensitive feature, parity differences and the four-fifths rule).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.entities_validation import Evaluation
from core.reports.formatting import fmt_metric, fmt_number, fmt_percent, metric_label
from views.validation_results import (
    ResultPanel,
    SectionsMixin,
    number_text,
    result_table,
    section_title,
    set_style_name,
)
from views.validation_tables import TextTableModel
from views.widgets import plain_label

SEGMENT_ORDER = ("roc_auc", "gini", "ks", "accuracy", "precision", "recall", "f1", "log_loss",
                 "brier", "macro_precision", "macro_recall", "macro_f1", "rmse", "mae", "mape",
                 "r2")


SHORT_LABELS = {"ks": "KS", "brier": "Brier", "log_loss": "Log loss", "positive_rate": "Pos. rate",
                "macro_precision": "Macro prec.", "macro_recall": "Macro recall",
                "macro_f1": "Macro F1"}


def short_label(key: str) -> str:
    return SHORT_LABELS.get(key, metric_label(key))


def _evidence(evaluation: Evaluation | None) -> dict | None:
    ev = evaluation.evidence if evaluation is not None else None
    return ev if isinstance(ev, dict) else None


def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, float):
        return fmt_number(value, 4)
    return "missing" if value is None else str(value)


# -- Segments --------------------------------------------------------------------------------
def segment_table(entries: list[dict], metric: str, weakest: set[tuple[str, str]]
                  ) -> tuple[list[str], list[tuple[str, ...]], list[str | None]]:
    """Headers, rows and marks of one feature's segments; the segment metric comes first."""
    keys: list[str] = []
    for entry in entries:
        for key in (entry.get("metrics") or {}):
            if key not in keys:
                keys.append(key)
    if metric != "gini":
        keys = [k for k in keys if k != "gini"]  # 2 x ROC AUC - 1: a column saved for the note
    keys.sort(key=lambda k: (k != metric, SEGMENT_ORDER.index(k) if k in SEGMENT_ORDER else 99))
    headers = ["Segment", "Rows", *(short_label(k) for k in keys), "Note"]
    rows, marks = [], []
    for entry in entries:
        values = entry.get("metrics") or {}
        weak = (str(entry.get("feature")), str(entry.get("segment"))) in weakest
        note = entry.get("note") or ""
        if weak:
            note = f"Among the weakest segments by {metric_label(metric)}" + (
                f"; {note}" if note else "")
        rows.append((str(entry.get("segment")), fmt_number(entry.get("count")),
                     *(fmt_metric(k, values.get(k)) if values else "—" for k in keys), note))
        marks.append("weak" if weak else None)
    return headers, rows, marks


class SegmentsPanel(SectionsMixin, ResultPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = plain_label("", "notice")
        self.box.addWidget(self.summary)
        self.sections = QVBoxLayout()
        self.sections.setSpacing(6)
        self.box.addLayout(self.sections)
        self.box.addStretch(1)
        self.tables: dict[str, TextTableModel] = {}
        self.show_evaluation(None)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        self.clear_sections()
        self.tables = {}
        ev = _evidence(evaluation)
        seg = (ev or {}).get("segments") or {}
        features = {k: v for k, v in (seg.get("features") or {}).items() if v}
        self.summary.hide()
        if not features:
            self.say("Select an evaluation to see its segments." if ev is None else
                     "No segment feature was evaluated (name segment features when running an "
                     "evaluation).")
            return
        self.say(None)
        metric = seg.get("metric") or "roc_auc"
        weakest_entries = seg.get("weakest") or []
        weakest = {(str(w.get("feature")), str(w.get("segment"))) for w in weakest_entries}
        if weakest_entries:
            self.summary.setText(
                f"Weakest segments by {metric_label(metric)}:\n" + "\n".join(
                    f"  •  {w.get('feature')} = {w.get('segment')}: "
                    f"{fmt_metric(metric, w.get('value'))} on {fmt_number(w.get('count'))} rows"
                    for w in weakest_entries))
            self.summary.show()
        for feature, entries in features.items():
            headers, rows, marks = segment_table(entries, metric, weakest)
            model = TextTableModel(headers, numeric=range(1, len(headers) - 1), parent=self)
            model.set_rows(rows, marks)
            self.tables[feature] = model
            widths = (150, 64, *([72] * (len(headers) - 3)))
            self.sections.addWidget(section_title(f"By {feature}"))
            self.sections.addWidget(result_table(model, widths, max_rows=None,
                                                 last_width=140))


# -- Explanations ----------------------------------------------------------------------------
class ExplanationsPanel(ResultPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facts = plain_label("")
        self.approximate = plain_label("", "notice")
        self.importance = TextTableModel(("Rank", "Feature", "Mean |SHAP|", "Share"),
                                         numeric=(0, 2, 3), parent=self)
        self.importance_table = result_table(self.importance, (50, 190, 110), max_rows=20,
                                             last_width=80)
        self.local_choice = QComboBox()
        self.local_choice.setAccessibleName("Local explanation")
        self.local_choice.currentIndexChanged.connect(self._show_local)
        self.local_facts = plain_label("", "muted")
        self.local = TextTableModel(("Feature", "Value", "SHAP contribution"),
                                    numeric=(1, 2), parent=self)
        self.local_table = result_table(self.local, (190, 130), max_rows=20, last_width=130)
        left = QVBoxLayout()
        self.titles = (section_title("Global importance"), section_title("Local explanations"))
        left.addWidget(self.titles[0])
        left.addWidget(self.importance_table)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.titles[1])
        right.addWidget(self.local_choice)
        right.addWidget(self.local_facts)
        right.addWidget(self.local_table)
        right.addStretch(1)
        row = QHBoxLayout()
        row.setSpacing(16)
        row.addLayout(left, 1)
        row.addLayout(right, 1)
        self.box.addWidget(self.facts)
        self.box.addWidget(self.approximate)
        self.box.addLayout(row)
        self.box.addStretch(1)
        self.locals: list[dict] = []
        self.explanations: dict = {}
        self.show_evaluation(None)

    def _set_shown(self, shown: bool) -> None:
        for widget in (self.facts, self.importance_table, self.local_choice, self.local_facts,
                       self.local_table, *self.titles):
            widget.setVisible(shown)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        ev = _evidence(evaluation)
        ex = (ev or {}).get("explanations")
        self.approximate.hide()
        if not isinstance(ex, dict) or ex.get("skipped") or not ex:
            self._set_shown(False)
            self.importance.set_rows([])
            self.local.set_rows([])
            why = str((ex or {}).get("skipped") or "none were recorded.")
            self.say("Select an evaluation to see its explanations." if ev is None else
                     f"This record has no SHAP explanations. {why}")
            return
        self.say(None)
        self._set_shown(True)
        self.explanations = ex
        self.facts.setText(
            f"Method: {ex.get('method', '')} ({ex.get('explainer', '')}), explaining "
            f"{ex.get('output', '')}.\nRows explained: {fmt_number(ex.get('sample_rows'))} of "
            f"{fmt_number(ex.get('requested_rows'))} requested; background sample "
            f"{fmt_number(ex.get('background_rows'))} rows. Took "
            f"{number_text(ex.get('elapsed_s'), 1)} s with SHAP {ex.get('shap_version', '')}, "
            f"seed {ex.get('seed', '')}.")
        note = ex.get("approximation_note")
        self.approximate.setText(("Approximate: " + note) if note else
                                 "Approximate explanations." if ex.get("approximate") else "")
        self.approximate.setVisible(bool(ex.get("approximate") or note))
        ranked = ex.get("global_importance") or []
        total = sum(abs(r.get("mean_abs_shap") or 0) for r in ranked) or 1.0
        self.importance.set_rows([
            (str(i), r.get("feature", ""), number_text(r.get("mean_abs_shap")),
             fmt_percent((r.get("mean_abs_shap") or 0) / total))
            for i, r in enumerate(ranked, 1)])
        self.locals = list(ex.get("local") or [])
        self.local_choice.blockSignals(True)
        self.local_choice.clear()
        for item in self.locals:
            self.local_choice.addItem(
                f"Holdout row {item.get('row')}: prediction "
                f"{number_text(item.get('prediction'))}")
        self.local_choice.blockSignals(False)
        self.local_choice.setEnabled(bool(self.locals))
        self._show_local(0 if self.locals else -1)

    def _show_local(self, index: int) -> None:
        if not 0 <= index < len(self.locals):
            self.local.set_rows([])
            self.local_facts.setText("No local explanation was recorded.")
            return
        item = self.locals[index]
        self.local_facts.setText(
            f"Base value {number_text(item.get('base_value'))} + contributions = prediction "
            f"{number_text(item.get('prediction'))} ({self.explanations.get('output', '')}).")
        rows, marks = [], []
        for c in item.get("contributions") or []:
            shap = c.get("shap")
            rows.append((c.get("feature", ""), _value_text(c.get("value")),
                         f"{shap:+.4f}" if isinstance(shap, (int, float)) else "n/a"))
            marks.append(None)
        self.local.set_rows(rows, marks)


# -- Fairness --------------------------------------------------------------------------------
def group_rows(report: dict) -> tuple[list[tuple[str, ...]], list[str | None]]:
    four = report.get("four_fifths") or {}
    failed = four.get("passed") is False
    rows, marks = [], []
    for g in report.get("groups") or []:
        name = str(g.get("group"))
        role = ""
        if name == str(four.get("reference_group")):
            role = "reference group (highest selection rate)"
        elif name == str(four.get("lowest_group")):
            role = "lowest selection rate" + (" — below four-fifths" if failed else "")
        note = "; ".join(t for t in (role, g.get("note") or "") if t)
        rows.append((name, fmt_number(g.get("count")), fmt_percent(g.get("selection_rate")),
                     fmt_percent(g.get("tpr")), fmt_percent(g.get("fpr")),
                     fmt_percent(g.get("accuracy")), note))
        marks.append("bad" if failed and name == str(four.get("lowest_group")) else None)
    return rows, marks


def fairness_facts(report: dict) -> str:
    four = report.get("four_fifths") or {}
    verdict = {True: "passed", False: "FAILED"}.get(four.get("passed"), "not assessed")
    dp_difference = number_text(report.get("demographic_parity_difference"))
    return (f"Demographic parity difference {dp_difference}"
            f" · ratio {number_text(report.get('demographic_parity_ratio'))} · equalized odds "
            f"difference {number_text(report.get('equalized_odds_difference'))}\n"
            f"Four-fifths rule {verdict}: {four.get('lowest_group')} selected at "
            f"{number_text(four.get('ratio'), 3)} times the rate of {four.get('reference_group')}"
            + (f"\n{report['note']}" if report.get("note") else ""))


class FairnessPanel(SectionsMixin, ResultPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worst = plain_label("", "notice")
        self.basis = plain_label("", "hint")
        self.box.addWidget(self.worst)
        self.box.addWidget(self.basis)
        self.sections = QVBoxLayout()
        self.sections.setSpacing(6)
        self.box.addLayout(self.sections)
        self.box.addStretch(1)
        self.tables: dict[str, TextTableModel] = {}
        self.facts: dict[str, QLabel] = {}
        self.show_evaluation(None)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        self.clear_sections()
        self.tables, self.facts = {}, {}
        ev = _evidence(evaluation)
        fair = (ev or {}).get("fairness")
        self.worst.hide()
        self.basis.hide()
        if ev is None:
            self.say("Select an evaluation to see its fairness measures.")
            return
        if not isinstance(fair, dict):
            self.say("No sensitive feature was named for this evaluation, so fairness was not "
                     "measured. Name sensitive features (for example sex or age band) when "
                     "running an evaluation.")
            return
        if fair.get("skipped"):
            self.say("Fairness was not measured: " + str(fair["skipped"]))
            return
        self.say(None)
        worst = fair.get("worst") or {}
        passed = worst.get("four_fifths_passed")
        self.worst.setText(
            "Worst across sensitive features: demographic parity difference "
            f"{number_text(worst.get('demographic_parity_difference'))}, ratio "
            f"{number_text(worst.get('demographic_parity_ratio'))}; equalized odds difference "
            f"{number_text(worst.get('equalized_odds_difference'))}; four-fifths rule "
            + {True: "passed.", False: "failed."}.get(passed, "not assessed."))
        set_style_name(self.worst, "bannerOk" if passed else "notice")
        self.worst.show()
        self.basis.setText(f"Favourable outcome: {fair.get('favourable_label')!s}; decisions at "
                           f"threshold {fair.get('threshold')}. Rates are shares of each group.")
        self.basis.show()
        for feature, report in (fair.get("features") or {}).items():
            rows, marks = group_rows(report)
            model = TextTableModel(("Group", "Rows", "Selection rate", "TPR", "FPR", "Accuracy",
                                    "Note"), numeric=(1, 2, 3, 4, 5), parent=self)
            model.set_rows(rows, marks)
            self.tables[feature] = model
            facts = plain_label(fairness_facts(report))
            self.facts[feature] = facts
            self.sections.addWidget(section_title(f"By {feature}"))
            self.sections.addWidget(facts)
            self.sections.addWidget(result_table(model, (140, 70, 110, 80, 80, 90),
                                                 max_rows=None, last_width=200))
