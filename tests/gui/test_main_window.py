"""Main window: screens per role, title and status bar, shortcuts, role switch, account menu."""

from __future__ import annotations

import pytest

from core.demo import DEMO_USERS
from core.entities import Changes
from core.permissions import Action, Role
from views.main_window import MainWindow

pytestmark = pytest.mark.gui

EXPECTED = {
    Role.ADMIN: ["Home", "Users", "Audit trail", "Model registry", "Deployments", "Settings"],
    Role.COMPLIANCE: ["Home", "Audit trail", "Model registry", "Approvals", "Findings",
                      "Deployments"],
    Role.DATA_SCIENTIST: ["Home", "Model registry", "Approvals", "Findings", "Deployments"],
    Role.VALIDATOR: ["Home", "Model registry", "Approvals", "Findings", "Deployments"],
    Role.MANAGER: ["Home", "Model registry", "Approvals", "Findings", "Deployments"],
}


def open_window(qtbot, services, principal, qsettings, **kw) -> MainWindow:  # noqa: ANN001
    window = MainWindow(services, principal, qsettings=qsettings, **kw)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.mark.parametrize(("username", "display", "role"), DEMO_USERS,
                         ids=[u[0] for u in DEMO_USERS])
def test_navigation_shows_only_allowed_screens(qtbot, services, sign_in, qsettings,  # noqa: ANN001
                                               username, display, role) -> None:
    principal = sign_in(username)
    window = open_window(qtbot, services, principal, qsettings)
    assert window.screen_titles() == EXPECTED.get(role, ["Home", "Model registry",
                                                         "Deployments"])
    assert window.windowTitle() == f"Charter — DEMO store — {services.store.location}"
    assert window.status.demo_badge is not None and window.status.demo_badge.isVisible()
    assert window.status.user_label.text() == display
    home = window.screens[0]
    assert home.welcome.text() == f"Welcome, {display}"
    if role not in EXPECTED:
        assert "Coming in later versions" in " ".join(
            w.text() for w in home.findChildren(type(home.welcome)))
    # The audit state appears only for roles that may read the trail.
    assert window.status.audit_label.isVisible() == principal.may(Action.AUDIT_READ)
    if principal.may(Action.AUDIT_READ):
        count, _ = services.audit.head(principal)
        assert window.status.audit_label.text() == f"Audit trail: {count:,} events"


def test_ctrl_number_switches_screens(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    window = open_window(qtbot, services, sign_in("ada"), qsettings)
    by_key = {a.shortcut().toString(): a for a in window.actions() if not a.shortcut().isEmpty()}
    assert {"Ctrl+1", "Ctrl+9", "Ctrl+L", "Ctrl+Q", "F5", "Ctrl+F"} <= set(by_key)
    by_key["Ctrl+3"].trigger()
    assert window.stack.currentIndex() == 2
    assert window.current_screen() is window.screens[2]
    window.show_screen(1)
    assert window.nav.currentRow() == 1


def test_changes_are_broadcast_to_screens(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    admin = sign_in("ada")
    window = open_window(qtbot, services, admin, qsettings)
    users = window.screens[1]
    services.users.add(admin, "otto", "Otto Other", [Role.EXECUTIVE])
    assert users.model.row_of("otto") == -1
    window.changed.emit(Changes(users=True, audit=True))
    assert users.model.row_of("otto") >= 0
    count, _ = services.audit.head(admin)
    assert window.status.audit_label.text().startswith(f"Audit trail: {count:,} events")


def test_role_switcher_for_user_with_several_roles(qtbot, services, sign_in,  # noqa: ANN001
                                                   qsettings) -> None:
    issued = services.users.add(sign_in("ada"), "rita", "Rita Two-Roles",
                                [Role.DATA_SCIENTIST, Role.COMPLIANCE])
    principal = services.auth.set_password_with_code("rita", issued.code,
                                                     "a long enough passphrase")
    window = open_window(qtbot, services, principal, qsettings)
    assert window.principal.role == Role.DATA_SCIENTIST
    assert window.screen_titles() == ["Home", "Model registry", "Approvals", "Findings",
                                      "Deployments"]
    combo = window.status.role_combo
    assert combo is not None and combo.count() == 2
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    qtbot.waitUntil(lambda: window.principal.role == Role.COMPLIANCE, timeout=5000)
    assert window.screen_titles() == ["Home", "Audit trail", "Model registry", "Approvals",
                                      "Findings", "Deployments"]
    newest = services.audit.page(window.principal, limit=1).items[0]
    assert newest.action == "auth.role_switched" and newest.actor == "rita"


def test_sign_out_records_event_and_emits(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    admin = sign_in("ada")
    window = open_window(qtbot, services, admin, qsettings)
    with qtbot.waitSignal(window.signed_out) as blocker:
        window.sign_out()
    assert blocker.args == [""]
    assert not window.isVisible()
    assert services.audit.page(admin, limit=1).items[0].action == "auth.signed_out"
    assert qsettings.value("main_window/geometry") is not None


def test_change_password_dialog(qtbot, services, sign_in, passwords, qsettings) -> None:  # noqa: ANN001
    window = open_window(qtbot, services, sign_in("cora"), qsettings)
    window.change_password()
    from views.account_dialogs import ChangePasswordDialog

    dialog = window.findChild(ChangePasswordDialog)
    dialog.current.setText("wrong current pw")
    dialog.new.setText("her brand new passphrase")
    dialog.repeat.setText("her brand new passphrase")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=5000)
    assert "Wrong current password" in dialog.error.text()
    dialog.current.setText(passwords["cora"])
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        dialog.submit()
    assert services.auth.sign_in("cora", "her brand new passphrase").username == "cora"
