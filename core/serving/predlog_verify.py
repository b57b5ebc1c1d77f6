"""Verify a prediction log folder: every segment, every hash and link, no sequence gap.

    python -m core.serving.predlog verify FOLDER      (exit 0: intact, 1: damaged, 2: usage)

The check stops at the first bad entry and names it (segment file, line, seq, what is wrong).
A log whose newest segment ends in a torn line (a crash during a write) does not verify until
the agent reopens it, which cuts that line. Entries removed from the very end of the newest
segment leave no trace in the folder itself; compare :attr:`VerifyReport.last_seq` and
``last_hash`` with what the console last collected.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.serving.predlog_files import GENESIS, check_line, list_segments, split_lines


@dataclass(frozen=True)
class Problem:
    segment: str        # file name
    line: int           # 1-based line in that file (0: the file as a whole)
    seq: int | None     # the seq the line claims, when it can be read
    what: str


@dataclass(frozen=True)
class VerifyReport:
    segments: int
    entries: int
    last_seq: int
    last_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is None and not self.entries:
            return f"prediction log intact and empty ({self.segments} segment(s))"
        if self.problem is None:
            return (f"prediction log intact: {self.entries:,} entries, seq 1 to {self.last_seq}, "
                    f"in {self.segments} segment(s); last hash {self.last_hash}")
        p = self.problem
        seq = f", seq {p.seq}" if p.seq is not None else ""
        return (f"prediction log DAMAGED at {p.segment} line {p.line}{seq}: {p.what}\n"
                f"({self.entries:,} entries before it verified, up to seq {self.last_seq})")


def _why_bad(raw: bytes) -> str:
    """Why a line that failed :func:`check_line` failed, for the report."""
    if not raw.endswith(b"\n"):
        return f"torn line: {len(raw)} bytes without an end of line"
    try:
        entry = json.loads(raw)
    except ValueError:
        return "not valid JSON"
    if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
        return "not an entry (no integer seq)"
    if not raw.rstrip(b"\n").endswith(b'"}') or not isinstance(entry.get("hash"), str):
        return "hash missing or not the last field"
    return "hash does not match the entry's contents (the entry was altered)"


def verify(folder: str | os.PathLike[str]) -> VerifyReport:
    """Check the whole log; never raises for damage, only reports it."""
    folder = Path(folder)
    segments = list_segments(folder) if folder.is_dir() else []
    count, last_seq, last_hash = 0, 0, GENESIS

    def report(problem: Problem | None) -> VerifyReport:
        return VerifyReport(len(segments), count, last_seq, last_hash, problem)

    if not segments:
        return report(Problem(str(folder), 0, None, "no segment files (predlog-NNNNNN.jsonl)"))
    for index, (number, path) in enumerate(segments):
        expected_number = segments[0][0] + index
        if number != expected_number:
            return report(Problem(path.name, 0, None, f"segment {expected_number:06d} is "
                                  "missing"))
        lines = split_lines(path.read_bytes())
        if not lines and index < len(segments) - 1:
            return report(Problem(path.name, 0, None, "empty segment before the newest one"))
        for line_no, raw in enumerate(lines, start=1):
            entry = check_line(raw)
            if entry is None:
                seq = None
                try:
                    seq = json.loads(raw).get("seq")
                except (ValueError, AttributeError):
                    pass
                what = _why_bad(raw)
                if not raw.endswith(b"\n") and index == len(segments) - 1:
                    what += " at the end of the newest segment (a crash during a write; " \
                            "reopening the log cuts it)"
                return report(Problem(path.name, line_no, seq, what))
            seq = entry["seq"]
            if seq != last_seq + 1:
                where = (f"; {segments[index - 1][1].name} ends at seq {last_seq}"
                         if line_no == 1 and index else "")
                what = (f"seq {seq} where {last_seq + 1} belongs "
                        f"({'entries missing' if seq > last_seq + 1 else 'out of order'}{where})")
                return report(Problem(path.name, line_no, seq, what))
            if entry.get("prev") != last_hash:
                return report(Problem(path.name, line_no, seq, "prev does not match the hash "
                                      "of the entry before (the chain is broken)"))
            count, last_seq, last_hash = count + 1, seq, entry["hash"]
    return report(None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="charter-agent",
                                 description="Check a prediction log's hash chain.")
    sub = ap.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="verify every segment, hash and link of a log folder")
    check.add_argument("folder", type=Path)
    try:
        opts = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    result = verify(opts.folder)
    print(result.describe())
    return 0 if result.ok else 1
