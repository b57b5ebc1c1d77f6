"""Users (administrators): add users, reset passwords, edit roles, disable, enable, unlock.

Every action goes through ``services.users``, which enforces the rules and audits the change;
its ``KnownError`` messages (with hints) are shown in the dialog that asked for the action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal, User
from core.services.users import IssuedCode
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_from_dialog
from views.user_dialogs import AddUserDialog, OneTimeCodeDialog, RolesDialog
from views.user_table_model import HEADERS, USER_ROLE, UserTableModel
from views.widgets import FormDialog, ReasonDialog, button_row, screen_header


class UsersScreen(Screen):
    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.dialog: QWidget | None = None  # the dialog currently open (tests drive it)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(screen_header(
            "Users", "Accounts of this store. Users are never deleted; disable them instead."))
        self.add_button = self._button("Add user…", "add-user", self.add_user)
        self.reset_button = self._button("Reset password…", "key", self.reset_password)
        self.roles_button = self._button("Edit roles…", "roles", self.edit_roles)
        self.disable_button = self._button("Disable…", "disable", self.disable)
        self.enable_button = self._button("Enable…", "enable", self.enable)
        self.unlock_button = self._button("Unlock…", "unlock", self.unlock)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter users (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMaximumWidth(260)
        row = button_row(self.add_button, self.reset_button, self.roles_button,
                         self.disable_button, self.enable_button, self.unlock_button)
        row.addWidget(self.filter)
        layout.addLayout(row)
        self.model = UserTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((130, 170, 220, 160, 170)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.edit_roles())
        layout.addWidget(self.table, 1)
        assert len(HEADERS) == self.model.columnCount()
        self.refresh()

    def _button(self, text: str, icon_name: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.clicked.connect(slot)
        return button

    # -- Screen ------------------------------------------------------------------------------
    def refresh(self) -> None:
        chosen = self.selected_user()
        self.model.set_users(self.services.users.list(self.principal))
        if chosen is not None:
            self.select(chosen.username)
        self._update_buttons()

    def on_changes(self, changes: Changes) -> None:
        if changes.users:
            self.refresh()

    def focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    # -- selection ---------------------------------------------------------------------------
    def selected_user(self) -> User | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].data(USER_ROLE) if rows else None

    def select(self, username: str) -> None:
        row = self.model.row_of(username)
        if row >= 0:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

    def _update_buttons(self, *_args: object) -> None:
        user = self.selected_user()
        me = user is not None and user.id == self.principal.user_id
        self.reset_button.setEnabled(user is not None and not me and not user.disabled)
        self.roles_button.setEnabled(user is not None and not me)
        self.disable_button.setEnabled(user is not None and not me and not user.disabled)
        self.enable_button.setEnabled(user is not None and user.disabled)
        self.unlock_button.setEnabled(user is not None and user.locked)

    # -- actions -----------------------------------------------------------------------------
    def _submit(self, dialog: FormDialog, label: str, call: Callable[[], Any],
                done: Callable[[Any], None]) -> None:
        """Run ``call`` when the dialog is submitted; errors stay in the dialog."""
        run_from_dialog(self, dialog, label, call, done)

    def _open(self, dialog: QWidget) -> QWidget:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _show_code(self, issued: IssuedCode, what: str) -> None:
        self.changes_made.emit(issued.changes)
        self.select(issued.user.username)
        self._open(OneTimeCodeDialog(issued, what, self))

    def add_user(self) -> None:
        dialog = AddUserDialog(self)
        users, who = self.services.users, self.principal

        def submit() -> None:
            name, display, roles, email = dialog.values()
            self._submit(dialog, "Adding user…",
                         lambda: users.add(who, name, display, roles, email=email),
                         lambda issued: self._show_code(issued, "The account is created."))

        dialog.submitted.connect(submit)
        self._open(dialog)

    def _with_reason(self, title: str, question: str, action_text: str,
                     call: Callable[[User, str], Any], done: Callable[[Any], None]) -> None:
        user = self.selected_user()
        if user is None:
            return
        dialog = ReasonDialog(title, question, self, action_text=action_text)

        def submit() -> None:
            reason = dialog.text()  # read on the GUI thread; the worker gets plain values
            self._submit(dialog, title, lambda: call(user, reason), done)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def reset_password(self) -> None:
        user, users, who = self.selected_user(), self.services.users, self.principal
        if user is None:
            return
        self._with_reason(
            f"Reset password of {user.username}",
            f"{user.display_name}'s password stops working now; they sign in with a new "
            "one-time code and choose a new password. Why?", "Reset password",
            lambda u, reason: users.reset_password(who, u.username, reason=reason),
            lambda issued: self._show_code(issued, "The password is reset."))

    def edit_roles(self) -> None:
        user, users, who = self.selected_user(), self.services.users, self.principal
        if user is None or user.id == who.user_id:
            return
        dialog = RolesDialog(user.username, user.roles, self)

        def submit() -> None:
            roles, reason = dialog.role_checks.roles(), dialog.reason.text()
            self._submit(dialog, "Saving roles…",
                         lambda: users.set_roles(who, user.username, roles, reason=reason),
                         self.changes_made.emit)

        dialog.submitted.connect(submit)
        self._open(dialog)

    def _simple(self, verb: str, question: str, method: str) -> None:
        user, who = self.selected_user(), self.principal
        if user is None:
            return
        call = getattr(self.services.users, method)
        self._with_reason(f"{verb} {user.username}", question.format(user=user), verb,
                          lambda u, reason: call(who, u.username, reason=reason),
                          self.changes_made.emit)

    def disable(self) -> None:
        self._simple("Disable", "{user.display_name} will not be able to sign in. Their records "
                     "and signatures stay. Why?", "disable")

    def enable(self) -> None:
        self._simple("Enable", "{user.display_name} will be able to sign in again. Why?",
                     "enable")

    def unlock(self) -> None:
        self._simple("Unlock", "{user.display_name}'s account was locked after failed "
                     "sign-ins. Why unlock it?", "unlock")
