"""Deployments and runtime installs on their server's own queue, with live progress.

Each server has one worker thread (:func:`server_queue`): a deployment waits there for the one
asked before it on the same server, in the order they were asked (the service serialises per
server too, but a lock does not keep an order), and it never holds up the console's one task
queue (views.task) for the minutes it takes. A release's end and its upload bytes come back
through its views.task ``Task``; a step as it ends and each line of a runtime install come
through :func:`events`, one object on the GUI thread for the whole session, so any screen open
now (a role switch makes new screens) follows work started before it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFrame, QProgressBar, QVBoxLayout, QWidget

from core.entities import Principal
from core.entities_deploy import Release
from core.services.deployments import DeploymentService, Progress
from core.services.servers import ServerService
from views.task import Task, run_task
from views.widgets import plain_label

_queues: dict[str, ThreadPoolExecutor] = {}
_events: DeployEvents | None = None


class DeployEvents(QObject):
    """Workers emit only here; the signals reach the screens' slots on the GUI thread."""

    step = Signal(str, str, str, str)  # release id, step, status, detail
    line = Signal(str, str)  # server, a line of the runtime install
    ended = Signal(str, str)  # server, release id ("" for a runtime install)


def events() -> DeployEvents:
    """The session's one event object (made on the GUI thread, on first use)."""
    global _events
    if _events is None:
        _events = DeployEvents()
    return _events


def server_queue(name: str) -> ThreadPoolExecutor:
    """The one worker thread of server ``name``."""
    if name not in _queues:
        _queues[name] = ThreadPoolExecutor(max_workers=1,
                                           thread_name_prefix=f"charter-deploy-{name}")
    return _queues[name]


def run_release(parent: QWidget, deployments: DeploymentService, who: Principal,
                release: Release, on_done: Callable[[Any], None], *,
                on_failure: Callable[[BaseException], bool] | None = None) -> Task:
    """Run a queued release on its server's queue; ``on_done`` gets ``(Release, Changes)``.
    The task's ``progressed`` carries the upload bytes."""
    ev, rid, server = events(), release.release_id, release.server

    def work(progress: Callable[[int, int], None], _cancel: Any) -> Any:
        try:
            return deployments.run(who, rid, Progress(
                step=lambda step, status, detail: ev.step.emit(rid, step, status, detail),
                bytes=progress))
        finally:
            ev.ended.emit(server, rid)

    return run_task(parent, f"Deploying {rid} on {server}…", work, on_done,
                    on_failure=on_failure, show_progress=False, pool=server_queue(server))


def install_runtime(parent: QWidget, servers: ServerService, who: Principal, name: str,
                    on_done: Callable[[Any], None], *,
                    on_failure: Callable[[BaseException], bool] | None = None) -> Task:
    """Install the agent runtime on ``name`` from the offline kit; each line of progress on
    ``events().line``; ``on_done`` gets ``(Preflight, Changes)``."""
    ev = events()

    def work(_progress: Any, _cancel: Any) -> Any:
        try:
            return servers.install_runtime(who, name,
                                           progress=lambda text: ev.line.emit(name, text))
        finally:
            ev.ended.emit(name, "")

    return run_task(parent, f"Installing the runtime on {name}…", work, on_done,
                    on_failure=on_failure, show_progress=False, pool=server_queue(name))


class ActivityPanel(QFrame):
    """What runs now from this screen: one line per release or runtime install (its latest
    step or progress line), and the bar of the upload under way (busy while none is)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.lines: dict[str, str] = {}  # release id or "install:<server>" -> latest line
        self.servers: dict[str, str] = {}  # release id -> its server
        self.uploading: tuple[str, int, int] | None = None  # release id, bytes done, total
        box = QVBoxLayout(self)
        box.setContentsMargins(14, 8, 14, 8)
        box.setSpacing(6)
        self.label = plain_label("")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Upload progress")
        box.addWidget(self.label)
        box.addWidget(self.progress)
        self.hide()

    def __contains__(self, key: str) -> bool:
        return key in self.lines

    def set(self, key: str, text: str, server: str | None = None) -> None:
        self.lines[key] = text
        if server is not None:
            self.servers[key] = server
        self._show()

    def drop(self, key: str) -> None:
        self.lines.pop(key, None)
        self.servers.pop(key, None)
        if self.uploading and self.uploading[0] == key:
            self.uploading = None
        self._show()

    def step(self, release_id: str, step: str, status: str, detail: str) -> None:
        if release_id not in self.lines:
            return
        first = detail.splitlines()[0][:160] if detail else ""
        self.lines[release_id] = (f"{release_id} on {self.servers.get(release_id, '?')}: "
                                  f"{step} {status}" + (f" — {first}" if first else ""))
        if step == "upload" and self.uploading and self.uploading[0] == release_id:
            self.uploading = None
        self._show()

    def upload(self, release_id: str, done: int, total: int) -> None:
        if release_id in self.lines:
            self.uploading = (release_id, done, total)
            self._show()

    def _show(self) -> None:
        self.setVisible(bool(self.lines))
        self.label.setText("\n".join(self.lines.values()))
        if self.uploading is not None:
            rid, done, total = self.uploading
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"upload of {rid}: {done / 2**20:,.2f} of "
                                    f"{total / 2**20:,.2f} MiB (%p%)")
        else:
            self.progress.setMaximum(0)  # busy: the server, or its queue, is working
            self.progress.setFormat("")
