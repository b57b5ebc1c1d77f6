"""What the make_*_screenshots.py scripts share (tools for looking at screens, not tests).

``start()`` makes the styled QApplication and a demo store of the script's own under /tmp with
its services and passwords; ``shot()`` waits for background tasks to finish, then grabs a widget.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def settle(ms: int = 300) -> None:
    """Let the event loop run, until no background task is running."""
    from views import task

    wait(ms)
    while task.running():
        wait(50)
    wait(150)


@dataclass
class Shots:
    app: QApplication
    folder: Path  # the store's folder, also for the script's own files
    out: Path  # where the PNGs go
    svc: Any
    pw: dict[str, str]
    hasher: Any

    @property
    def qsettings(self) -> QSettings:
        return QSettings(str(self.folder / "q.ini"), QSettings.Format.IniFormat)

    def shot(self, widget: Any, name: str) -> None:
        settle()
        widget.grab().save(str(self.out / f"{name}.png"))
        print("saved", name)


def start(store: str, out: str, *, portfolio: bool = False) -> Shots:
    """The application, and a fresh demo store in /tmp/<store> (with the demo portfolio when
    ``portfolio``); screenshots go to /tmp/shots/<out>."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    from app.container import build_services
    from core.demo import create_demo
    from core.security import Hasher, HashParams
    from views import style

    app.setStyleSheet(style.stylesheet())
    hasher = Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))
    folder = Path("/tmp") / store
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    db, accounts = create_demo(f"sqlite:///{folder}/charter-demo.db", hasher,
                               with_portfolio=portfolio)
    target = Path("/tmp/shots") / out
    target.mkdir(parents=True, exist_ok=True)
    return Shots(app, folder, target, build_services(db, hasher),
                 {a.username: a.password for a in accounts}, hasher)
