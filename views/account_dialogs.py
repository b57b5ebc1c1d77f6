"""The signed-in user's own account: change password."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.entities import Principal
from core.errors import AccountDisabled, AccountLocked, KnownError
from views.error_dialog import error_text
from views.services import ServicesLike
from views.task import run_call
from views.widgets import plain_label


def password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


class ChangePasswordDialog(QDialog):
    changed = Signal(object)  # Changes
    account_locked = Signal(str)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.principal = principal
        self.setWindowTitle("Change your password")
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.current = password_field()
        self.new = password_field()
        self.repeat = password_field()
        form.addRow("&Current password", self.current)
        form.addRow("&New password", self.new)
        form.addRow("&Repeat new password", self.repeat)
        layout.addLayout(form)
        length = services.settings.get("auth.min_password_length")
        layout.addWidget(plain_label(
            f"At least {length} characters, not containing your user name.", "hint"))
        self.error = plain_label("", "error")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("Change password",
                                           QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def submit(self) -> None:
        if self.new.text() != self.repeat.text():
            self._error("The two new passwords differ; type the same password twice.")
            return
        self.ok_button.setEnabled(False)
        auth, who = self.services.auth, self.principal
        current, new = self.current.text(), self.new.text()
        run_call(self, "Changing your password…",
                 lambda: auth.change_password(who, current, new), self._done,
                 on_failure=self._failed)

    def _done(self, changes: object) -> None:
        self.changed.emit(changes)
        self.accept()

    def _failed(self, err: BaseException) -> bool:
        self.ok_button.setEnabled(True)
        if isinstance(err, AccountLocked | AccountDisabled):
            self.reject()
            self.account_locked.emit(error_text(err))
            return True
        if isinstance(err, KnownError):
            self._error(error_text(err))
            return True
        return False

    def _error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.sizeHint().height(),
                                      self.heightForWidth(self.width())))
