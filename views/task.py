"""The one background-task facade: run a ``core`` callable off the GUI thread.

``run_task(parent, label, fn, on_success)`` calls ``fn(progress, cancel)`` on a worker thread,
where ``progress(done, total)`` is a plain callback and ``cancel`` a :class:`core.tasks.CancelToken`
that ``core`` checks between steps. Progress, success and failure arrive on the GUI thread through
queued signals; a progress dialog with Cancel appears only if the work takes longer than about half
a second. Failures: ``KnownError`` -> a message with its hint (unless ``on_failure`` handles it),
``Cancelled`` -> quietly dropped, anything else -> the crash dialog.

Tasks run one at a time on a single worker thread: SQLite has one writer, and one queue keeps
a user's actions in the order they were made. Work that takes minutes and mostly waits on the
network (a deployment, installing a server's runtime) may name another executor with ``pool=``
so it does not hold up that queue; its writes are short transactions that SQLite's busy timeout
serialises with the queue's. ``fn`` must not capture widgets: read what it needs from them on the
GUI thread first, and pass plain values (and services).

Once the first task starts, Python's cyclic garbage collector runs only on the GUI thread, from a
timer (as Anki and the PyQt documentation do): a collection triggered by the worker's
allocations would destroy Qt objects caught in reference cycles (closed dialogs, finished tasks,
their widgets) on the worker thread, which crashes Qt.
"""

from __future__ import annotations

import gc
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from core.errors import Cancelled, KnownError
from core.tasks import CancelToken, ProgressFn
from views import error_dialog

log = logging.getLogger("charter.views.task")

TaskFn = Callable[[ProgressFn, CancelToken], Any]
DIALOG_DELAY_MS = 500
GC_INTERVAL_MS = 500

_executor: ThreadPoolExecutor | None = None
_running: dict[int, Task] = {}
_ids = itertools.count(1)
_bridge: _Bridge | None = None


def executor() -> ThreadPoolExecutor:
    """The one worker thread. A Python executor rather than QThreadPool: Qt would destroy each
    runnable (and the Python objects it holds) on the worker thread without the GIL."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charter-task")
    return _executor


def running() -> int:
    """How many tasks are queued, running or waiting to report (for shutdown and tests)."""
    return len(_running)


def wait_for_all(msecs: int = 30_000) -> bool:
    """Block until the worker has run everything queued so far (results arrive later, through
    the event loop). Returns False on timeout."""
    try:
        executor().submit(lambda: None).result(timeout=msecs / 1000)
    except FuturesTimeout:
        return False
    return True


class _Bridge(QObject):
    """Lives on the GUI thread for the whole session. The worker emits only on it, with a task
    id, so the worker never holds a reference to a Task (or any QObject) that it could end up
    destroying on the wrong thread."""

    progressed = Signal(int, int, int)
    finished = Signal(int, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.progressed.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self.finished.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    @Slot(int, int, int)
    def _progress(self, task_id: int, done: int, total: int) -> None:
        task = _running.get(task_id)
        if task is not None:
            task.progressed.emit(done, total)

    @Slot(int, object, object)
    def _finish(self, task_id: int, result: Any, error: BaseException | None) -> None:
        task = _running.pop(task_id, None)
        if task is not None:
            task._on_finished(result, error)


class _Collector(QObject):
    """Python's automatic garbage collection, moved to the GUI thread: collects the generations
    whose thresholds were passed, every GC_INTERVAL_MS."""

    def __init__(self) -> None:
        super().__init__()
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(GC_INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    @Slot()
    def check(self) -> None:
        counts = gc.get_count()
        generation = -1
        for level in range(3):
            if counts[level] > self.thresholds[level]:
                generation = level
        if generation >= 0:
            gc.collect(generation)


def _get_bridge() -> _Bridge:
    global _bridge
    if _bridge is None:
        _bridge = _Bridge()
        _bridge.collector = _Collector()
    return _bridge


def _run(bridge: _Bridge, task_id: int, fn: TaskFn, token: CancelToken) -> None:
    """Worker thread: only plain Python and signal emission here, never a widget."""

    def progress(done: int, total: int) -> None:
        bridge.progressed.emit(task_id, int(done), int(total))

    try:
        if token.cancelled:
            raise Cancelled("Cancelled; nothing was changed.")
        result = fn(progress, token)
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the GUI thread
        bridge.finished.emit(task_id, None, err)
    else:
        bridge.finished.emit(task_id, result, None)


class Task(QObject):
    """One piece of background work. Lives on the GUI thread; its slots run there."""

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, parent: QWidget, label: str, fn: TaskFn,
                 on_success: Callable[[Any], None] | None = None, *,
                 on_failure: Callable[[BaseException], bool] | None = None,
                 cancellable: bool = False, show_progress: bool = True,
                 dialog_delay_ms: int = DIALOG_DELAY_MS,
                 pool: ThreadPoolExecutor | None = None) -> None:
        super().__init__()  # no Qt parent: the task outlives a widget closed meanwhile
        self.parent_widget = parent
        self.label = label
        self.fn = fn
        self.on_success = on_success
        self.on_failure = on_failure
        self.cancellable = cancellable
        self.pool = pool
        self.token = CancelToken()
        self.dialog: QProgressDialog | None = None
        self.finished = False
        self._last = (0, 0)
        self.id = next(_ids)
        self.progressed.connect(self._on_progress)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(dialog_delay_ms)
        if show_progress:
            self._timer.timeout.connect(self._show_dialog)

    def start(self) -> Task:
        _running[self.id] = self
        self._timer.start()
        (self.pool or executor()).submit(_run, _get_bridge(), self.id, self.fn, self.token)
        return self

    def cancel(self) -> None:
        self.token.cancel()
        if self.dialog is not None:
            self.dialog.setLabelText("Cancelling…")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self._last = (done, total)
        if self.dialog is not None:
            self._apply_progress()

    def _apply_progress(self) -> None:
        done, total = self._last
        if total > 0:
            self.dialog.setMaximum(total)
            self.dialog.setValue(min(done, total))
        else:
            self.dialog.setMaximum(0)  # busy indicator

    @Slot()
    def _show_dialog(self) -> None:
        if self.finished or not _alive(self.parent_widget):
            return
        dlg = QProgressDialog(self.label, "Cancel" if self.cancellable else "",
                              0, 0, self.parent_widget)
        dlg.setWindowTitle("Charter")
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.setMinimumDuration(0)
        dlg.setMinimumWidth(380)
        if not self.cancellable:
            dlg.setCancelButton(None)
        dlg.canceled.connect(self.cancel)
        self.dialog = dlg
        self._apply_progress()
        dlg.show()

    def _on_finished(self, result: Any, error: BaseException | None) -> None:
        self.finished = True
        self._timer.stop()
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        try:
            if error is None:
                self.succeeded.emit(result)
                if self.on_success is not None and _alive(self.parent_widget):
                    self.on_success(result)
            else:
                self.failed.emit(error)
                self._handle_failure(error)
        finally:
            self.done.emit()

    def _handle_failure(self, error: BaseException) -> None:
        alive = _alive(self.parent_widget)
        if isinstance(error, KnownError):
            if self.on_failure is not None and alive and self.on_failure(error):
                return
            if isinstance(error, Cancelled):
                log.info("%s: cancelled", self.label)
                return
            log.info("%s: %s", self.label, error.message)
            error_dialog.show_known_error(self.parent_widget if alive else None, error)
            return
        log.error("%s failed", self.label, exc_info=(type(error), error, error.__traceback__))
        error_dialog.show_crash(self.parent_widget if alive else None,
                                type(error), error, error.__traceback__, logged=True)


def _alive(widget: QWidget | None) -> bool:
    return widget is not None and shiboken6.isValid(widget)


def run_task(parent: QWidget, label: str, fn: TaskFn,
             on_success: Callable[[Any], None] | None = None, **options: Any) -> Task:
    """Start ``fn(progress, cancel)`` on the worker thread; see the module docstring."""
    return Task(parent, label, fn, on_success, **options).start()


def run_call(parent: QWidget, label: str, call: Callable[[], Any],
             on_success: Callable[[Any], None] | None = None, **options: Any) -> Task:
    """Like :func:`run_task` for a callable that takes no progress or cancel arguments."""
    return run_task(parent, label, lambda _progress, _cancel: call(), on_success, **options)


def run_from_dialog(parent: QWidget, dialog: Any, label: str, call: Callable[[], Any],
                    done: Callable[[Any], None]) -> Task:
    """Run ``call`` for a form dialog (views.widgets.FormDialog) that stays open meanwhile:
    on success the dialog is accepted and ``done`` gets the result; a KnownError is shown inside
    the dialog, so the user can correct the input and try again."""

    def failed(err: BaseException) -> bool:
        dialog.set_busy(False)
        if isinstance(err, KnownError):
            dialog.show_error(error_dialog.error_text(err))
            return True
        return False

    def succeeded(result: Any) -> None:
        dialog.set_busy(False)
        dialog.accept()
        done(result)

    dialog.set_busy(True)
    return run_call(parent, label, call, succeeded, on_failure=failed)
