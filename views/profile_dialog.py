"""A dataset's reference profile, feature by feature: what drift monitoring will compare with."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from views.widgets import plain_label

HEADERS = ("Feature", "Kind", "Missing", "Min", "Median", "Max", "Bins or top values")


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def feature_row(name: str, f: dict[str, Any]) -> list[str]:
    """One table row for a profiled feature (plain text)."""
    missing = f"{f.get('null_rate', 0) * 100:.1f}%"
    kind = f.get("kind", "")
    if kind in ("number", "integer"):
        q = f.get("quantiles") or {}  # {"p1": ..., "p50": ..., "p99": ...}
        counts = f.get("counts") or []
        shape = " ".join(str(c) for c in counts[1:-1]) if counts else "—"
        return [name, kind, missing, _number(f.get("min")), _number(q.get("p50")),
                _number(f.get("max")), f"{len(counts[1:-1])} bins: {shape}"]
    if kind in ("category", "boolean"):
        freq = f.get("frequencies") or {}
        top = ", ".join(f"{k} ({v})" for k, v in list(freq.items())[:5])
        more = f" +{f.get('other_values')} more" if f.get("other_values") else ""
        return [name, kind, missing, "", "", "", f"{f.get('cardinality')} values: {top}{more}"]
    return [name, kind, missing, _number(f.get("min")), "", _number(f.get("max")),
            f"{f.get('cardinality', '')} distinct" if "cardinality" in f else ""]


class ProfileDialog(QDialog):
    def __init__(self, title: str, profile: dict[str, Any] | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(900, 520)
        layout = QVBoxLayout(self)
        features = (profile or {}).get("features") or {}
        rows = (profile or {}).get("rows")
        layout.addWidget(plain_label(
            f"{title}: {len(features)} features profiled over {rows:,} rows. Drift monitoring "
            "compares production inputs with these bins and frequencies." if profile else
            "This dataset has no reference profile (only training and reference data are "
            "profiled).", "muted"))
        self.table = QTableWidget(len(features), len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        for r, (name, feature) in enumerate(features.items()):
            for c, text in enumerate(feature_row(name, feature)):
                item = QTableWidgetItem(text)  # QTableWidgetItem text is never rich text
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
