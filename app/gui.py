"""The console's entry point: checks, logging, crash hooks, the store, then the session loop.

PySide6 is imported inside :func:`run_gui` only, so the headless CLI never loads Qt.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from logging.handlers import RotatingFileHandler
from types import TracebackType

NO_DISPLAY = (
    "Charter's console needs a display. No X11 or Wayland display was found.\n"
    "Run it under a virtual display:  xvfb-run -a charter …\n"
    "or use the headless commands:    charter --help"
)
LOG_FILE = "charter.log"


def display_problem() -> str | None:
    """The message to print when Qt would abort for want of a display, else None."""
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def setup_logging() -> str | None:
    from core import paths

    logger = logging.getLogger("charter")
    logger.setLevel(logging.INFO)
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / LOG_FILE, maxBytes=2_000_000, backupCount=5,
                                      encoding="utf-8")
    except OSError as err:
        print(f"charter: cannot write the log file ({err}); logging to stderr.", file=sys.stderr)
        logger.addHandler(logging.StreamHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return handler.baseFilename


def install_crash_hooks() -> None:
    from views import error_dialog

    def excepthook(exc_type: type[BaseException], exc: BaseException,
                   tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        error_dialog.show_crash(None, exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        # Not on the GUI thread: log now, show the dialog from the GUI thread.
        from PySide6.QtCore import QTimer

        logging.getLogger("charter.crash").error(
            "unexpected error in thread %s", args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        exc = args.exc_value or args.exc_type()
        QTimer.singleShot(0, _gui_app(), lambda: error_dialog.show_crash(
            None, args.exc_type, exc, args.exc_traceback, logged=True))

    sys.excepthook = excepthook
    threading.excepthook = thread_hook


def _gui_app():  # noqa: ANN202
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


def _application():  # noqa: ANN202
    """The styled QApplication every Charter window runs in."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from views import style

    QCoreApplication.setOrganizationName("Charter")
    QCoreApplication.setApplicationName("Charter")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationDisplayName("Charter")
    app.setStyle("Fusion")
    app.setStyleSheet(style.stylesheet())
    app.setWindowIcon(style.icon("charter"))
    return app


def run_review_window(path: str) -> int:
    """Verify the review package at ``path`` and show it read-only, with no store and no
    sign-in; returns the process exit code (2 no display, 1 the package failed verification)."""
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from pathlib import Path

    from core.errors import KnownError
    from core.workflow.review_package import open_package
    from views import error_dialog, task
    from views.review_window import ReviewWindow

    app = _application()
    log_path = setup_logging()
    log = logging.getLogger("charter")
    log.info("review window starting (package %s, log %s)", path, log_path)
    install_crash_hooks()
    try:
        window = ReviewWindow(open_package(Path(path)))
    except KnownError as err:
        log.warning("review package refused: %s", err.message)
        print(f"charter: {err.message}", file=sys.stderr)
        if err.hint:
            print(err.hint, file=sys.stderr)
        print("charter: nothing was opened.", file=sys.stderr)
        error_dialog.known_error_box(None, err, "Charter — review package refused").exec()
        return 1
    app.setQuitOnLastWindowClosed(True)
    window.finished.connect(app.quit)
    window.show()
    try:
        return app.exec()
    finally:
        task.wait_for_all(10_000)
        log.info("review window closed")


def run_gui(url: str, *, demo: bool) -> int:
    """Run the console on the store at ``url``; returns the process exit code."""
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from app.container import open_services
    from core.errors import KnownError
    from views import error_dialog, task
    from views.shell import Shell

    app = _application()
    app.setQuitOnLastWindowClosed(False)
    log_path = setup_logging()
    log = logging.getLogger("charter")
    log.info("console starting (store %s, demo=%s, log %s)", url.split("@")[-1], demo, log_path)
    install_crash_hooks()
    try:
        services = open_services(url)
    except KnownError as err:
        log.warning("cannot open the store: %s", err.message)
        box = error_dialog.known_error_box(None, err, "Charter — cannot open the store")
        box.exec()
        return 1
    if demo and not services.demo:
        log.warning("--demo given but %s is not a demo store", services.store.location)
    shell = Shell(services)
    shell.finished.connect(app.quit)
    shell.start()
    if os.environ.get("CHARTER_STARTUP_PROBE"):
        # For tests/benchmarks/bench_foundation.py: report once the event loop has shown the
        # sign-in dialog, then quit.
        from PySide6.QtCore import QTimer

        def probe() -> None:
            shown = shell.login is not None and shell.login.isVisible()
            print(f"charter-startup: sign-in dialog {'shown' if shown else 'NOT shown'}",
                  flush=True)
            app.quit()

        QTimer.singleShot(0, probe)
    try:
        return app.exec()
    finally:
        task.wait_for_all(10_000)
        services.close()
        log.info("console closed")
