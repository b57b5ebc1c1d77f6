"""Recording a validation a model had before Charter: the date its report was signed off, the
report's reference, who validated it, a reason, and the recorder's password again. The
compliance calendar then counts the model's revalidation from that date until Charter records
an approval of one of its versions."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QComboBox, QDateEdit, QFormLayout, QLineEdit, QWidget

from core.entities import Principal
from views.widgets import FormDialog, plain_label, reason_field


class PriorValidationDialog(FormDialog):
    def __init__(self, principal: Principal, models: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__("Record a validation done before Charter", "Record validation", parent)
        self.setMinimumWidth(560)
        self.body.addWidget(plain_label(
            "For a model that was validated before Charter was adopted: its revalidation "
            "then falls due by its tier's interval from this date, until Charter records an "
            "approval. The record is kept for good and audited; a correction is a new record.",
            "hint"))
        form = QFormLayout()
        form.setVerticalSpacing(7)
        self.model = QComboBox()
        self.model.addItems(models)
        self.model.setAccessibleName("Model")
        self.validated_on = QDateEdit()
        self.validated_on.setCalendarPopup(True)
        self.validated_on.setDisplayFormat("yyyy-MM-dd")
        self.validated_on.setMaximumDate(QDate.currentDate())
        self.validated_on.setMinimumDate(QDate(1990, 1, 1))
        self.validated_on.setDate(QDate.currentDate().addYears(-1))
        self.reference = QLineEdit()
        self.reference.setMaxLength(200)
        self.reference.setPlaceholderText("the validation report's reference, e.g. MRM-2024-031")
        self.validated_by = QLineEdit()
        self.validated_by.setMaxLength(200)
        self.validated_by.setPlaceholderText("the team or firm that validated it")
        self.reason = reason_field()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setPlaceholderText(f"Password of {principal.username}")
        form.addRow("&Model", self.model)
        form.addRow("&Validated on", self.validated_on)
        form.addRow("Report &reference", self.reference)
        form.addRow("Validated &by", self.validated_by)
        form.addRow("Rea&son", self.reason)
        form.addRow("&Password again", self.password)
        self.body.addLayout(form)
        for field in (self.reference, self.validated_by, self.reason, self.password):
            field.textChanged.connect(self._update_ok)
        self._update_ok()

    def _update_ok(self) -> None:
        ready = (bool(self.model.count()) and all(
            f.text().strip() for f in (self.reference, self.validated_by, self.reason))
            and bool(self.password.text()))
        self.ok_button.setEnabled(ready)
        if ready:
            self.ok_button.setDefault(True)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self._update_ok()

    def values(self) -> dict:
        """Keyword arguments for ``CalendarService.record_prior_validation`` (GUI thread)."""
        day = self.validated_on.date()
        return {"model": self.model.currentText(),
                "validated_on": date(day.year(), day.month(), day.day()),
                "reference": self.reference.text(), "validated_by": self.validated_by.text(),
                "reason": self.reason.text(), "password": self.password.text()}
