"""GUI test fixtures: a demo store copied per test from one made per session (fast hashing)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from app.container import Services, build_services  # noqa: E402
from core.demo import create_demo  # noqa: E402
from core.entities import Principal  # noqa: E402
from core.security import Hasher, HashParams  # noqa: E402
from core.store.opening import open_store  # noqa: E402
from core.store.uow import Store  # noqa: E402

FAST = HashParams(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("demo-template")
    path = folder / "charter-demo.db"
    store, accounts = create_demo(f"sqlite:///{path}", Hasher(FAST), with_portfolio=False)
    store.dispose()
    return path, {a.username: a.password for a in accounts}


@pytest.fixture
def passwords(demo_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return dict(demo_template[1])


@pytest.fixture
def store_path(tmp_path: Path, demo_template: tuple[Path, dict[str, str]]) -> Path:
    source, _ = demo_template
    target = tmp_path / "charter-demo.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


@pytest.fixture
def services(store_path: Path, qapp) -> Iterator[Services]:  # noqa: ANN001
    from views import task

    svc = build_services(open_store(f"sqlite:///{store_path}"), Hasher(FAST))
    yield svc
    task.wait_for_all(10_000)
    qapp.processEvents()  # deliver queued task results before the store goes away
    svc.close()


@pytest.fixture
def sign_in(services: Services, passwords: dict[str, str]):  # noqa: ANN201
    def _sign_in(username: str) -> Principal:
        return services.auth.sign_in(username, passwords[username])

    return _sign_in


@pytest.fixture
def qsettings(tmp_path: Path):  # noqa: ANN201
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


def audit_actions(store: Store, principal: Principal, services: Services) -> list[str]:
    """Actions of the newest events first (up to 500)."""
    return [e.action for e in services.audit.page(principal, limit=500).items]


def tasks_idle() -> bool:
    from views import task

    return task.running() == 0
