"""Sign-in dialog, with the "choose your password" step for one-time codes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Principal
from core.errors import KnownError, PasswordChangeRequired
from views.error_dialog import error_text
from views.services import ServicesLike
from views.style import icon
from views.task import run_call
from views.widgets import plain_label


class LoginDialog(QDialog):
    """Asks for user name and password; ``principal`` holds the result once accepted."""

    signed_in = Signal(object)  # Principal

    def __init__(self, services: ServicesLike, parent: QWidget | None = None,
                 *, username: str = "") -> None:
        super().__init__(parent)
        self.services = services
        self.principal: Principal | None = None
        self._code = ""
        self.setWindowTitle("Charter — DEMO store — sign in" if services.demo
                            else "Charter — sign in")
        self.setWindowIcon(icon("charter"))
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        title = plain_label("Sign in to Charter", "screenTitle")
        layout.addWidget(title)
        self.store_label = plain_label(f"Store: {services.store.location}", "muted")
        layout.addWidget(self.store_label)
        if services.demo:
            layout.addWidget(plain_label(
                "This is a DEMO store. The demo passwords were printed when the demo store was "
                "created; `charter demo --reset` makes a new demo store with new passwords.",
                "notice"))
        self.sign_in_page = self._sign_in_page(username)
        self.choose_page = self._choose_page()
        self.choose_page.hide()
        self.choosing = False
        layout.addWidget(self.sign_in_page)
        layout.addWidget(self.choose_page)
        self.error = plain_label("", "error")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Quit")
        self.cancel_button.clicked.connect(self.reject)
        self.ok_button = QPushButton("Sign in")
        self.ok_button.setDefault(True)
        self.ok_button.clicked.connect(self.submit)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ok_button)
        layout.addLayout(buttons)
        (self.password if username else self.username).setFocus()

    # -- pages ----------------------------------------------------------------------------
    def _sign_in_page(self, username: str) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 8, 0, 0)
        self.username = QLineEdit(username)
        self.username.setPlaceholderText("user name")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("password or one-time code")
        form.addRow("&User name", self.username)
        form.addRow("&Password", self.password)
        return page

    def _choose_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.addWidget(plain_label(
            "Your one-time code is accepted. Choose your own password to finish signing in; "
            "nobody else, not even an administrator, will know it."))
        form = QFormLayout()
        self.new_password = QLineEdit()
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_password = QLineEdit()
        self.repeat_password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("&New password", self.new_password)
        form.addRow("&Repeat it", self.repeat_password)
        box.addLayout(form)
        self.rules = plain_label("", "hint")
        box.addWidget(self.rules)
        return page

    # -- actions ----------------------------------------------------------------------------
    def submit(self) -> None:
        self.show_error(None)
        if self.choosing:
            self._set_password()
            return
        name, secret = self.username.text().strip(), self.password.text()
        if not name or not secret:
            self.show_error("Enter your user name and password.")
            return
        self._busy(True)
        auth = self.services.auth
        run_call(self, "Signing in…", lambda: auth.sign_in(name, secret), self._done,
                 on_failure=self._failed, show_progress=False)

    def _set_password(self) -> None:
        new, again = self.new_password.text(), self.repeat_password.text()
        if new != again:
            self.show_error("The two passwords differ; type the same password twice.")
            return
        if not new:
            self.show_error("Choose a password.")
            return
        self._busy(True)
        name, code, auth = self.username.text().strip(), self._code, self.services.auth
        run_call(self, "Setting your password…",
                 lambda: auth.set_password_with_code(name, code, new), self._done,
                 on_failure=self._failed, show_progress=False)

    def _done(self, principal: Principal) -> None:
        self._busy(False)
        self.principal = principal
        self.password.clear()
        self.signed_in.emit(principal)
        self.accept()

    def _failed(self, err: BaseException) -> bool:
        self._busy(False)
        if isinstance(err, PasswordChangeRequired):
            self._code = self.password.text()
            self.password.clear()
            self.username.setEnabled(False)
            self.choosing = True
            self.sign_in_page.hide()
            self.choose_page.show()
            self._fit()
            self.ok_button.setText("Set password and sign in")
            self.rules.setText(self._rules_text())
            self.new_password.setFocus()
            return True
        if isinstance(err, KnownError):
            self.show_error(error_text(err))
            if self.choosing:
                self.new_password.selectAll()
                self.new_password.setFocus()
            else:
                self.password.selectAll()
                self.password.setFocus()
            return True
        return False

    def _rules_text(self) -> str:
        length = self.services.settings.get("auth.min_password_length")
        return (f"At least {length} characters, not containing your user name. A passphrase of "
                "several words is easy to remember and hard to guess.")

    def _busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)
        self.sign_in_page.setEnabled(not busy)
        self.choose_page.setEnabled(not busy)
        self.setCursor(Qt.CursorShape.BusyCursor if busy else Qt.CursorShape.ArrowCursor)

    def show_error(self, text: str | None) -> None:
        self.error.setText(text or "")
        self.error.setVisible(bool(text))
        self._fit()

    def _fit(self) -> None:
        # Grow with the content (an error, the next step) instead of squeezing it.
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.sizeHint().height(),
                                      self.heightForWidth(self.width())))
