"""Choosing columns of a holdout file: its header, read without reading the data, and a field
that takes a comma list of column names typed or ticked in a menu of the file's columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QMenu, QToolButton, QWidget


def holdout_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file, read from its header only (task thread).
    Raises DatasetRejected for a file that is not a dataset Charter reads."""
    import csv

    from core.registry.datasets import DatasetRejected, detect_format

    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names]
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            return next(csv.reader(fh), [])
    except (OSError, ValueError) as err:  # pyarrow's errors are ValueErrors too
        raise DatasetRejected(f"Cannot read the columns of {path.name}: {err}") from None


def split_names(text: str) -> list[str]:
    """``"sex, age_band"`` -> ``["sex", "age_band"]`` (blanks and repeats dropped)."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names


class _StayOpenMenu(QMenu):
    """A menu of checkable columns that stays open while several are ticked."""

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class ColumnPicker(QWidget):
    """A comma list of column names, typed or ticked in a menu of the holdout's columns."""

    def __init__(self, placeholder: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setAccessibleName(name)
        self.menu = _StayOpenMenu(self)
        self.menu.aboutToShow.connect(self._sync)
        self.button = QToolButton()
        self.button.setText("Columns")
        self.button.setToolTip("Tick columns of the holdout")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setMenu(self.menu)
        self.button.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)

    def set_columns(self, columns: list[str]) -> None:
        self.menu.clear()
        for column in columns:
            action = self.menu.addAction(column.replace("&", "&&"))  # no mnemonic from data
            action.setCheckable(True)
            action.setData(column)
            action.toggled.connect(lambda checked, c=column: self._toggled(c, checked))
        self.button.setEnabled(bool(columns))

    def columns(self) -> list[str]:
        return [a.data() for a in self.menu.actions()]

    def names(self) -> list[str]:
        return split_names(self.edit.text())

    def set_names(self, names: list[str]) -> None:
        self.edit.setText(", ".join(names))

    def tick(self, column: str, checked: bool = True) -> None:
        """Tick a column as a click in the menu does."""
        self._sync()
        for action in self.menu.actions():
            if action.data() == column:
                action.setChecked(checked)

    def _sync(self) -> None:
        chosen = set(self.names())
        for action in self.menu.actions():
            action.blockSignals(True)
            action.setChecked(action.data() in chosen)
            action.blockSignals(False)

    def _toggled(self, column: str, checked: bool) -> None:
        names = [n for n in self.names() if n != column]
        self.set_names(names + [column] if checked else names)
