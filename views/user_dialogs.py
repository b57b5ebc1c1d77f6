"""Dialogs of the users screen: add user, edit roles, and the one-time code shown once."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.permissions import Role
from core.services.users import IssuedCode
from views.widgets import FormDialog, plain_label, reason_field


class RoleChecks(QGroupBox):
    def __init__(self, selected: tuple[Role, ...] = (), parent: QWidget | None = None) -> None:
        super().__init__("Roles", parent)
        box = QVBoxLayout(self)
        self.checks: dict[Role, QCheckBox] = {}
        for role in Role:
            check = QCheckBox(role.label)
            check.setChecked(role in selected)
            box.addWidget(check)
            self.checks[role] = check

    def roles(self) -> list[Role]:
        return [role for role, check in self.checks.items() if check.isChecked()]


class AddUserDialog(FormDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add user", "Add user", parent)
        layout = self.body
        form = QFormLayout()
        self.username = QLineEdit()
        self.username.setPlaceholderText("e.g. jdoe")
        self.display_name = QLineEdit()
        self.display_name.setPlaceholderText("as printed on signatures")
        self.email = QLineEdit()
        self.email.setPlaceholderText("optional")
        form.addRow("&User name", self.username)
        form.addRow("&Printed name", self.display_name)
        form.addRow("&E-mail", self.email)
        layout.addLayout(form)
        self.role_checks = RoleChecks()
        layout.addWidget(self.role_checks)
        layout.addWidget(plain_label(
            "The user gets a one-time code and chooses their own password at first sign-in. "
            "The administrator role cannot be combined with roles that sign or approve.",
            "hint"))

    def values(self) -> tuple[str, str, list[Role], str | None]:
        return (self.username.text().strip(), self.display_name.text().strip(),
                self.role_checks.roles(), self.email.text().strip() or None)


class RolesDialog(FormDialog):
    def __init__(self, username: str, roles: tuple[Role, ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Roles of {username}", "Save roles", parent)
        self.role_checks = RoleChecks(roles)
        self.body.addWidget(self.role_checks)
        self.reason = reason_field()
        self.body.addWidget(self.reason)


class OneTimeCodeDialog(QDialog):
    """Shows a one-time code once; it is never stored in clear and cannot be shown again."""

    def __init__(self, issued: IssuedCode, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.issued = issued
        self.setWindowTitle(f"One-time code for {issued.user.username}")
        self.setMinimumWidth(480)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        expires = datetime.now().astimezone() + timedelta(hours=issued.expires_hours)
        layout.addWidget(plain_label(
            f"{what} Give this one-time code to {issued.user.display_name} "
            f"({issued.user.username}) in person or by a trusted channel. They enter it as "
            "their password and then choose their own."))
        self.code_label = plain_label(issued.code, "code", wrap=False)
        self.code_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.code_label)
        self.expiry_label = plain_label(
            f"Valid for {issued.expires_hours} hours, until "
            f"{expires.strftime('%Y-%m-%d %H:%M %Z')}. It is shown only now; a new code needs a "
            "password reset.", "hint")
        layout.addWidget(self.expiry_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy code")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.accept)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.issued.code)
        self.copy_button.setText("Copied")
