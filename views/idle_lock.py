"""Idle lock: an application-wide input watcher and the panel that hides a locked console."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Principal
from core.errors import AccountDisabled, AccountLocked, KnownError
from views.error_dialog import error_text
from views.services import ServicesLike
from views.style import icon
from views.task import run_call
from views.widgets import plain_label

_INPUT = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick,
    QEvent.Type.MouseMove, QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.TabletPress,
    QEvent.Type.ShortcutOverride,
})


class IdleWatcher(QObject):
    """Emits ``idle`` after ``interval_ms`` without keyboard or mouse input anywhere in the app.

    The interval is injectable so tests can use milliseconds; the console uses
    ``auth.idle_lock_minutes``.
    """

    idle = Signal()

    def __init__(self, interval_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.idle)
        self._installed = False

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    def set_interval(self, interval_ms: int) -> None:
        self._timer.setInterval(interval_ms)
        if self._timer.isActive():
            self._timer.start()

    def start(self) -> None:
        app = QApplication.instance()
        if not self._installed and app is not None:
            app.installEventFilter(self)
            self._installed = True
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if self._installed and app is not None:
            app.removeEventFilter(self)
        self._installed = False

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in _INPUT:
            self._timer.start()
        return False


class LockPanel(QWidget):
    """Replaces the console's content while locked; asks for the signed-in user's password."""

    unlocked = Signal()
    sign_out_requested = Signal()
    account_locked = Signal(str)  # the message to show at the sign-in dialog

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.principal = principal
        outer = QGridLayout(self)
        panel = QFrame()
        panel.setObjectName("lockPanel")
        panel.setMaximumWidth(460)
        outer.addWidget(panel, 0, 0, Qt.AlignmentFlag.AlignCenter)
        box = QVBoxLayout(panel)
        box.setContentsMargins(28, 24, 28, 24)
        box.setSpacing(10)
        head = QHBoxLayout()
        badge = QLabel()
        badge.setPixmap(icon("lock").pixmap(40, 40))
        head.addWidget(badge)
        head.addWidget(plain_label("Charter is locked", "screenTitle"), 1)
        box.addLayout(head)
        box.addWidget(plain_label(
            f"Signed in as {principal.display_name} ({principal.username}). "
            "Enter your password to continue.", "muted"))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("password")
        self.password.returnPressed.connect(self.unlock)
        box.addWidget(self.password)
        self.error = plain_label("", "error")
        self.error.hide()
        box.addWidget(self.error)
        buttons = QHBoxLayout()
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.clicked.connect(self.sign_out_requested)
        self.unlock_button = QPushButton(icon("unlock", "#ffffff"), "Unlock")
        self.unlock_button.setObjectName("primary")
        self.unlock_button.clicked.connect(self.unlock)
        buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)
        buttons.addWidget(self.unlock_button)
        box.addLayout(buttons)

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt API
        super().showEvent(event)
        self.password.setFocus()

    def unlock(self) -> None:
        secret = self.password.text()
        if not secret:
            self._show_error("Enter your password.")
            return
        self.unlock_button.setEnabled(False)
        auth, who = self.services.auth, self.principal
        run_call(self, "Checking your password…",
                 lambda: auth.confirm_identity(who, secret, purpose="unlock"),
                 self._ok, on_failure=self._failed, show_progress=False)

    def _ok(self, _result: object) -> None:
        self.unlock_button.setEnabled(True)
        self.password.clear()
        self._show_error(None)
        self.unlocked.emit()

    def _failed(self, err: BaseException) -> bool:
        self.unlock_button.setEnabled(True)
        self.password.clear()
        if isinstance(err, AccountLocked | AccountDisabled):
            self.account_locked.emit(error_text(err))
            return True
        if isinstance(err, KnownError):
            self._show_error(error_text(err))
            return True
        return False

    def _show_error(self, text: str | None) -> None:
        self.error.setText(text or "")
        self.error.setVisible(bool(text))
