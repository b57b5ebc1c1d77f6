"""The prediction log's files: segment names, line checks and reading from a sequence number.

Shared by the writer (:mod:`core.serving.predlog`) and the verifier
(:mod:`core.serving.predlog_verify`); the format is described in the first.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
SEGMENT_RE = re.compile(r"^predlog-(\d{6,})\.jsonl$")
_sha256 = hashlib.sha256
_log = logging.getLogger("core.serving.predlog")


class LogCorrupt(Exception):
    """The log on disk is damaged in a way that opening will not repair; run verify."""


@dataclass(frozen=True)
class Recovery:
    """What opening the log cut from the end of the newest segment after a crash."""

    segment: str
    offset: int          # the segment's new size
    dropped_bytes: int
    dropped_lines: int   # whole lines that failed their check (a torn last piece not counted)
    saved_to: str        # the cut bytes, kept for forensics


def segment_name(number: int) -> str:
    return f"predlog-{number:06d}.jsonl"


def list_segments(folder: Path) -> list[tuple[int, Path]]:
    """The folder's segment files, oldest first."""
    found = []
    for path in folder.iterdir():
        m = SEGMENT_RE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


HASH_KEY = b',"hash":"'
SUFFIX_LEN = len(HASH_KEY) + 64 + len(b'"}\n')


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their newline kept; a last piece without one (a torn write) is kept too."""
    lines = data.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


def check_line(line: bytes) -> dict[str, Any] | None:
    """The entry on one whole line if its hash matches its bytes, else None (no chain check)."""
    if (len(line) <= SUFFIX_LEN or line[-SUFFIX_LEN:-SUFFIX_LEN + len(HASH_KEY)] != HASH_KEY
            or line[-3:] != b'"}\n'):
        return None
    digest = line[-67:-3]
    if _sha256(line[:-SUFFIX_LEN] + b"}").hexdigest().encode() != digest:
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("seq"), int) else None


def cut_torn_tail(path: Path, max_batch_bytes: int, *, repair: bool = True
                  ) -> tuple[tuple[int, str, int] | None, Recovery | None]:
    """((seq, hash, lines) of the segment's last good entry or None if it has none, the cut).

    Cuts trailing bytes that are not whole, self-consistent entries, keeping them in
    ``<segment>.torn``. Only the last batch can be torn, since each batch is synced before
    the next is written: more than that (or any with ``repair=False``) raises LogCorrupt.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    lines = split_lines(data)
    good = len(lines)
    while good and check_line(lines[good - 1]) is None:
        good -= 1
    keep = sum(map(len, lines[:good]))
    recovery = None
    if keep != len(data):
        whole = sum(1 for line in lines[good:] if line.endswith(b"\n"))
        if not repair or (whole > 1 and len(data) - keep > 2 * max_batch_bytes):
            raise LogCorrupt(f"{path.name}: the last {len(data) - keep} bytes are not valid "
                             "entries and too many to be one torn write; run verify")
        saved = path.with_name(path.name + ".torn")
        with open(saved, "ab") as fh:
            fh.write(data[keep:])
            fh.flush()
            os.fsync(fh.fileno())
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        recovery = Recovery(path.name, keep, len(data) - keep, whole, str(saved))
        _log.warning("prediction log: cut %d torn bytes from the end of %s (saved to %s)",
                     len(data) - keep, path.name, saved.name)
    if not good:
        return None, recovery
    entry = check_line(lines[good - 1])
    assert entry is not None
    return (entry["seq"], entry["hash"], good), recovery


_first_seq_cache: dict[tuple[str, int], int] = {}


def _first_seq(path: Path) -> int | None:
    stat = path.stat()
    key = (str(path), stat.st_ino)
    if key in _first_seq_cache:
        return _first_seq_cache[key]
    with open(path, "rb") as fh:
        line = fh.readline()
    if not line.endswith(b"\n"):
        return None
    seq = json.loads(line)["seq"]
    _first_seq_cache[key] = seq
    return seq


def read_from(folder: str | os.PathLike[str], seq: int, limit: int | None = None, *,
              upto: int | None = None) -> Iterator[dict[str, Any]]:
    """Entries with ``seq`` or later (at most ``limit``; none past ``upto``), across segments.

    Reads files only; an open :class:`PredictionLog` bounds it to what is durable. Lines are
    parsed, not verified (that is :func:`~core.serving.predlog_verify.verify`'s job); a
    sequence that does not follow raises :class:`LogCorrupt`.
    """
    folder = Path(folder)
    segments = [(first, path) for _, path in list_segments(folder)
                if (first := _first_seq(path)) is not None]
    if not segments:
        return
    start = max(bisect.bisect_right([first for first, _ in segments], seq) - 1, 0)
    expected = max(seq, segments[start][0])
    count = 0
    for first, path in segments[start:]:
        with open(path, "rb") as fh:
            skip = expected - first  # lines are consecutive seqs, so skip without parsing
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a line being written right now, or a torn tail
                if skip > 0:
                    skip -= 1
                    continue
                if (upto is not None and expected > upto) or (limit is not None
                                                              and count >= limit):
                    return
                entry = json.loads(line)
                if entry.get("seq") != expected:
                    raise LogCorrupt(f"{path.name}: found seq {entry.get('seq')} where "
                                     f"{expected} belongs; run verify")
                yield entry
                count += 1
                expected += 1


