"""Table models of the validation view: a version's evaluations, and the small read-only tables
of an evaluation's results (metrics, gates, segments, groups, SHAP values) as rows of text.

Result tables are tens of rows at most, computed from one evidence record already in memory, so
they are flat lists. Each row may carry a mark ("good", "bad", "weak") that colours it; the text
always says the same thing in words (a result column, a note), so nothing relies on colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase

from core.entities_validation import Evaluation
from core.reports.formatting import fmt_metric, metric_label
from views.table_model import ListTableModel
from views.timefmt import local_text
from views.widgets import plain_tooltip

_Index = QModelIndex | QPersistentModelIndex
EVALUATION_ROLE = Qt.ItemDataRole.UserRole + 1
MARK_ROLE = Qt.ItemDataRole.UserRole + 2
(COL_ID, COL_RECORDED, COL_BY, COL_HOLDOUT, COL_ROWS, COL_GATES,
 COL_HEADLINE) = range(7)
EVALUATION_HEADERS = ("#", "Recorded", "By", "Holdout", "Rows", "Gates", "Headline")
GATE_STATUS = {"passed": "✔ passed", "failed": "✘ failed", "incomplete": "◐ incomplete"}
HEADLINE = {"binary": ("roc_auc", "ks", "accuracy"), "multiclass": ("accuracy", "macro_f1"),
            "regression": ("rmse", "r2")}
_FOREGROUND = {"good": QColor("#1e7b4f"), "bad": QColor("#b42318"), "weak": QColor("#7a4a06")}
_BACKGROUND = {"bad": QColor("#fef3f2"), "weak": QColor("#fff3d6")}


def gate_status_text(status: str | None) -> str:
    return GATE_STATUS.get(status or "", status or "—")


def status_mark(status: str | None) -> str | None:
    return {"passed": "good", "failed": "bad", "incomplete": "weak"}.get(status or "")


def headline_text(evidence: Any) -> str:
    """The version's few headline figures, e.g. ``ROC AUC 0.8940 · KS statistic 0.6800``."""
    if not isinstance(evidence, dict):
        return ""
    metrics = evidence.get("metrics") or {}
    keys = HEADLINE.get(evidence.get("kind") or "", ())
    return " · ".join(f"{metric_label(k)} {fmt_metric(k, metrics.get(k))}" for k in keys)


class EvaluationTableModel(ListTableModel):
    """The evaluations of one version, newest first (as the service returns them)."""

    HEADERS = EVALUATION_HEADERS

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.evaluations: list[Evaluation] = []

    def set_evaluations(self, evaluations: Sequence[Evaluation]) -> None:
        self.beginResetModel()
        self.evaluations = list(evaluations)
        self.endResetModel()

    def rows(self) -> list[Evaluation]:
        return self.evaluations

    def row_of(self, evaluation_id: int) -> int:
        ids = [e.id for e in self.evaluations]
        return ids.index(evaluation_id) if evaluation_id in ids else -1

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        ev = self.item(index)
        if ev is None:
            return None
        col = index.column()
        holdout = (ev.evidence or {}).get("holdout") or {} if isinstance(ev.evidence, dict) else {}
        if role == Qt.ItemDataRole.DisplayRole:
            rows = holdout.get("rows")
            return (str(ev.id), local_text(ev.created_at, seconds=False), ev.created_by,
                    str(holdout.get("name") or ""), f"{rows:,}" if isinstance(rows, int) else "",
                    gate_status_text(ev.gate_status), headline_text(ev.evidence))[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_HOLDOUT:
                return plain_tooltip(f"{holdout.get('name', '')}\nSHA-256 {ev.dataset_sha256}")
            if col == COL_HEADLINE:
                return plain_tooltip(headline_text(ev.evidence))
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_GATES:
            mark = status_mark(ev.gate_status)
            return QBrush(_FOREGROUND[mark]) if mark else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_ID, COL_ROWS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == EVALUATION_ROLE:
            return ev
        return None


class TextTableModel(ListTableModel):
    """Rows of plain text with an optional mark each. ``numeric`` columns align right;
    ``mono`` columns use the fixed font (hashes, values)."""

    def __init__(self, headers: Sequence[str], *, numeric: Sequence[int] = (),
                 mono: Sequence[int] = (), parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.HEADERS = tuple(headers)
        self.numeric = frozenset(numeric)
        self.mono = frozenset(mono)
        self.items: list[tuple[str, ...]] = []
        self.marks: list[str | None] = []
        self._mono_font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._bold = QFont()
        self._bold.setBold(True)

    def set_rows(self, rows: Sequence[Sequence[Any]],
                 marks: Sequence[str | None] | None = None) -> None:
        self.beginResetModel()
        self.items = [tuple("" if v is None else str(v) for v in row) for row in rows]
        self.marks = list(marks) if marks is not None else [None] * len(self.items)
        self.endResetModel()

    def rows(self) -> list[tuple[str, ...]]:
        return self.items

    def text(self, row: int, column: int) -> str:
        return self.items[row][column]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.item(index)
        if row is None:
            return None
        col = index.column()
        text = row[col] if col < len(row) else ""
        mark = self.marks[index.row()] if index.row() < len(self.marks) else None
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(text) if len(text) > 24 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole:
            if mark in ("bad", "weak") and col == 0:
                return self._bold
            return self._mono_font if col in self.mono else None
        if role == Qt.ItemDataRole.ForegroundRole and mark in _FOREGROUND:
            return QBrush(_FOREGROUND[mark])
        if role == Qt.ItemDataRole.BackgroundRole and mark in _BACKGROUND:
            return QBrush(_BACKGROUND[mark])
        if role == MARK_ROLE:
            return mark
        return None
