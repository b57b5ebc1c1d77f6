"""Audit trail (compliance officers, administrators): read, filter, verify and export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFileDialog,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import AuditEvent, AuditFilter, Changes, Principal, VerifyReport
from core.errors import KnownError
from core.permissions import Action
from views.audit_filter_bar import AuditFilterBar
from views.audit_table_model import EVENT_ROLE, AuditTableModel, actor_text, role_label
from views.error_dialog import error_text
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_task
from views.timefmt import local_text
from views.widgets import button_row, data_table, plain_label, screen_header, table_over_details

_WIDTHS = (70, 190, 120, 130, 110, 170, 150, 140, 160, 160)


def event_details(event: AuditEvent) -> str:
    return "\n".join([
        f"Event #{event.seq}   {event.action}",
        f"Time:         {local_text(event.ts)}   (UTC {event.ts.isoformat()})",
        f"Actor:        {actor_text(event)}   role: {role_label(event.role) or '-'}",
        f"Workstation:  {event.workstation}",
        f"Object:       {event.object_type}:{event.object_id}",
        f"Old values:   {event.old_values or '-'}",
        f"New values:   {event.new_values or '-'}",
        f"Reason:       {event.reason or '-'}",
        f"Prev hash:    {event.prev_hash}",
        f"Hash:         {event.hash}",
    ])


class AuditScreen(Screen):
    verified = Signal(object)  # VerifyReport, for the status bar

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.last_report: VerifyReport | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(screen_header(
            "Audit trail", "Every change, newest first. Append-only and hash-chained: "
            "Verify proves it intact or names the first bad event."))
        self.filters = AuditFilterBar(services.users.usernames(principal))
        self.filters.applied.connect(self.apply_filter)
        layout.addWidget(self.filters)
        self.verify_button = QPushButton(icon("verify"), "Verify trail")
        self.verify_button.clicked.connect(self.verify)
        self.csv_button = QPushButton(icon("export"), "Export CSV…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.json_button = QPushButton(icon("export"), "Export JSON…")
        self.json_button.clicked.connect(lambda: self.export("json"))
        self.verify_button.setVisible(principal.may(Action.AUDIT_VERIFY))
        self.csv_button.setVisible(principal.may(Action.AUDIT_EXPORT))
        self.json_button.setVisible(principal.may(Action.AUDIT_EXPORT))
        self.count_label = plain_label("", "muted", wrap=False)
        row = button_row(self.verify_button, self.csv_button, self.json_button)
        row.addWidget(self.count_label)
        layout.addLayout(row)
        self.banner = plain_label("", "bannerOk")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.model = AuditTableModel(services, principal, parent=self)
        self.model.load_failed.connect(self._load_failed)
        self.model.rowsInserted.connect(self._update_count)
        self.model.modelReset.connect(self._update_count)
        self.table = data_table(self.model, _WIDTHS)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select an event to see all its values and hashes.")
        layout.addWidget(table_over_details(self.table, self.details, (420, 170)), 1)
        self.model.reload()

    # -- Screen ------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.model.reload()

    def on_changes(self, changes: Changes) -> None:
        if changes.audit or changes.users:
            self.model.reload()

    def focus_filter(self) -> None:
        self.filters.actor.setFocus()

    # -- reading -----------------------------------------------------------------------------
    def apply_filter(self, flt: AuditFilter) -> None:
        self.details.clear()
        self.model.reload(flt)

    def _update_count(self, *_args: object) -> None:
        n = self.model.rowCount()
        more = "" if self.model.at_end else " (more load as you scroll)"
        self.count_label.setText(f"{n:,} events shown{more}")

    def _selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        self.details.setPlainText(event_details(rows[0].data(EVENT_ROLE)) if rows else "")

    def _load_failed(self, err: KnownError) -> None:
        self._banner(False, "Cannot read the audit trail: " + error_text(err))

    def _banner(self, ok: bool, text: str) -> None:
        self.banner.setObjectName("bannerOk" if ok else "bannerBad")
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setText(text)
        self.banner.show()

    # -- verify and export --------------------------------------------------------------------
    def verify(self) -> None:
        audit, who = self.services.audit, self.principal
        self.verify_button.setEnabled(False)
        run_task(self, "Verifying the audit trail…",
                 lambda progress, cancel: audit.verify(who, progress=progress, cancel=cancel),
                 self._verified, on_failure=self._verify_failed, cancellable=True)

    def _verify_failed(self, _err: BaseException) -> bool:
        self.verify_button.setEnabled(True)
        return False

    def _verified(self, result: tuple[VerifyReport, Changes]) -> None:
        report, changes = result
        self.verify_button.setEnabled(True)
        self.last_report = report
        if report.ok:
            self._banner(True, f"✔ {report.message}")
        else:
            self._banner(False, f"✖ AUDIT TRAIL BROKEN at event #{report.first_bad_seq} "
                         f"({report.problem}). {report.message} Events before it "
                         f"({report.count:,}) verified.")
        self.verified.emit(report)
        self.changes_made.emit(changes)

    def export(self, fmt: str, path: str | Path | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, f"Export the audit trail as {fmt.upper()}",
                str(Path.home() / f"charter-audit.{fmt}"), f"{fmt.upper()} files (*.{fmt})")
            if not path:
                return
        audit, who, target = self.services.audit, self.principal, Path(path)
        run_task(self, f"Exporting the audit trail to {target.name}…",
                 lambda progress, cancel: audit.export(who, target, fmt, progress=progress,
                                                       cancel=cancel),
                 lambda result: self._exported(target, result), cancellable=True)

    def _exported(self, target: Path, result: tuple[int, Changes]) -> None:
        count, changes = result
        self._banner(True, f"Exported {count:,} events with their hashes to {target}.")
        self.changes_made.emit(changes)
