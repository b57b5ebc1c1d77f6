"""Filters of the findings screen: status, severity, owner, overdue only, text, order.

Every change applies at once (typing waits a moment), so the list follows the filter without an
Apply button.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QWidget,
)

from core.services.findings import FindingFilter

STATUS_CHOICES: tuple[tuple[str, frozenset[str]], ...] = (
    ("Not closed", frozenset({"open", "remediated"})),
    ("Any status", frozenset()),
    ("Open (to answer)", frozenset({"open"})),
    ("Remediated (to close)", frozenset({"remediated"})),
    ("Closed", frozenset({"closed"})),
)
SEVERITY_CHOICES: tuple[tuple[str, frozenset[str]], ...] = (
    ("Any severity", frozenset()),
    ("High", frozenset({"high"})),
    ("High or medium", frozenset({"high", "medium"})),
    ("Medium", frozenset({"medium"})),
    ("Low", frozenset({"low"})),
)
ORDER_CHOICES = (("Newest first", "newest"), ("By due date", "due"))
ANY = ""


class FindingsFilterBar(QWidget):
    applied = Signal(object)  # FindingFilter

    def __init__(self, me: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.me = me
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.status = self._combo("Status", STATUS_CHOICES)
        self.severity = self._combo("Severity", SEVERITY_CHOICES)
        self.owner = QComboBox()
        self.owner.setAccessibleName("Owner")
        self.owner.setMinimumContentsLength(12)
        self.owner.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.owner.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.owner.addItem("Any owner", ANY)
        self.overdue = QCheckBox("Overdue only")
        self.text = QLineEdit()
        self.text.setPlaceholderText("Model or title contains…")
        self.text.setAccessibleName("Model or title contains")
        self.text.setClearButtonEnabled(True)
        self.text.setMinimumWidth(240)
        self.order = self._combo("Order", ORDER_CHOICES)
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(300)
        self._typing.timeout.connect(self.apply)
        for combo in (self.status, self.severity, self.owner, self.order):
            combo.currentIndexChanged.connect(self.apply)
        self.overdue.toggled.connect(self.apply)
        self.text.textChanged.connect(self._typing.start)
        self.text.returnPressed.connect(self.apply)
        row.addWidget(self.text, 1)
        row.addWidget(self.status)
        row.addWidget(self.severity)
        row.addWidget(QLabel("Owner"))
        row.addWidget(self.owner)
        row.addWidget(self.overdue)
        row.addWidget(self.order)

    @staticmethod
    def _combo(name: str, choices: tuple[tuple[str, object], ...]) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        for label, value in choices:
            combo.addItem(label, value)
        return combo

    def set_owners(self, owners: list[str]) -> None:
        """The owners to choose from (those of any finding); keeps the current choice."""
        current = self.owner.currentData()
        self.owner.blockSignals(True)
        self.owner.clear()
        self.owner.addItem("Any owner", ANY)
        for name in sorted(set(owners) | ({current} if current else set())):
            self.owner.addItem(f"{name} (me)" if name == self.me else name, name)
        self.owner.setCurrentIndex(max(0, self.owner.findData(current)))
        self.owner.blockSignals(False)

    def current(self) -> FindingFilter:
        return FindingFilter(statuses=self.status.currentData(),
                             severities=self.severity.currentData(),
                             owner=self.owner.currentData() or None,
                             text=self.text.text().strip() or None,
                             overdue=self.overdue.isChecked(), order=self.order.currentData())

    def choose(self, combo: QComboBox, label: str) -> None:
        """Pick the entry whose label is ``label`` (tests, links)."""
        combo.setCurrentIndex(max(0, combo.findText(label)))

    def apply(self) -> None:
        self._typing.stop()
        self.applied.emit(self.current())
