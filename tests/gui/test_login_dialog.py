"""Sign-in dialog: success, wrong password, lock-out, and the one-time-code password choice."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLineEdit

from core.permissions import Role
from views.login_dialog import LoginDialog

pytestmark = pytest.mark.gui


def make_dialog(qtbot, services) -> LoginDialog:  # noqa: ANN001
    dialog = LoginDialog(services)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def submit(qtbot, dialog: LoginDialog, username: str, secret: str) -> None:  # noqa: ANN001
    dialog.username.setText(username)
    dialog.password.setText(secret)
    # Enter in the password field presses the default button (Sign in), as a user would.
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert not dialog.ok_button.isEnabled()  # busy while the check runs off the GUI thread
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled())


def test_password_field_hides_input_and_demo_hint_shown(qtbot, services) -> None:  # noqa: ANN001
    dialog = make_dialog(qtbot, services)
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert "DEMO" in dialog.windowTitle()
    texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.error)))
    assert "charter demo --reset" in texts


def test_sign_in_success_returns_principal(qtbot, services, passwords) -> None:  # noqa: ANN001
    dialog = make_dialog(qtbot, services)
    with qtbot.waitSignal(dialog.signed_in, timeout=5000) as blocker:
        dialog.username.setText("ada")
        dialog.password.setText(passwords["ada"])
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    principal = blocker.args[0]
    assert principal.username == "ada"
    assert principal.role == Role.ADMIN
    assert dialog.principal == principal
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_wrong_password_is_shown_inline(qtbot, services) -> None:  # noqa: ANN001
    dialog = make_dialog(qtbot, services)
    submit(qtbot, dialog, "ada", "not-the-password")
    assert dialog.error.isVisible()
    assert "Wrong user name or password." in dialog.error.text()
    assert "locks after 5 failed attempts" in dialog.error.text()
    assert dialog.principal is None
    assert dialog.isVisible()


def test_lockout_message_after_too_many_failures(qtbot, services, passwords) -> None:  # noqa: ANN001
    dialog = make_dialog(qtbot, services)
    for _ in range(5):
        submit(qtbot, dialog, "dana", "wrong-password-1")
    assert "now locked after 5 failed attempts" in dialog.error.text()
    assert "administrator" in dialog.error.text()
    submit(qtbot, dialog, "dana", passwords["dana"])  # even the right password is refused now
    assert "is locked" in dialog.error.text()
    assert dialog.principal is None


def test_one_time_code_leads_to_choose_password(qtbot, services, sign_in) -> None:  # noqa: ANN001
    issued = services.users.add(sign_in("ada"), "nina", "Nina New", [Role.VALIDATOR])
    dialog = make_dialog(qtbot, services)
    submit(qtbot, dialog, "nina", issued.code)
    assert dialog.choosing
    assert dialog.choose_page.isVisible() and not dialog.sign_in_page.isVisible()
    assert "At least 12 characters" in dialog.rules.text()
    dialog.new_password.setText("a fine passphrase here")
    dialog.repeat_password.setText("a different one")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "differ" in dialog.error.text()
    dialog.new_password.setText("short")
    dialog.repeat_password.setText("short")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.ok_button.isEnabled())
    assert "too short" in dialog.error.text()
    with qtbot.waitSignal(dialog.signed_in, timeout=5000) as blocker:
        dialog.new_password.setText("a fine passphrase here")
        dialog.repeat_password.setText("a fine passphrase here")
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].username == "nina"
    # The new password now works and the code no longer does.
    assert services.auth.sign_in("nina", "a fine passphrase here").role == Role.VALIDATOR
