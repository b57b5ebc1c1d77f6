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

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.errors import KnownError
from core.permissions import Action, Role
from core.services.calendar import DueItem
from core.services.workflow import InboxItem, PolicyException
from core.workflow.review_package import ReviewPackage, open_package
from views.approvals_detail import ApprovalDetail
from views.approvals_tables import (
    ITEM_ROLE,
    CalendarTableModel,
    ExceptionTableModel,
    InboxTableModel,
)
from views.error_dialog import error_text, show_known_error
from views.calendar_dialogs import PriorValidationDialog
from views.review_transfer import ImportResponseDialog, import_response
from views.review_window import ReviewWindow
from views.screen import Screen
from views.services import ServicesLike
from views.sign_dialog import password_refused
from views.style import icon
from views.task import run_call, run_from_dialog
from views.widgets import button_row, data_table, plain_label, screen_header

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
        self.review_button = QPushButton(icon("open"), "Open review package…")
        self.review_button.setToolTip("Verify an offline review package and show it read-only")
        self.review_button.clicked.connect(lambda: self.open_review_package())
        self.review_windows: list[QWidget] = []
        self.response_button = QPushButton(icon("sign"), "Import review response…")
        self.response_button.setToolTip("Import the comments (and signature request) you wrote "
                                        "offline on a review package; password again")
        self.response_button.clicked.connect(lambda: self.import_review_response())
        self.response_button.setVisible(principal.may(Action.COMPLIANCE_SIGN))
        layout.addLayout(button_row(self.review_button, self.response_button))
        self.banner = plain_label("", "error")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.notice = plain_label("", "bannerOk")
        self.notice.hide()
        layout.addWidget(self.notice)
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
        self.detail.session_ended.connect(self.session_ended)
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
            "Models whose revalidation is overdue or due within 30 days, counted from the "
            "newest approval in Charter or, for a model validated before Charter, from the "
            "validation recorded here. The tier policy sets the interval (tier 1: 12 months, "
            "tier 2: 24, tier 3: 36 by default).", "hint"))
        self.prior_button = QPushButton(icon("history"), "Record a validation before Charter…")
        self.prior_button.setToolTip("For a model validated before Charter was adopted: the "
                                     "date and report its revalidation is counted from")
        self.prior_button.clicked.connect(lambda: self.record_prior_validation())
        box.addLayout(button_row(self.prior_button))
        self.calendar = CalendarTableModel(self)
        self.calendar_table = data_table(self.calendar, (210, 70, 80, 100, 150, 110))
        self.calendar_table.doubleClicked.connect(self._calendar_open)
        self.calendar_table.setToolTip("Double-click a row to open the model")
        self.calendar_empty = plain_label("Nothing is overdue or due within 30 days.",
                                          "bannerOk")
        box.addWidget(self.calendar_empty)
        box.addWidget(self.calendar_table, 2)
        self.exceptions_heading = plain_label("Policy exceptions", "sectionTitle", wrap=False)
        box.addWidget(self.exceptions_heading)
        box.addWidget(plain_label(
            "Versions a manager let be used before their sign-offs, until a date; an expired "
            "exception is flagged until the version is approved or rejected.", "hint"))
        self.exceptions = ExceptionTableModel(self)
        self.exceptions_table = data_table(self.exceptions, (44, 190, 70, 100, 170, 100, 150))
        self.exceptions_table.doubleClicked.connect(self._exception_open)
        self.exceptions_table.setToolTip("Double-click a row to open the version")
        box.addWidget(self.exceptions_table, 1)
        return page

    def _exception_open(self) -> None:
        rows = self.exceptions_table.selectionModel().selectedRows()
        if rows:
            row: PolicyException = rows[0].data(ITEM_ROLE)
            self.open_model_requested.emit(row.model, row.version)

    def record_prior_validation(self) -> None:
        """Ask for a validation done before Charter and record it (compliance officers)."""
        who, calendar = self.principal, self.services.calendar

        def ask(names: list[str]) -> None:
            dialog = PriorValidationDialog(who, names, self)

            def submit() -> None:
                values = dialog.values()
                task = run_from_dialog(self, dialog, "Recording the validation…",
                                       lambda: calendar.record_prior_validation(who, **values),
                                       lambda result: self.changes_made.emit(result[1]))
                task.failed.connect(
                    lambda err: password_refused(dialog, err, self.session_ended.emit))

            dialog.submitted.connect(submit)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.prior_dialog = dialog
            dialog.open()

        run_call(self, "Reading the inventory…", lambda: calendar.model_names(who), ask,
                 show_progress=False)

    # -- Screen --------------------------------------------------------------------------------
    def refresh(self) -> None:
        flow, calendar, who = self.services.workflow, self.services.calendar, self.principal
        with_calendar = self.calendar is not None

        exceptions = self.services.exceptions

        def read() -> tuple[list[InboxItem], list[DueItem], list[PolicyException]]:
            if not with_calendar:
                return flow.inbox(who), [], []
            return (flow.inbox(who), calendar.revalidation_due(who, within_days=30),
                    exceptions.exceptions(who))

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

    def _loaded(self, result: tuple[list[InboxItem], list[DueItem], list[PolicyException]]
                ) -> None:
        items, due, granted = result
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
            overdue = sum(r.overdue for r in due)
            expired = sum(e.expired for e in granted)
            self.exceptions.set_items(granted)
            self.exceptions_heading.setText(
                f"Policy exceptions ({len(granted)}" + (f", {expired} EXPIRED)" if expired
                                                         else ")"))
            self.tabs.setTabText(1, f"Compliance calendar ({overdue} overdue, "
                                    f"{len(due) - overdue} due soon"
                                    + (f", {expired} exception(s) expired)" if expired else ")"))
        self.count = len(items)
        self.badge_changed.emit(self.count)

    # -- review packages -------------------------------------------------------------------------
    def open_review_package(self, path: str | Path | None = None) -> None:
        """Verify a package on the worker thread, then show it (views.review_window)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a review package", str(Path.home()),
                "Review packages (*.charter-review);;All files (*)")
            if not path:
                return
        target = Path(path)
        run_call(self, f"Verifying {target.name}…", lambda: open_package(target),
                 self._show_review)

    def import_review_response(self, path: str | Path | None = None
                               ) -> ImportResponseDialog | None:
        def imported(text: str, changes: Changes) -> None:
            self.notice.setText(text)
            self.notice.show()
            self.changes_made.emit(changes)

        dialog = import_response(self, self.services.review, self.principal, imported,
                                 self.session_ended.emit, path)
        self.response_dialog = dialog
        return dialog

    def _show_review(self, package: ReviewPackage) -> None:
        try:
            window = ReviewWindow(package, self)
        except KnownError as err:
            show_known_error(self, err)
            return
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.review_windows = [w for w in self.review_windows if shiboken6.isValid(w)]
        self.review_windows.append(window)
        window.show()

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
            row: DueItem = rows[0].data(ITEM_ROLE)
            self.open_model_requested.emit(row.model, row.version or 0)
