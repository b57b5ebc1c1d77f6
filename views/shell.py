"""The console's session loop: sign in, work in the main window, sign out, sign in again."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from core.entities import Principal
from views.login_dialog import LoginDialog
from views.main_window import MainWindow
from views.services import ServicesLike


class Shell(QObject):
    """Owns the one sign-in dialog or main window that is open; ``finished`` means quit."""

    finished = Signal()

    def __init__(self, services: ServicesLike, *, idle_interval_ms: int | None = None,
                 qsettings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.idle_interval_ms = idle_interval_ms
        self.qsettings = qsettings
        self.login: LoginDialog | None = None
        self.window: MainWindow | None = None
        self._last_user = ""

    def start(self) -> None:
        self.show_login()

    def show_login(self, message: str = "") -> LoginDialog:
        self.login = LoginDialog(self.services, username=self._last_user)
        self.login.signed_in.connect(self._signed_in)
        self.login.rejected.connect(self.finished)
        if message:
            self.login.show_error(message)
        self.login.show()
        self.login.raise_()
        self.login.activateWindow()
        return self.login

    def _signed_in(self, principal: Principal) -> None:
        self._last_user = principal.username
        login, self.login = self.login, None
        if login is not None:
            login.signed_in.disconnect(self._signed_in)
            login.rejected.disconnect(self.finished)
            login.deleteLater()
        self.window = MainWindow(self.services, principal,
                                 idle_interval_ms=self.idle_interval_ms, qsettings=self.qsettings)
        self.window.signed_out.connect(self._signed_out)
        self.window.closed.connect(self.finished)
        self.window.show()

    def _signed_out(self, message: str) -> None:
        window, self.window = self.window, None
        if window is not None:
            window.closed.disconnect(self.finished)
            window.deleteLater()
        self.show_login(message)
