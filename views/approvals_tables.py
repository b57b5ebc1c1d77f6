"""Table models of the approvals screen: the inbox, findings, signatures, the compliance
calendar. Each holds a short list of plain entities read by a service (tens of rows)."""

from __future__ import annotations

from datetime import datetime
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from core.entities_workflow import Finding, Signature
from core.services.calendar import DueItem
from core.services.workflow import InboxItem, PolicyException
from core.workflow.lifecycle import SETTLED, STATE_LABELS
from views.model_table_model import tier_label
from views.table_model import ListTableModel
from views.timefmt import local_text
from views.widgets import plain_tooltip

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex
BAD = QColor("#b42318")
MEANING_LABELS = {"authored": "Authored", "validated": "Validated", "reviewed": "Reviewed",
                  "approved": "Approved", "rejected": "Rejected"}


class RowsTableModel(ListTableModel):
    """Rows of plain entities, a ``texts(row)`` tuple per row, tool tips showing the text, an
    optional ``foreground(row, column)`` colour, and the entity under ``ITEM_ROLE``."""

    def __init__(self, parent=None, items: Sequence[Any] = ()) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.items: list[Any] = list(items)

    def set_items(self, items: list[Any]) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def rows(self) -> list[Any]:
        return self.items

    def texts(self, row: Any) -> tuple[str, ...]:
        raise NotImplementedError

    def foreground(self, row: Any, column: int) -> QColor | None:
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.item(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.texts(row)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(self.texts(row)[index.column()])
        if role == Qt.ItemDataRole.ForegroundRole:
            color = self.foreground(row, index.column())
            return QBrush(color) if color is not None else None
        if role == ITEM_ROLE:
            return row
        return None


class InboxTableModel(RowsTableModel):
    HEADERS = ("Model", "Version", "Tier", "State", "Waiting for you to", "Since")

    def texts(self, row: InboxItem) -> tuple[str, ...]:
        return (row.model, str(row.version), tier_label(row.tier),
                STATE_LABELS.get(row.state, row.state), row.wanted,
                local_text(row.since, seconds=False))


class FindingTableModel(RowsTableModel):
    HEADERS = ("#", "Severity", "Status", "Title", "Owner", "Due", "Remediation")

    def texts(self, row: Finding) -> tuple[str, ...]:
        return (str(row.id), row.severity, row.status, row.title, row.owner,
                row.due_date.isoformat() if row.due_date else "—",
                row.remediation.replace("\n", " ") or "—")

    def foreground(self, row: Finding, column: int) -> QColor | None:
        if column == 1 and row.severity == "high" and row.status != "closed":
            return BAD
        return None


def signature_validity(sig: Signature) -> str:
    return "valid" if sig.valid else f"NOT VALID: {sig.invalid_reason}"


class SignatureTableModel(RowsTableModel):
    HEADERS = ("Meaning", "Printed name", "Role", "Signed (local time)", "Reason", "Validity")

    def texts(self, row: Signature) -> tuple[str, ...]:
        return (MEANING_LABELS.get(row.meaning, row.meaning), row.printed_name,
                row.role.replace("_", " "), local_text(row.signed_at), row.reason,
                signature_validity(row))

    def foreground(self, row: Signature, column: int) -> QColor | None:
        return BAD if column == 5 and not row.valid else None


class CalendarTableModel(RowsTableModel):
    """Rows are ``CalendarService.revalidation_due`` items."""

    HEADERS = ("Model", "Version", "Tier", "Validated", "Revalidation due", "Status", "Basis")

    def texts(self, row: DueItem) -> tuple[str, ...]:
        # A validation before Charter has a calendar date, not a moment: shown as recorded.
        def day(when: datetime) -> str:
            return (when if row.version is None else when.astimezone()).strftime("%Y-%m-%d")

        return (row.model, "—" if row.version is None else str(row.version),
                tier_label(row.tier), day(row.validated_at), day(row.due),
                "OVERDUE" if row.overdue else "due within 30 days", row.basis)

    def foreground(self, row: DueItem, column: int) -> QColor | None:
        return BAD if column == 5 and row.overdue else None


def exception_status(row: PolicyException) -> str:
    if row.expired:
        return "EXPIRED"
    if row.version_state in SETTLED:
        return f"ended: version {STATE_LABELS.get(row.version_state, row.version_state).lower()}"
    return "in force"


class ExceptionTableModel(RowsTableModel):
    """Rows are ``ExceptionService.exceptions`` items; expired ones are flagged."""

    HEADERS = ("#", "Model", "Version", "Granted by", "Granted", "Valid until", "Status",
               "Reason")

    def texts(self, row: PolicyException) -> tuple[str, ...]:
        return (str(row.id), row.model, str(row.version), row.granted_by,
                local_text(row.granted_at, seconds=False), row.expires_on.isoformat(),
                exception_status(row), row.reason.replace("\n", " "))

    def foreground(self, row: PolicyException, column: int) -> QColor | None:
        return BAD if column == 6 and row.expired else None
