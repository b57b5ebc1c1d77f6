"""Table model of the model registry: models by name, loaded lazily in keyset pages.

Opening the registry reads one page (200 models) whatever the inventory's size; the view asks
for more through ``canFetchMore``/``fetchMore`` as the user scrolls, each page starting after the
last name loaded (never an offset). Also the labels the registry and model screens share.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from core.entities import Principal
from core.entities_registry import Model, ModelFilter
from core.errors import KnownError
from views.services import ServicesLike
from views.table_model import ListTableModel
from views.timefmt import local_text
from views.widgets import plain_tooltip

(COL_NAME, COL_TIER, COL_STATUS, COL_OWNER, COL_VERSIONS, COL_LATEST, COL_COMPLETENESS,
 COL_UPDATED) = range(8)
HEADERS = ("Name", "Tier", "Status", "Business owner", "Versions", "Latest",
           "Completeness", "Updated")
MODEL_ROLE = Qt.ItemDataRole.UserRole + 1  # the Model entity of the row
PAGE_SIZE = 200

STATUS_LABELS = {"in_development": "In development", "in_use": "In use", "retired": "Retired"}
TIER_LABELS = {1: "1 (high)", 2: "2 (medium)", 3: "3 (low)"}
SOURCE_LABELS = {"in_house": "In-house", "vendor": "Vendor"}
_STATUS_COLOURS = {"in_use": "#1e7b4f", "in_development": "#34506f", "retired": "#7b8794"}
_INCOMPLETE = "#b45309"
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_Index = QModelIndex | QPersistentModelIndex


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def tier_label(tier: int | None) -> str:
    return TIER_LABELS.get(tier, "not rated") if tier is not None else "not rated"


def completeness_text(model: Model) -> str:
    missing = len(model.missing_fields())
    return "complete" if missing == 0 else f"{missing} missing"


class ModelTableModel(ListTableModel):
    HEADERS = HEADERS
    load_failed = Signal(object)  # KnownError while fetching a page

    def __init__(self, services: ServicesLike, principal: Principal, *,
                 page_size: int = PAGE_SIZE, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.services = services
        self.principal = principal
        self.page_size = page_size
        self.filter = ModelFilter()
        self.models: list[Model] = []
        self._cursor: str | None = None
        self._at_end = False
        self.pages_fetched = 0

    # -- loading ---------------------------------------------------------------------------
    def reload(self, flt: ModelFilter | None = None) -> None:
        """Start again from the first name (with a new filter if given); reads one page."""
        if flt is not None:
            self.filter = flt
        self.beginResetModel()
        self.models = []
        self._cursor = None
        self._at_end = False
        self.pages_fetched = 0
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and not self._at_end

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008, N802
        if parent.isValid() or self._at_end:
            return
        try:
            page = self.services.inventory.page(self.principal, self.filter,
                                                after_name=self._cursor, limit=self.page_size)
        except KnownError as err:
            self._at_end = True
            self.load_failed.emit(err)
            return
        self.pages_fetched += 1
        self._cursor = page.next_cursor
        self._at_end = page.next_cursor is None
        if page.items:
            first = len(self.models)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self.models.extend(page.items)
            self.endInsertRows()

    @property
    def at_end(self) -> bool:
        return self._at_end

    def row_of(self, name: str) -> int:
        for row, model in enumerate(self.models):
            if model.name == name:
                return row
        return -1

    # -- Qt model API ------------------------------------------------------------------------
    def rows(self) -> list:
        return self.models

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        model = self.item(index)
        if model is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(model, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_COMPLETENESS and model.missing_fields():
                return plain_tooltip("Missing: " + ", ".join(model.missing_fields()))
            if col in (COL_NAME, COL_OWNER):
                return plain_tooltip(self._display(model, col))
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_STATUS:
                return QBrush(QColor(_STATUS_COLOURS.get(model.status, "#1f2933")))
            if col == COL_COMPLETENESS and model.missing_fields():
                return QBrush(QColor(_INCOMPLETE))
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_VERSIONS, COL_LATEST):
            return _RIGHT
        if role == MODEL_ROLE:
            return model
        return None

    @staticmethod
    def _display(model: Model, col: int) -> str:
        if col == COL_NAME:
            return model.name
        if col == COL_TIER:
            return tier_label(model.risk_tier)
        if col == COL_STATUS:
            return status_label(model.status)
        if col == COL_OWNER:
            return model.business_owner
        if col == COL_VERSIONS:
            return str(model.version_count)
        if col == COL_LATEST:
            return f"v{model.latest_version}" if model.latest_version is not None else "—"
        if col == COL_COMPLETENESS:
            return completeness_text(model)
        if col == COL_UPDATED:
            return local_text(model.updated_at, seconds=False)
        return ""
