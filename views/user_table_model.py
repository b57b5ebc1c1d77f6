"""Table model of the store's users (a store has tens to hundreds of users: loaded at once)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.entities import User
from views.table_model import ListTableModel
from views.timefmt import local_text
from views.widgets import plain_tooltip

COL_USERNAME, COL_NAME, COL_ROLES, COL_STATUS, COL_LAST_SIGN_IN, COL_EMAIL = range(6)
HEADERS = ("User name", "Name", "Roles", "Status", "Last sign-in", "E-mail")
USER_ROLE = Qt.ItemDataRole.UserRole + 1  # the User entity of the row

_STATUS_COLOURS = {"disabled": "#7b8794", "locked": "#b42318",
                   "awaiting first sign-in": "#b45309", "active": "#1e7b4f"}
_Index = QModelIndex | QPersistentModelIndex


class UserTableModel(ListTableModel):
    HEADERS = HEADERS
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.users: list[User] = []

    def set_users(self, users: list[User]) -> None:
        self.beginResetModel()
        self.users = list(users)
        self.endResetModel()

    def user_at(self, row: int) -> User:
        return self.users[row]

    def row_of(self, username: str) -> int:
        for row, user in enumerate(self.users):
            if user.username == username:
                return row
        return -1

    def rows(self) -> list:
        return self.users

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        user = self.item(index)
        if user is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(str(self.data(index)))
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_USERNAME:
                return user.username
            if col == COL_NAME:
                return user.display_name
            if col == COL_ROLES:
                return ", ".join(r.label for r in user.roles)
            if col == COL_STATUS:
                return user.status
            if col == COL_LAST_SIGN_IN:
                return local_text(user.last_sign_in_at, seconds=False) or "never"
            if col == COL_EMAIL:
                return user.email or ""
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            return QBrush(QColor(_STATUS_COLOURS.get(user.status, "#1f2933")))
        if role == USER_ROLE:
            return user
        return None
