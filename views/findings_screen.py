"""Findings: every validation finding of the portfolio in one list (model-risk heads, validators,
owners, compliance, approvers).

The list comes from ``FindingsService.portfolio`` with the filter bar's filter, the header counts
from ``FindingsService.counts`` (the whole portfolio, whatever the filter). Selecting a finding
shows its description and remediation as plain text. The owner answers a finding and a validator
closes it with the dialogs of views.findings_panel; "Open version" asks the main window to show
the version on the model screen; Export CSV writes what the filter shows (formula cells escaped
by core). The screen reads again on every ``Changes`` about the workflow, findings or models.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_workflow import Finding
from core.errors import KnownError
from core.permissions import Action
from core.services.findings import FindingCounts, is_overdue, today
from core.timeutil import utcnow
from views.approvals_tables import BAD, ITEM_ROLE, RowsTableModel
from views.error_dialog import error_text
from views.findings_filter_bar import FindingsFilterBar
from views.findings_panel import close_dialog, finding_details, remediate_dialog
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_call
from views.widgets import (
    FormDialog,
    button_row,
    data_table,
    plain_label,
    screen_header,
    table_over_details,
)

WATCHED = frozenset({"workflow", "findings", "models", "versions"})
_WIDTHS = (180, 70, 44, 72, 260, 100, 150, 96, 90)  # the title takes what is left


def age_days(f: Finding) -> int:
    """Days the finding has been (or was) unresolved."""
    return max(0, ((f.closed_at or utcnow()) - f.created_at).days)


class PortfolioFindingTableModel(RowsTableModel):
    """The portfolio's findings (``Finding`` entities, already read); ``on`` is the day
    "overdue" is judged against, the same the list was read with."""

    HEADERS = ("Model", "Version", "#", "Severity", "Title", "Owner", "Due", "Status",
               "Days open")
    SEVERITY, TITLE, DUE = 3, 4, 6

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on: date = today()

    def set_items(self, items: list[Finding], on: date | None = None) -> None:
        self.on = on or today()
        super().set_items(items)

    def texts(self, row: Finding) -> tuple[str, ...]:
        due = row.due_date.isoformat() if row.due_date else "—"
        if is_overdue(row, self.on):
            due += " (overdue)"
        return (row.model_name, str(row.version_number), str(row.id), row.severity,
                row.title, row.owner, due, row.status, str(age_days(row)))

    def foreground(self, row: Finding, column: int) -> QColor | None:
        if column == self.DUE and is_overdue(row, self.on):
            return BAD
        if column == self.SEVERITY and row.severity == "high" and row.status != "closed":
            return BAD
        return None


def counts_text(c: FindingCounts) -> str:
    return (f"{c.open} not closed across the portfolio · {c.open_high} high · "
            f"{c.overdue} overdue")


class FindingsScreen(Screen):
    open_model_requested = Signal(str, int)  # model, version: the main window shows it

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.findings: list[Finding] = []
        self.counts: FindingCounts | None = None
        self.dialog: FormDialog | None = None  # the dialog open now (tests drive it)
        self._generation = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        layout.addWidget(screen_header(
            "Findings", "Every validation finding across all models. Owners answer their "
            "findings; a validator closes them."))
        self.counts_label = plain_label("", "sectionTitle", wrap=False)
        layout.addWidget(self.counts_label)
        self.filters = FindingsFilterBar(principal.username)
        self.filters.applied.connect(lambda _flt: self.refresh())
        layout.addWidget(self.filters)
        self.answer_button = QPushButton(icon("edit"), "Answer…")
        self.answer_button.setToolTip("Record what was done about the selected finding "
                                      "(its owner)")
        self.answer_button.clicked.connect(lambda: self.answer())
        self.close_button = QPushButton(icon("verify"), "Close finding…")
        self.close_button.clicked.connect(lambda: self.close_finding())
        self.open_button = QPushButton(icon("open"), "Open version")
        self.open_button.setToolTip("Show the version on the model screen (double-click)")
        self.open_button.clicked.connect(lambda: self.open_version())
        self.csv_button = QPushButton(icon("export"), "Export CSV…")
        self.csv_button.setToolTip("Write the findings the filter shows to a CSV file")
        self.csv_button.clicked.connect(lambda: self.export())
        self.answer_button.setVisible(principal.may(Action.FINDING_REMEDIATE))
        self.close_button.setVisible(principal.may(Action.FINDING_RECORD))
        self.csv_button.setVisible(principal.may(Action.REPORT_EXPORT))
        self.shown_label = plain_label("", "muted", wrap=False)
        row = button_row(self.answer_button, self.close_button, self.open_button,
                         self.csv_button)
        row.addWidget(self.shown_label)
        layout.addLayout(row)
        self.banner = plain_label("", "bannerOk")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.model = PortfolioFindingTableModel(self)
        self.table = data_table(self.model, _WIDTHS)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(PortfolioFindingTableModel.TITLE,
                                    QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        self.table.doubleClicked.connect(lambda *_: self.open_version())
        self.empty = plain_label("No finding matches the filter.", "hint")
        self.empty.hide()
        layout.addWidget(self.empty)
        self.details = QPlainTextEdit()  # plain text: user text is never read as markup
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Finding details")
        self.details.setPlaceholderText("Select a finding to read its description and "
                                        "remediation.")
        layout.addWidget(table_over_details(self.table, self.details, (430, 170)), 1)
        self._selected()
        self.refresh()

    # -- Screen --------------------------------------------------------------------------------
    def refresh(self) -> None:
        findings, who, flt = self.services.findings, self.principal, self.filters.current()
        self._generation += 1
        generation, on = self._generation, today()

        def read() -> tuple[list[Finding], FindingCounts, list[str]]:
            return (findings.portfolio(who, flt, on=on), findings.counts(who, on=on),
                    findings.owners(who))

        run_call(self, "Reading findings…", read,
                 lambda result: self._loaded(generation, on, result),
                 on_failure=self._failed, show_progress=False)

    def on_changes(self, changes: Changes) -> None:
        if changes.kinds & WATCHED:
            self.refresh()

    def focus_filter(self) -> None:
        self.filters.text.setFocus()

    # -- reading -------------------------------------------------------------------------------
    def _loaded(self, generation: int, on: date,
                result: tuple[list[Finding], FindingCounts, list[str]]) -> None:
        if generation != self._generation:  # an older filter's answer, overtaken
            return
        found, counts, owners = result
        chosen = self.selected()
        self.findings, self.counts = found, counts
        self.model.set_items(found, on)
        self.filters.set_owners(owners)
        self.counts_label.setText(counts_text(counts))
        self.shown_label.setText(f"{len(found)} shown")
        self.csv_button.setEnabled(bool(found))
        self.empty.setVisible(not found)
        ids = [f.id for f in found]
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        self._selected()

    def _failed(self, err: BaseException) -> bool:
        if isinstance(err, KnownError):
            self._banner(False, "Cannot read the findings: " + error_text(err))
            return True
        return False

    def _banner(self, ok: bool, text: str) -> None:
        self.banner.setObjectName("bannerOk" if ok else "bannerBad")
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setText(text)
        self.banner.show()

    # -- selection -----------------------------------------------------------------------------
    def selected(self) -> Finding | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def select(self, finding_id: int) -> bool:
        """Select finding ``finding_id`` if the list shows it (tests, links)."""
        ids = [f.id for f in self.findings]
        if finding_id in ids:
            self.table.selectRow(ids.index(finding_id))
            return True
        return False

    def _selected(self) -> None:
        f = self.selected()
        self.details.setPlainText(finding_details(f) if f is not None else "")
        unresolved = f is not None and f.status != "closed"
        self.answer_button.setEnabled(unresolved and f.owner == self.principal.username)
        self.close_button.setEnabled(unresolved)
        self.open_button.setEnabled(f is not None)

    # -- actions -------------------------------------------------------------------------------
    def _open(self, dialog: FormDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _done(self, result: tuple[Finding, Changes]) -> None:
        finding, changes = result
        self._banner(True, f"Finding #{finding.id} is {finding.status}.")
        self.refresh()
        self.changes_made.emit(changes)

    def answer(self) -> None:
        """The owner records the remediation (the dialog of the findings panel)."""
        f, who, findings = self.selected(), self.principal, self.services.findings
        if f is None or not self.answer_button.isEnabled():
            return
        self._open(remediate_dialog(self, findings, who, f, self._done))

    def close_finding(self) -> None:
        f, who, findings = self.selected(), self.principal, self.services.findings
        if f is None or not self.close_button.isEnabled():
            return
        self._open(close_dialog(self, findings, who, f, self._done))

    def open_version(self) -> None:
        f = self.selected()
        if f is not None:
            self.open_model_requested.emit(f.model_name, f.version_number)

    def export(self, path: str | Path | None = None) -> None:
        if not self.principal.may(Action.REPORT_EXPORT):
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the findings as CSV",
                str(Path.home() / f"charter-findings-{today().isoformat()}.csv"),
                "CSV files (*.csv)")
            if not path:
                return
        findings, who, flt, target = (self.services.findings, self.principal,
                                      self.filters.current(), Path(path))
        run_call(self, f"Exporting the findings to {target.name}…",
                 lambda: findings.export_csv(who, flt, target),
                 lambda result: self._exported(target, result))

    def _exported(self, target: Path, result: tuple[int, Changes]) -> None:
        count, changes = result
        self._banner(True, f"Exported {count} finding(s) to {target}.")
        self.changes_made.emit(changes)
