"""The "Run evaluation" dialog: holdout, columns, decision threshold, fairness and SHAP settings,
then ``EvaluationService.evaluate`` on the task thread with progress and a working Cancel.

The dialog stays open while the evaluation runs; Cancel (or Esc, or closing it) stops the run at
the service's next checkpoint. A refused evaluation (bad holdout, unknown column, wrong task...)
is shown inside the form with its hint, and the service has recorded nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Principal
from core.entities_registry import Dataset, ModelVersion
from core.errors import Cancelled, InvalidInput, KnownError
from core.services.evaluation import EvaluationRequest
from core.validation.evaluate import EvaluationSettings
from views.error_dialog import error_text
from views.services import ServicesLike
from views.task import Task, run_call, run_task
from views.validation_columns import ColumnPicker, holdout_columns
from views.widgets import FormDialog, plain_label

DATASET_FILTER = "Datasets (*.csv *.parquet *.pq);;All files (*)"
DEFAULTS = EvaluationSettings()


def registered_holdout(version: ModelVersion) -> Dataset | None:
    return next((d for d in version.datasets if d.role == "holdout"), None)


def _group(title: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setVerticalSpacing(7)
    form.setHorizontalSpacing(12)
    return box, form


class RunEvaluationDialog(FormDialog):
    """Emits ``evaluated(evaluation, changes)`` once the service has recorded the evaluation."""

    evaluated = Signal(object, object)

    def __init__(self, services: ServicesLike, principal: Principal, version: ModelVersion,
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Evaluate {version.model_name} version {version.number}",
                         "Run evaluation", parent)
        self.setMinimumWidth(700)
        self.services, self.principal, self.version = services, principal, version
        self.task: Task | None = None
        self.columns: list[str] = []
        self._outcome = False
        self.form = QWidget()
        layout = QVBoxLayout(self.form)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self._holdout_group())
        layout.addWidget(self._columns_group())
        pair = QHBoxLayout()
        pair.setSpacing(10)
        pair.addWidget(self._decision_group(), 1)
        pair.addWidget(self._explain_group(), 1)
        layout.addLayout(pair)
        self.body.addWidget(self.form)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = plain_label("", "muted")
        self.status.hide()
        self.body.addWidget(self.progress)
        self.body.addWidget(self.status)
        self.body.addStretch(1)  # room left by a cleared error goes here, not between rows
        self.submitted.connect(self.start)
        self._holdout_changed()

    # -- the form ----------------------------------------------------------------------------
    def _holdout_group(self) -> QGroupBox:
        box = QGroupBox("Holdout data")
        layout = QVBoxLayout(box)
        holdout = registered_holdout(self.version)
        self.registered = holdout if holdout is not None and holdout.stored else None
        if holdout is None:
            text = "The version's registered holdout: none was registered"
        elif not holdout.stored:
            text = (f"The version's registered holdout {holdout.name}: its data was not kept "
                    "(give the file again)")
        else:
            text = f"The version's registered &holdout: {holdout.name} ({holdout.rows:,} rows)"
        self.use_registered = QRadioButton(text)
        self.use_registered.setEnabled(self.registered is not None)
        self.use_file = QRadioButton("Another &file (CSV or Parquet)")
        group = QButtonGroup(self)
        group.addButton(self.use_registered)
        group.addButton(self.use_file)
        (self.use_registered if self.registered is not None else self.use_file).setChecked(True)
        group.buttonToggled.connect(lambda *_a: self._holdout_changed())
        self.path = QLineEdit()
        self.path.setPlaceholderText("path of a CSV or Parquet file with the model's inputs "
                                     "and the outcome")
        self.path.setAccessibleName("Holdout file")
        self.path.editingFinished.connect(self._path_changed)
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.setContentsMargins(24, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.choose)
        self.columns_label = plain_label("", "hint")
        layout.addWidget(self.use_registered)
        layout.addWidget(self.use_file)
        layout.addLayout(row)
        layout.addWidget(self.columns_label)
        return box

    def _columns_group(self) -> QGroupBox:
        box = QGroupBox("Columns")
        outer = QVBoxLayout(box)
        form = QFormLayout()
        form.setVerticalSpacing(7)
        form.setHorizontalSpacing(12)
        outer.addLayout(form)
        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.lineEdit().setPlaceholderText("automatic: the model's output name or "
                                                  "'target'")
        self.target.setAccessibleName("Target column")
        self.sensitive = ColumnPicker("none: fairness is not measured", "Sensitive features")
        self.segments = ColumnPicker("automatic: categorical inputs and the two most "
                                     "important", "Segment features")
        self.others = plain_label("", "hint")
        form.addRow("&Target (outcome)", self.target)
        form.addRow("&Sensitive features", self.sensitive)
        form.addRow("Se&gment features", self.segments)
        outer.addWidget(self.others)  # outside the form: a wrapped label there gets cut
        return box

    def _decision_group(self) -> QGroupBox:
        box, form = _group("Decision and fairness")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.001, 0.999)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(DEFAULTS.threshold)
        self.threshold.setToolTip("A score at or above it is a positive decision")
        self.favourable = QLineEdit()
        self.favourable.setPlaceholderText("positive class")
        self.favourable.setToolTip("The outcome fairness counts as favourable; blank: the "
                                   "positive class")
        form.addRow("Threshol&d", self.threshold)
        form.addRow("Favourable &label", self.favourable)
        return box

    def _explain_group(self) -> QGroupBox:
        box, form = _group("Explanations (SHAP)")
        self.skip_explain = QCheckBox("S&kip explanations")
        self.skip_explain.toggled.connect(self._explain_toggled)
        self.shap_rows = QDoubleSpinBox()  # as the other number fields (the style sheet's
        self.shap_rows.setDecimals(0)      # QSpinBox look hides its arrows)
        self.shap_rows.setRange(10, 1_000_000)
        self.shap_rows.setSingleStep(500)
        self.shap_rows.setValue(DEFAULTS.shap_rows)
        self.shap_rows.setSuffix(" rows")
        self.budget = QDoubleSpinBox()
        self.budget.setRange(1.0, 3600.0)
        self.budget.setDecimals(0)
        self.budget.setSingleStep(10)
        self.budget.setValue(DEFAULTS.explain_budget_s)
        self.budget.setSuffix(" s")
        self.budget.setToolTip("Explanations stop sampling when the budget runs out; the record "
                               "says so")
        form.addRow(self.skip_explain)
        form.addRow("&Rows", self.shap_rows)
        form.addRow("Time &budget", self.budget)
        return box

    def _explain_toggled(self, skip: bool) -> None:
        self.shap_rows.setEnabled(not skip)
        self.budget.setEnabled(not skip)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Holdout data", self.path.text(),
                                              DATASET_FILTER)
        if path:
            self.path.setText(path)
            self.use_file.setChecked(True)
            self._path_changed()

    def _holdout_changed(self) -> None:
        from_file = self.use_file.isChecked()
        self.path.setEnabled(from_file)
        self.choose.setEnabled(from_file)
        if not from_file and self.registered is not None:
            schema = self.registered.schema if isinstance(self.registered.schema, list) else []
            self.set_columns([str(c.get("name")) for c in schema if isinstance(c, dict)])
        else:
            self._path_changed()

    def _path_changed(self) -> None:
        text = self.path.text().strip()
        if not self.use_file.isChecked():
            return
        if not text:
            self.set_columns([])
            return
        path = Path(text)

        def failed(err: BaseException) -> bool:
            if isinstance(err, KnownError) and self.path.text().strip() == text:
                self.set_columns([])
                self.columns_label.setText(error_text(err))
                self.columns_label.show()
            return isinstance(err, KnownError)

        run_call(self, "Reading the holdout's columns…", lambda: holdout_columns(path),
                 lambda cols: self.set_columns(cols) if self.path.text().strip() == text
                 else None, on_failure=failed, show_progress=False)

    def set_columns(self, columns: list[str]) -> None:
        """Offer the holdout's columns for the target, sensitive and segment fields."""
        self.columns = list(columns)
        current = self.target.currentText()
        self.target.clear()
        self.target.addItem("")
        self.target.addItems(self.columns)
        self.target.setCurrentText(current)
        self.sensitive.set_columns(self.columns)
        self.segments.set_columns(self.columns)
        shown = ", ".join(self.columns[:20]) + (f" and {len(self.columns) - 20} more"
                                                  if len(self.columns) > 20 else "")
        self.columns_label.setText(f"{len(self.columns)} columns: {shown}" if self.columns
                                   else "")
        self.columns_label.setVisible(bool(self.columns))
        inputs = {str(c.get("name")) for c in self.version.input_schema or []
                  if isinstance(c, dict)}
        others = [c for c in self.columns if c not in inputs]
        self.others.setText(
            f"Besides the model's inputs the holdout has: {', '.join(others)}. Each one but the "
            "target must be named as a sensitive or a segment feature." if len(others) > 1
            else "")
        self.others.setVisible(len(others) > 1)

    # -- running -----------------------------------------------------------------------------
    def settings(self) -> EvaluationSettings:
        favourable = self.favourable.text().strip()
        return EvaluationSettings(
            target=self.target.currentText().strip() or None,
            sensitive=tuple(self.sensitive.names()), segments=tuple(self.segments.names()),
            threshold=round(self.threshold.value(), 6),
            favourable_label=favourable or None, explain=not self.skip_explain.isChecked(),
            shap_rows=int(self.shap_rows.value()), explain_budget_s=float(self.budget.value()))

    def request(self) -> EvaluationRequest:
        """Everything the evaluation needs, as plain values (GUI thread). Raises InvalidInput."""
        holdout = None
        if self.use_file.isChecked():
            text = self.path.text().strip()
            if not text:
                raise InvalidInput("Choose the holdout file, or use the registered holdout.")
            holdout = Path(text)
        return EvaluationRequest(self.version.model_name, self.version.number, holdout,
                                 self.settings())

    def start(self) -> Task | None:
        if self.task is not None:
            return self.task
        try:
            req = self.request()
        except InvalidInput as err:
            self.show_error(error_text(err))
            return None
        evaluations, who = self.services.evaluations, self.principal
        self._outcome = False
        self._set_running(True)
        self.task = run_task(
            self, f"Evaluating {req.model} version {req.version}…",
            lambda progress, cancel: evaluations.evaluate(who, req, progress=progress,
                                                          cancel=cancel),
            self._succeeded, on_failure=self._failed, cancellable=True, show_progress=False)
        self.task.progressed.connect(self._progressed)
        self.task.done.connect(lambda: self._set_running(False))
        return self.task

    def running(self) -> bool:
        return self.task is not None

    def _set_running(self, running: bool) -> None:
        if not running:
            self.task = None
        self.form.setEnabled(not running)
        self.ok_button.setEnabled(not running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.status.setText("Evaluating… Cancel stops it; nothing is recorded until the "
                                "end.")
        if running or not self._outcome:
            self.status.setVisible(running)
        if not running:
            self.ok_button.setDefault(True)

    def _progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _succeeded(self, result: tuple[Any, Any]) -> None:
        evaluation, changes = result
        self.evaluated.emit(evaluation, changes)
        self.accept()

    def _failed(self, err: BaseException) -> bool:
        if isinstance(err, Cancelled):
            self._outcome = True
            self.status.setText("Cancelled; nothing was recorded.")
            return True
        if isinstance(err, KnownError):
            self.show_error(error_text(err) + "\nNothing was recorded.")
            return True
        return False  # our bug: the crash dialog

    def reject(self) -> None:
        if self.task is not None:  # Cancel while evaluating stops the evaluation, not the form
            self.task.cancel()
            self.status.setText("Cancelling… the evaluation stops at its next step.")
            return
        super().reject()
