"""The reviewer's response to a review package, written offline: comments and an optional
request for their compliance signature, saved as a ``charter-review-response/1`` file.

The file holds no signature. The reviewer imports it at a workstation with store access
(``charter review import FILE``), enters their password there, and the store makes the
signature with every check a signature gets in the console.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QLineEdit, QPlainTextEdit, QWidget

from core.errors import KnownError
from core.timeutil import to_iso, utcnow
from core.workflow.review_package import ReviewPackage, make_response, write_response
from views.error_dialog import error_text
from views.widgets import FormDialog, plain_label, reason_field

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def split_comments(text: str) -> list[str]:
    """One comment per paragraph: blank lines separate comments, single line breaks stay."""
    return [part.strip() for part in _PARAGRAPHS.split(text) if part.strip()]


def next_step_text(path: Path, response: dict[str, Any]) -> str:
    """What the reviewer does with the file once it is written."""
    reviewer, signs = response["reviewer"], response["signature_request"] is not None
    count = len(response["comments"])
    return (f"Response written to {path}: {count} comment{'s' if count != 1 else ''}"
            + (" and a request for your compliance signature (reviewed)" if signs else "")
            + ".\nNext: take the file to a workstation with access to the store and import it "
            f"there as {reviewer}:  charter review import {path.name} --user {reviewer}\n"
            "The import asks for your password"
            + (", which makes the signature" if signs else "")
            + ". The store accepts the response only for this package and only from "
            f"{reviewer}.")


class ResponseDialog(FormDialog):
    written = Signal(object, object)  # path, the response document

    def __init__(self, package: ReviewPackage, parent: QWidget | None = None) -> None:
        super().__init__(f"Write a response — {package.model} version {package.version}",
                         "Save response…", parent)
        self.setMinimumWidth(600)
        self.package = package
        self.path: Path | None = None
        self.response: dict[str, Any] | None = None
        self.body.addWidget(plain_label(
            f"Your review of {package.model} version {package.version}, saved as a response "
            f"file that names this package (manifest {package.manifest_sha256[:16]}…). It "
            "holds no signature and changes nothing until the store imports it.", "hint"))
        self.user = QLineEdit()
        self.user.setAccessibleName("Your user name in the store")
        self.user.setPlaceholderText("e.g. cora")
        self.user.setMaxLength(120)
        self.body.addWidget(plain_label("Your user name in the store", "fieldLabel"))
        self.body.addWidget(self.user)
        self.comments = QPlainTextEdit()
        self.comments.setAccessibleName("Comments")
        self.comments.setPlaceholderText("One comment per paragraph: leave a blank line "
                                         "between comments.")
        self.comments.setMinimumHeight(150)
        self.body.addWidget(plain_label("Comments", "fieldLabel"))
        self.body.addWidget(self.comments, 1)
        self.count = plain_label("No comments yet.", "hint")
        self.body.addWidget(self.count)
        self.sign = QCheckBox("Request my compliance signature (reviewed)")
        self.reason = reason_field()
        self.reason.setPlaceholderText("Reason for the signature (required; recorded with it)")
        self.reason.setAccessibleName("Signature reason")
        self.reason.setEnabled(False)
        self.body.addWidget(self.sign)
        self.body.addWidget(self.reason)
        self.body.addWidget(plain_label(
            "The signature is made when the store imports this file and you enter your "
            "password there; it is bound to the artifact and documentation in this package.",
            "hint"))
        self.sign.toggled.connect(self._sign_toggled)
        self.comments.textChanged.connect(self._count)
        self.submitted.connect(self.save)
        self.clear_error_when_edited(self.user, self.comments, self.sign, self.reason)
        self.user.setFocus()

    def _sign_toggled(self, on: bool) -> None:
        self.reason.setEnabled(on)
        if on:
            self.reason.setFocus()

    def _count(self) -> None:
        n = len(split_comments(self.comments.toPlainText()))
        self.count.setText(f"{n} comment{'s' if n != 1 else ''}" if n else "No comments yet.")

    def comment_list(self) -> list[str]:
        return split_comments(self.comments.toPlainText())

    def _refuse(self, text: str, focus: QWidget) -> None:
        self.show_error(text)
        focus.setFocus()

    def save(self, path: str | Path | None = None) -> bool:
        """Check the form, ask where to save (unless ``path``), write the file. True if
        written; a problem is shown in the dialog."""
        reviewer = self.user.text().strip()
        signs, reason = self.sign.isChecked(), self.reason.text().strip()
        comments = self.comment_list()
        if not reviewer:
            self._refuse("Enter your user name in the store: only that user can import the "
                         "response.", self.user)
            return False
        if signs and not reason:
            self._refuse("Give the reason for the signature you request: it is recorded with "
                         "the signature. Or untick the signature request.", self.reason)
            return False
        if not comments and not signs:
            self._refuse("Write at least one comment, or request your signature.",
                         self.comments)
            return False
        if path is None:
            default = self.package.path.with_name(f"{self.package.path.stem}-response-"
                                                  f"{re.sub(r'[^A-Za-z0-9._-]+', '-', reviewer)}"
                                                  ".json")
            path, _ = QFileDialog.getSaveFileName(self, "Save the review response",
                                                  str(default), "Review responses (*.json)")
            if not path:
                return False
        target = Path(path)
        try:
            response = make_response(self.package, reviewer, comments,
                                     sign_reason=reason if signs else None,
                                     created_at=to_iso(utcnow()))
            write_response(response, target)
        except KnownError as err:
            self.show_error(error_text(err))
            return False
        self.path, self.response = target, response
        self.accept()
        self.written.emit(target, response)
        return True
