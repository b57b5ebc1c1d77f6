"""A review package, read-only: what the Approvals screen shows of a version, from the package
alone, with no store and no sign-in.

The window shows a package that :func:`core.workflow.review_package.open_package` verified:
the verification (hashes checked, manifest SHA-256, which store exported it, when, by whom), the
version, its gates, findings and signatures (validity as recorded at export) and the audit
extract. It opens the documentation PDF from a private temporary copy in the system's viewer
(this PySide6 has no QtPdf) and writes the reviewer's response file (views.review_response).

It is a dialog window on purpose: opened from the console, the idle lock closes it with the
other dialogs and signing out deletes it with the main window.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QFrame,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.entities import AuditEvent
from core.workflow.lifecycle import STATE_LABELS
from core.workflow.review_package import ReviewPackage
from views.approvals_detail import gate_text
from views.approvals_tables import (
    ITEM_ROLE,
    FindingTableModel,
    RowsTableModel,
    SignatureTableModel,
)
from views.audit_screen import event_details
from views.audit_table_model import actor_text, role_label
from views.findings_panel import finding_details
from views.review_contents import ReviewContents, parse_time, review_contents
from views.review_response import ResponseDialog, next_step_text
from views.style import ON_DARK, icon
from views.timefmt import local_text
from views.validation_results import gate_banner, gate_rows
from views.validation_tables import TextTableModel
from views.widgets import button_row, data_table, plain_label, screen_header, table_over_details



def open_url(url: QUrl) -> bool:
    """The system's viewer for ``url`` (a seam for tests)."""
    return QDesktopServices.openUrl(url)


def safe_name(text: str) -> str:
    """A file-name part from untrusted text: no separators, no dots in front."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")[:60] or "package"


def write_private_copy(folder: Path, name: str, data: bytes) -> Path:
    """``data`` in a new file only the user can read (0600), never over an existing one."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


class AuditExtractModel(RowsTableModel):
    HEADERS = ("#", "Time (local)", "Actor", "Role", "Action", "Object", "Reason")

    def texts(self, row: AuditEvent) -> tuple[str, ...]:
        return (str(row.seq), local_text(row.ts), actor_text(row), role_label(row.role),
                row.action, f"{row.object_type}:{row.object_id}",
                (row.reason or "").replace("\n", " "))


def _details_box(placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setPlaceholderText(placeholder)
    return box


class ReviewWindow(QDialog):
    """One verified package, read-only. Raises InvalidInput if its content cannot be shown."""

    def __init__(self, package: ReviewPackage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.contents: ReviewContents = review_contents(package)
        self.package = package
        self.pdf_path: Path | None = None
        self._temp: Path | None = None
        self.dialog: ResponseDialog | None = None  # the response dialog open (tests drive it)
        self.setWindowFlags(Qt.WindowType.Window | Qt.WindowType.WindowMinMaxButtonsHint
                            | Qt.WindowType.WindowCloseButtonHint)
        self.setWindowTitle(f"Charter — review package (read-only): {package.model} version "
                            f"{package.version}")
        self.setWindowIcon(icon("charter"))
        self.resize(1240, 860)
        self.finished.connect(self._remove_temp)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        m = package.manifest
        layout.addWidget(screen_header(
            f"{package.model} version {package.version}",
            f"{STATE_LABELS.get(m['state'], m['state'])} · review package {package.path.name}"
            " · read-only: nothing here changes the store"))
        self.verified = plain_label(
            f"✔ Verified read-only review package: all {package.hashes_verified} hashes "
            "checked (each member against the manifest, the evaluation evidence, every audit "
            "event).", "bannerOk")
        layout.addWidget(self.verified)
        layout.addWidget(self._facts_card())
        self.pdf_button = QPushButton(icon("open"), "Open documentation PDF")
        self.pdf_button.setToolTip("A private copy of the verified PDF, in your PDF viewer")
        self.pdf_button.clicked.connect(self.open_pdf)
        self.respond_button = QPushButton(icon("sign", ON_DARK), "Write response…")
        self.respond_button.setObjectName("primary")
        self.respond_button.setToolTip("Your comments and, optionally, a request for your "
                                       "compliance signature, as a file the store imports")
        self.respond_button.clicked.connect(self.respond)
        layout.addLayout(button_row(self.respond_button, self.pdf_button))
        self.outcome = plain_label("", "bannerOk")
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        layout.addWidget(self.outcome)
        text, style = self._gate_line()
        self.gates = plain_label(text, style)
        layout.addWidget(self.gates)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        c = self.contents
        self.tabs.addTab(self._findings_tab(), icon("warning"), f"Findings ({len(c.findings)})")
        self.tabs.addTab(self._signatures_tab(), icon("sign"),
                         f"Signatures ({len(c.signatures)})")
        self.tabs.addTab(self._audit_tab(), icon("audit"), f"Audit extract ({len(c.events)})")
        self.tabs.addTab(self._gates_tab(), icon("verify"),
                         f"Gate results ({self.gate_results.rowCount()})")
        layout.addWidget(self.tabs, 1)

    # -- parts ---------------------------------------------------------------------------------
    def _facts_card(self) -> QFrame:
        p, m, c = self.package, self.package.manifest, self.contents
        store = m.get("store") or {}
        doc = m.get("documentation") or {}
        card = QFrame()
        card.setObjectName("card")
        form = QFormLayout(card)
        form.setContentsMargins(14, 8, 14, 8)
        form.setVerticalSpacing(4)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.facts: dict[str, str] = {}

        def row(label: str, text: str, *, fixed: bool = False) -> None:
            value = plain_label(text)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if fixed:
                value.setFont(mono)
            self.facts[label] = text
            form.addRow(plain_label(label, "fieldLabel", wrap=False), value)

        row("Exported", f"{local_text(c.exported_at) or m.get('created_at')} by "
                        f"{m.get('created_by')} from {store.get('location') or 'an unnamed store'}"
                        f" (store id {store.get('store_id') or 'unknown'})")
        row("Manifest SHA-256", p.manifest_sha256, fixed=True)
        row("Artifact SHA-256", str(m.get("artifact_sha256")), fixed=True)
        generated = self._time_text(doc.get("generated_at"))
        row("Documentation PDF", f"#{doc.get('id')}, {len(p.pdf):,} bytes, SHA-256 "
                                 f"{doc.get('pdf_sha256')}"
                                 + (f", generated {generated} by {doc.get('generated_by')}"
                                    if generated else ""))
        return card

    @staticmethod
    def _time_text(value: Any) -> str:
        return local_text(parse_time(value))

    def _gate_line(self) -> tuple[str, str]:
        if self.contents.evaluation is None:
            return ("The package holds no evaluation: there are no gate results to judge.",
                    "notice")
        return gate_text(self.contents.evaluation)

    def _findings_tab(self) -> QWidget:
        self.findings = FindingTableModel(self)
        self.findings.set_items(list(self.contents.findings))
        self.finding_table = data_table(self.findings, (50, 80, 100, 300, 90, 100))
        self.finding_details = _details_box("Select a finding to read its description and "
                                            "remediation.")
        self.finding_table.selectionModel().selectionChanged.connect(
            lambda *_: self._show_details(self.finding_table, self.finding_details,
                                          finding_details))
        return self._table_tab(
            "No findings were recorded on this version." if not self.contents.findings else
            "Findings as recorded when the package was exported.",
            self.finding_table, self.finding_details)

    def _signatures_tab(self) -> QWidget:
        self.signatures = SignatureTableModel(self)
        self.signatures.set_items(list(self.contents.signatures))
        self.signature_table = data_table(self.signatures, (100, 150, 140, 200, 260))
        bad = sum(not s.valid for s in self.contents.signatures)
        note = ("No signatures yet." if not self.contents.signatures else
                "Validity as recorded when the package was exported"
                + (f" ({bad} NOT VALID)" if bad else "")
                + ": a signature holds only while the artifact and documentation it signed "
                  "are unchanged; the store checks again when it imports your response.")
        return self._table_tab(note, self.signature_table, None)

    def _audit_tab(self) -> QWidget:
        c = self.contents
        self.audit = AuditExtractModel(self, c.events)
        self.audit_table = data_table(self.audit, (60, 200, 90, 150, 200, 200))
        self.audit_details = _details_box("Select an event to see all its values and hashes.")
        self.audit_table.selectionModel().selectionChanged.connect(
            lambda *_: self._show_details(self.audit_table, self.audit_details, event_details))
        self.chain = plain_label(
            f"✔ Hash chain verified: each of the {len(c.events)} events matches its own hash, "
            f"and the {c.links_checked} prev_hash links between consecutive events hold. This "
            "is an extract of the store's trail (the events about this model and its "
            "findings), not the whole trail.", "auditOk")
        return self._table_tab(self.chain, self.audit_table, self.audit_details)

    def _gates_tab(self) -> QWidget:
        gates = self.contents.gates
        rows, marks = gate_rows(gates)
        self.gate_results = TextTableModel(("Acceptance gate", "Rule", "Value", "Result",
                                            "Note"), numeric=(1, 2), parent=self)
        self.gate_results.set_rows(rows, marks)
        table = data_table(self.gate_results, (410, 90, 110, 130))
        text, style = gate_banner(gates) if rows else ("No gate results in the package.",
                                                        "hint")
        return self._table_tab(plain_label(text, style), table, None)

    @staticmethod
    def _table_tab(note: str | QWidget, table: QWidget, details: QWidget | None) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.setSpacing(6)
        box.addWidget(note if isinstance(note, QWidget) else plain_label(note, "hint"))
        if details is None:
            box.addWidget(table, 1)
            return page
        box.addWidget(table_over_details(table, details, (300, 160), (3, 2)), 1)
        return page

    @staticmethod
    def _show_details(table: Any, box: QPlainTextEdit, describe: Any) -> None:
        rows = table.selectionModel().selectedRows()
        box.setPlainText(describe(rows[0].data(ITEM_ROLE)) if rows else "")

    # -- actions -------------------------------------------------------------------------------
    def open_pdf(self) -> Path:
        """Write the verified PDF to a private temporary file (once) and open it."""
        if self.pdf_path is None:
            self._temp = Path(tempfile.mkdtemp(prefix="charter-review-"))
            self.pdf_path = write_private_copy(
                self._temp, f"{safe_name(self.package.model)}-v{self.package.version}-"
                            "documentation.pdf", self.package.pdf)
        if not open_url(QUrl.fromLocalFile(str(self.pdf_path))):
            self._say(f"No PDF viewer opened the documentation. A verified copy is at "
                      f"{self.pdf_path} until this window closes.", "notice")
        return self.pdf_path

    def respond(self) -> ResponseDialog:
        dialog = ResponseDialog(self.package, self)
        dialog.written.connect(lambda path, response: self._say(next_step_text(path, response),
                                                                "bannerOk"))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _say(self, text: str, style: str) -> None:
        self.outcome.setText(text)
        self.outcome.setObjectName(style)
        self.outcome.style().unpolish(self.outcome)
        self.outcome.style().polish(self.outcome)
        self.outcome.show()

    def _remove_temp(self) -> None:
        # A viewer that already opened the file keeps it (POSIX); the copy itself is gone.
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = self.pdf_path = None
