"""The import wizard: model, artifact, datasets, summary -> one ``ImportService.import_version``.

Every value is read from the widgets on the GUI thread into a plain ``ImportRequest`` before the
task starts. A refused import (artifact, dataset, duplicate...) is shown on the last page, where
Back leads to the page to fix; the service guarantees nothing was written in that case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.entities import Principal
from core.entities_registry import DATASET_ROLES, ModelFilter
from core.errors import Cancelled, InvalidInput, KnownError
from core.services.importer import ImportRequest, ImportService
from views.error_dialog import error_text
from views.model_dialogs import TIER_CHOICES, _combo
from views.services import ServicesLike
from views.task import Task, run_task
from views.widgets import button_row, plain_label

ARTIFACT_FILTER = ("Model artifacts (*.skops *.onnx *.zip *.tar.gz *.tgz *.pkl *.pickle "
                   "*.joblib);;All files (*)")
DATASET_FILTER = "Datasets (*.csv *.parquet *.pq);;All files (*)"
MAX_CHOICES = 2000  # the combo offers the first models by name; any name can be typed


def parse_metrics(text: str) -> dict[str, float]:
    """``name=value`` lines (blank lines ignored) -> metrics. Raises InvalidInput."""
    metrics: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            metrics[key.strip()] = float(value)
        except ValueError:
            raise InvalidInput(f"Metrics line {number} ({line.strip()!r}) must look like "
                               "name=number, e.g. auc=0.81.") from None
    return metrics


def _path_row(page: QWizardPage, edit: QLineEdit, *buttons: tuple[str, Any]) -> QWidget:
    row = QWidget()
    row.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    box.addWidget(edit, 1)
    for text, pick in buttons:
        button = QPushButton(text)
        button.clicked.connect(lambda _c=False, p=pick: p(page, edit))
        box.addWidget(button)
    return row


def _pick_file(parent: QWidget, edit: QLineEdit, caption: str, flt: str) -> None:
    path, _ = QFileDialog.getOpenFileName(parent, caption, edit.text(), flt)
    if path:
        edit.setText(path)


class ModelPage(QWizardPage):
    def __init__(self, names: list[str], model_name: str | None) -> None:
        super().__init__()
        self.setTitle("Model")
        self.setSubTitle("Import as the next version of a model in the inventory, or of a new "
                         "model.")
        self.existing_radio = QRadioButton("&Existing model")
        self.new_radio = QRadioButton("&New model")
        group = QButtonGroup(self)
        group.addButton(self.existing_radio)
        group.addButton(self.new_radio)
        self.existing = QComboBox()
        self.existing.setEditable(True)  # type to search; any name may be typed
        self.existing.addItems(names)
        self.existing.setAccessibleName("Existing model")
        self.name = QLineEdit()
        self.name.setPlaceholderText("unique, e.g. retail-credit-pd")
        self.name.setMaxLength(200)
        self.purpose = QLineEdit()
        self.purpose.setPlaceholderText("what business question it answers")
        self.business_owner = QLineEdit()
        self.risk_tier = _combo(TIER_CHOICES)
        self.new_form = QWidget()
        form = QFormLayout(self.new_form)
        form.setContentsMargins(24, 0, 0, 0)
        for label, widget in (("Na&me", self.name), ("&Purpose", self.purpose),
                              ("&Business owner", self.business_owner),
                              ("Risk &tier", self.risk_tier)):
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.existing_radio)
        layout.addLayout(button_row(self.existing))
        layout.addSpacing(8)
        layout.addWidget(self.new_radio)
        layout.addWidget(self.new_form)
        layout.addWidget(plain_label("The other inventory fields can be filled in later; the "
                                     "model's completeness check lists them.", "hint"))
        self.error = plain_label("", "error")
        self.error.hide()
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.existing.setMinimumWidth(320)
        (self.existing_radio if names or model_name else self.new_radio).setChecked(True)
        if model_name:
            self.existing.setCurrentText(model_name)
        for signal in (group.buttonToggled, self.existing.currentTextChanged,
                       self.name.textChanged):
            signal.connect(self._changed)
        self._changed()

    def _changed(self, *_args: object) -> None:
        self.existing.setEnabled(self.existing_radio.isChecked())
        self.new_form.setEnabled(self.new_radio.isChecked())
        self.completeChanged.emit()

    def is_new(self) -> bool:
        return self.new_radio.isChecked()

    def model_name(self) -> str:
        return (self.name.text() if self.is_new() else self.existing.currentText()).strip()

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return bool(self.model_name())

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        problem = None if self.is_new() else self.wizard().missing_model(self.model_name())
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        return problem is None

    def fields(self) -> dict[str, Any]:
        if not self.is_new():
            return {}
        return {"purpose": self.purpose.text(), "business_owner": self.business_owner.text(),
                "risk_tier": self.risk_tier.currentData()}


class ArtifactPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Artifact")
        self.setSubTitle("The model file. Accepted: skops (.skops), ONNX (.onnx), an MLflow "
                         "model folder or a .zip of one, pickle/joblib (.pkl, .joblib).")
        self.path = QLineEdit()
        self.path.setPlaceholderText("the model file or MLflow folder")
        self.path.textChanged.connect(lambda _t: self.completeChanged.emit())
        self.label = QLineEdit()
        self.label.setPlaceholderText("optional, e.g. 2.1.0")
        self.label.setMaxLength(64)
        self.code_ref = QLineEdit()
        self.code_ref.setPlaceholderText("commit, tag or path of the training code")
        self.metrics = QPlainTextEdit()
        self.metrics.setPlaceholderText("one per line, e.g.\nauc=0.81\nks=0.42")
        self.metrics.setTabChangesFocus(True)
        self.metrics.setMaximumHeight(90)
        self.error = plain_label("", "error")
        self.error.hide()
        form = QFormLayout(self)
        form.addRow("&File", _path_row(self, self.path, ("Choose file…", lambda p, e: _pick_file(
            p, e, "Model artifact", ARTIFACT_FILTER)), ("MLflow folder…", self._pick_folder)))
        hint = plain_label("Pickle and joblib files are never loaded in the console: they are "
                           "imported only after a validator records a trust decision for that "
                           "exact file.", "hint")
        hint.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form.addRow("", hint)
        form.addRow("&Label", self.label)
        form.addRow("&Code reference", self.code_ref)
        form.addRow("&Metrics", self.metrics)
        form.addRow(self.error)

    @staticmethod
    def _pick_folder(parent: QWidget, edit: QLineEdit) -> None:
        path = QFileDialog.getExistingDirectory(parent, "MLflow model folder", edit.text())
        if path:
            edit.setText(path)

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return bool(self.path.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        try:
            parse_metrics(self.metrics.toPlainText())
        except InvalidInput as err:
            self.error.setText(err.message)
            self.error.show()
            return False
        self.error.hide()
        return True


class DatasetsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Datasets")
        self.setSubTitle("CSV or Parquet files, all optional. Charter checks them against the "
                         "model's schema and profiles the training or reference data for drift "
                         "monitoring.")
        self.paths: dict[str, QLineEdit] = {}
        form = QFormLayout(self)
        for role in DATASET_ROLES:
            edit = QLineEdit()
            edit.setPlaceholderText(f"no {role} dataset")
            edit.setAccessibleName(f"{role.capitalize()} dataset")
            self.paths[role] = edit
            form.addRow(role.capitalize(), _path_row(self, edit, ("Choose…", lambda p, e, r=role:
                        _pick_file(p, e, f"{r.capitalize()} dataset", DATASET_FILTER))))
        self.keep = QCheckBox("&Keep the raw dataset files in the artifact store")
        self.keep.setChecked(True)  # validation re-reads the holdout data from the store
        form.addRow("", self.keep)
        form.addRow("", plain_label("Fingerprints, schemas and reference profiles are kept "
                                    "either way.", "hint"))

    def datasets(self) -> list[tuple[Path, str]]:
        return [(Path(e.text().strip()), role) for role, e in self.paths.items()
                if e.text().strip()]


class SummaryPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Import")
        self.setSubTitle("Check what will be imported, then choose Import.")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.summary.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = plain_label("", "muted")
        self.status.hide()
        self.result = plain_label("", "bannerOk")
        self.result.hide()
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.progress, self.status, self.result):
            layout.addWidget(widget)
        layout.setStretch(0, 1)

    def initializePage(self) -> None:  # noqa: N802 - Qt override
        self.summary.setPlainText(self.wizard().summary_text())
        self.show_result(None)

    def validatePage(self) -> bool:  # noqa: N802 - Qt override
        return self.wizard().finish_or_import()

    def show_result(self, text: str | None, ok: bool = True) -> None:
        self.result.setObjectName("bannerOk" if ok else "error")
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)
        self.result.setText(text or "")
        self.result.setVisible(bool(text))


class ImportWizard(QWizard):
    """Emits ``imported(changes)`` after a successful import (the screen broadcasts it)."""

    imported = Signal(object)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None, *, model_name: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a model version")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Import")
        self.setMinimumSize(680, 500)
        self.services, self.principal = services, principal
        self.task: Task | None = None
        self.version: Any = None
        names = [m.name for m in services.inventory.page(
            principal, ModelFilter(include_retired=False), limit=MAX_CHOICES).items]
        self.model_page = ModelPage(names, model_name)
        self.artifact_page = ArtifactPage()
        self.datasets_page = DatasetsPage()
        self.summary_page = SummaryPage()
        for page in (self.model_page, self.artifact_page, self.datasets_page, self.summary_page):
            self.addPage(page)

    def request(self) -> ImportRequest:
        """Everything the import needs, as plain values (GUI thread)."""
        art, ds = self.artifact_page, self.datasets_page
        return ImportRequest(
            model=self.model_page.model_name(), artifact=Path(art.path.text().strip()),
            datasets=ds.datasets(), model_fields=self.model_page.fields(),
            code_reference=art.code_ref.text().strip(), label=art.label.text().strip(),
            metrics=parse_metrics(art.metrics.toPlainText()), keep_datasets=ds.keep.isChecked())

    def missing_model(self, name: str) -> str | None:
        """Why ``name`` cannot take a version as an existing model, or None."""
        try:
            model = self.services.inventory.get(self.principal, name)
        except KnownError as err:
            return error_text(err) + "\nChoose New model to add it to the inventory."
        return f"{name} is retired; it takes no new versions." if model.status == "retired" \
            else None

    def summary_text(self) -> str:
        req = self.request()
        kind = "new model" if self.model_page.is_new() else "existing model"
        lines = [f"Model:           {req.model} ({kind})"]
        lines += [f"  {k.replace('_', ' ')}: {v}" for k, v in req.model_fields.items()
                  if v not in ("", None)]
        lines += [f"Artifact:        {req.artifact}", f"Label:           {req.label or '—'}",
                  f"Code reference:  {req.code_reference or '—'}",
                  "Metrics:         " + (", ".join(f"{k}={v:g}" for k, v in req.metrics.items())
                                         or "—")]
        given = dict((role, path) for path, role in req.datasets)
        lines += [f"{role.capitalize() + ' data:':<17}{given.get(role, '—')}"
                  for role in DATASET_ROLES]
        lines.append(f"Raw dataset files: {'kept' if req.keep_datasets else 'not kept'}")
        return "\n".join(lines)

    # -- importing ---------------------------------------------------------------------------
    def finish_or_import(self) -> bool:
        """Finish closes the wizard after a successful import; before that it imports."""
        if self.version is not None:
            return True
        if self.task is None:
            self.start_import()
        return False

    def start_import(self) -> Task:
        importer = ImportService(self.services.store, self.services.artifacts)
        who, req = self.principal, self.request()
        page = self.summary_page
        page.show_result(None)
        page.progress.setRange(0, 0)
        page.status.setText("Importing… (Cancel stops it; nothing is written until the end)")
        self._set_busy(True)
        self.task = run_task(
            self, f"Importing {req.model}…",
            lambda progress, cancel: importer.import_version(who, req, progress=progress,
                                                             cancel=cancel),
            self._succeeded, on_failure=self._failed, cancellable=True, show_progress=False)
        self.task.progressed.connect(self._progressed)
        self.task.done.connect(lambda: self._set_busy(False))
        return self.task

    def _progressed(self, done: int, total: int) -> None:
        self.summary_page.progress.setRange(0, total)
        self.summary_page.progress.setValue(min(done, total))

    def _set_busy(self, busy: bool) -> None:
        if not busy:
            self.task = None
        page = self.summary_page
        page.progress.setVisible(busy)
        page.status.setVisible(busy)
        self.button(QWizard.WizardButton.BackButton).setEnabled(not busy and self.version is None)
        self.button(QWizard.WizardButton.FinishButton).setEnabled(not busy)

    def _succeeded(self, result: tuple[Any, Any]) -> None:
        self.version, changes = result
        self.summary_page.show_result(
            f"Imported {self.version.model_name} version {self.version.number}.")
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
        self.button(QWizard.WizardButton.CancelButton).hide()
        self.imported.emit(changes)

    def _failed(self, err: BaseException) -> bool:
        if not isinstance(err, KnownError):
            return False  # our bug: the crash dialog
        text = err.message if isinstance(err, Cancelled) else error_text(err)
        self.summary_page.show_result(text + "\nNothing was imported; go Back to change the "
                                      "input and try again.", ok=False)
        return True

    def reject(self) -> None:
        if self.task is not None:  # Cancel while importing stops the import, not the wizard
            self.task.cancel()
            self.summary_page.status.setText("Cancelling…")
            return
        super().reject()
