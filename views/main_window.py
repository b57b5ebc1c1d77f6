"""The console window: navigation, the screens the role may use, status bar, account menu.

The window only navigates; each screen is its own module. Every ``Changes`` a screen reports is
broadcast on :attr:`MainWindow.changed` and each screen decides whether to refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressDialog,
    QStackedWidget,
    QWidget,
)

from core.entities import Changes, Principal, VerifyReport
from core.errors import AccountDisabled, AccountLocked, KnownError
from core.permissions import Action, Role
from views.account_dialogs import ChangePasswordDialog
from views.approvals_screen import ApprovalsScreen
from views.audit_screen import AuditScreen
from views.deployments_screen import DeploymentsScreen
from views.findings_screen import FindingsScreen
from views.home_screen import HomeScreen
from views.idle_lock import IdleWatcher, LockPanel
from views.registry_screen import RegistryScreen
from views.screen import Screen
from views.services import ServicesLike
from views.settings_screen import SettingsScreen
from views.status_bar import StatusPanel
from views.style import INK, ON_DARK, icon
from views.task import run_call
from views.users_screen import UsersScreen

log = logging.getLogger("charter.views")


@dataclass(frozen=True)
class ScreenSpec:
    key: str
    title: str
    icon: str
    action: Action | tuple[Action, ...] | None  # None: every role; a tuple: any of them
    factory: Callable[..., Screen]

    def allowed(self, principal: Principal) -> bool:
        if self.action is None:
            return True
        actions = self.action if isinstance(self.action, tuple) else (self.action,)
        return any(principal.may(a) for a in actions)


SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("users", "Users", "users", Action.USER_MANAGE, UsersScreen),
    ScreenSpec("audit", "Audit trail", "audit", Action.AUDIT_READ, AuditScreen),
    ScreenSpec("registry", "Model registry", "registry", Action.MODEL_READ, RegistryScreen),
    ScreenSpec("approvals", "Approvals", "approvals",
               (Action.VERSION_SUBMIT, Action.FINDING_RECORD, Action.COMPLIANCE_SIGN,
                Action.VERSION_APPROVE), ApprovalsScreen),
    ScreenSpec("findings", "Findings", "warning",
               (Action.FINDING_RECORD, Action.FINDING_REMEDIATE, Action.COMPLIANCE_SIGN,
                Action.VERSION_APPROVE), FindingsScreen),
    ScreenSpec("deployments", "Deployments", "export", Action.MODEL_READ, DeploymentsScreen),
    ScreenSpec("settings", "Settings", "settings", Action.SETTINGS_MANAGE, SettingsScreen),
)
TITLE_ROLE = Qt.ItemDataRole.UserRole + 1


def window_title(services: ServicesLike) -> str:
    where = services.store.location
    return f"Charter — DEMO store — {where}" if services.demo else f"Charter — {where}"


class MainWindow(QMainWindow):
    changed = Signal(object)  # core.entities.Changes
    signed_out = Signal(str)  # message for the sign-in dialog ("" after a normal sign-out)
    closed = Signal()  # the user closed the console (quit)

    def __init__(self, services: ServicesLike, principal: Principal, *,
                 idle_interval_ms: int | None = None, qsettings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.principal = principal
        self.qsettings = qsettings or QSettings()
        self.locked = False
        self._ending = False
        self._idle_override = idle_interval_ms
        self.screens: list[Screen] = []
        self.setWindowTitle(window_title(services))
        self.setWindowIcon(icon("charter"))
        self.root = QStackedWidget()
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(210)
        self.nav.setAccessibleName("Screens")
        self.stack = QStackedWidget()
        self.stack.setObjectName("content")
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.root.addWidget(body)
        self.setCentralWidget(self.root)
        self.lock_panel: LockPanel | None = None
        self.status: StatusPanel | None = None
        self._session_actions: list[QAction] = []
        self._build_menus()
        self.changed.connect(self._dispatch)
        self._set_principal(principal)
        self.idle = IdleWatcher(self._idle_interval(), self)
        self.idle.idle.connect(self.lock)
        self.idle.start()
        self.resize(1200, 760)
        geometry = self.qsettings.value("main_window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # -- building ---------------------------------------------------------------------------
    def _action(self, text: str, shortcut: str | QKeySequence | None, slot: Callable,
                icon_name: str | None = None, *, session: bool = True) -> QAction:
        act = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        self.addAction(act)
        if session:
            self._session_actions.append(act)
        return act

    def _build_menus(self) -> None:
        console = self.menuBar().addMenu("&Console")
        console.addAction(self._action("&Refresh", "F5", self.refresh, "refresh"))
        console.addAction(self._action("&Find / filter", "Ctrl+F", self.focus_filter, "filter"))
        console.addSeparator()
        console.addAction(self._action("&Quit", "Ctrl+Q", self.close, session=False))
        account = self.menuBar().addMenu("&Account")
        account.addAction(self._action("&Change password…", None, self.change_password,
                                       "password"))
        account.addAction(self._action("&Lock now", "Ctrl+L", self.lock, "lock"))
        account.addAction(self._action("&Sign out", None, self.sign_out, "sign-out"))
        for n in range(1, 10):
            self._action(f"Screen {n}", f"Ctrl+{n}", lambda _=False, i=n - 1: self.show_screen(i))

    def _set_principal(self, principal: Principal) -> None:
        self.principal = principal
        for screen in self.screens:
            self.stack.removeWidget(screen)
            screen.deleteLater()
        self.screens = []
        self.nav.clear()
        allowed = [s for s in SCREENS if s.allowed(principal)]
        home = HomeScreen(self.services, principal, [s.title for s in allowed])
        self._add_screen("Home", "home", home)
        for spec in allowed:
            self._add_screen(spec.title, spec.icon, spec.factory(self.services, principal))
        self.nav.setCurrentRow(0)
        if self.status is not None:
            self.statusBar().removeWidget(self.status)
            self.status.deleteLater()
        self.status = StatusPanel(self.services, principal)
        self.status.role_requested.connect(self.switch_role)
        self.statusBar().addPermanentWidget(self.status)
        for screen in self.screens:
            verified = getattr(screen, "verified", None)
            if verified is not None:
                verified.connect(self.set_verify_result)
            open_model = getattr(screen, "open_model_requested", None)
            if open_model is not None:  # the approvals calendar, the findings list
                open_model.connect(self.open_model)

    def _add_screen(self, title: str, icon_name: str, screen: Screen) -> None:
        n = len(self.screens) + 1
        item = QListWidgetItem(icon(icon_name, ON_DARK, selected_color=INK), title)
        item.setData(TITLE_ROLE, title)
        if n <= 9:
            item.setToolTip(f"{title} (Ctrl+{n})")
        self.nav.addItem(item)
        self.stack.addWidget(screen)
        self.screens.append(screen)
        screen.changes_made.connect(self.changed)
        screen.session_ended.connect(self.sign_out)
        badge = getattr(screen, "badge_changed", None)
        if badge is not None:  # "Approvals (3)": how many items wait on that screen
            badge.connect(lambda count, it=item: it.setText(
                f"{it.data(TITLE_ROLE)} ({count})" if count else it.data(TITLE_ROLE)))

    def screen_titles(self) -> list[str]:
        """The screens' titles, without the counts some show in the navigation."""
        return [self.nav.item(i).data(TITLE_ROLE) for i in range(self.nav.count())]

    def nav_texts(self) -> list[str]:
        """What the navigation shows, counts included."""
        return [self.nav.item(i).text() for i in range(self.nav.count())]

    def current_screen(self) -> Screen | None:
        return self.screens[self.stack.currentIndex()] if self.screens else None

    # -- navigation and broadcast -------------------------------------------------------------
    def show_screen(self, index: int) -> None:
        if 0 <= index < self.nav.count() and not self.locked:
            self.nav.setCurrentRow(index)

    def open_model(self, name: str, number: int) -> None:
        """Show ``name`` version ``number`` on the model screen's Validation tab (number 0:
        the model's overview)."""
        for row, screen in enumerate(self.screens):
            if isinstance(screen, RegistryScreen) and not self.locked:
                screen.open_model(name)
                page = screen.model_page
                if number:
                    page.validation.show_version(number)
                    page.tabs.setCurrentWidget(page.validation)
                self.nav.setCurrentRow(row)
                return

    def refresh(self) -> None:
        screen = self.current_screen()
        if screen is not None:
            screen.refresh()
        self.status.refresh_audit()

    def focus_filter(self) -> None:
        screen = self.current_screen()
        if screen is not None:
            screen.focus_filter()

    def _dispatch(self, changes: Changes) -> None:
        for screen in self.screens:
            screen.on_changes(changes)
        if changes.audit:
            self.status.refresh_audit()
        if changes.settings and self._idle_override is None:
            self.idle.set_interval(self._idle_interval())

    def set_verify_result(self, report: VerifyReport) -> None:
        self.status.set_verify_result(report)

    def _idle_interval(self) -> int:
        if self._idle_override is not None:
            return self._idle_override
        return self.services.auth.idle_lock_minutes() * 60_000

    # -- account ----------------------------------------------------------------------------
    def switch_role(self, role: Role) -> None:
        auth, who = self.services.auth, self.principal

        def failed(_err: BaseException) -> bool:
            self.status.show_role(who.role)
            return False

        run_call(self, "Switching role…", lambda: auth.switch_role(who, role),
                 self._role_switched, on_failure=failed)

    def _role_switched(self, principal: Principal) -> None:
        self._set_principal(principal)
        self.statusBar().showMessage(f"Now working as {principal.role.label}.", 5000)

    def change_password(self) -> None:
        dialog = ChangePasswordDialog(self.services, self.principal, self)
        dialog.account_locked.connect(self.sign_out)
        dialog.changed.connect(self.changed)
        dialog.open()

    def lock(self) -> None:
        if self.locked or self._ending:
            return
        self.locked = True
        self.idle.stop()
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible() and not isinstance(dialog, QProgressDialog):
                dialog.reject()
        self.lock_panel = LockPanel(self.services, self.principal)
        self.lock_panel.unlocked.connect(self._unlocked)
        self.lock_panel.sign_out_requested.connect(self.sign_out)
        self.lock_panel.account_locked.connect(self.sign_out)
        self.root.addWidget(self.lock_panel)
        self.root.setCurrentWidget(self.lock_panel)
        self.menuBar().hide()
        self.statusBar().hide()
        for act in self._session_actions:
            act.setEnabled(False)
        auth, who = self.services.auth, self.principal
        run_call(self, "Locking…", lambda: auth.record_session_event(who, "auth.session_locked"),
                 lambda _r: self.changed.emit(Changes(audit=True)), show_progress=False)

    def _unlocked(self) -> None:
        self.locked = False
        self.root.setCurrentIndex(0)
        self.root.removeWidget(self.lock_panel)
        self.lock_panel.deleteLater()
        self.lock_panel = None
        self.menuBar().show()
        self.statusBar().show()
        for act in self._session_actions:
            act.setEnabled(True)
        self.idle.start()
        self.changed.emit(Changes(audit=True))

    def sign_out(self, message: str | bool = "") -> None:
        self._end_session()
        self.signed_out.emit(message if isinstance(message, str) else "")
        self.close()

    def _end_session(self) -> None:
        if self._ending:
            return
        self._ending = True
        self.idle.stop()
        try:
            self.services.auth.record_session_event(self.principal, "auth.signed_out")
        except (AccountLocked, AccountDisabled):
            pass
        except KnownError as err:
            log.warning("could not record sign-out: %s", err.message)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.qsettings.setValue("main_window/geometry", self.saveGeometry())
        if not self._ending:
            self._end_session()
            self.closed.emit()
        super().closeEvent(event)

