"""Idle lock: locks after the (injected) interval, audits it, unlocks with the password,
and signs out when wrong passwords lock the account."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from views.idle_lock import IdleWatcher
from views.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, services, sign_in, qsettings) -> MainWindow:  # noqa: ANN001
    win = MainWindow(services, sign_in("ada"), qsettings=qsettings, idle_interval_ms=150)
    qtbot.addWidget(win)
    win.show()
    return win


def test_input_postpones_idle(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QLineEdit

    watcher = IdleWatcher(300)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.show()
    fired = []
    watcher.idle.connect(lambda: fired.append(True))
    watcher.start()
    for _ in range(4):  # keep typing for longer than the interval
        qtbot.wait(120)
        qtbot.keyClick(edit, Qt.Key.Key_A)
    assert not fired
    qtbot.waitUntil(lambda: bool(fired), timeout=2000)
    watcher.stop()


def test_locks_when_idle_and_unlocks_with_password(qtbot, window, services,  # noqa: ANN001
                                                   passwords) -> None:
    qtbot.waitUntil(lambda: window.locked, timeout=3000)
    panel = window.lock_panel
    assert window.root.currentWidget() is panel
    assert not window.statusBar().isVisible() and not window.menuBar().isVisible()
    qtbot.waitUntil(lambda: services.audit.page(window.principal, limit=1).items[0].action
                    == "auth.session_locked", timeout=3000)
    panel.password.setText("not my password")
    qtbot.mouseClick(panel.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.error.isVisible, timeout=3000)
    assert "Wrong" in panel.error.text()
    assert window.locked
    panel.password.setText(passwords["ada"])
    qtbot.keyClick(panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.locked, timeout=3000)
    assert window.root.currentIndex() == 0 and window.statusBar().isVisible()
    assert window.idle.active  # watching again
    actions = [e.action for e in services.audit.page(window.principal, limit=3).items]
    assert actions[0] == "auth.reauthenticated"
    assert "auth.sign_in_failed" in actions


def test_ctrl_l_locks_and_closes_open_dialogs(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    win = MainWindow(services, sign_in("ada"), qsettings=qsettings, idle_interval_ms=600_000)
    qtbot.addWidget(win)
    win.show()
    win.show_screen(1)
    users = win.screens[1]
    users.add_user()
    dialog = users.dialog
    assert dialog.isVisible()
    lock = next(a for a in win.actions() if a.shortcut().toString() == "Ctrl+L")
    lock.trigger()
    assert win.locked and not dialog.isVisible()
    assert not lock.isEnabled()  # no screen shortcuts while locked


def test_wrong_passwords_lock_account_and_sign_out(qtbot, window) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: window.locked, timeout=3000)
    panel = window.lock_panel
    with qtbot.waitSignal(window.signed_out, timeout=10_000) as blocker:
        for _ in range(5):
            if window.lock_panel is None or not panel.isVisible():
                break
            panel.password.setText("wrong password")
            panel.unlock()
            qtbot.waitUntil(lambda: panel.unlock_button.isEnabled(), timeout=3000)
    assert "locked" in blocker.args[0]
    assert not window.isVisible()


def test_mouse_move_counts_as_activity(qtbot, services, sign_in, qsettings) -> None:  # noqa: ANN001
    # A generous interval against moves every 100 ms: a loaded CI machine can stall the event
    # loop for a few hundred milliseconds without this test mistaking it for idleness.
    win = MainWindow(services, sign_in("ada"), qsettings=qsettings, idle_interval_ms=1500)
    qtbot.addWidget(win)
    win.show()
    for step in range(20):
        qtbot.wait(100)
        qtbot.mouseMove(win.nav, QPoint(10 + step % 5, 10))
    assert not win.locked  # 2 s of activity, more than the 1.5 s interval
