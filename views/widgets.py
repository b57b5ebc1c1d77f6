"""Small shared widgets: plain-text labels, screen headers, the reason prompt."""

from __future__ import annotations

import html

from PySide6.QtCore import QAbstractItemModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)


def plain_label(text: str = "", name: str | None = None, *, wrap: bool = True) -> QLabel:
    """A label that never interprets its text as rich text (user data is shown as typed)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if name:
        label.setObjectName(name)
    return label


def screen_header(title: str, subtitle: str = "") -> QWidget:
    header = QWidget()
    box = QVBoxLayout(header)
    box.setContentsMargins(0, 0, 0, 4)
    box.setSpacing(2)
    box.addWidget(plain_label(title, "screenTitle"))
    if subtitle:
        box.addWidget(plain_label(subtitle, "screenSubtitle"))
    return header


class FormDialog(QDialog):
    """A dialog whose action button emits ``submitted`` and stays open: the screen runs the
    service call and either accepts the dialog or shows the error inline."""

    submitted = Signal()

    def __init__(self, title: str, action_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        outer = QVBoxLayout(self)
        outer.setSpacing(10)
        self.body = QVBoxLayout()
        self.body.setSpacing(8)
        outer.addLayout(self.body)
        self.error = plain_label("", "error")
        self.error.hide()
        outer.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.addButton(action_text,
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)

    def _submit(self) -> None:
        self.show_error(None)
        self.submitted.emit()

    def show_error(self, text: str | None) -> None:
        self.ok_button.setDefault(True)  # after an error Enter still means "do it", not Cancel
        self.error.setText(text or "")
        self.error.setVisible(bool(text))
        if text:  # grow to fit the message instead of squeezing the form
            self.layout().activate()
            self.resize(self.width(), max(self.height(), self.sizeHint().height(),
                                          self.heightForWidth(self.width())))

    def clear_error_when_edited(self, *fields: QWidget) -> None:
        """Hide the error message as soon as one of ``fields`` changes: it no longer describes
        what the form holds."""
        for field in fields:
            signal = getattr(field, "textChanged", None) or getattr(field, "toggled", None)
            signal.connect(lambda *_: self.error.isVisible() and self.show_error(None))

    def set_busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)


def reason_field() -> QLineEdit:
    field = QLineEdit()
    field.setPlaceholderText("Reason (recorded in the audit trail)")
    field.setAccessibleName("Reason")
    return field


class ReasonDialog(FormDialog):
    """Asks why: the reason is recorded in the audit trail with the change."""

    def __init__(self, title: str, question: str, parent: QWidget | None = None,
                 *, action_text: str = "OK") -> None:
        super().__init__(title, action_text, parent)
        self.body.addWidget(plain_label(question))
        self.reason = reason_field()
        self.body.addWidget(self.reason)
        self.ok_button.setEnabled(False)
        self.reason.textChanged.connect(lambda t: self.ok_button.setEnabled(bool(t.strip())))

    def text(self) -> str:
        return self.reason.text().strip()


class PasswordFormDialog(FormDialog):
    """A form confirmed with the signed-in user's password entered again. Subclasses build
    their fields, call :meth:`watch` on those that must be filled, and may override
    :meth:`ready`; the action button is enabled only when the form is ready and the password
    field is not empty."""

    def __init__(self, title: str, action_text: str, username: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(title, action_text, parent)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setPlaceholderText(f"Password of {username}")
        self.password.textChanged.connect(self._update_ok)

    def watch(self, *fields: QLineEdit) -> None:
        for field in fields:
            field.textChanged.connect(self._update_ok)
        self._update_ok()

    def ready(self) -> bool:
        return True

    def _update_ok(self) -> None:
        ready = self.ready() and bool(self.password.text())
        self.ok_button.setEnabled(ready)
        if ready:  # a disabled default button loses the role to Cancel; give it back
            self.ok_button.setDefault(True)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self._update_ok()


def button_row(*widgets: QWidget, stretch_first: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(8)
    if stretch_first:
        row.addStretch(1)
    for widget in widgets:
        row.addWidget(widget)
    if not stretch_first:
        row.addStretch(1)
    return row


def table_over_details(table: QWidget, details: QWidget, sizes: tuple[int, int],
                       stretch: tuple[int, int] = (3, 1)) -> QSplitter:
    """A list above the details of its selected row, the list taking most of the height."""
    split = QSplitter(Qt.Orientation.Vertical)
    split.addWidget(table)
    split.addWidget(details)
    split.setStretchFactor(0, stretch[0])
    split.setStretchFactor(1, stretch[1])
    split.setSizes(list(sizes))
    return split


def plain_tooltip(text: str) -> str:
    """Tool tips guess rich text; escape user text and mark it rich on purpose so it shows as
    typed (tags and all)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>" if text else ""


def data_table(model: QAbstractItemModel, widths: tuple[int, ...]) -> QTableView:
    """A read-only table the way every screen shows one: whole rows selected one at a time,
    alternating rows, no wrapping, no row numbers, columns sized as given, the last stretched."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(26)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    for col, width in enumerate(widths):
        table.setColumnWidth(col, width)
    return table

