"""The Validation tab of the model screen: one version's evaluations and documentation.

Anyone who may read models sees the recorded evaluations (newest first) and their results:
Summary, Charts, Segments, Explanations, Fairness, Latency. Roles with ``model.evaluate`` run new
evaluations (views.validation_run); roles that may evaluate or export reports generate the
documentation PDF. Opening or saving a PDF reads its bytes from the artifact store, verified
against the SHA-256 recorded when it was generated.

Records are read when the tab is shown (not when a model is opened), and again whenever the
model screen reloads (F5, or a broadcast ``Changes`` with an audit event, as every evaluation
and PDF has) while the tab is on screen.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_registry import ModelVersion
from core.entities_validation import Documentation, Evaluation
from core.errors import KnownError
from core.permissions import Action
from views.error_dialog import error_text
from views.services import ServicesLike
from views.style import icon
from views.task import Task, run_call, run_task
from views.timefmt import local_text
from views.validation_analysis import ExplanationsPanel, FairnessPanel, SegmentsPanel
from views.validation_charts import ChartsPanel
from views.validation_results import LatencyPanel, SummaryPanel
from views.validation_run import RunEvaluationDialog
from views.validation_tables import EVALUATION_ROLE, EvaluationTableModel
from views.widgets import data_table, plain_label

RESULT_TABS = ("Summary", "Charts", "Segments", "Explanations", "Fairness", "Latency")
_temp_folder: Path | None = None


def pdf_file_name(doc: Documentation) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", doc.model_name).strip("-.") or "model"
    return f"{stem}-v{doc.version_number}-documentation-{doc.id}.pdf"


def temp_pdf_folder() -> Path:
    """A private folder for PDFs handed to the desktop viewer, removed when Charter exits."""
    global _temp_folder
    if _temp_folder is None or not _temp_folder.exists():
        _temp_folder = Path(tempfile.mkdtemp(prefix="charter-documents-"))  # mode 0700
        atexit.register(shutil.rmtree, _temp_folder, True)
    return _temp_folder


def may_document(principal: Principal) -> bool:
    return principal.may(Action.MODEL_EVALUATE) or principal.may(Action.REPORT_EXPORT)


class ValidationView(QWidget):
    """Emits ``changes_made`` after an evaluation or a PDF is recorded."""

    changes_made = Signal(object)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services, self.principal = services, principal
        self.model_name: str | None = None
        self.versions: list[ModelVersion] = []
        self.documents: list[Documentation] = []
        self.evaluation: Evaluation | None = None
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        self.task: Task | None = None
        self.last_pdf: Path | None = None  # the file last handed to the desktop viewer
        self.stale = True
        self._prefer: int | None = None  # evaluation to select after the next load
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(self._action_row())
        self.documents_label = plain_label("", "muted")
        layout.addWidget(self.documents_label)
        self.banner = plain_label("", "bannerBad")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.empty = plain_label("", "hint")
        layout.addWidget(self.empty)
        self.table_model = EvaluationTableModel(self)
        self.table = data_table(self.table_model, (44, 180, 80, 170, 64, 110))
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.summary = SummaryPanel()
        self.charts = ChartsPanel()
        self.segments = SegmentsPanel()
        self.explanations = ExplanationsPanel()
        self.fairness = FairnessPanel()
        self.latency = LatencyPanel()
        self.panels = (self.summary, self.charts, self.segments, self.explanations,
                       self.fairness, self.latency)
        for title, panel in zip(RESULT_TABS, self.panels):
            self.tabs.addTab(panel, title)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(self.tabs)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([120, 480])
        layout.addWidget(self.split, 1)
        self._update_actions()

    def _action_row(self) -> QHBoxLayout:
        self.version_choice = QComboBox()
        self.version_choice.setAccessibleName("Version")
        self.version_choice.setMinimumWidth(200)
        self.version_choice.currentIndexChanged.connect(self._version_changed)
        self.run_button = QPushButton(icon("verify", "#ffffff"), "Run evaluation…")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(lambda: self.run_evaluation())
        self.run_button.setVisible(self.principal.may(Action.MODEL_EVALUATE))
        self.generate_button = QPushButton(icon("new-model"), "Generate documentation PDF")
        self.generate_button.setToolTip("Render the documentation from the selected evaluation "
                                        "and record it with its SHA-256")
        self.generate_button.clicked.connect(lambda: self.generate_documentation())
        self.generate_button.setVisible(may_document(self.principal))
        self.open_button = QPushButton(icon("open"), "Open PDF")
        self.open_button.setToolTip("Open the newest documentation PDF in the desktop viewer")
        self.open_button.clicked.connect(lambda: self.open_pdf())
        self.save_button = QPushButton(icon("export"), "Save PDF as…")
        self.save_button.clicked.connect(lambda: self.save_pdf())
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(plain_label("Version", wrap=False))
        row.addWidget(self.version_choice)
        row.addSpacing(8)
        for button in (self.run_button, self.generate_button, self.open_button,
                       self.save_button):
            row.addWidget(button)
        row.addStretch(1)
        return row

    # -- versions and loading ------------------------------------------------------------------
    def set_versions(self, model_name: str, versions: list[ModelVersion]) -> None:
        """The model's versions (newest first); keeps the chosen version when it still exists."""
        keep = self.version_number() if model_name == self.model_name else None
        self.model_name = model_name
        self.versions = list(versions)
        self.version_choice.blockSignals(True)
        self.version_choice.clear()
        for v in self.versions:
            label = f" ({v.label})" if v.label else ""
            self.version_choice.addItem(f"{v.number}{label} — {v.state}", v.number)
        numbers = [v.number for v in self.versions]
        self.version_choice.setCurrentIndex(numbers.index(keep) if keep in numbers else 0)
        self.version_choice.blockSignals(False)
        self.invalidate()

    def version_number(self) -> int | None:
        return self.version_choice.currentData()

    def version(self) -> ModelVersion | None:
        number = self.version_number()
        return next((v for v in self.versions if v.number == number), None)

    def show_version(self, number: int) -> None:
        index = self.version_choice.findData(number)
        if index >= 0 and index != self.version_choice.currentIndex():
            self.version_choice.setCurrentIndex(index)  # reloads through _version_changed

    def _version_changed(self, _index: int) -> None:
        self._prefer = None
        self.invalidate()

    def invalidate(self) -> None:
        """The records may have changed: read them now if on screen, else when shown."""
        self.stale = True
        if self.isVisible():
            self.load()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self.stale:
            self.load()

    def load(self) -> None:
        """Read the chosen version's evaluations and documents, keeping the selection."""
        self.stale = False
        number = self.version_number()
        chosen = self._prefer or (self.evaluation.id if self.evaluation else None)
        self._prefer = None
        evaluations: list[Evaluation] = []
        self.documents = []
        self.banner.hide()
        if self.model_name is not None and number is not None:
            try:
                evaluations = self.services.evaluations.evaluations(
                    self.principal, self.model_name, number)
                self.documents = self.services.documentation.documents(
                    self.principal, self.model_name, number)
            except KnownError as err:
                self._show_error(err)
        self.table_model.set_evaluations(evaluations)
        self._show_documents()
        self._set_empty_text(number, evaluations)
        row = self.table_model.row_of(chosen) if chosen is not None else -1
        if evaluations:
            self.table.selectRow(row if row >= 0 else 0)
        else:
            self._show(None)
        self._update_actions()

    def _set_empty_text(self, number: int | None, evaluations: list[Evaluation]) -> None:
        if number is None:
            text = "This model has no versions to validate yet."
        elif evaluations:
            text = ""
        elif self.principal.may(Action.MODEL_EVALUATE):
            text = (f"No evaluation of version {number} is recorded yet. Run evaluation… "
                    "evaluates it on its holdout data and records the evidence.")
        else:
            text = (f"No evaluation of version {number} is recorded yet. Validators and data "
                    "scientists run evaluations; they appear here.")
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        self.split.setVisible(bool(evaluations))

    def _show_documents(self) -> None:
        if not self.documents:
            self.documents_label.setText("Documentation: no PDF generated for this version yet.")
            return
        doc = self.documents[0]
        source = (f"from evaluation #{doc.evaluation_id}" if doc.evaluation_id is not None
                  else "without an evaluation")
        more = f"; {len(self.documents)} PDFs in all" if len(self.documents) > 1 else ""
        self.documents_label.setText(
            f"Documentation: newest PDF #{doc.id} generated {local_text(doc.generated_at)} by "
            f"{doc.generated_by}, {doc.pages} pages, {source}, SHA-256 {doc.pdf_sha256[:16]}…"
            f"{more}")

    def _show_error(self, err: KnownError) -> None:
        self.banner.setText(error_text(err))
        self.banner.show()

    def _update_actions(self) -> None:
        idle = self.task is None
        has_version = self.version() is not None
        self.run_button.setEnabled(has_version)
        self.generate_button.setEnabled(has_version and idle)
        self.open_button.setEnabled(bool(self.documents) and idle)
        self.save_button.setEnabled(bool(self.documents) and idle)

    # -- selection -----------------------------------------------------------------------------
    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        ev = rows[0].data(EVALUATION_ROLE) if rows else None
        return ev.id if ev is not None else None

    def _selected(self, *_args: object) -> None:
        evaluation_id = self.selected_id()
        if evaluation_id is None:
            self._show(None)
            return
        try:  # re-read: the service checks the evidence still hashes to its recorded value
            evaluation = self.services.evaluations.get(self.principal, evaluation_id)
        except KnownError as err:
            self._show_error(err)
            self._show(None)
            return
        self.banner.hide()
        self._show(evaluation)

    def _show(self, evaluation: Evaluation | None) -> None:
        self.evaluation = evaluation
        for panel in self.panels:
            panel.show_evaluation(evaluation)

    # -- evaluating ----------------------------------------------------------------------------
    def run_evaluation(self) -> RunEvaluationDialog | None:
        version = self.version()
        if version is None or not self.principal.may(Action.MODEL_EVALUATE):
            return None
        dialog = RunEvaluationDialog(self.services, self.principal, version, self)
        dialog.evaluated.connect(self._evaluated)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _evaluated(self, evaluation: Evaluation, changes: Changes) -> None:
        self._prefer = evaluation.id
        self.load()
        self.tabs.setCurrentIndex(0)
        self.changes_made.emit(changes)

    # -- documentation -------------------------------------------------------------------------
    def generate_documentation(self) -> Task | None:
        version = self.version()
        if version is None or self.task is not None or not may_document(self.principal):
            return None
        docs, who, name, number = (self.services.documentation, self.principal,
                                   version.model_name, version.number)
        evaluation_id = self.evaluation.id if self.evaluation is not None else None
        self.task = run_task(
            self, f"Generating the documentation of {name} version {number}…",
            lambda progress, cancel: docs.generate(who, name, number,
                                                   evaluation_id=evaluation_id,
                                                   progress=progress, cancel=cancel),
            self._generated, cancellable=True)
        self._busy(self.task)
        return self.task

    def _busy(self, task: Task) -> None:
        task.done.connect(self._idle)
        self._update_actions()

    def _idle(self) -> None:
        self.task = None
        self._update_actions()

    def _generated(self, result: tuple[Documentation, bytes, Changes]) -> None:
        _doc, _pdf, changes = result
        self.task = None
        self.load()
        self.changes_made.emit(changes)

    def _newest(self) -> Documentation | None:
        return self.documents[0] if self.documents else None

    def open_pdf(self) -> Task | None:
        """Write the newest PDF's verified bytes to a private temporary file and hand it to
        the desktop's PDF viewer."""
        doc = self._newest()
        if doc is None or self.task is not None:
            return None
        docs, who = self.services.documentation, self.principal

        def write() -> Path:
            from core.services.documentation import write_atomically

            path = temp_pdf_folder() / pdf_file_name(doc)
            write_atomically(path, docs.pdf(who, doc.id))
            return path

        self.task = run_call(self, "Opening the documentation PDF…", write, self._opened)
        self._busy(self.task)
        return self.task

    def _opened(self, path: Path) -> None:
        self.last_pdf = path
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.banner.setText(f"No application opened the PDF. It was saved as {path}; use "
                                "Save PDF as… to keep a copy elsewhere.")
            self.banner.show()

    def save_pdf(self, dest: Path | None = None) -> Task | None:
        doc = self._newest()
        if doc is None or self.task is not None:
            return None
        if dest is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save the documentation PDF", str(Path.home() / pdf_file_name(doc)),
                "PDF (*.pdf)")
            if not chosen:
                return None
            dest = Path(chosen)
        docs, who, target = self.services.documentation, self.principal, Path(dest)

        def write() -> Path:
            from core.services.documentation import write_atomically

            write_atomically(target, docs.pdf(who, doc.id))
            return target

        self.task = run_call(self, "Saving the documentation PDF…", write, self._saved)
        self._busy(self.task)
        return self.task

    def _saved(self, path: Path) -> None:
        self.documents_label.setText(self.documents_label.text().split("\n")[0]
                                     + f"\nSaved a copy as {path}.")
