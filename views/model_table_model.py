"""Table model of the model registry: models by name, loaded lazily in keyset pages.

Opening the registry reads one page (200 models) whatever the inventory's size; the view asks
for more through ``canFetchMore``/``fetchMore`` as the user scrolls, each page starting after the
last name loaded (never an offset). Also the labels the registry and model screens share.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.entities import Principal
from core.entities_registry import Model, ModelFilter
from views.services import ServicesLike
from views.table_model import KeysetTableModel
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


class ModelTableModel(KeysetTableModel):
    HEADERS = HEADERS

    def __init__(self, services: ServicesLike, principal: Principal, *,
                 page_size: int = PAGE_SIZE, parent=None) -> None:  # noqa: ANN001
        super().__init__(ModelFilter(), page_size=page_size, parent=parent)
        self.services = services
        self.principal = principal

    # -- loading ---------------------------------------------------------------------------
    def fetch_page(self, cursor, limit: int):  # noqa: ANN001, ANN201
        return self.services.inventory.page(self.principal, self.filter, after_name=cursor,
                                            limit=limit)

    @property
    def models(self) -> list:
        return self.items

    def row_of(self, name: str) -> int:
        for row, model in enumerate(self.models):
            if model.name == name:
                return row
        return -1

    # -- Qt model API ------------------------------------------------------------------------
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
