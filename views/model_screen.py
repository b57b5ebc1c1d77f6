"""One model: its inventory record with the completeness check, its versions, the validation of
a version (evaluations and documentation), its own history.

Shown as a page of the registry screen (Back returns to the list). Edit and Retire appear only
for roles with ``model.edit``; the History tab only for roles that may read the audit trail.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities import AuditFilter, Changes, Principal
from core.entities_registry import Model
from core.errors import KnownError
from core.permissions import Action
from views.audit_screen import event_details
from views.audit_table_model import EVENT_ROLE, AuditTableModel
from views.error_dialog import error_text
from views.findings_panel import FindingsPanel
from views.model_dialogs import ModelFormDialog
from views.model_table_model import SOURCE_LABELS, status_label, tier_label
from views.calendar_dialogs import ExceptionDialog, grant_exception, may_grant_exception
from views.model_versions import VersionsPanel
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_from_dialog
from views.timefmt import local_text
from views.validation_screen import ValidationView
from views.widgets import ReasonDialog, button_row, plain_label

FIELDS = (("purpose", "Purpose"), ("intended_use", "Intended use"),
          ("restrictions", "Restrictions on use"), ("products", "Products"),
          ("methodology", "Methodology"), ("limitations", "Limitations and assumptions"),
          ("monitoring_plan", "Ongoing monitoring plan"), ("business_owner", "Business owner"),
          ("developer", "Developer"), ("risk_tier", "Risk tier"),
          ("data_classification", "Data classification"),
          ("uses_personal_data", "Uses personal data"), ("source", "Source"),
          ("vendor_name", "Vendor"), ("status", "Status"), ("created", "Created"),
          ("updated_at", "Last changed"), ("retired_at", "Retired"))


def field_text(model: Model, key: str) -> str:
    if key == "risk_tier":
        return tier_label(model.risk_tier)
    if key == "uses_personal_data":
        return {True: "yes", False: "no"}.get(model.uses_personal_data, "not stated")
    if key == "source":
        return SOURCE_LABELS.get(model.source, model.source)
    if key == "status":
        return status_label(model.status)
    if key == "created":
        return f"{local_text(model.created_at, seconds=False)} by {model.created_by}"
    if key in ("updated_at", "retired_at"):
        return local_text(getattr(model, key), seconds=False) or "—"
    return getattr(model, key) or "—"


class ModelScreen(Screen):
    back_requested = Signal()

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.model: Model | None = None
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.back_button = QPushButton(icon("back"), "Back to the registry")
        self.back_button.clicked.connect(self.back_requested)
        self.title = plain_label("", "screenTitle", wrap=False)
        self.status_label = plain_label("", "badge", wrap=False)
        self.tier_label = plain_label("", "badge", wrap=False)
        head = QHBoxLayout()
        head.setSpacing(12)
        for widget in (self.back_button, self.title, self.status_label, self.tier_label):
            head.addWidget(widget)
        head.addStretch(1)
        layout.addLayout(head)
        self.error = plain_label("", "bannerBad")
        self.error.hide()
        layout.addWidget(self.error)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._inventory_tab(), icon("inventory"), "Inventory")
        self.versions = VersionsPanel()
        self.profile_button = QPushButton(icon("inventory"), "Reference profile…")
        self.profile_button.setToolTip("What drift monitoring compares production inputs with")
        self.profile_button.clicked.connect(self.show_profile)
        self.versions.actions.addWidget(self.profile_button)
        may_evaluate = principal.may(Action.MODEL_EVALUATE)
        self.validate_button = QPushButton(icon("verify"),
                                           "Validate…" if may_evaluate else "Evaluations…")
        self.validate_button.setToolTip(
            "Evaluate the selected version and generate its documentation" if may_evaluate
            else "The selected version's recorded evaluations and documentation")
        self.validate_button.clicked.connect(self.open_validation)
        self.versions.actions.addWidget(self.validate_button)
        self.exception_button = QPushButton(icon("history"), "Policy exception…")
        self.exception_button.setToolTip("Let the selected version be used before its "
                                         "sign-offs, until a date (managers)")
        self.exception_button.clicked.connect(lambda: self.grant_exception())
        self.exception_button.setVisible(principal.may(Action.POLICY_EXCEPTION))
        self.versions.actions.addWidget(self.exception_button)
        self.versions.selection_changed.connect(self._update_profile_button)
        self.tabs.addTab(self.versions, icon("versions"), "Versions")
        self.validation = ValidationView(services, principal)
        self.validation.changes_made.connect(self.changes_made)
        self.versions.selection_changed.connect(self._follow_version)
        self.tabs.addTab(self.validation, icon("verify"), "Validation")
        self.findings = FindingsPanel(services, principal)
        self.findings.layout().setContentsMargins(0, 8, 0, 0)
        self.findings.changes_made.connect(self.changes_made)
        self.versions.selection_changed.connect(self._follow_findings)
        self.tabs.addTab(self.findings, icon("approvals"), "Findings")
        self._update_profile_button()
        self.history: AuditTableModel | None = None
        if principal.may(Action.AUDIT_READ):
            self.tabs.addTab(self._history_tab(), icon("history"), "History")
        layout.addWidget(self.tabs, 1)

    def _inventory_tab(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        self.edit_button = QPushButton(icon("edit"), "Edit…")
        self.edit_button.clicked.connect(self.edit)
        self.retire_button = QPushButton(icon("retire"), "Retire…")
        self.retire_button.clicked.connect(self.retire)
        may_edit = self.principal.may(Action.MODEL_EDIT)
        self.edit_button.setVisible(may_edit)
        self.retire_button.setVisible(may_edit)
        if may_edit:
            box.addLayout(button_row(self.edit_button, self.retire_button))
        self.completeness = plain_label("", "bannerOk")
        box.addWidget(self.completeness)
        card = QFrame()
        card.setObjectName("card")
        self.form = QFormLayout(card)
        self.form.setContentsMargins(16, 12, 16, 12)
        self.form.setVerticalSpacing(8)
        self.form.setHorizontalSpacing(18)
        self.values: dict[str, Any] = {}
        for key, label in FIELDS:
            value = plain_label("")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            self.form.addRow(plain_label(label, "fieldLabel", wrap=False), value)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        inner = QVBoxLayout(holder)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(card)
        inner.addStretch(1)
        scroll.setWidget(holder)
        box.addWidget(scroll, 1)
        return page

    def _history_tab(self) -> QWidget:
        self.history = AuditTableModel(self.services, self.principal, parent=self)
        self.history.load_failed.connect(lambda err: self._show_error(err))
        self.history_table = QTableView()
        self.history_table.setModel(self.history)
        self.history_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.history_table.setAlternatingRowColors(True)
        self.history_table.setWordWrap(False)
        self.history_table.verticalHeader().hide()
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((60, 180, 90, 130, 110, 130, 170, 160, 160, 150)):
            self.history_table.setColumnWidth(col, width)
        self.history_details = QPlainTextEdit()
        self.history_details.setReadOnly(True)
        self.history_details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.history_details.setPlaceholderText("Select an event to see its values and reason.")
        self.history_table.selectionModel().selectionChanged.connect(self._event_selected)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.history_table)
        split.addWidget(self.history_details)
        split.setSizes([320, 160])
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.addWidget(split)
        return page

    # -- loading -----------------------------------------------------------------------------
    def show_model(self, name: str) -> None:
        """Read the model ``name``, its versions and (if allowed) its history."""
        self.versions.set_versions([])
        if self.history is not None:
            self.history_details.clear()
        self.tabs.setCurrentIndex(0)
        self._load(name)

    def _load(self, name: str) -> None:
        inventory, who = self.services.inventory, self.principal
        try:
            model = inventory.get(who, name)
            versions = inventory.versions(who, name)
        except KnownError as err:
            self._show_error(err)
            return
        self.error.hide()
        self._set_model(model)
        self.versions.set_versions(versions)
        self.validation.set_versions(model.name, versions)
        if self.history is not None:
            self.history.reload(AuditFilter(object_type="model", object_id=name))

    def _show_error(self, err: KnownError) -> None:
        self.error.setText(error_text(err))
        self.error.show()

    def _set_model(self, model: Model) -> None:
        self.model = model
        self.title.setText(model.name)
        self.status_label.setText(status_label(model.status))
        self.tier_label.setText(f"Tier {tier_label(model.risk_tier)}")
        for key, label in self.values.items():
            label.setText(field_text(model, key))
        self.form.setRowVisible(self.values["vendor_name"], model.source == "vendor")
        self.form.setRowVisible(self.values["retired_at"], model.retired_at is not None)
        missing = model.missing_fields()
        self.completeness.setObjectName("notice" if missing else "bannerOk")
        self.completeness.style().unpolish(self.completeness)
        self.completeness.style().polish(self.completeness)
        self.completeness.setText(
            "Incomplete inventory record. Missing:\n   •  " + "\n   •  ".join(missing)
            if missing else "✔ Complete: every inventory field examiners expect is filled in.")
        self.retire_button.setEnabled(model.status != "retired")

    # -- Screen ------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.model is not None:
            self._load(self.model.name)

    def on_changes(self, changes: Changes) -> None:
        if self.model is not None and ("models" in changes.kinds or changes.audit):
            self.refresh()

    def _event_selected(self, *_args: object) -> None:
        rows = self.history_table.selectionModel().selectedRows()
        self.history_details.setPlainText(event_details(rows[0].data(EVENT_ROLE)) if rows else "")

    # -- actions -----------------------------------------------------------------------------
    def _open(self, dialog: QWidget) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _done(self, result: tuple[Model, Changes]) -> None:
        model, changes = result
        self._set_model(model)
        self.changes_made.emit(changes)

    def edit(self) -> None:
        model, inventory, who = self.model, self.services.inventory, self.principal
        if model is None or not who.may(Action.MODEL_EDIT):
            return
        dialog = ModelFormDialog(model, self)

        def submit() -> None:
            values, reason = dialog.values(), dialog.reason_text()
            run_from_dialog(self, dialog, "Saving the inventory record…",
                            lambda: inventory.update(who, model.name, values, reason=reason),
                            self._done)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def retire(self) -> None:
        model, inventory, who = self.model, self.services.inventory, self.principal
        if model is None or not who.may(Action.MODEL_EDIT) or model.status == "retired":
            return
        dialog = ReasonDialog(
            f"Retire {model.name}", f"{model.name} will be marked retired. It stays in the "
            "inventory and in searches with all its versions and history. Why?", self,
            action_text="Retire model")

        def submit() -> None:
            reason = dialog.text()
            run_from_dialog(self, dialog, "Retiring…",
                            lambda: inventory.retire(who, model.name, reason=reason), self._done)

        dialog.submitted.connect(submit)
        self._open(dialog)

    # -- reference profile ---------------------------------------------------------------------
    def _profiled(self):  # noqa: ANN202 - the selected version's profiled dataset, if any
        version = self.versions.selected()
        if version is None:
            return None
        ranked = sorted((d for d in version.datasets if d.has_profile),
                        key=lambda d: d.role != "reference")
        return ranked[0] if ranked else None

    def _update_profile_button(self) -> None:
        self.profile_button.setEnabled(self._profiled() is not None)
        self.validate_button.setEnabled(self.versions.selected() is not None)
        self.exception_button.setEnabled(may_grant_exception(self.principal,
                                                             self.versions.selected()))

    # -- validation --------------------------------------------------------------------------
    def _follow_version(self) -> None:
        version = self.versions.selected()
        if version is not None and version.model_name == self.validation.model_name:
            self.validation.show_version(version.number)

    def _follow_findings(self) -> None:
        version = self.versions.selected()
        if version is None:
            self.findings.set_findings(None, None, [])
        else:
            self.findings.load(version.model_name, version.number, version.author)

    def grant_exception(self) -> ExceptionDialog | None:
        """A manager's policy exception for the selected version (password again)."""
        version = self.versions.selected()
        if not may_grant_exception(self.principal, version):
            return None
        return grant_exception(self, self.services.exceptions, self.principal, version,
                               self.changes_made.emit, self.session_ended.emit)

    def open_validation(self) -> None:
        """The Validation tab, on the version selected in the Versions tab."""
        version = self.versions.selected()
        if version is not None:
            self.validation.show_version(version.number)
        self.tabs.setCurrentWidget(self.validation)

    def show_profile(self) -> None:
        from views.profile_dialog import ProfileDialog
        from views.task import run_call

        dataset = self._profiled()
        if dataset is None:
            return
        inventory, who, sha = self.services.inventory, self.principal, dataset.sha256

        def show(profile: object) -> None:
            dialog = ProfileDialog(f"Reference profile of {dataset.name} ({dataset.role})",
                                   profile, self)  # type: ignore[arg-type]
            self.profile_dialog = dialog
            dialog.open()

        run_call(self, "Reading the reference profile…",
                 lambda: inventory.reference_profile(who, sha), show)

