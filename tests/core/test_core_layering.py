"""``core`` runs with no Qt and without loading the heavy ML stack at import time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, json, pkgutil, sys

# Any attempt to import Qt now fails with ImportError, as on a server with no PySide6.
sys.modules["PySide6"] = None
sys.modules["shiboken6"] = None

import core

skipped = {"core.store.migrations.env"}  # runs only inside Alembic
imported = []
for info in pkgutil.walk_packages(core.__path__, "core."):
    if info.name in skipped or info.name.startswith("core.serving"):
        continue
    importlib.import_module(info.name)
    imported.append(info.name)

heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in {"PySide6", "shiboken6", "sklearn", "shap", "views", "app"}
               and sys.modules[m] is not None)
print(json.dumps({"imported": imported, "heavy": heavy}))
"""


def test_core_imports_without_qt_or_the_ml_stack() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("DISPLAY", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    # The walk really covered the foundation (a typo in the walk must not pass vacuously).
    for name in ("core.audit", "core.store.engine", "core.store.migrate", "core.services.auth",
                 "core.services.users", "core.services.audit_trail", "core.demo",
                 "core.store.migrations.versions.0001_foundation"):
        assert name in result["imported"]


def test_core_sources_never_import_qt_views_or_app() -> None:
    """Also catches imports inside functions, which the import walk above does not run."""
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|shiboken6|views|app)\b", re.MULTILINE)
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "core").rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []
