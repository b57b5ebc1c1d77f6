"""What the fixtures that start real services (PostgreSQL, OpenSSH, GNOME Keyring) share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def made_or_fail(factory: Callable[[], T], unavailable: type[Exception], what: str) -> T:
    """``factory()``, or FAIL the test (never skip) saying why ``what`` cannot run here."""
    problem = None
    try:
        return factory()
    except unavailable as exc:
        problem = str(exc)
    pytest.fail(f"{what} unavailable: {problem}", pytrace=False)
