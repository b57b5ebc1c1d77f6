"""The part every list-backed table model shares: rows, columns and horizontal headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from core.entities import Page
from core.errors import KnownError

Index = QModelIndex | QPersistentModelIndex


class ListTableModel(QAbstractTableModel):
    """A flat table over a Python list of entities; subclasses give HEADERS and ``rows()``."""

    HEADERS: tuple[str, ...] = ()

    def rows(self) -> Sequence[Any]:
        raise NotImplementedError

    def item(self, index: Index) -> Any | None:
        """The entity behind ``index``, or None for an index outside the table."""
        rows = self.rows()
        if not index.isValid() or not 0 <= index.row() < len(rows):
            return None
        return rows[index.row()]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.HEADERS)):
            return self.HEADERS[section]
        return None


class KeysetTableModel(ListTableModel):
    """A table that reads a service's keyset pages as the view scrolls (canFetchMore/fetchMore):
    opening it costs one page whatever the table's size. Subclasses give ``fetch_page``."""

    load_failed = Signal(object)  # KnownError while fetching a page

    def __init__(self, flt: Any, *, page_size: int, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.filter = flt
        self.page_size = page_size
        self.items: list[Any] = []
        self._cursor: Any = None
        self._at_end = False
        self.pages_fetched = 0

    def fetch_page(self, cursor: Any, limit: int) -> Page[Any]:
        raise NotImplementedError

    def rows(self) -> list[Any]:
        return self.items

    @property
    def at_end(self) -> bool:
        return self._at_end

    def reload(self, flt: Any | None = None) -> None:
        """Start again from the first page (with a new filter if given); reads one page."""
        if flt is not None:
            self.filter = flt
        self.beginResetModel()
        self.items = []
        self._cursor = None
        self._at_end = False
        self.pages_fetched = 0
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and not self._at_end

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if parent.isValid() or self._at_end:
            return
        try:
            page = self.fetch_page(self._cursor, self.page_size)
        except KnownError as err:
            self._at_end = True
            self.load_failed.emit(err)
            return
        self.pages_fetched += 1
        self._cursor = page.next_cursor
        self._at_end = page.next_cursor is None
        if page.items:
            first = len(self.items)
            self.beginInsertRows(QModelIndex(), first, first + len(page.items) - 1)
            self.items.extend(page.items)
            self.endInsertRows()
