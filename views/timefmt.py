"""Times for people: the store keeps UTC, the console shows local time with its zone."""

from __future__ import annotations

from datetime import datetime


def local_text(value: datetime | None, *, seconds: bool = True) -> str:
    if value is None:
        return ""
    local = value.astimezone()
    fmt = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return local.strftime(fmt)
