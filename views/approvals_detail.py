"""The approvals screen's right-hand side: one version's summary, its gates, the workflow steps
the role may take now, its findings and its signatures.

Everything is read in one background task (:func:`read_detail`); a step opens the
:class:`~views.sign_dialog.SignDialog` and runs ``WorkflowService.transition`` with the state the
user saw as ``expected_state``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_registry import ModelVersion
from core.entities_validation import Documentation, Evaluation
from core.entities_workflow import Finding, Signature
from core.errors import KnownError, NotFound
from core.permissions import Action
from core.services.workflow import Outcome, VersionChanged
from core.workflow.lifecycle import STATE_LABELS, TRANSITIONS
from views.approvals_tables import SignatureTableModel
from views.error_dialog import error_text
from views.findings_panel import FindingsPanel
from views.model_table_model import tier_label
from views.services import ServicesLike
from views.review_transfer import export_package
from views.sign_dialog import SignDialog, password_refused
from views.style import icon
from views.task import run_call, run_from_dialog
from views.timefmt import local_text
from views.widgets import data_table, plain_label

STEP_BUTTONS = (("submit", "Submit…"), ("start_validation", "Start validation…"),
                ("request_changes", "Request changes…"), ("validate", "Sign validation…"),
                ("review", "Sign compliance review…"), ("approve", "Approve…"),
                ("reject", "Reject…"))
GATE_STYLE = {"passed": "bannerOk", "incomplete": "notice", "failed": "error"}


@dataclass(frozen=True)
class Detail:
    version: ModelVersion
    tier: int | None
    evaluation: Evaluation | None
    documents: list[Documentation]
    findings: list[Finding]
    signatures: list[Signature]


def read_detail(services: ServicesLike, who: Principal, model: str, number: int) -> Detail:
    """Everything the summary shows (worker thread: services only, no widgets)."""
    version = next((v for v in services.inventory.versions(who, model) if v.number == number),
                   None)
    if version is None:
        raise NotFound(f"{model} has no version {number}.")
    return Detail(version, services.inventory.get(who, model).risk_tier,
                  services.evaluations.latest(who, model, number),
                  services.documentation.documents(who, model, number),
                  services.findings.for_version(who, model, number),
                  services.workflow.signatures(who, model, number))


def gate_text(evaluation: Evaluation | None) -> tuple[str, str]:
    """(text, label style) of the newest evaluation's gate status."""
    if evaluation is None:
        return ("No evaluation recorded: there are no gate results to judge. The Validation "
                "tab runs one.", "notice")
    status = evaluation.gate_status
    when = local_text(evaluation.created_at, seconds=False)
    return (f"Newest evaluation #{evaluation.id} ({when} by {evaluation.created_by}): gates "
            f"{status.upper()}", GATE_STYLE.get(status, "notice"))


class ApprovalDetail(QWidget):
    changes_made = Signal(object)
    open_validation = Signal(str, int)  # model, version: show it on the model's Validation tab
    session_ended = Signal(str)  # the account locked while signing (see Screen.session_ended)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services, self.principal = services, principal
        self.detail: Detail | None = None
        self.key: tuple[str, int] | None = None
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.placeholder = plain_label("Select an item to see the version, its gates, findings "
                                       "and signatures.", "hint")
        layout.addWidget(self.placeholder)
        self.body = QWidget()
        box = QVBoxLayout(self.body)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(8)
        head = QHBoxLayout()
        head.setSpacing(10)
        self.title = plain_label("", "sectionTitle", wrap=False)
        self.facts = plain_label("", "muted")
        head.addWidget(self.title)
        head.addWidget(self.facts, 1)
        box.addLayout(head)
        gates = QHBoxLayout()
        self.gates = plain_label("", "notice")
        self.validation_button = QPushButton(icon("verify"), "Open the Validation tab")
        self.validation_button.setToolTip("The evaluations and documentation of this version")
        self.validation_button.clicked.connect(self._open_validation)
        gates.addWidget(self.gates, 1)
        gates.addWidget(self.validation_button, 0, Qt.AlignmentFlag.AlignVCenter)
        box.addLayout(gates)
        self.steps: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.setSpacing(8)
        for name, text in STEP_BUTTONS:
            step = TRANSITIONS[name]
            button = QPushButton(icon("sign" if step.meaning else "versions"), text)
            button.setToolTip(step.label)
            button.clicked.connect(lambda _=False, n=name: self.start_step(n))
            button.setVisible(principal.may(step.action))
            self.steps[name] = button
            row.addWidget(button)
        row.addStretch(1)
        self.export_button = QPushButton(icon("open"), "Export review package…")
        self.export_button.setToolTip("One file for an offline review: documentation PDF, "
                                      "evidence, findings, signatures, audit extract, hashes")
        self.export_button.clicked.connect(lambda: self.export_review_package())
        self.export_button.setVisible(principal.may(Action.REPORT_EXPORT)
                                      or principal.may(Action.COMPLIANCE_SIGN))
        row.addWidget(self.export_button)
        self.step_hint = plain_label("", "hint")
        box.addLayout(row)
        box.addWidget(self.step_hint)
        self.outcome = plain_label("", "bannerOk")
        self.outcome.hide()
        box.addWidget(self.outcome)
        self.findings = FindingsPanel(services, principal)
        self.findings.changes_made.connect(self._changed)
        self.signatures = SignatureTableModel(self)
        self.signature_table = data_table(self.signatures, (100, 150, 110, 190, 180))
        sigs = QWidget()
        sig_box = QVBoxLayout(sigs)
        sig_box.setContentsMargins(0, 0, 0, 0)
        sig_box.setSpacing(6)
        self.signature_heading = plain_label("Signatures", "sectionTitle", wrap=False)
        sig_box.addWidget(self.signature_heading)
        sig_box.addWidget(self.signature_table, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.findings)
        split.addWidget(sigs)
        split.setSizes([200, 200])
        box.addWidget(split, 1)
        layout.addWidget(self.body, 1)
        self.body.hide()

    # -- loading -------------------------------------------------------------------------------
    def show_version(self, model: str, number: int) -> None:
        if self.key != (model, number):
            self.detail = None
            self.outcome.hide()
            self.body.hide()
            self.placeholder.setText(f"Reading {model} version {number}…")
            self.placeholder.show()
        self.key = (model, number)
        self.reload()

    def clear(self) -> None:
        self.key = self.detail = None
        self.body.hide()
        self.placeholder.setText("Select an item to see the version, its gates, findings and "
                                 "signatures.")
        self.placeholder.show()

    def reload(self) -> None:
        if self.key is None:
            return
        key, services, who = self.key, self.services, self.principal

        def loaded(detail: Detail) -> None:
            if self.key == key:  # the user may have chosen another item meanwhile
                self._show(detail)

        def failed(err: BaseException) -> bool:
            if isinstance(err, KnownError) and self.key == key:
                self.placeholder.setText(error_text(err))
                self.placeholder.show()
                self.body.hide()
                return True
            return isinstance(err, KnownError)

        run_call(self, "Reading the version…", lambda: read_detail(services, who, *key),
                 loaded, on_failure=failed, show_progress=False)

    def _show(self, detail: Detail) -> None:
        self.detail = detail
        v = detail.version
        self.placeholder.hide()
        self.body.show()
        self.title.setText(f"{v.model_name} version {v.number}"
                           + (f" ({v.label})" if v.label else ""))
        doc = detail.documents[0] if detail.documents else None
        self.facts.setText(
            f"{STATE_LABELS.get(v.state, v.state)} · tier {tier_label(detail.tier)} · "
            f"author {v.author} · artifact {v.artifact_sha256[:12]}… · "
            + (f"documentation PDF #{doc.id} ({doc.pdf_sha256[:12]}…)" if doc
               else "no documentation PDF"))
        text, style = gate_text(detail.evaluation)
        self.gates.setText(text)
        self.gates.setObjectName(style)
        self.gates.style().unpolish(self.gates)
        self.gates.style().polish(self.gates)
        self.findings.set_findings(v.model_name, v.number, detail.findings, v.author)
        self.signatures.set_items(detail.signatures)
        bad = sum(not s.valid for s in detail.signatures)
        self.signature_heading.setText(
            f"Signatures ({len(detail.signatures)}" + (f", {bad} NOT VALID)" if bad else ")"))
        self._update_steps()

    def _update_steps(self) -> None:
        state = self.detail.version.state if self.detail else None
        possible = []
        for name, button in self.steps.items():
            enabled = state in TRANSITIONS[name].sources
            button.setEnabled(enabled)
            if enabled and button.isVisibleTo(self):
                possible.append(TRANSITIONS[name].label)
        self.step_hint.setText(
            ("Steps open to you now: " + "; ".join(possible) + ".") if possible
            else f"No step of yours while the version is "
                 f"{STATE_LABELS.get(state, state)}." if state else "")

    def export_review_package(self, dest: str | None = None) -> None:
        if self.key is not None:
            export_package(self, self.services.review, self.principal, *self.key,
                           self._reported, dest)

    def _reported(self, text: str, changes: Changes) -> None:
        self.outcome.setText(text)
        self.outcome.show()
        self.changes_made.emit(changes)

    def _open_validation(self) -> None:
        if self.key is not None:
            self.open_validation.emit(*self.key)

    def _changed(self, changes: Changes) -> None:
        self.changes_made.emit(changes)

    # -- steps ---------------------------------------------------------------------------------
    def start_step(self, name: str) -> SignDialog | None:
        detail, who, flow = self.detail, self.principal, self.services.workflow
        if detail is None or not who.may(TRANSITIONS[name].action):
            return None
        step = TRANSITIONS[name]
        doc = detail.documents[0] if detail.documents else None
        dialog = SignDialog(who, detail.version, step, doc, self)
        model, number = detail.version.model_name, detail.version.number

        def submit() -> None:
            reason, password = dialog.reason_text(), dialog.password_text()
            task = run_from_dialog(
                self, dialog, f"{step.label}…",
                lambda: flow.transition(who, model, number, name, reason=reason,
                                        password=password,
                                        expected_state=dialog.expected_state),
                self._stepped)
            task.failed.connect(lambda err: self._refused(dialog, err))

        dialog.submitted.connect(submit)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _refused(self, dialog: SignDialog, err: BaseException) -> None:
        password_refused(dialog, err, self.session_ended.emit)
        if isinstance(err, VersionChanged):
            self.reload()  # show what it is now behind the dialog

    def _stepped(self, result: tuple[Outcome, Changes]) -> None:
        outcome, changes = result
        self.reload()
        self.changes_made.emit(changes)
        signed = (f" Signed as {outcome.signature.meaning} at "
                  f"{local_text(outcome.signature.signed_at)}." if outcome.signature else "")
        self.outcome.setText(f"Done: {outcome.model} version {outcome.version} is now "
                             f"{STATE_LABELS.get(outcome.state, outcome.state)}.{signed}")
        self.outcome.show()
