"""Where Charter keeps files on a workstation (platform conventions, overridable for tests)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "charter"


def _platform_dir(kind: str) -> Path:
    import platformdirs

    getter = {"data": platformdirs.user_data_dir, "config": platformdirs.user_config_dir,
              "log": platformdirs.user_log_dir, "cache": platformdirs.user_cache_dir}[kind]
    return Path(getter(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The user's data folder: the default SQLite store and the demo store live here."""
    return Path(os.environ.get("CHARTER_DATA_DIR") or _platform_dir("data"))


def config_dir() -> Path:
    return Path(os.environ.get("CHARTER_CONFIG_DIR") or _platform_dir("config"))


def cache_dir() -> Path:
    """Downloads kept between runs (the agent kit's wheels); safe to delete."""
    return Path(os.environ.get("CHARTER_CACHE_DIR") or _platform_dir("cache"))


def log_dir() -> Path:
    return Path(os.environ.get("CHARTER_LOG_DIR") or _platform_dir("log"))


def artifact_dir() -> tuple[Path, bool]:
    """The artifact store's folder, and whether it is a configured (shared) one that must exist
    already rather than be created."""
    from core.settings import WorkstationSettings

    configured = WorkstationSettings().get("registry.artifact_dir")
    if configured:
        return Path(configured).expanduser(), True
    return data_dir() / "artifacts", False


def default_store_url() -> str:
    return sqlite_url(data_dir() / "charter.db")


def demo_store_url() -> str:
    return sqlite_url(data_dir() / "demo" / "charter-demo.db")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"
