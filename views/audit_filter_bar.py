"""Filters of the audit screen: actor, action (or a family such as "user."), object, time span."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from core.entities import AuditFilter
from core.services.audit_trail import KNOWN_ACTIONS

ANY = ""


def action_choices() -> list[tuple[str, str]]:
    """(label, value) pairs: every family ("user." ...) then every known action."""
    families = sorted({name.split(".")[0] + "." for name in KNOWN_ACTIONS})
    out = [("Any action", ANY)]
    out += [(f"{f}*  (all {f[:-1]} events)", f) for f in families]
    out += [(f"{name} — {text}", name) for name, text in sorted(KNOWN_ACTIONS.items())]
    return out


class AuditFilterBar(QWidget):
    applied = Signal(object)  # AuditFilter

    def __init__(self, usernames: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.actor = QComboBox()
        self.actor.addItem("Any actor", ANY)
        for name in usernames:
            self.actor.addItem(name, name)
        self.action = QComboBox()
        for label, value in action_choices():
            self.action.addItem(label, value)
        self.action.setMinimumContentsLength(22)
        self.object_type = QLineEdit()
        self.object_type.setPlaceholderText("type, e.g. user")
        self.object_id = QLineEdit()
        self.object_id.setPlaceholderText("id, e.g. dana")
        now = QDateTime.currentDateTime()
        self.use_since, self.since = QCheckBox("From"), self._date_edit(now.addDays(-7))
        self.use_until, self.until = QCheckBox("To"), self._date_edit(now)
        self.use_since.toggled.connect(self.since.setEnabled)
        self.use_until.toggled.connect(self.until.setEnabled)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("primary")
        self.clear_button = QPushButton("Clear")
        self.apply_button.clicked.connect(self.apply)
        self.clear_button.clicked.connect(self.clear)
        for edit in (self.object_type, self.object_id):
            edit.returnPressed.connect(self.apply)
        grid.addWidget(QLabel("Actor"), 0, 0)
        grid.addWidget(self.actor, 0, 1)
        grid.addWidget(QLabel("Action"), 0, 2)
        grid.addWidget(self.action, 0, 3)
        grid.addWidget(QLabel("Object"), 0, 4)
        grid.addWidget(self.object_type, 0, 5)
        grid.addWidget(self.object_id, 0, 6)
        grid.addWidget(self.use_since, 1, 0)
        grid.addWidget(self.since, 1, 1)
        grid.addWidget(self.use_until, 1, 2)
        grid.addWidget(self.until, 1, 3)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.apply_button)
        grid.addLayout(buttons, 1, 4, 1, 3)
        grid.setColumnStretch(3, 2)
        grid.setColumnStretch(5, 1)
        grid.setColumnStretch(6, 1)

    @staticmethod
    def _date_edit(value: QDateTime) -> QDateTimeEdit:
        edit = QDateTimeEdit(value)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.setEnabled(False)
        return edit

    def current(self) -> AuditFilter:
        return AuditFilter(
            actor=self.actor.currentData() or None,
            action=self.action.currentData() or None,
            object_type=self.object_type.text().strip() or None,
            object_id=self.object_id.text().strip() or None,
            since=_utc(self.since) if self.use_since.isChecked() else None,
            until=_utc(self.until) if self.use_until.isChecked() else None,
        )

    def set_choice(self, combo: QComboBox, value: str) -> None:
        combo.setCurrentIndex(max(0, combo.findData(value)))

    def apply(self) -> None:
        self.applied.emit(self.current())

    def clear(self) -> None:
        self.actor.setCurrentIndex(0)
        self.action.setCurrentIndex(0)
        self.object_type.clear()
        self.object_id.clear()
        self.use_since.setChecked(False)
        self.use_until.setChecked(False)
        self.apply()


def _utc(edit: QDateTimeEdit) -> datetime:
    # The edit shows local time; the store filters in UTC.
    return edit.dateTime().toPython().astimezone().astimezone(UTC)
