"""Task facade (thread, progress, cancel, delayed dialog, failures) and the error dialogs."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QPushButton, QWidget

from core.errors import InvalidInput
from views import error_dialog, task

pytestmark = pytest.mark.gui


@pytest.fixture
def parent(qtbot) -> QWidget:  # noqa: ANN001
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_runs_off_gui_thread_and_reports_on_it(qtbot, parent) -> None:  # noqa: ANN001
    seen = {}

    def work(progress, cancel) -> str:  # noqa: ANN001
        seen["worker"] = threading.get_ident()
        for i in range(3):
            progress(i + 1, 3)
        return "done"

    progress_calls = []
    results = []
    t = task.Task(parent, "Working…", work,
                  lambda r: results.append((r, QThread.currentThread())))
    t.progressed.connect(lambda d, n: progress_calls.append((d, n)))
    with qtbot.waitSignal(t.done, timeout=5000):
        t.start()
    assert seen["worker"] != threading.get_ident()
    assert results == [("done", QApplication.instance().thread())]
    assert progress_calls == [(1, 3), (2, 3), (3, 3)]
    assert task.running() == 0


def test_dialog_appears_after_delay_and_cancel_works(qtbot, parent) -> None:  # noqa: ANN001
    started = threading.Event()

    def slow(progress, cancel) -> None:  # noqa: ANN001
        started.set()
        while True:
            cancel.check()
            threading.Event().wait(0.01)

    failures = []
    t = task.Task(parent, "Verifying…", slow, on_failure=lambda e: failures.append(e) or True,
                  cancellable=True, dialog_delay_ms=100)
    t.start()
    assert t.dialog is None  # nothing flashes for quick work
    qtbot.waitUntil(lambda: t.dialog is not None and t.dialog.isVisible(), timeout=3000)
    assert isinstance(t.dialog, QProgressDialog)
    assert t.dialog.labelText() == "Verifying…"
    cancel_button = t.dialog.findChild(QPushButton)
    assert cancel_button.text() == "Cancel"
    with qtbot.waitSignal(t.done, timeout=5000):
        qtbot.mouseClick(cancel_button, Qt.MouseButton.LeftButton)
    assert type(failures[0]).__name__ == "Cancelled"
    assert t.dialog is None


def test_known_error_becomes_message_with_hint(qtbot, parent) -> None:  # noqa: ANN001
    def fail(progress, cancel) -> None:  # noqa: ANN001
        raise InvalidInput("The disk is full.", hint="Free some space and try again.")

    with qtbot.waitSignal(task.run_task(parent, "Saving…", fail).done, timeout=5000):
        pass
    boxes = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QMessageBox) and w.isVisible()]
    assert boxes and boxes[-1].text() == "The disk is full."
    assert boxes[-1].informativeText() == "Free some space and try again."
    for box in boxes:
        box.close()


def test_bug_goes_to_crash_dialog(qtbot, parent) -> None:  # noqa: ANN001
    def bug(progress, cancel) -> None:  # noqa: ANN001
        raise ZeroDivisionError("postgresql://admin:hunter2@db.bank/charter")

    with qtbot.waitSignal(task.run_call(parent, "Oops", lambda: bug(None, None)).done,
                          timeout=5000):
        pass
    dialogs = [w for w in QApplication.topLevelWidgets() + parent.findChildren(QWidget)
               if isinstance(w, error_dialog.CrashDialog) and w.isVisible()]
    assert dialogs
    report = dialogs[0].report()
    assert "ZeroDivisionError" in report and "Traceback" in report
    assert "hunter2" not in report and "admin:***@db.bank" in report
    assert "PySide6" in report and "Python" in report
    dialogs[0].copy()
    assert QGuiApplication.clipboard().text() == report
    dialogs[0].close()


def test_crash_dialog_names_log_file(qtbot, tmp_path) -> None:  # noqa: ANN001
    import logging
    from logging.handlers import RotatingFileHandler

    logger = logging.getLogger("charter")
    handler = RotatingFileHandler(tmp_path / "charter.log")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError as err:
            dialog = error_dialog.show_crash(None, type(err), err, err.__traceback__)
        assert str(tmp_path / "charter.log") in dialog.log_label.text()
        handler.flush()
        assert "boom" in (tmp_path / "charter.log").read_text()
        dialog.close()
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_many_tasks_and_short_lived_parents(qtbot) -> None:  # noqa: ANN001
    """Regression: many tasks, failures and widgets destroyed while their task is queued must
    not crash (the worker must never drop the last reference to a QObject), and callbacks of
    destroyed widgets are skipped."""
    import shiboken6

    finished: list[object] = []
    kept = []
    for i in range(40):
        parent = QWidget()

        def work(progress, cancel, i=i) -> int:  # noqa: ANN001
            progress(i, 40)
            if i % 2:
                raise InvalidInput(f"odd {i}")
            return i

        task.run_task(parent, f"task {i}", work, finished.append,
                      on_failure=lambda e: finished.append(str(e)) or True,
                      show_progress=False)
        if i < 20:
            shiboken6.delete(parent)  # closed while its task is still queued
        else:
            kept.append(parent)
    qtbot.waitUntil(lambda: task.running() == 0, timeout=10_000)
    assert sorted(map(str, finished)) == sorted(
        str(i) if i % 2 == 0 else f"odd {i}" for i in range(20, 40))
