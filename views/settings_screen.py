"""Store settings (administrators): shared policy, each change made with a reason."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.services.settings import SettingValue
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_from_dialog
from views.widgets import (
    FormDialog,
    button_row,
    plain_label,
    plain_tooltip,
    reason_field,
    screen_header,
)

HEADERS = ("Setting", "Value", "Default", "Key", "Help")
COL_LABEL, COL_VALUE, COL_DEFAULT, COL_KEY, COL_HELP = range(5)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class SettingDialog(FormDialog):
    def __init__(self, item: SettingValue, parent: QWidget | None = None) -> None:
        super().__init__(f"Change: {item.spec.label}", "Save", parent)
        spec = item.spec
        self.body.addWidget(plain_label(spec.label, "sectionTitle"))
        if spec.help:
            self.body.addWidget(plain_label(spec.help, "hint"))
        rule = f"Default {_text(spec.default)}."
        if spec.minimum is not None and spec.maximum is not None:
            kind = "A whole number" if spec.type is int else "A number"
            rule = f"{kind} from {spec.minimum:g} to {spec.maximum:g}. " + rule
        self.body.addWidget(plain_label(rule, "hint"))
        self.value = QLineEdit(_text(item.value))
        self.value.setAccessibleName("Value")
        self.body.addWidget(self.value)
        self.reason = reason_field()
        self.body.addWidget(self.reason)


class SettingsScreen(Screen):
    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.items: list[SettingValue] = []
        self.dialog: SettingDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(screen_header(
            "Settings", "Policy shared by everyone on this store. Every change is recorded "
            "in the audit trail with its reason."))
        self.edit_button = QPushButton(icon("settings"), "Change value…")
        self.edit_button.clicked.connect(self.edit_selected)
        layout.addLayout(button_row(self.edit_button))
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for col, width in ((COL_LABEL, 280), (COL_VALUE, 80), (COL_DEFAULT, 80), (COL_KEY, 220)):
            self.table.setColumnWidth(col, width)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_HELP, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self.refresh()

    def refresh(self) -> None:
        current = self.table.currentRow()
        self.items = self.services.settings.list(self.principal)
        self.table.setRowCount(len(self.items))
        for row, item in enumerate(self.items):
            value = _text(item.value) + ("" if item.is_default else "  (changed)")
            cells = (item.spec.label, value, _text(item.spec.default), item.spec.key,
                     item.spec.help)
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(plain_tooltip(text))
                if col in (COL_VALUE, COL_DEFAULT):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == COL_VALUE and not item.is_default:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(row, col, cell)
        if 0 <= current < len(self.items):
            self.table.selectRow(current)
        self._update_buttons()

    def on_changes(self, changes: Changes) -> None:
        if changes.settings:
            self.refresh()

    def _update_buttons(self) -> None:
        self.edit_button.setEnabled(bool(self.table.selectionModel().selectedRows()))

    def value_of(self, key: str) -> object:
        return next(i.value for i in self.items if i.spec.key == key)

    def edit_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.edit(self.items[rows[0].row()].spec.key)

    def edit(self, key: str) -> SettingDialog:
        item = next(i for i in self.items if i.spec.key == key)
        dialog = SettingDialog(item, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        settings, who = self.services.settings, self.principal

        def submit() -> None:
            value, reason = dialog.value.text(), dialog.reason.text()
            run_from_dialog(self, dialog, "Saving the setting…",
                            lambda: settings.set(who, key, value, reason=reason),
                            self.changes_made.emit)

        dialog.submitted.connect(submit)
        self.dialog = dialog
        dialog.open()
        return dialog
