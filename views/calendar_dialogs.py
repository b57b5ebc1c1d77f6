"""The compliance calendar's dialogs.

:class:`PriorValidationDialog` records a validation a model had before Charter: the date its
report was signed off, the report's reference, who validated it, a reason, and the recorder's
password again; the calendar then counts the model's revalidation from that date until Charter
records an approval. :class:`ExceptionDialog` is a manager's policy exception: a version used
before its sign-offs until a date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QDateEdit, QFormLayout, QLineEdit, QWidget

from core.entities import Changes, Principal
from core.entities_registry import ModelVersion
from core.permissions import Action
from core.services.workflow import ExceptionService
from core.workflow.lifecycle import SETTLED, STATE_LABELS
from views.sign_dialog import password_refused
from views.task import run_from_dialog
from views.widgets import PasswordFormDialog, plain_label, reason_field


def _day(edit: QDateEdit) -> date:
    day = edit.date()
    return date(day.year(), day.month(), day.day())


class PriorValidationDialog(PasswordFormDialog):
    def __init__(self, principal: Principal, models: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__("Record a validation done before Charter", "Record validation",
                         principal.username, parent)
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
        form.addRow("&Model", self.model)
        form.addRow("&Validated on", self.validated_on)
        form.addRow("Report &reference", self.reference)
        form.addRow("Validated &by", self.validated_by)
        form.addRow("Rea&son", self.reason)
        form.addRow("&Password again", self.password)
        self.body.addLayout(form)
        self.watch(self.reference, self.validated_by, self.reason)

    def ready(self) -> bool:
        return bool(self.model.count()) and all(
            f.text().strip() for f in (self.reference, self.validated_by, self.reason))

    def values(self) -> dict:
        """Keyword arguments for ``CalendarService.record_prior_validation`` (GUI thread)."""
        return {"model": self.model.currentText(), "validated_on": _day(self.validated_on),
                "reference": self.reference.text(), "validated_by": self.validated_by.text(),
                "reason": self.reason.text(), "password": self.password.text()}


class ExceptionDialog(PasswordFormDialog):
    """A manager lets a version be used before its sign-offs until a date (at most a year)."""

    def __init__(self, principal: Principal, model: str, number: int, state: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Policy exception — {model} version {number}", "Grant exception",
                         principal.username, parent)
        self.setMinimumWidth(560)
        self.body.addWidget(plain_label(
            f"{model} version {number} is {state}. A policy exception lets it be used before "
            "its sign-offs until the date below; when that date passes, the compliance "
            "calendar flags it as expired. It is kept for good and audited.", "hint"))
        form = QFormLayout()
        form.setVerticalSpacing(7)
        self.until = QDateEdit()
        self.until.setCalendarPopup(True)
        self.until.setDisplayFormat("yyyy-MM-dd")
        today = QDate.currentDate()
        self.until.setMinimumDate(today.addDays(1))
        self.until.setMaximumDate(today.addDays(366))
        self.until.setDate(today.addDays(90))
        self.reason = reason_field()
        form.addRow("Valid &until", self.until)
        form.addRow("Rea&son", self.reason)
        form.addRow("&Password again", self.password)
        self.body.addLayout(form)
        self.watch(self.reason)

    def ready(self) -> bool:
        return bool(self.reason.text().strip())

    def values(self) -> dict:
        """Keyword arguments for ``ExceptionService.grant`` (GUI thread)."""
        return {"until": _day(self.until),
                "reason": self.reason.text(), "password": self.password.text()}


def grant_exception(parent: QWidget, exceptions: ExceptionService, who: Principal,
                    version: ModelVersion, done: Callable[[Changes], None],
                    end_session: Callable[[str], None]) -> ExceptionDialog:
    """Open the exception dialog for ``version``; on submit the grant runs in the background
    (``done`` gets its Changes; a locked account ends the session)."""
    dialog = ExceptionDialog(who, version.model_name, version.number,
                             STATE_LABELS.get(version.state, version.state).lower(), parent)

    def submit() -> None:
        values = dialog.values()
        task = run_from_dialog(
            parent, dialog, "Granting the exception…",
            lambda: exceptions.grant(who, version.model_name, version.number, **values),
            lambda result: done(result[1]))
        task.failed.connect(lambda err: password_refused(dialog, err, end_session))

    dialog.submitted.connect(submit)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def may_grant_exception(who: Principal, version: ModelVersion | None) -> bool:
    """The service's rule, for enabling the button: a manager, not the author, and a version
    still waiting for its sign-offs."""
    return (version is not None and who.may(Action.POLICY_EXCEPTION)
            and version.author != who.username
            and version.state not in SETTLED)
