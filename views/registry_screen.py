"""Model registry (every role that may read models): search and filter the inventory, add a
model, open one. The model page lives in this screen's own stack, so the main window's
navigation stays one entry per screen and Back returns to the list where it was.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_registry import Model, ModelFilter
from core.errors import KnownError
from core.permissions import Action
from views.error_dialog import error_text
from views.import_wizard import ImportWizard
from views.model_dialogs import TIER_CHOICES, ModelFormDialog
from views.model_screen import ModelScreen
from views.model_table_model import MODEL_ROLE, STATUS_LABELS, ModelTableModel
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_from_dialog
from views.widgets import button_row, data_table, plain_label, screen_header

_WIDTHS = (220, 90, 115, 160, 75, 70, 115)
SEARCH_DELAY_MS = 250


class RegistryScreen(Screen):
    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 16)
        self.pages = QStackedWidget()
        outer.addWidget(self.pages)
        self.list_page = QWidget()
        layout = QVBoxLayout(self.list_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(screen_header(
            "Model registry", "Every model in development, in use or retired, with its "
            "versions. Models are retired, never deleted."))
        layout.addLayout(self._filter_row())
        self.new_button = QPushButton(icon("new-model"), "New model…")
        self.new_button.clicked.connect(self.new_model)
        self.new_button.setVisible(principal.may(Action.MODEL_IMPORT))
        self.import_button = QPushButton(icon("import"), "Import version…")
        self.import_button.clicked.connect(lambda: self.import_version(self._selected_name()))
        self.import_button.setVisible(principal.may(Action.MODEL_IMPORT))
        self.open_button = QPushButton(icon("open"), "Open")
        self.open_button.clicked.connect(self.open_selected)
        self.count_label = plain_label("", "muted", wrap=False)
        row = button_row(self.new_button, self.import_button, self.open_button)
        row.addWidget(self.count_label)
        layout.addLayout(row)
        self.banner = plain_label("", "bannerBad")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.model = ModelTableModel(services, principal, parent=self)
        self.model.load_failed.connect(self._load_failed)
        self.model.rowsInserted.connect(self._loaded)
        self.model.modelReset.connect(self._loaded)
        self.table = data_table(self.model, _WIDTHS)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.activated.connect(self._double_clicked)  # Enter on a row
        layout.addWidget(self.table, 1)
        self.pages.addWidget(self.list_page)
        self.model_page = ModelScreen(services, principal)
        self.model_page.back_requested.connect(self.show_list)
        self.model_page.changes_made.connect(self.changes_made)
        self.pages.addWidget(self.model_page)
        # The Versions tab's import, added here so the model page stays free of the wizard.
        self.import_new_button = QPushButton(icon("import"), "Import new version…")
        self.import_new_button.clicked.connect(self._import_for_open_model)
        if principal.may(Action.MODEL_IMPORT):
            self.model_page.versions.actions.insertWidget(0, self.import_new_button)
        else:
            self.import_new_button.hide()
        self._owners: set[str] = set()
        self.model.reload()
        self._update_buttons()

    def _filter_row(self) -> QHBoxLayout:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, purpose or owner (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search models")
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for key, label in STATUS_LABELS.items():
            self.status.addItem(label, key)
        self.tier = QComboBox()
        self.tier.addItem("Any tier", None)
        for label, value in TIER_CHOICES[1:]:
            self.tier.addItem(f"Tier {label}", value)
        self.owner = QLineEdit()
        self.owner.setPlaceholderText("Business owner (exact)")
        self.owner.setClearButtonEnabled(True)
        self.owner.setAccessibleName("Business owner")
        self._owner_completer = QCompleter([], self.owner)
        self._owner_completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.owner.setCompleter(self._owner_completer)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_filter)
        self.owner.editingFinished.connect(self._owner_changed)
        self.status.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.tier.currentIndexChanged.connect(lambda _i: self.apply_filter())
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.search, 3)
        for text, widget in (("Status", self.status), ("Tier", self.tier)):
            row.addSpacing(6)
            row.addWidget(QLabel(text))
            row.addWidget(widget)
        row.addSpacing(6)
        row.addWidget(QLabel("Owner"))
        row.addWidget(self.owner, 2)
        return row

    # -- filtering and loading ----------------------------------------------------------------
    def current_filter(self) -> ModelFilter:
        return ModelFilter(text=self.search.text().strip() or None,
                           status=self.status.currentData(), risk_tier=self.tier.currentData(),
                           owner=self.owner.text().strip() or None)

    def apply_filter(self) -> None:
        self._search_timer.stop()
        if self.current_filter() != self.model.filter:
            self.banner.hide()
            self.model.reload(self.current_filter())

    def _owner_changed(self) -> None:
        self.apply_filter()

    def _loaded(self, *_args: object) -> None:
        n = self.model.rowCount()
        noun = "model" if n == 1 else "models"
        more = "" if self.model.at_end else " (more load as you scroll)"
        self.count_label.setText(f"{n:,} {noun} shown{more}")
        new = {m.business_owner for m in self.model.models if m.business_owner} - self._owners
        if new:
            self._owners |= new
            self._owner_completer.model().setStringList(sorted(self._owners))
        self._update_buttons()

    def _load_failed(self, err: KnownError) -> None:
        self.banner.setText("Cannot read the registry: " + error_text(err))
        self.banner.show()

    # -- Screen ------------------------------------------------------------------------------
    def refresh(self) -> None:
        chosen = self.selected_model()
        self.model.reload()
        if chosen is not None:
            self.select(chosen.name)
        if self.pages.currentWidget() is self.model_page:
            self.model_page.refresh()

    def on_changes(self, changes: Changes) -> None:
        if "models" in changes.kinds:
            self.refresh()
        elif changes.audit and self.pages.currentWidget() is self.model_page:
            self.model_page.refresh()

    def focus_filter(self) -> None:
        self.show_list()
        self.search.setFocus()
        self.search.selectAll()

    # -- selection and navigation -------------------------------------------------------------
    def selected_model(self) -> Model | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(MODEL_ROLE) if rows else None

    def select(self, name: str) -> None:
        row = self.model.row_of(name)
        if row >= 0:
            self.table.selectRow(row)

    def _update_buttons(self, *_args: object) -> None:
        self.open_button.setEnabled(self.selected_model() is not None)

    def _double_clicked(self, index: QModelIndex) -> None:
        model = index.data(MODEL_ROLE)
        if model is not None:
            self.open_model(model.name)

    def open_selected(self) -> None:
        model = self.selected_model()
        if model is not None:
            self.open_model(model.name)

    def open_model(self, name: str) -> None:
        self.model_page.show_model(name)
        self.pages.setCurrentWidget(self.model_page)

    def show_list(self) -> None:
        self.pages.setCurrentWidget(self.list_page)
        self.table.setFocus()

    # -- actions -----------------------------------------------------------------------------
    def new_model(self) -> None:
        if not self.principal.may(Action.MODEL_IMPORT):
            return
        dialog = ModelFormDialog(None, self)
        inventory, who = self.services.inventory, self.principal

        def submit() -> None:
            name, values = dialog.model_name(), dialog.values()
            run_from_dialog(self, dialog, "Adding the model…",
                            lambda: inventory.create(who, name, values), self._created)

        dialog.submitted.connect(submit)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _selected_name(self) -> str | None:
        model = self.selected_model()
        return model.name if model is not None else None

    def _import_for_open_model(self) -> None:
        page = self.model_page
        if page.model is not None and page.model.status != "retired":
            self.import_version(page.model.name)

    def import_version(self, model_name: str | None = None) -> None:
        if not self.principal.may(Action.MODEL_IMPORT):
            return
        wizard = ImportWizard(self.services, self.principal, self, model_name=model_name)
        wizard.imported.connect(self.changes_made)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = wizard
        wizard.open()

    def _created(self, result: tuple[Model, Changes]) -> None:
        model, changes = result
        self.changes_made.emit(changes)
        if self.model.row_of(model.name) < 0:  # unless the broadcast reloaded the list
            self.model.reload()
        self.select(model.name)
        self.open_model(model.name)
