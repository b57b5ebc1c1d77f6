"""The store's side of offline review in the console: exporting a version's review package and
importing the reviewer's response file (the reviewer, signed in, enters their password again;
a signature the response asks for is made then, with every check a console signature gets).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from core.entities import Changes, Principal
from core.services.review import ReviewService
from views.sign_dialog import password_refused
from views.task import run_call, run_from_dialog
from views.widgets import PasswordFormDialog, plain_label


class ImportResponseDialog(PasswordFormDialog):
    """Names the response file and asks for the reviewer's password again."""

    def __init__(self, principal: Principal, path: Path, parent: QWidget | None = None) -> None:
        super().__init__("Import a review response", "Import response", principal.username,
                         parent)
        self.setMinimumWidth(560)
        self.path = path
        self.body.addWidget(plain_label(
            f"Response file: {path}\n\nIt is imported only if this store exported its package, "
            f"the version is unchanged since, and you ({principal.username}) are the reviewer "
            "who wrote it. If it asks for your compliance signature, the signature is made "
            "now: your password, entered again, makes it yours.", "hint"))
        self.body.addWidget(plain_label("Your password, entered again", "fieldLabel"))
        self.body.addWidget(self.password)
        self.watch()


def imported_text(result: dict[str, Any]) -> str:
    comments = result.get("comments") or 0
    signed = (" and the compliance signature (reviewed) was applied"
              if result.get("signature") else "")
    return (f"Imported {comments} review comment(s) from {result.get('reviewer')} for "
            f"{result.get('model')} version {result.get('version')}{signed}.")


def export_package(parent: QWidget, review: ReviewService, who: Principal, model: str,
                   number: int, done: Callable[[str, Changes], None],
                   dest: str | Path | None = None) -> None:
    """Ask where to write ``model`` version ``number``'s review package, then write it in the
    background; ``done`` gets a sentence for the user and the Changes."""
    if dest is None:
        suggested = Path.home() / f"{model}-v{number}.charter-review".replace("/", "-")
        dest, _ = QFileDialog.getSaveFileName(parent, "Export a review package", str(suggested),
                                              "Review packages (*.charter-review)")
        if not dest:
            return
    target = Path(dest)

    def written(result: tuple[str, Changes]) -> None:
        digest, changes = result
        done(f"Review package written to {target} (manifest SHA-256 {digest}). The reviewer "
             "opens it with `charter review open FILE --window`, no store needed.", changes)

    run_call(parent, f"Writing {target.name}…",
             lambda: review.export(who, model, number, target), written)


def import_response(parent: QWidget, review: ReviewService, who: Principal,
                    done: Callable[[str, Changes], None], end_session: Callable[[str], None],
                    path: str | Path | None = None) -> ImportResponseDialog | None:
    """Choose a response file, ask for the password, import it in the background."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(parent, "Import a review response",
                                              str(Path.home()), "Review responses (*.json)")
        if not path:
            return None
    source = Path(path)
    dialog = ImportResponseDialog(who, source, parent)

    def submit() -> None:
        password = dialog.password.text()
        task = run_from_dialog(
            parent, dialog, f"Importing {source.name}…",
            lambda: review.import_response(who, source, password),
            lambda result: done(imported_text(result[0]), result[1]))
        task.failed.connect(lambda err: password_refused(dialog, err, end_session))

    dialog.submitted.connect(submit)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
