"""The Versions tab of the model screen: a model's versions, and the selected one's details
(input schema, output schema, libraries, hyperparameters, metrics, lineage, datasets).

A model has tens of versions, not thousands: they are read at once (newest first).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.entities_registry import ModelVersion
from views.table_model import ListTableModel
from views.timefmt import local_text
from views.widgets import data_table, plain_label, plain_tooltip

COL_NUMBER, COL_LABEL, COL_FORMAT, COL_SHA, COL_AUTHOR, COL_CREATED, COL_STATE = range(7)
VERSION_HEADERS = ("#", "Label", "Format", "Artifact SHA-256", "Author", "Created", "State")
VERSION_ROLE = Qt.ItemDataRole.UserRole + 1
SCHEMA_HEADERS = ("Input", "Kind", "Categories")
_Index = QModelIndex | QPersistentModelIndex


def schema_rows(schema: Any) -> list[tuple[str, str, str]]:
    """(name, kind, categories) of a stored schema: ``[{"name", "kind", "categories"?}]``."""
    if not isinstance(schema, list):
        return []
    out = []
    for item in schema:
        if isinstance(item, dict):
            cats = item.get("categories")
            cats_text = ", ".join(str(c) for c in cats) if isinstance(cats, list) else ""
            out.append((str(item.get("name", "")), str(item.get("kind", "")), cats_text))
    return out


def _mapping(title: str, values: Any) -> list[str]:
    if not values:
        return [f"{title}: none recorded"]
    if not isinstance(values, dict):
        return [f"{title}: {json.dumps(values, default=str)}"]
    width = min(max(len(str(k)) for k in values), 28)
    lines = [f"{title}:"]
    for key in sorted(values, key=str):
        value = values[key]
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"  {str(key):<{width}}  {text}")
    return lines


def version_details(version: ModelVersion) -> str:
    """Everything about one version but its input schema (shown as a table), as plain text."""
    lines = [
        f"Version {version.number}" + (f" ({version.label})" if version.label else "")
        + f" of {version.model_name}   state: {version.state}",
        f"Artifact:     {version.artifact_format}, {version.artifact_size:,} bytes",
        f"SHA-256:      {version.artifact_sha256}",
        "",
        "Lineage:",
        f"  training dataset  {version.training_dataset_sha256 or 'not recorded'}",
        f"  code reference    {version.code_reference or 'not recorded'}",
        f"  author            {version.author}",
        f"  created           {local_text(version.created_at)}",
        "",
        "Datasets:" if version.datasets else "Datasets: none linked",
    ]
    for ds in version.datasets:
        profile = ", reference profile" if ds.has_profile else ""
        lines.append(f"  {ds.role or '-':<9} {ds.name}  ({ds.format}, {ds.rows:,} rows{profile})")
        lines.append(f"            sha256 {ds.sha256}")
    outputs = schema_rows(version.output_schema)
    lines += ["", "Output schema:" if outputs else "Output schema: none recorded"]
    lines += [f"  {n}  ({k})" + (f"  [{c}]" if c else "") for n, k, c in outputs]
    lines += [""] + _mapping("Library versions", version.library_versions)
    lines += [""] + _mapping("Hyperparameters", version.hyperparameters)
    lines += [""] + _mapping("Metrics (supplied at import)", version.metrics)
    return "\n".join(lines)


class VersionTableModel(ListTableModel):
    HEADERS = VERSION_HEADERS

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.versions: list[ModelVersion] = []
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    def set_versions(self, versions: list[ModelVersion]) -> None:
        self.beginResetModel()
        self.versions = list(versions)
        self.endResetModel()

    def rows(self) -> list:
        return self.versions

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        v = self.item(index)
        if v is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(v.number), v.label, v.artifact_format, v.artifact_sha256[:12],
                    v.author, local_text(v.created_at, seconds=False), v.state)[col]
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_SHA, COL_LABEL):
            return plain_tooltip(v.artifact_sha256 if col == COL_SHA else v.label)
        if role == Qt.ItemDataRole.FontRole and col == COL_SHA:
            return self._mono
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_NUMBER:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == VERSION_ROLE:
            return v
        return None


class SchemaTableModel(ListTableModel):
    HEADERS = SCHEMA_HEADERS

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.items: list[tuple[str, str, str]] = []

    def set_schema(self, schema: Any) -> None:
        self.beginResetModel()
        self.items = schema_rows(schema)
        self.endResetModel()

    def rows(self) -> list:
        return self.items

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.item(index)
        if row is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = row[index.column()]
            return text if role == Qt.ItemDataRole.DisplayRole else plain_tooltip(text)
        return None


class VersionsPanel(QWidget):
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        self.actions = QHBoxLayout()  # screens add their buttons for the versions here
        self.actions.addStretch(1)
        layout.addLayout(self.actions)
        self.model = VersionTableModel(self)
        self.table = data_table(self.model, (50, 140, 80, 150, 110, 190))
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.empty = plain_label("No versions yet. A version is added by importing an artifact "
                                 "(Import, or `charter import`).", "hint")
        self.schema = SchemaTableModel(self)
        self.schema_table = data_table(self.schema, (170, 90))
        self.schema_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)  # hashes stay whole
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a version to see its schema, lineage, "
                                        "datasets, libraries and metrics.")
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.schema_table)
        bottom.addWidget(self.details)
        bottom.setSizes([320, 620])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.setSizes([170, 400])
        layout.addWidget(self.empty)
        layout.addWidget(split, 1)

    def set_versions(self, versions: list[ModelVersion]) -> None:
        chosen = self.selected()
        self.model.set_versions(versions)
        self.empty.setVisible(not versions)
        numbers = [v.number for v in versions]
        if chosen is not None and chosen.number in numbers:
            self.table.selectRow(numbers.index(chosen.number))
        elif versions:
            self.table.selectRow(0)
        else:
            self._show(None)

    def selected(self) -> ModelVersion | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(VERSION_ROLE) if rows else None

    def _selected(self, *_args: object) -> None:
        self._show(self.selected())
        self.selection_changed.emit()

    def _show(self, version: ModelVersion | None) -> None:
        self.schema.set_schema(version.input_schema if version else None)
        self.details.setPlainText(version_details(version) if version else "")
