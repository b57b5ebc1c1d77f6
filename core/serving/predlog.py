"""The agent's durable, hash-chained prediction log.

Every request the agent handles is appended here before its answer is sent. The log is a folder
of segment files ``predlog-000001.jsonl``, ``predlog-000002.jsonl``, ... holding one JSON line
per entry. The caller supplies the entry's body (request id, caller, route, model version and
artifact hash, inputs, outputs, latency, error: any JSON object with string keys); the log adds

* ``seq``  - 1, 2, 3, ... with no gap, across segments;
* ``ts``   - UTC time of the append, ISO 8601 with microseconds and ``Z``;
* ``prev`` - the previous entry's ``hash`` (64 zeros for seq 1; a new segment's first entry
  chains to the last entry of the segment before);
* ``hash`` - SHA-256 (hex) of the entry without ``hash``, as canonical JSON (keys sorted, no
  spaces, UTF-8, ``ensure_ascii=False``).

Each line is that canonical JSON with ``,"hash":"<hex>"`` inserted before its closing brace, so
the hash covers exactly the bytes on disk: to re-check a line outside Charter, replace its
trailing ``,"hash":"<hex>"}`` by ``}`` and hash the UTF-8 bytes.

Writes are group-committed: callers queue lines; one writer thread writes what is pending, calls
``fdatasync`` once per batch and then wakes the callers. ``append`` returns only once its entry
is on disk. A write that fails (disk full, EFBIG, I/O error) puts the log in a failed state:
that append and every later one raise :class:`LogUnavailable` until the log is reopened.

Verification lives in :mod:`core.serving.predlog_verify`;
``python -m core.serving.predlog verify FOLDER`` runs it.
"""

from __future__ import annotations

import errno as errno_mod
import fcntl
import hashlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from core.serving.predlog_files import (GENESIS, HASH_KEY, LogCorrupt, Recovery, cut_torn_tail,
                                        list_segments, read_from, segment_name)

__all__ = ["GENESIS", "LogCorrupt", "LogUnavailable", "PredictionLog", "Recovery", "main",
           "read_from"]

RESERVED = frozenset({"seq", "ts", "prev", "hash"})
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
_log = logging.getLogger(__name__)
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode
_sha256 = hashlib.sha256


class LogUnavailable(Exception):
    """The log cannot take entries; the agent must answer 503 rather than serve unlogged.

    ``reason`` is the operating system's words (e.g. "File too large [EFBIG]"), ``errno`` its
    number when there is one.
    """

    def __init__(self, reason: str, *, errno: int | None = None, path: str | None = None) -> None:
        where = f" ({path})" if path else ""
        super().__init__(f"prediction log unavailable{where}: {reason}")
        self.reason = reason
        self.errno = errno
        self.path = path


_second_text: tuple[int, str] = (-1, "")


def utc_iso(t: float) -> str:
    """``t`` as fixed-width ISO 8601 UTC with microseconds, e.g. 2026-01-31T09:15:02.123456Z."""
    global _second_text
    whole = int(t)
    if _second_text[0] != whole:  # formatting is the slow part; once a second is enough
        _second_text = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second_text[1]}.{int((t - whole) * 1e6):06d}Z"


def _os_reason(exc: BaseException) -> tuple[str, int | None]:
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno_mod.errorcode.get(exc.errno, str(exc.errno))
        return f"{exc.strerror or os.strerror(exc.errno)} [{name}]", exc.errno
    return f"{type(exc).__name__}: {exc}", None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:  # a regular file never does this; refuse to spin if it does
            raise OSError(errno_mod.EIO, "write wrote nothing")
        view = view[n:]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PredictionLog:
    """An open prediction log: one per folder per process (a lock file enforces it).

    Opening resumes the chain from the newest segment. Trailing bytes of that segment that are
    not whole, self-consistent entries (a crash during a write) are cut, saved beside it as
    ``<segment>.torn`` and described in :attr:`recovery`; more of them than one batch can
    leave raises :class:`LogCorrupt`. Opening checks only that tail: :func:`verify` checks the
    rest. Raises :class:`LogUnavailable` if the folder cannot be used or another process
    holds it.
    """

    def __init__(self, folder: str | os.PathLike[str], *,
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, segment_entries: int | None = None,
                 max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
                 on_durable: Callable[[int, LogUnavailable | None], None] | None = None) -> None:
        self.folder = Path(folder)
        # Called by the writer thread after each batch with the last durable seq, and once
        # with the failure when the log fails: an event loop awaits durability without a
        # thread blocked per request (append(..., wait=False), then wait for the seq).
        self.on_durable = on_durable
        self.segment_bytes = segment_bytes
        self.segment_entries = segment_entries or sys.maxsize
        self.max_batch_bytes = max_batch_bytes
        self.recovery: Recovery | None = None
        self.batches_written = 0  # group commits (one fdatasync each), for the agent's metrics
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)    # the writer waits here for lines
        self._done = threading.Condition(self._lock)    # callers wait here for durability
        self._pending: list[bytes] = []
        self._failure: LogUnavailable | None = None
        self._closing = False
        self._fd = -1
        self._lock_fd = -1
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.folder / "predlog.lock", os.O_RDWR | os.O_CREAT, 0o640)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            last_seq, last_hash = self._resume()
            self._fd = os.open(self._seg_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._seg_size = os.fstat(self._fd).st_size
            if not self._seg_size:
                _fsync_dir(self.folder)  # a new segment's name must survive a crash too
        except OSError as exc:
            self._release()
            reason, num = _os_reason(exc)
            if num in (errno_mod.EWOULDBLOCK, errno_mod.EAGAIN):
                reason = "another process has this log open"
            raise LogUnavailable(reason, errno=num, path=str(self.folder)) from exc
        except BaseException:
            self._release()
            raise
        self._next_seq = last_seq + 1
        self._prev = last_hash
        self._durable_seq = last_seq
        self._writer = threading.Thread(target=self._run, name="predlog-writer", daemon=True)
        self._writer.start()

    # ---- the callers' side ---------------------------------------------------------------

    def append(self, entry: dict[str, Any], *, wait: bool = True,
               timeout: float | None = None) -> int:
        """Append one entry; return its sequence number once it is on disk.

        With ``wait=False`` return as soon as it is queued (shadow outputs: the next batch
        makes it durable, and a failure then fails the log). Raises :class:`LogUnavailable`
        if the log has failed, fails on this write, or the disk has not answered within
        ``timeout`` seconds (the entry may still be written); ``ValueError``/``TypeError``
        if the entry uses a reserved key or is not JSON (the caller's bug; the log is fine).
        """
        return self.append_many((entry,), wait=wait, timeout=timeout)[0]

    def append_many(self, entries: Iterable[dict[str, Any]], *, wait: bool = True,
                    timeout: float | None = None) -> list[int]:
        """Append entries with consecutive sequence numbers, waiting once for all of them."""
        entries = list(entries)
        for entry in entries:
            if not RESERVED.isdisjoint(entry):
                raise ValueError(f"entry uses reserved keys {sorted(RESERVED & entry.keys())}")
        with self._lock:
            if self._failure is not None:
                self._raise_failure()
            if self._closing:
                raise LogUnavailable("the log is closed", path=str(self.folder))
            ts = utc_iso(time.time())
            seqs = []
            lines = []
            seq, prev = self._next_seq, self._prev
            for entry in entries:  # serialise before touching state, so a bad entry changes nothing
                body = _encode({**entry, "seq": seq, "ts": ts, "prev": prev}).encode()
                prev = _sha256(body).hexdigest()
                lines.append(b"%b%b%b\"}\n" % (body[:-1], HASH_KEY, prev.encode()))
                seqs.append(seq)
                seq += 1
            self._next_seq, self._prev = seq, prev
            self._pending.extend(lines)
            self._work.notify()
            if not wait or not seqs:
                return seqs
            last = seqs[-1]
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._durable_seq < last:
                if self._failure is not None:
                    self._raise_failure()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise LogUnavailable(f"the disk did not confirm seq {last} within "
                                         f"{timeout} s", path=str(self.folder))
                self._done.wait(remaining)
            return seqs

    def flush(self, timeout: float | None = None) -> int:
        """Wait until everything appended so far is on disk; return the last durable seq."""
        with self._lock:
            target = self._next_seq - 1
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._durable_seq < target:
                if self._failure is not None:
                    self._raise_failure()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise LogUnavailable("flush timed out", path=str(self.folder))
                self._done.wait(remaining)
            return self._durable_seq

    def _raise_failure(self) -> None:
        f = self._failure  # a fresh instance per caller: threads must not share a traceback
        assert f is not None
        raise LogUnavailable(f.reason, errno=f.errno, path=f.path)

    @property
    def failure(self) -> LogUnavailable | None:
        """Why the log stopped taking entries, or None while it is healthy."""
        return self._failure

    @property
    def last_durable_seq(self) -> int:
        return self._durable_seq

    def read_from(self, seq: int, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Durable entries from ``seq`` onward, oldest first (see :func:`read_from`)."""
        return read_from(self.folder, seq, limit, upto=self._durable_seq)

    def close(self) -> None:
        """Write what is pending, stop the writer and release the folder. Idempotent."""
        with self._lock:
            self._closing = True
            self._work.notify()
        if self._writer.is_alive():
            self._writer.join()
        self._release()

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._work.wait()
                if not self._pending:
                    return
                batch, size = [], 0
                for line in self._pending:  # bounded, so a crash tears at most one batch
                    batch.append(line)
                    size += len(line)
                    if size >= self.max_batch_bytes:
                        break
                del self._pending[:len(batch)]
                first = self._durable_seq + 1
            try:
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - any failure must fail the log, not hang it
                reason, num = _os_reason(exc)
                failure = LogUnavailable(reason, errno=num, path=str(self._seg_path))
                _log.error("prediction log failed at seq %d: %s", first, reason)
                with self._lock:
                    self._failure = failure
                    self._pending.clear()
                    self._done.notify_all()
                    durable = self._durable_seq
                if self.on_durable is not None:
                    self.on_durable(durable, failure)
                if not isinstance(exc, OSError):
                    raise
                return
            with self._lock:
                self._durable_seq = durable = first + len(batch) - 1
                self.batches_written += 1
                self._done.notify_all()
            if self.on_durable is not None:
                self.on_durable(durable, None)

    def _write(self, batch: list[bytes]) -> None:
        chunk: list[bytes] = []
        size = self._seg_size
        for line in batch:  # a segment takes entries until it reaches a limit, then rotates
            if self._seg_count >= self.segment_entries or size >= self.segment_bytes:
                self._write_chunk(chunk)
                chunk = []
                self._rotate()
                size = 0
            chunk.append(line)
            size += len(line)
            self._seg_count += 1
        self._write_chunk(chunk)

    def _write_chunk(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        data = b"".join(chunk)
        try:
            _write_all(self._fd, data)
            os.fdatasync(self._fd)
        except OSError:
            # Leave no partial line behind: cut back to what was durable. If even that fails,
            # the next open finds and cuts the torn tail.
            try:
                os.ftruncate(self._fd, self._seg_size)
                os.fdatasync(self._fd)
            except OSError:
                pass
            raise
        self._seg_size += len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        self._seg_no += 1
        self._seg_path = self.folder / segment_name(self._seg_no)
        self._fd = os.open(self._seg_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL,
                           0o640)
        _fsync_dir(self.folder)
        self._seg_size = 0
        self._seg_count = 0

    # ---- opening -------------------------------------------------------------------------

    def _resume(self) -> tuple[int, str]:
        """Find the chain's head, cutting a crash-torn tail off the newest segment."""
        segments = list_segments(self.folder)
        if not segments:
            self._seg_no, self._seg_path, self._seg_count = 1, self.folder / segment_name(1), 0
            return 0, GENESIS
        self._seg_no, self._seg_path = segments[-1]
        head, self.recovery = cut_torn_tail(self._seg_path, self.max_batch_bytes)
        self._seg_count = head[2] if head else 0
        if head is None and len(segments) > 1:  # an empty newest segment: rotation then crash
            head, _ = cut_torn_tail(segments[-2][1], self.max_batch_bytes, repair=False)
        if head is None:
            if len(segments) > 1:
                raise LogCorrupt(f"{segments[-2][1].name} holds no entry")
            return 0, GENESIS
        return head[0], head[1]

    def _release(self) -> None:
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


def main(argv: list[str] | None = None) -> int:
    """``python -m core.serving.predlog verify FOLDER``: exit 0 if the chain holds, else 1."""
    from core.serving.predlog_verify import main as verify_main

    return verify_main(argv)


if __name__ == "__main__":
    sys.exit(main())
