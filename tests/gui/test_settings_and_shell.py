"""Settings screen (change with a reason) and the session loop (sign in, sign out, again)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from views.main_window import MainWindow
from views.settings_screen import COL_VALUE, SettingsScreen
from views.shell import Shell

pytestmark = pytest.mark.gui


@pytest.fixture
def screen(qtbot, services, sign_in) -> SettingsScreen:  # noqa: ANN001
    widget = SettingsScreen(services, sign_in("ada"))
    widget.changes_made.connect(widget.on_changes)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_lists_store_settings_with_defaults(screen) -> None:  # noqa: ANN001
    keys = [item.spec.key for item in screen.items]
    assert keys[:4] == ["auth.max_failed_sign_ins", "auth.idle_lock_minutes",
                        "auth.min_password_length", "auth.one_time_code_hours"]
    # Then the acceptance gates, three tiers each (issue 4).
    assert keys[4:7] == ["gates.min_roc_auc.tier1", "gates.min_roc_auc.tier2",
                         "gates.min_roc_auc.tier3"]
    assert len(keys) == 4 + 8 * 3 + 1 + 3 * 3  # + the workflow policy (issue 5)
    assert screen.table.item(1, 0).text() == "Idle minutes before the console locks"
    assert screen.table.item(1, COL_VALUE).text() == "15"


def test_change_setting_with_reason(qtbot, screen, services) -> None:  # noqa: ANN001
    dialog = screen.edit("auth.idle_lock_minutes")
    dialog.value.setText("1000")
    dialog.reason.setText("policy")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "at most 480" in dialog.error.text()
    dialog.value.setText("5")
    dialog.reason.setText("")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "reason" in dialog.error.text()
    dialog.reason.setText("audit finding 2026-04")
    with qtbot.waitSignal(screen.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert screen.value_of("auth.idle_lock_minutes") == 5
    assert screen.table.item(1, COL_VALUE).text() == "5  (changed)"
    assert services.auth.idle_lock_minutes() == 5
    event = services.audit.page(screen.principal, limit=1).items[0]
    assert (event.action, event.object_id, event.reason) == (
        "setting.changed", "auth.idle_lock_minutes", "audit finding 2026-04")


def test_idle_interval_follows_the_setting(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    admin = sign_in("ada")
    window = MainWindow(services, admin, qsettings=qsettings)
    qtbot.addWidget(window)
    assert window.idle.interval_ms == 15 * 60_000
    changes = services.settings.set(admin, "auth.idle_lock_minutes", 2, reason="test")
    window.changed.emit(changes)
    assert window.idle.interval_ms == 2 * 60_000


def test_shell_signs_in_out_and_in_again(qtbot, services, passwords, qsettings) -> None:  # noqa: ANN001
    shell = Shell(services, qsettings=qsettings, idle_interval_ms=600_000)
    shell.start()
    login = shell.login
    login.username.setText("eve")
    login.password.setText(passwords["eve"])
    login.submit()
    qtbot.waitUntil(lambda: shell.window is not None, timeout=5000)
    window = shell.window
    assert window.isVisible() and window.principal.username == "eve"
    window.sign_out()
    assert shell.window is None and shell.login is not None and shell.login.isVisible()
    assert shell.login.username.text() == "eve"  # remembered for convenience
    with qtbot.waitSignal(shell.finished):
        shell.login.reject()
