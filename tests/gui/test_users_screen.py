"""Users screen: add user (one-time code shown once), disable/enable, reset, roles, unlock."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from core.errors import PasswordChangeRequired
from core.permissions import Role
from views.user_dialogs import AddUserDialog, OneTimeCodeDialog, RolesDialog
from views.user_table_model import COL_ROLES, COL_STATUS, COL_USERNAME
from views.users_screen import UsersScreen
from views.widgets import ReasonDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def screen(qtbot, services, sign_in) -> UsersScreen:  # noqa: ANN001
    widget = UsersScreen(services, sign_in("ada"))
    widget.changes_made.connect(widget.on_changes)  # what the main window's broadcast does
    qtbot.addWidget(widget)
    widget.show()
    return widget


def cell(screen: UsersScreen, username: str, col: int) -> str:
    row = screen.model.row_of(username)
    assert row >= 0, f"{username} not in the table"
    return screen.model.data(screen.model.index(row, col))


def newest(services, screen) -> object:  # noqa: ANN001
    return services.audit.page(screen.principal, limit=1).items[0]


def test_table_lists_demo_users(screen) -> None:  # noqa: ANN001
    assert screen.model.rowCount() == 7
    assert cell(screen, "cora", COL_ROLES) == "Compliance officer"
    assert cell(screen, "cora", COL_STATUS) == "active"
    assert [screen.proxy.index(r, COL_USERNAME).data() for r in range(3)] == ["ada", "cora",
                                                                              "dana"]
    screen.filter.setText("COMPLIANCE")  # any column, any case
    assert screen.proxy.rowCount() == 1
    assert screen.proxy.index(0, COL_USERNAME).data() == "cora"
    screen.filter.clear()
    assert screen.proxy.rowCount() == 7


def test_add_user_shows_code_once_and_audits(qtbot, screen, services) -> None:  # noqa: ANN001
    with qtbot.waitSignal(screen.changes_made, timeout=5000) as changes:
        screen.add_user()
        dialog = screen.dialog
        assert isinstance(dialog, AddUserDialog)
        dialog.username.setText("nina")
        dialog.display_name.setText("Nina Newcomer")
        dialog.email.setText("nina@bank.example")
        dialog.role_checks.checks[Role.VALIDATOR].setChecked(True)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert changes.args[0].users and changes.args[0].audit
    code_dialog = screen.dialog
    assert isinstance(code_dialog, OneTimeCodeDialog)
    code = code_dialog.code_label.text()
    assert len(code) == 23 and code.count("-") == 3
    assert "Valid for 72 hours" in code_dialog.expiry_label.text()
    qtbot.mouseClick(code_dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == code
    assert cell(screen, "nina", COL_STATUS) == "awaiting first sign-in"
    event = newest(services, screen)
    assert (event.action, event.object_id, event.actor) == ("user.created", "nina", "ada")
    with pytest.raises(PasswordChangeRequired):
        services.auth.sign_in("nina", code)


def test_add_user_error_stays_in_dialog(qtbot, screen) -> None:  # noqa: ANN001
    screen.add_user()
    dialog = screen.dialog
    dialog.username.setText("dana")
    dialog.display_name.setText("Another Dana")
    dialog.role_checks.checks[Role.EXECUTIVE].setChecked(True)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "already exists" in dialog.error.text()
    assert "never deleted" in dialog.error.text()  # the hint
    assert dialog.isVisible()


def reason_action(qtbot, screen, username: str, start, reason: str) -> ReasonDialog:  # noqa: ANN001
    screen.select(username)
    start()
    dialog = screen.dialog
    assert isinstance(dialog, ReasonDialog)
    assert not dialog.ok_button.isEnabled()  # a reason is required
    dialog.reason.setText(reason)
    with qtbot.waitSignal(screen.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    return dialog


def test_disable_and_enable_change_table_and_audit(qtbot, screen, services) -> None:  # noqa: ANN001
    reason_action(qtbot, screen, "eve", screen.disable, "left the bank")
    assert cell(screen, "eve", COL_STATUS) == "disabled"
    event = newest(services, screen)
    assert (event.action, event.object_id, event.reason) == ("user.disabled", "eve",
                                                             "left the bank")
    assert screen.enable_button.isEnabled() and not screen.disable_button.isEnabled()
    reason_action(qtbot, screen, "eve", screen.enable, "came back")
    assert cell(screen, "eve", COL_STATUS) == "active"
    assert newest(services, screen).action == "user.enabled"


def test_cannot_disable_yourself(screen) -> None:  # noqa: ANN001
    screen.select("ada")
    assert not screen.disable_button.isEnabled()
    assert not screen.roles_button.isEnabled()


def test_reset_password_shows_code(qtbot, screen, services) -> None:  # noqa: ANN001
    reason_action(qtbot, screen, "max", screen.reset_password, "forgot it")
    assert isinstance(screen.dialog, OneTimeCodeDialog)
    assert cell(screen, "max", COL_STATUS) == "awaiting first sign-in"
    assert newest(services, screen).action == "user.password_reset"


def test_unlock_locked_user(qtbot, screen, services) -> None:  # noqa: ANN001
    for _ in range(5):
        try:
            services.auth.sign_in("ivan", "wrong password!")
        except Exception:  # noqa: BLE001, S110
            pass
    screen.refresh()
    assert cell(screen, "ivan", COL_STATUS) == "locked"
    reason_action(qtbot, screen, "ivan", screen.unlock, "verified by phone")
    assert cell(screen, "ivan", COL_STATUS) == "active"
    assert newest(services, screen).action == "user.unlocked"


def test_edit_roles_and_rule_errors(qtbot, screen, services) -> None:  # noqa: ANN001
    screen.select("victor")
    screen.edit_roles()
    dialog = screen.dialog
    assert isinstance(dialog, RolesDialog)
    assert dialog.role_checks.roles() == [Role.VALIDATOR]
    dialog.role_checks.checks[Role.ADMIN].setChecked(True)
    dialog.reason.setText("needs admin")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "cannot be combined" in dialog.error.text()
    dialog.role_checks.checks[Role.ADMIN].setChecked(False)
    dialog.role_checks.checks[Role.MANAGER].setChecked(True)
    with qtbot.waitSignal(screen.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert cell(screen, "victor", COL_ROLES) == "Validator, Manager"
    event = newest(services, screen)
    assert event.action == "user.roles_changed" and event.reason == "needs admin"
