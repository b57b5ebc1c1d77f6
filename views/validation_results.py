"""Result panels of the validation view, part one: the Summary (headline metrics, acceptance
gates, the record's hashes and settings, warnings) and the Latency profile; with the helpers the
other panels (views.validation_analysis) share.

Every panel has ``show_evaluation(evaluation | None)`` and reads only the evidence record; text
from the record (feature names, segment values, warnings) is shown as plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.entities_validation import Evaluation
from core.reports.formatting import fmt_metric, fmt_number, fmt_percent, metric_label
from views.timefmt import local_text
from views.validation_tables import TextTableModel, gate_status_text
from views.widgets import data_table, plain_label

BINARY_METRICS = ("roc_auc", "gini", "ks", "ks_score", "accuracy", "precision", "recall", "f1",
                  "log_loss", "brier")
MULTICLASS_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "log_loss",
                      "roc_auc_ovr_macro")
REGRESSION_METRICS = ("rmse", "mae", "mape", "r2")


# -- shared helpers --------------------------------------------------------------------------
def result_table(model: TextTableModel, widths: Sequence[int], *,
                 max_rows: int | None = 30, last_width: int = 110) -> QTableView:
    """A read-only table with no scroll bars of its own: it is as tall as its rows (up to
    ``max_rows``, then it scrolls) and at least as wide as its columns, each at least as wide
    as its header, so the panel's scroll area scrolls instead of each table."""
    table = data_table(model, tuple(widths))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    fitter = _Fitter(table, tuple(widths), max_rows, last_width)
    model.modelReset.connect(fitter.fit)
    fitter.fit()
    return table


class _Fitter(QObject):
    """Refits a result table when its rows or its style change (the header's height is known
    only once the style sheet has polished it)."""

    def __init__(self, table: QTableView, widths: tuple[int, ...], max_rows: int | None,
                 last_width: int) -> None:
        super().__init__(table)
        self.table, self.widths, self.max_rows = table, widths, max_rows
        self.last_width = last_width
        table.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in (QEvent.Type.Show, QEvent.Type.Polish):
            self.fit()
        return False

    def fit(self) -> None:
        table, model = self.table, self.table.model()
        header = table.horizontalHeader()
        bold = QFont(header.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        last = model.columnCount() - 1
        total = 0
        for col in range(last):
            title = str(model.headerData(col, Qt.Orientation.Horizontal) or "")
            wanted = max(self.widths[col] if col < len(self.widths) else 80,
                         metrics.horizontalAdvance(title) + 24)
            table.setColumnWidth(col, wanted)
            total += wanted
        rows = model.rowCount()
        scrolls = self.max_rows is not None and rows > self.max_rows
        shown = max(1, min(rows, self.max_rows) if scrolls else rows)
        frame = 2 * table.frameWidth()
        extra = table.verticalScrollBar().sizeHint().width() if scrolls else 0
        table.setMinimumWidth(total + self.last_width + frame + extra)
        table.setFixedHeight(header.sizeHint().height()
                             + shown * table.verticalHeader().defaultSectionSize() + frame)


def fit_height(table: QTableView) -> None:
    """Refit a table made by :func:`result_table` now."""
    for child in table.children():
        if isinstance(child, _Fitter):
            child.fit()


def section_title(text: str) -> QLabel:
    return plain_label(text, "sectionTitle")


def set_style_name(label: QLabel, name: str) -> None:
    """Switch a label between the style sheet's banner looks (bannerOk, error, notice...)."""
    label.setObjectName(name)
    label.style().unpolish(label)
    label.style().polish(label)


def value_label(text: str = "", *, mono: bool = False) -> QLabel:
    label = plain_label(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if mono:
        label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return label


def number_text(value: Any, digits: int = 4) -> str:
    return fmt_number(value, digits)


class ResultPanel(QScrollArea):
    """A scrolling page of one result tab; subclasses fill ``self.box``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        self.body.setObjectName("resultBody")
        self.box = QVBoxLayout(self.body)
        self.box.setContentsMargins(4, 10, 12, 10)
        self.box.setSpacing(8)
        self.setWidget(self.body)
        self.empty = plain_label("", "hint")
        self.box.addWidget(self.empty)

    def say(self, text: str | None) -> None:
        """Show ``text`` instead of results (None: results are shown)."""
        self.empty.setText(text or "")
        self.empty.setVisible(bool(text))

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        raise NotImplementedError


class SectionsMixin:
    """Panels whose sections depend on the record (one per feature) rebuild them each time."""

    sections: QVBoxLayout

    def clear_sections(self) -> None:
        while self.sections.count():
            item = self.sections.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()


# -- Summary ---------------------------------------------------------------------------------
def metric_rows(evidence: dict) -> list[tuple[str, str]]:
    """(label, value) of the headline metrics for the record's kind."""
    m = evidence.get("metrics") or {}
    kind = evidence.get("kind")
    rows = [("Rows evaluated", fmt_number(m.get("n")))]
    if kind == "binary":
        counts = m.get("class_counts") or {}
        rows += [("Positive class", str(m.get("positive_label"))),
                 ("Decision threshold", fmt_number(m.get("threshold"))),
                 ("Positive rate", fmt_percent(counts.get("positive_rate")))]
        rows += [(metric_label(k), fmt_metric(k, m.get(k))) for k in BINARY_METRICS]
        conf = m.get("confusion") or {}
        rows.append(("Confusion TN / FP / FN / TP", " / ".join(
            fmt_number(conf.get(k)) for k in ("tn", "fp", "fn", "tp"))))
    elif kind == "multiclass":
        rows.append(("Classes", ", ".join(str(c) for c in m.get("classes") or [])))
        rows += [(metric_label(k), fmt_metric(k, m.get(k))) for k in MULTICLASS_METRICS]
    elif kind == "regression":
        rows += [(metric_label(k), fmt_metric(k, m.get(k))) for k in REGRESSION_METRICS]
        if m.get("mape_excluded_zero_targets"):
            rows.append(("MAPE: zero targets left out", fmt_number(
                m.get("mape_excluded_zero_targets"))))
        summary = m.get("residual_summary") or {}
        rows += [("Residual mean", fmt_number(summary.get("mean"))),
                 ("Residual standard deviation", fmt_number(summary.get("std")))]
    return rows


def gate_rows(gates: dict) -> tuple[list[tuple[str, ...]], list[str | None]]:
    rows, marks = [], []
    for g in gates.get("results") or []:
        op = {">=": "≥", "<=": "≤"}.get(g.get("op"), g.get("op") or "")
        passed = g.get("passed")
        result = {True: "✔ pass", False: "✘ fail"}.get(passed, "— not assessed")
        rows.append((g.get("label") or g.get("gate") or "", f"{op} {g.get('threshold'):g}"
                     if isinstance(g.get("threshold"), (int, float)) else "",
                     number_text(g.get("value")) if g.get("value") is not None else "—",
                     result, g.get("note") or ""))
        marks.append({True: "good", False: "bad"}.get(passed, "weak"))
    return rows, marks


def gate_banner(gates: dict) -> tuple[str, str]:
    """(text, style name) of the overall gate result."""
    status = gates.get("status")
    tier = gates.get("tier_used") or gates.get("tier")
    results = gates.get("results") or []
    where = f" (risk tier {tier} thresholds)" if tier else ""
    if status == "passed":
        return f"✔ Every acceptance gate passed{where}.", "bannerOk"
    if status == "failed":
        failed = [r.get("label") or r.get("gate") for r in results if r.get("passed") is False]
        return (f"✘ {len(failed)} acceptance gate(s) failed{where}: " + "; ".join(failed) + ".",
                "bannerBad")
    missing = [r.get("label") or r.get("gate") for r in results if r.get("passed") is None]
    return (f"◐ Incomplete{where}: {len(missing)} gate(s) could not be assessed: "
            + "; ".join(missing) + ".", "notice")


class SummaryPanel(ResultPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = plain_label("", "notice")
        self.gate_note = plain_label("", "hint")
        self.metrics = TextTableModel(("Metric", "Value"), numeric=(1,), parent=self)
        self.metrics_table = result_table(self.metrics, (190,), max_rows=None, last_width=140)
        self.metrics_table.setMaximumWidth(340)
        self.gates = TextTableModel(("Acceptance gate", "Rule", "Value", "Result", "Note"),
                                    numeric=(1, 2), parent=self)
        self.gates_table = result_table(self.gates, (410, 70, 90, 110), max_rows=None)
        self.titles = (section_title("Acceptance gates"), section_title("Headline metrics"),
                       section_title("The record"))
        self.warnings = plain_label("", "notice")
        self.record = QFrame()
        self.record.setObjectName("card")
        self.form = QFormLayout(self.record)
        self.form.setContentsMargins(14, 10, 14, 10)
        self.form.setVerticalSpacing(3)
        self.form.setHorizontalSpacing(16)
        # Labels above values: a SHA-256 does not wrap, and beside the metrics it needs the
        # card's whole width.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.fields: dict[str, QLabel] = {}
        for key, label, mono in (
                ("evaluation", "Evaluation", False), ("model", "Model", False),
                ("artifact", "Artifact SHA-256", True), ("holdout", "Holdout", False),
                ("holdout_sha", "Holdout SHA-256", True), ("evidence", "Evidence SHA-256", True),
                ("settings", "Settings", False), ("libraries", "Libraries", False)):
            self.fields[key] = value_label(mono=mono)
            self.form.addRow(plain_label(label, "muted", wrap=False), self.fields[key])
        self.evidence_label = self.form.labelForField(self.fields["evidence"])
        metrics_box = QVBoxLayout()
        metrics_box.addWidget(self.titles[1])
        metrics_box.addWidget(self.metrics_table)
        metrics_box.addStretch(1)
        record_box = QVBoxLayout()
        record_box.addWidget(self.titles[2])
        record_box.addWidget(self.record)
        record_box.addStretch(1)
        row = QHBoxLayout()
        row.setSpacing(16)
        row.addLayout(metrics_box)
        row.addLayout(record_box, 1)
        for widget in (self.banner, self.warnings, self.titles[0], self.gates_table,
                       self.gate_note):
            self.box.addWidget(widget)
        self.box.addLayout(row)
        self.box.addStretch(1)
        self.show_evaluation(None)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        ev = evaluation.evidence if evaluation is not None else None
        shown = isinstance(ev, dict)
        for widget in (self.banner, self.metrics_table, self.gates_table, self.record,
                       *self.titles):
            widget.setVisible(shown)
        self.say(None if shown else "Select an evaluation to see its results.")
        if not shown:
            self.metrics.set_rows([])
            self.gates.set_rows([])
            self.warnings.hide()
            self.gate_note.hide()
            return
        gates = ev.get("gates") or {}
        text, style = gate_banner(gates)
        self.banner.setText(text)
        set_style_name(self.banner, style)
        self.gate_note.setText(gates.get("note") or "")
        self.gate_note.setVisible(bool(gates.get("note")))
        self.metrics.set_rows(metric_rows(ev))
        rows, marks = gate_rows(gates)
        self.gates.set_rows(rows, marks)
        warnings = list(ev.get("warnings") or [])
        self.warnings.setText("Warnings:\n" + "\n".join(f"  •  {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self._record(evaluation, ev)

    def _record(self, evaluation: Evaluation, ev: dict) -> None:
        model, holdout = ev.get("model") or {}, ev.get("holdout") or {}
        settings = ev.get("settings") or {}
        label = f" ({model.get('label')})" if model.get("label") else ""
        f = self.fields
        f["evaluation"].setText(
            f"#{evaluation.id}, recorded {local_text(evaluation.created_at)} by "
            f"{evaluation.created_by}; gates {gate_status_text(evaluation.gate_status)}")
        f["model"].setText(f"{evaluation.model_name} version {evaluation.version_number}{label}"
                           f" — {model.get('model_type', '')}, {model.get('format', '')} format, "
                           f"{ev.get('kind', '')}")
        f["artifact"].setText(evaluation.artifact_sha256)
        rows = holdout.get("rows")
        f["holdout"].setText(f"{holdout.get('name', '')}: "
                             + (f"{rows:,} rows" if isinstance(rows, int) else "")
                             + f", target {holdout.get('target', '')!s}, "
                             f"{len(holdout.get('features') or [])} model inputs")
        f["holdout_sha"].setText(evaluation.dataset_sha256)
        f["evidence"].setText(evaluation.evidence_sha256)
        self.evidence_label.setText("Evidence SHA-256 — ✔ verified: the record still hashes to "
                                    "this value")
        listed = {k: ", ".join(map(str, v)) or "—" if isinstance(v, list) else v
                  for k, v in settings.items()}
        f["settings"].setText(
            f"threshold {listed.get('threshold')}, positive class {listed.get('positive_label')}"
            f", favourable {listed.get('favourable_label')}\nsegments: {listed.get('segments')}"
            f"\nsensitive: {listed.get('sensitive')}\nSHAP rows {listed.get('shap_rows')}, "
            f"time budget {listed.get('time_budget_s')} s, seed {listed.get('seed')}")
        libs = ev.get("library_versions") or {}
        f["libraries"].setText(", ".join(f"{k} {v}" for k, v in libs.items()) or "—")


# -- Latency ---------------------------------------------------------------------------------
def latency_rows(latency: dict) -> list[tuple[str, str]]:
    single = latency.get("single_row_ms") or {}
    batch = latency.get("batch") or {}
    rows = [(f"Single row, {p}", f"{number_text(single.get(p), 3)} ms")
            for p in ("p50", "p95", "p99", "mean") if single.get(p) is not None]
    if single.get("runs") is not None:
        rows.append(("Single-row calls timed", fmt_number(single.get("runs"))))
    if batch:
        speed = batch.get("rows_per_s")
        rows += [("Batch throughput", f"{speed:,.0f} rows/s" if isinstance(speed, (int, float))
                  else "n/a"),
                 ("Batch size", f"{fmt_number(batch.get('batch_size'))} rows"),
                 ("Batch calls timed", fmt_number(batch.get("runs")))]
    rows += [("Time budget", f"{number_text(latency.get('time_budget_s'), 1)} s"),
             ("Time spent", f"{number_text(latency.get('elapsed_s'), 2)} s")]
    if latency.get("cut_short"):
        rows.append(("Cut short", "yes: the budget ran out before every planned call"))
    return rows


class LatencyPanel(ResultPanel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box.addWidget(plain_label(
            "How fast the model predicted on the workstation that ran the evaluation. Serving "
            "hardware differs; monitoring measures latency in production.", "hint"))
        self.table = TextTableModel(("Measure", "Value"), numeric=(1,), parent=self)
        self.view = result_table(self.table, (190,), max_rows=None, last_width=320)
        self.view.setMaximumWidth(560)
        self.stages = TextTableModel(("Evaluation stage", "Seconds"), numeric=(1,), parent=self)
        self.stages_view = result_table(self.stages, (190,), max_rows=None, last_width=120)
        self.stages_view.setMaximumWidth(360)
        self.titles = (section_title("Latency"), section_title("Time per evaluation stage"))
        row = QHBoxLayout()
        row.setSpacing(16)
        for title, table in zip(self.titles, (self.view, self.stages_view)):
            column = QVBoxLayout()
            column.addWidget(title)
            column.addWidget(table)
            column.addStretch(1)
            row.addLayout(column)
        row.addStretch(1)
        self.box.addLayout(row)
        self.box.addStretch(1)
        self.show_evaluation(None)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        ev = evaluation.evidence if evaluation is not None else None
        latency = ev.get("latency") if isinstance(ev, dict) else None
        shown = isinstance(latency, dict) and bool(latency)
        for widget in (self.view, self.stages_view, *self.titles):
            widget.setVisible(shown)
        self.say(None if shown else "Select an evaluation to see its latency profile."
                 if ev is None else "Latency was not measured in this evaluation.")
        self.table.set_rows(latency_rows(latency) if shown else [])
        timings = (ev or {}).get("timings_s") or {} if shown else {}
        self.stages.set_rows([(k, number_text(v, 3)) for k, v in timings.items()])
