"""app.gui: the no-display check, the store error path, and that the CLI side imports no Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import gui

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def test_no_display_returns_2_with_message(monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert gui.run_gui("sqlite:////nonexistent/charter.db", demo=False) == 2
    err = capsys.readouterr().err
    assert "Charter's console needs a display" in err
    assert "xvfb-run -a charter" in err and "charter --help" in err


def test_display_or_platform_set_passes_the_check(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    assert gui.display_problem() is None
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui.display_problem() is None


def test_store_error_shows_message_and_returns_1(qapp, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    from views import error_dialog

    shown = []

    class FakeBox:
        def __init__(self, parent, err, title) -> None:  # noqa: ANN001
            shown.append((err.message, err.hint, title))

        def exec(self) -> int:
            return 0

    monkeypatch.setattr(error_dialog, "known_error_box", FakeBox)
    monkeypatch.setenv("CHARTER_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    missing = tmp_path / "no-such-store.db"
    try:
        assert gui.run_gui(f"sqlite:///{missing}", demo=False) == 1
    finally:
        import logging

        for handler in list(logging.getLogger("charter").handlers):
            logging.getLogger("charter").removeHandler(handler)
            handler.close()
    assert shown and shown[0][2] == "Charter — cannot open the store"
    assert (tmp_path / "logs" / "charter.log").exists()


def test_importing_app_gui_loads_no_qt() -> None:
    code = ("import sys, app.gui; bad = [m for m in sys.modules if m.startswith('PySide6') "
            "or m.split('.')[0] in ('sklearn', 'shap', 'matplotlib')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
