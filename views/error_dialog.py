"""Errors toward the user: known errors as plain messages, our bugs as a crash dialog.

The crash report holds the traceback and versions and is copyable; database URLs in it have their
passwords masked, and nothing else a user typed is included.
"""

from __future__ import annotations

import logging
import platform
import re
import sys
import traceback
from logging.handlers import RotatingFileHandler
from types import TracebackType

import shiboken6
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import KnownError

log = logging.getLogger("charter.crash")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def scrub(text: str) -> str:
    """Mask passwords in URLs (``postgresql://user:secret@host`` -> ``user:***@host``)."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def log_file_path() -> str | None:
    """The file the ``charter`` logger writes to, if the GUI set one up."""
    for handler in logging.getLogger("charter").handlers:
        if isinstance(handler, RotatingFileHandler):
            return handler.baseFilename
    return None


def charter_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("charter")
    except PackageNotFoundError:
        return "unknown (not installed)"


def crash_report(exc_type: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> str:
    lines = [
        f"Charter {charter_version()}",
        f"Python {platform.python_version()} ({sys.executable})",
        f"PySide6 {pyside_version}, Qt {qVersion()}",
        f"Platform {platform.platform()}; Qt platform {QGuiApplication.platformName()}",
        "",
        "".join(traceback.format_exception(exc_type, exc, tb)).rstrip(),
    ]
    return scrub("\n".join(lines))


class CrashDialog(QDialog):
    """Something went wrong in Charter itself: a copyable report for the support team."""

    def __init__(self, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Charter — unexpected error")
        self.setMinimumSize(640, 420)
        layout = QVBoxLayout(self)
        intro = QLabel("Charter hit an unexpected error. Your last action may not have "
                       "completed; nothing half-done was saved. Copy this report and send it to "
                       "your support team.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(intro)
        self.text = QPlainTextEdit(report)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.text, 1)
        path = log_file_path()
        self.log_label = QLabel(f"Log file: {path}" if path else "No log file for this session.")
        self.log_label.setObjectName("muted")
        self.log_label.setTextFormat(Qt.TextFormat.PlainText)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label.setWordWrap(True)
        layout.addWidget(self.log_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def report(self) -> str:
        return self.text.toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.report())
        self.copy_button.setText("Copied")

    def append(self, report: str) -> None:
        self.text.appendPlainText("\n" + "-" * 60 + "\n" + report)


_open_crash: list[CrashDialog] = []


def show_crash(parent: QWidget | None, exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None, *, logged: bool = False) -> CrashDialog:
    """Log (unless done) and show the crash dialog; later crashes join the open one."""
    if not logged:
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
    report = crash_report(exc_type, exc, tb)
    _open_crash[:] = [d for d in _open_crash if shiboken6.isValid(d) and d.isVisible()]
    if _open_crash:
        _open_crash[0].append(report)
        return _open_crash[0]
    dialog = CrashDialog(report, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _open_crash.append(dialog)
    dialog.open()
    return dialog


def known_error_box(parent: QWidget | None, err: KnownError,
                    title: str = "Charter") -> QMessageBox:
    """A message box for an error the user can act on: message, then the hint; plain text."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(err.message)
    if err.hint:
        box.setInformativeText(err.hint)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def show_known_error(parent: QWidget | None, err: KnownError) -> QMessageBox:
    box = known_error_box(parent, err)
    box.open()
    return box


def error_text(err: KnownError) -> str:
    """Message and hint on two lines, for inline error labels."""
    return f"{err.message}\n{err.hint}" if err.hint else err.message
