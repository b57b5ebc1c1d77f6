"""The agent ships alone to a server: nothing under core/serving imports the rest of `core`,
and importing every agent module loads none of the console's libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SERVING = Path(__file__).resolve().parents[2] / "core" / "serving"
CONSOLE_ONLY = ("PySide6", "sqlalchemy", "alembic", "shap", "fairlearn", "matplotlib",
                "reportlab", "paramiko", "boto3")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside core.serving by construction
                continue
            names.append(node.module or "")
    return names


def test_no_agent_module_imports_the_rest_of_core() -> None:
    modules = sorted(SERVING.rglob("*.py"))
    assert modules, "core/serving has no modules"
    offending = [(p.name, name) for p in modules for name in _imports(p)
                 if (name == "core" or name.startswith("core."))
                 and not (name == "core.serving" or name.startswith("core.serving."))]
    assert offending == []


def test_importing_the_agent_loads_no_console_library() -> None:
    names = sorted("core.serving." + p.stem for p in SERVING.glob("*.py")
                   if p.stem != "__init__")
    code = ("import sys\n" + "".join(f"import {n}\n" for n in names)
            + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {CONSOLE_ONLY!r}"
            " or (m.startswith('core.') and not m.startswith('core.serving'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=SERVING.parents[1], check=True).stdout
    assert out.strip() == "[]"
