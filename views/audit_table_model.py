"""Table model of the audit trail: newest first, loaded lazily in keyset pages.

Opening the screen reads one page (200 events) whatever the trail's size; the view asks for more
through ``canFetchMore``/``fetchMore`` as the user scrolls, each page starting below the last
sequence number loaded (never an offset).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontDatabase

from core.entities import AuditEvent, AuditFilter, Principal
from core.permissions import Role
from views.services import ServicesLike
from views.table_model import KeysetTableModel
from views.timefmt import local_text
from views.widgets import plain_tooltip

(COL_SEQ, COL_TIME, COL_ACTOR, COL_ROLE, COL_WORKSTATION, COL_ACTION, COL_OBJECT, COL_OLD,
 COL_NEW, COL_REASON, COL_HASH) = range(11)
HEADERS = ("#", "Time", "Actor", "Role", "Workstation", "Action", "Object", "Old", "New",
           "Reason", "Hash")
EVENT_ROLE = Qt.ItemDataRole.UserRole + 1  # the AuditEvent of the row
PAGE_SIZE = 200
SYSTEM_ACTOR = "(system)"
ANONYMOUS_ACTOR = "(not signed in)"


def actor_text(event: AuditEvent) -> str:
    """Who acted, for people: failed sign-ins have no actor because nobody is signed in yet."""
    if event.actor:
        return event.actor
    return ANONYMOUS_ACTOR if event.action == "auth.sign_in_failed" else SYSTEM_ACTOR
_CELL_LIMIT = 120
_Index = QModelIndex | QPersistentModelIndex


def role_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return Role(value).label
    except ValueError:
        return value


def _short(text: str | None) -> str:
    if not text:
        return ""
    return text if len(text) <= _CELL_LIMIT else text[:_CELL_LIMIT - 1] + "…"


class AuditTableModel(KeysetTableModel):
    HEADERS = HEADERS

    def __init__(self, services: ServicesLike, principal: Principal, *,
                 page_size: int = PAGE_SIZE, parent=None) -> None:  # noqa: ANN001
        super().__init__(AuditFilter(), page_size=page_size, parent=parent)
        self.services = services
        self.principal = principal
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    # -- loading ---------------------------------------------------------------------------
    def fetch_page(self, cursor, limit: int):  # noqa: ANN001, ANN201
        return self.services.audit.page(self.principal, self.filter, before_seq=cursor,
                                        limit=limit)

    @property
    def events(self) -> list:
        return self.items

    def event_at(self, row: int) -> AuditEvent:
        return self.events[row]

    def row_of_seq(self, seq: int) -> int:
        for row, event in enumerate(self.events):
            if event.seq == seq:
                return row
        return -1

    # -- Qt model API ------------------------------------------------------------------------
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        event = self.item(index)
        if event is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(event, col)
        if role == Qt.ItemDataRole.ToolTipRole and col in (COL_OLD, COL_NEW, COL_REASON,
                                                            COL_HASH):
            return plain_tooltip(self._full(event, col))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_SEQ:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col == COL_HASH:
            return self._mono
        if role == EVENT_ROLE:
            return event
        return None

    @staticmethod
    def _display(event: AuditEvent, col: int) -> str:
        if col == COL_SEQ:
            return str(event.seq)
        if col == COL_TIME:
            return local_text(event.ts)
        if col == COL_ACTOR:
            return actor_text(event)
        if col == COL_ROLE:
            return role_label(event.role)
        if col == COL_WORKSTATION:
            return event.workstation
        if col == COL_ACTION:
            return event.action
        if col == COL_OBJECT:
            return f"{event.object_type}:{event.object_id}"
        if col == COL_OLD:
            return _short(event.old_values)
        if col == COL_NEW:
            return _short(event.new_values)
        if col == COL_REASON:
            return _short(event.reason)
        if col == COL_HASH:
            return event.hash[:12]
        return ""

    @staticmethod
    def _full(event: AuditEvent, col: int) -> str:
        return {COL_OLD: event.old_values, COL_NEW: event.new_values, COL_REASON: event.reason,
                COL_HASH: event.hash}.get(col) or ""
