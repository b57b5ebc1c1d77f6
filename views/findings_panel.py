"""Findings of one version: the table, and what the role may do with them.

Validators record a finding (title, description, severity, owner, due date) and close one with
a reason; the finding's owner answers it with the remediation. Shown in the approvals detail and
on the model screen's Findings tab. Every call runs through views.task; a refusal is shown in
the dialog that asked for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_workflow import Finding
from core.errors import KnownError
from core.permissions import Action
from core.services.findings import FindingsService
from core.workflow.lifecycle import SEVERITIES
from views.approvals_tables import ITEM_ROLE, FindingTableModel
from views.error_dialog import error_text
from views.services import ServicesLike
from views.style import icon
from views.task import run_call, run_from_dialog
from views.timefmt import local_text
from views.widgets import FormDialog, ReasonDialog, data_table, plain_label


def finding_details(f: Finding) -> str:
    """A finding in full, as plain text (the findings screen, the review window)."""
    closed = (f"Closed by {f.closed_by} on {local_text(f.closed_at, seconds=False)}."
              if f.closed_at else "Not closed yet.")
    return "\n".join([
        f"#{f.id}  {f.title}",
        (f"{f.model_name} version {f.version_number} · severity {f.severity} · {f.status} · "
         f"owner {f.owner} · due {f.due_date.isoformat() if f.due_date else 'no date'}"),
        f"Recorded by {f.created_by} on {local_text(f.created_at, seconds=False)}. {closed}",
        "", "Description", f.description or "(none)",
        "", "Remediation", f.remediation or "(not answered yet)",
    ])



class RecordFindingDialog(FormDialog):
    def __init__(self, model: str, number: int, owners: list[tuple[str, str]],
                 default_owner: str | None, parent: QWidget | None = None) -> None:
        super().__init__(f"Record a finding — {model} version {number}", "Record finding",
                         parent)
        self.setMinimumWidth(560)
        self.title = QLineEdit()
        self.title.setAccessibleName("Title")
        self.title.setMaxLength(200)
        self.description = QPlainTextEdit()
        self.description.setAccessibleName("Description")
        self.description.setFixedHeight(110)
        self.severity = QComboBox()
        for s in SEVERITIES:
            self.severity.addItem(s, s)
        self.owner = QComboBox()
        for username, name in owners:
            self.owner.addItem(f"{name} ({username})", username)
        at = self.owner.findData(default_owner)
        self.owner.setCurrentIndex(max(at, 0))
        self.has_due = QCheckBox("Due by")
        self.has_due.setChecked(True)
        self.due = QDateEdit(QDate.currentDate().addDays(30))
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd")
        self.due.setMinimumDate(QDate.currentDate())
        self.has_due.toggled.connect(self.due.setEnabled)
        for label, widget in (("Title", self.title), ("Description", self.description),
                              ("Severity", self.severity), ("Owner (answers it)", self.owner)):
            self.body.addWidget(plain_label(label, "fieldLabel"))
            self.body.addWidget(widget)
        due_row = QHBoxLayout()
        due_row.addWidget(self.has_due)
        due_row.addWidget(self.due)
        due_row.addStretch(1)
        self.body.addLayout(due_row)
        self.severity.setCurrentIndex(self.severity.findData("medium"))
        self.title.setFocus()
        self.ok_button.setEnabled(False)
        self.title.textChanged.connect(self._update)

    def _update(self) -> None:
        ready = bool(self.title.text().strip())
        self.ok_button.setEnabled(ready)
        if ready:  # a disabled default button loses the role to Cancel; give it back
            self.ok_button.setDefault(True)

    def values(self) -> dict:
        due = self.due.date().toPython() if self.has_due.isChecked() else None
        return {"title": self.title.text().strip(),
                "description": self.description.toPlainText().strip(),
                "severity": self.severity.currentData(), "owner": self.owner.currentData(),
                "due_date": due}


class RemediateDialog(FormDialog):
    def __init__(self, finding: Finding, parent: QWidget | None = None) -> None:
        super().__init__(f"Answer finding #{finding.id}", "Record remediation", parent)
        self.setMinimumWidth(520)
        self.body.addWidget(plain_label(f"#{finding.id} ({finding.severity}): {finding.title}",
                                        "sectionTitle"))
        if finding.description:
            self.body.addWidget(plain_label(finding.description))
        self.body.addWidget(plain_label("What was done about it", "fieldLabel"))
        self.text = QPlainTextEdit(finding.remediation)
        self.text.setAccessibleName("Remediation")
        self.text.setFixedHeight(120)
        self.body.addWidget(self.text)
        self.text.textChanged.connect(self._update)
        self.text.setFocus()
        self._update()

    def _update(self) -> None:
        ready = bool(self.text.toPlainText().strip())
        self.ok_button.setEnabled(ready)
        if ready:
            self.ok_button.setDefault(True)

    def remediation(self) -> str:
        return self.text.toPlainText().strip()


def remediate_dialog(parent: QWidget, findings: FindingsService, who: Principal,
                     f: Finding, done: Callable[[Any], None]) -> RemediateDialog:
    """The owner's answer to ``f``, recorded when submitted (the caller opens the dialog)."""
    dialog = RemediateDialog(f, parent)

    def submit() -> None:
        text = dialog.remediation()
        run_from_dialog(parent, dialog, "Recording the remediation…",
                        lambda: findings.remediate(who, f.id, text), done)

    dialog.submitted.connect(submit)
    return dialog


def close_dialog(parent: QWidget, findings: FindingsService, who: Principal, f: Finding,
                 done: Callable[[Any], None]) -> ReasonDialog:
    """A validator closes ``f`` with a reason, when submitted (the caller opens the dialog)."""
    remedy = (f"\nRemediation: {f.remediation}" if f.remediation
              else "\nThe owner has not answered it yet.")
    where = f"{f.model_name} version {f.version_number}\n" if f.model_name else ""
    dialog = ReasonDialog(f"Close finding #{f.id}",
                          f"{where}#{f.id} ({f.severity}): {f.title}{remedy}\n\nWhy is it "
                          "closed?", parent, action_text="Close finding")
    dialog.reason.setFocus()

    def submit() -> None:
        reason = dialog.text()
        run_from_dialog(parent, dialog, "Closing the finding…",
                        lambda: findings.close(who, f.id, reason=reason), done)

    dialog.submitted.connect(submit)
    return dialog


class FindingsPanel(QWidget):
    """Emits ``changes_made`` after a finding is recorded, answered or closed."""

    changes_made = Signal(object)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services, self.principal = services, principal
        self.model_name: str | None = None
        self.number: int | None = None
        self.author: str | None = None
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.heading = plain_label("Findings", "sectionTitle", wrap=False)
        row.addWidget(self.heading)
        row.addStretch(1)
        self.record_button = QPushButton(icon("new-model"), "Record finding…")
        self.record_button.clicked.connect(lambda: self.record())
        self.answer_button = QPushButton(icon("edit"), "Answer…")
        self.answer_button.setToolTip("Record what was done about the selected finding")
        self.answer_button.clicked.connect(lambda: self.remediate())
        self.close_button = QPushButton(icon("verify"), "Close finding…")
        self.close_button.clicked.connect(lambda: self.close_finding())
        may_record = principal.may(Action.FINDING_RECORD)
        self.record_button.setVisible(may_record)
        self.close_button.setVisible(may_record)
        self.answer_button.setVisible(principal.may(Action.FINDING_REMEDIATE))
        for button in (self.record_button, self.answer_button, self.close_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.banner = plain_label("", "error")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.table_model = FindingTableModel(self)
        self.table = data_table(self.table_model, (40, 80, 100, 270, 90, 100))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.table.doubleClicked.connect(lambda *_: self._double_clicked())
        layout.addWidget(self.table, 1)
        self._update()

    # -- content -------------------------------------------------------------------------------
    def set_findings(self, model: str | None, number: int | None, findings: list[Finding],
                     author: str | None = None) -> None:
        chosen = self.selected()
        self.model_name, self.number, self.author = model, number, author
        self.table_model.set_items(findings)
        open_count = sum(f.status != "closed" for f in findings)
        which = f"Findings of version {number}" if number is not None else "Findings"
        self.heading.setText(f"{which} ({open_count} open of {len(findings)})" if findings
                             else f"{which} (none recorded)")
        ids = [f.id for f in findings]
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        self._update()

    def load(self, model: str, number: int, author: str | None = None) -> None:
        """Read the findings of ``model`` version ``number`` in the background."""
        findings, who = self.services.findings, self.principal

        def failed(err: BaseException) -> bool:
            if isinstance(err, KnownError):
                self._error(err)
                return True
            return False

        run_call(self, "Reading findings…", lambda: findings.for_version(who, model, number),
                 lambda rows: self.set_findings(model, number, rows, author),
                 on_failure=failed, show_progress=False)

    def reload(self) -> None:
        if self.model_name is not None and self.number is not None:
            self.load(self.model_name, self.number, self.author)

    def selected(self) -> Finding | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def _update(self) -> None:
        f = self.selected()
        has_version = self.number is not None
        self.record_button.setEnabled(has_version)
        self.answer_button.setEnabled(f is not None and f.status != "closed"
                                      and f.owner == self.principal.username)
        self.close_button.setEnabled(f is not None and f.status != "closed")

    def _error(self, err: KnownError) -> None:
        self.banner.setText(error_text(err))
        self.banner.show()

    def _double_clicked(self) -> None:
        if self.answer_button.isVisible() and self.answer_button.isEnabled():
            self.remediate()

    # -- actions -------------------------------------------------------------------------------
    def _open(self, dialog: FormDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _done(self, result: tuple[Finding, Changes]) -> None:
        self.banner.hide()
        self.reload()
        self.changes_made.emit(result[1])

    def record(self) -> None:
        model, number, who = self.model_name, self.number, self.principal
        if model is None or number is None or not who.may(Action.FINDING_RECORD):
            return
        flow, findings, author = self.services.workflow, self.services.findings, self.author

        def ask(owners: list[tuple[str, str]]) -> None:
            dialog = RecordFindingDialog(model, number, owners, author, self)

            def submit() -> None:
                values = dialog.values()
                run_from_dialog(self, dialog, "Recording the finding…",
                                lambda: findings.record(who, model, number, **values),
                                self._done)

            dialog.submitted.connect(submit)
            self._open(dialog)

        run_call(self, "Reading users…", lambda: flow.finding_owners(who), ask,
                 show_progress=False)

    def remediate(self) -> None:
        f, who, findings = self.selected(), self.principal, self.services.findings
        if f is None:
            return
        self._open(remediate_dialog(self, findings, who, f, self._done))

    def close_finding(self) -> None:
        f, who, findings = self.selected(), self.principal, self.services.findings
        if f is None:
            return
        self._open(close_dialog(self, findings, who, f, self._done))
