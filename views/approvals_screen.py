"""Approvals: what waits for me in my role, and the version it concerns.

The inbox comes from ``WorkflowService.inbox`` (data scientists: own drafts and changes
requested, findings to answer; validators: versions to start and to validate, remediations to
close; compliance officers: validated versions that need their review; managers: versions ready
for approval). Selecting an item shows the version's summary, gates, findings, signatures and the
steps open to the role (views.approvals_detail). Compliance officers also get the compliance
calendar: approved versions overdue for revalidation or due within 30 days.

The screen reads again on every broadcast ``Changes`` about versions, findings, evaluations or
documentation, and reports the number of waiting items on ``badge_changed`` (the navigation
shows it as "Approvals (3)").
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.entities import Changes, Principal
from core.errors import KnownError
from core.permissions import Action, Role
from core.services.workflow import InboxItem
from views.approvals_detail import ApprovalDetail
from views.approvals_tables import ITEM_ROLE, CalendarTableModel, InboxTableModel
from views.error_dialog import error_text
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_call
from views.widgets import data_table, plain_label, screen_header

WATCHED = frozenset({"versions", "workflow", "findings", "evaluations", "documentation",
                     "models"})
SUBTITLES = {
    Role.DATA_SCIENTIST: "Your versions to submit or correct, and findings waiting for your "
                         "answer.",
    Role.VALIDATOR: "Versions submitted for validation, those you are validating, and "
                    "remediations to close. Never your own versions.",
    Role.COMPLIANCE: "Validated versions whose tier needs your compliance review, and the "
                     "revalidation calendar.",
    Role.MANAGER: "Versions with every sign-off their tier needs, ready for your approval. "
                  "Never versions you authored or validated.",
}
EMPTY = "Nothing waits for you. Items appear here when a version reaches a step of yours."


def item_key(item: InboxItem) -> tuple[str, int, int | None]:
    return item.model, item.version, item.finding_id


class ApprovalsScreen(Screen):
    badge_changed = Signal(int)  # how many items wait
    open_model_requested = Signal(str, int)  # model, version: its Validation tab

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.count = 0
        self.items: list[InboxItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        layout.addWidget(screen_header("Approvals", SUBTITLES.get(principal.role, "")))
        self.banner = plain_label("", "error")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.inbox = InboxTableModel(self)
        self.table = data_table(self.inbox, (170, 66, 84, 130, 420))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        self.empty = plain_label(EMPTY, "hint")
        self.empty.hide()
        self.detail = ApprovalDetail(services, principal)
        self.detail.changes_made.connect(self.changes_made)
        self.detail.open_validation.connect(self.open_model_requested)
        top = QWidget()
        top_box = QVBoxLayout(top)
        top_box.setContentsMargins(0, 6, 0, 0)
        top_box.addWidget(self.empty)
        top_box.addWidget(self.table, 1)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(top)
        self.split.addWidget(self.detail)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([150, 520])
        self.tabs.addTab(self.split, icon("approvals"), "Waiting for me")
        self.calendar: CalendarTableModel | None = None
        if principal.may(Action.COMPLIANCE_SIGN):
            self.tabs.addTab(self._calendar_tab(), icon("history"), "Compliance calendar")
        layout.addWidget(self.tabs, 1)
        self.refresh()

    def _calendar_tab(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.addWidget(plain_label(
            "Approved versions whose revalidation is overdue or due within 30 days; the tier "
            "policy sets the interval (tier 1: 12 months, tier 2: 24, tier 3: 36 by default).",
            "hint"))
        self.calendar = CalendarTableModel(self)
        self.calendar_table = data_table(self.calendar, (190, 66, 84, 190, 150))
        self.calendar_table.doubleClicked.connect(self._calendar_open)
        self.calendar_table.setToolTip("Double-click a version to open it")
        self.calendar_empty = plain_label("Nothing is overdue or due within 30 days.",
                                          "bannerOk")
        box.addWidget(self.calendar_empty)
        box.addWidget(self.calendar_table, 1)
        return page

    # -- Screen --------------------------------------------------------------------------------
    def refresh(self) -> None:
        flow, who = self.services.workflow, self.principal
        with_calendar = self.calendar is not None

        def read() -> tuple[list[InboxItem], list[dict]]:
            due = flow.revalidation_due(who, within_days=30) if with_calendar else []
            return flow.inbox(who), due

        run_call(self, "Reading your approvals…", read, self._loaded,
                 on_failure=self._failed, show_progress=False)
        self.detail.reload()

    def on_changes(self, changes: Changes) -> None:
        if changes.kinds & WATCHED:
            self.refresh()

    def _failed(self, err: BaseException) -> bool:
        if isinstance(err, KnownError):
            self.banner.setText(error_text(err))
            self.banner.show()
            return True
        return False

    def _loaded(self, result: tuple[list[InboxItem], list[dict]]) -> None:
        items, due = result
        chosen = self.selected()
        self.banner.hide()
        self.items = items
        self.inbox.set_items(items)
        self.empty.setVisible(not items)
        self.table.setVisible(bool(items))
        keys = [item_key(i) for i in items]
        if chosen is not None and item_key(chosen) in keys:
            self.table.selectRow(keys.index(item_key(chosen)))
        self.tabs.setTabText(0, f"Waiting for me ({len(items)})")
        if self.calendar is not None:
            self.calendar.set_items(due)
            self.calendar_empty.setVisible(not due)
            overdue = sum(r["overdue"] for r in due)
            self.tabs.setTabText(1, f"Compliance calendar ({overdue} overdue, "
                                    f"{len(due) - overdue} due soon)")
        self.count = len(items)
        self.badge_changed.emit(self.count)

    # -- selection -----------------------------------------------------------------------------
    def selected(self) -> InboxItem | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def select(self, model: str, version: int) -> bool:
        """Select the first item about ``model`` version ``version`` (tests, links)."""
        for row, item in enumerate(self.items):
            if (item.model, item.version) == (model, version):
                self.table.selectRow(row)
                return True
        return False

    def _selected(self) -> None:
        item = self.selected()
        if item is not None and (item.model, item.version) != self.detail.key:
            self.detail.show_version(item.model, item.version)

    def _calendar_open(self) -> None:
        rows = self.calendar_table.selectionModel().selectedRows()
        if rows:
            row = rows[0].data(ITEM_ROLE)
            self.open_model_requested.emit(row["model"], row["version"])
