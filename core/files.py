"""Writing a file so that a crash or a full disk never leaves half of it behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import InvalidInput


def write_atomically(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a temporary file in the same folder, flushed to disk,
    then renamed over ``dest``. Raises InvalidInput naming the file and the system's reason; on
    failure nothing is left behind and an existing ``dest`` is unchanged."""
    dest = Path(dest)
    folder = dest.parent if str(dest.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".part")
    except OSError as err:
        raise InvalidInput(f"Cannot write to {folder}: {err.strerror}.") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as err:
        raise InvalidInput(f"Cannot write {dest}: {err.strerror}.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
