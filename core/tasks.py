"""Plain progress and cancellation for long work in ``core``; the views adapt them to Qt."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.errors import Cancelled

ProgressFn = Callable[[int, int], None]  # (done, total); total 0 when unknown


def no_progress(_done: int, _total: int) -> None:
    return None


class CancelToken:
    """Set from any thread; long-running ``core`` loops call :meth:`check` between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled; nothing was changed.")
