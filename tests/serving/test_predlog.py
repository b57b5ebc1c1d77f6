"""The agent's prediction log: durable before the answer, hash-chained, tamper-evident."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.serving.predlog import GENESIS, LogCorrupt, LogUnavailable, PredictionLog, read_from
from core.serving.predlog_files import list_segments
from core.serving.predlog_verify import verify

ROOT = Path(__file__).resolve().parents[2]


def body(i: int, **extra: object) -> dict:
    return {"request_id": f"r{i}", "caller": "loans@10.0.0.7", "route": {"rule": "default"},
            "version": "credit-pd/3", "artifact_sha256": "ab" * 32,
            "inputs": {"age": 30 + i % 40, "region": "NE", "income": 1000.5 * i},
            "outputs": {"live": {"proba": [0.25, 0.75]}, "shadow": []},
            "latency_ms": 1.5, "error": None, **extra}


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def run_child(code: str, folder: Path, **kw: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


# ---- appending and reading ---------------------------------------------------------------------


def test_sixteen_threads_get_contiguous_seqs_and_read_back_in_order(tmp_path: Path) -> None:
    got: dict[int, str] = {}
    with PredictionLog(tmp_path, segment_entries=100) as log:
        def work(t: int) -> None:
            for i in range(50):
                rid = f"t{t}-{i}"
                got[log.append({"request_id": rid, "n": i})] = rid

        threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == list(range(1, 801))
        assert log.last_durable_seq == 800
        entries = list(log.read_from(1))
    assert [e["seq"] for e in entries] == list(range(1, 801))
    assert [e["request_id"] for e in entries] == [got[s] for s in range(1, 801)]
    assert entries[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))
    report = verify(tmp_path)
    assert report.ok, report.describe()
    assert (report.entries, report.segments, report.last_seq) == (800, 8, 800)
    assert report.last_hash == entries[-1]["hash"]


def test_an_entry_holds_what_the_caller_gave_plus_seq_time_and_links(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        assert log.append(body(1)) == 1
        assert log.append_many([body(2), body(3)]) == [2, 3]
    first, second, _ = read_from(tmp_path, 1)
    assert {k: first[k] for k in body(1)} == body(1)
    assert first["ts"].endswith("Z") and first["ts"][10] == "T" and len(first["ts"]) == 27
    assert set(first) == set(body(1)) | {"seq", "ts", "prev", "hash"}
    assert (first["seq"], first["prev"], second["prev"]) == (1, GENESIS, first["hash"])


def test_rotation_keeps_the_chain_and_reopening_resumes_it(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, segment_bytes=3000) as log:
        for i in range(1, 41):
            assert log.append(body(i)) == i
    segments = list_segments(tmp_path)
    assert len(segments) >= 5
    for (_, older), (_, newer) in zip(segments, segments[1:]):
        last = json.loads(lines_of(older)[-1])
        first = json.loads(lines_of(newer)[0])
        assert (first["seq"], first["prev"]) == (last["seq"] + 1, last["hash"])
        assert older.stat().st_size < 3000 + 1000  # rotated at the limit, not long after
    with PredictionLog(tmp_path, segment_bytes=3000) as log:
        assert log.recovery is None
        assert log.append(body(41)) == 41
    entries = list(read_from(tmp_path, 17, limit=20))
    assert [e["seq"] for e in entries] == list(range(17, 37))
    assert entries[-1]["prev"] == entries[-2]["hash"]
    assert [e["seq"] for e in read_from(tmp_path, 38)] == [38, 39, 40, 41]
    assert list(read_from(tmp_path, 42)) == []
    report = verify(tmp_path)
    assert report.ok and report.last_seq == 41, report.describe()


def test_a_bad_entry_is_refused_and_leaves_the_log_healthy(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        log.append(body(1))
        with pytest.raises(ValueError, match="reserved"):
            log.append({"seq": 99})
        with pytest.raises(TypeError):
            log.append({"blob": object()})
        with pytest.raises(ValueError):
            log.append({"score": float("nan")})
        assert log.failure is None
        assert log.append(body(2)) == 2
    assert verify(tmp_path).entries == 2


def test_queued_entries_become_durable_with_flush(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        assert [log.append(body(i), wait=False) for i in range(1, 101)] == list(range(1, 101))
        assert log.flush() == 100
        assert log.last_durable_seq == 100
    assert verify(tmp_path).entries == 100


def test_a_second_writer_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    with PredictionLog(tmp_path):
        with pytest.raises(LogUnavailable, match="another process"):
            PredictionLog(tmp_path)
    with PredictionLog(tmp_path) as again:  # released on close
        assert again.append(body(1)) == 1


# ---- tampering ---------------------------------------------------------------------------------


@pytest.fixture
def thirty(tmp_path: Path) -> Path:
    """30 entries in three segments of ten."""
    with PredictionLog(tmp_path, segment_entries=10) as log:
        log.append_many(body(i) for i in range(1, 31))
    assert [p.name for _, p in list_segments(tmp_path)] == [
        "predlog-000001.jsonl", "predlog-000002.jsonl", "predlog-000003.jsonl"]
    assert verify(tmp_path).ok
    return tmp_path


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_an_edited_field_is_reported_where_it_is(thirty: Path) -> None:
    seg = thirty / "predlog-000002.jsonl"
    lines = lines_of(seg)
    lines[3] = lines[3].replace(b'"region":"NE"', b'"region":"SW"')
    rewrite(seg, lines)
    p = verify(thirty).problem
    assert (p.segment, p.line, p.seq) == ("predlog-000002.jsonl", 4, 14)
    assert "altered" in p.what
    assert verify(thirty).entries == 13


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(thirty: Path) -> None:
    import hashlib

    seg = thirty / "predlog-000002.jsonl"
    lines = lines_of(seg)
    entry = json.loads(lines[3])
    entry["inputs"]["income"] = 1.0
    entry.pop("hash")
    canon = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canon.encode()).hexdigest()
    lines[3] = f'{canon[:-1]},"hash":"{digest}"}}\n'.encode()
    rewrite(seg, lines)
    p = verify(thirty).problem
    assert (p.segment, p.line, p.seq) == ("predlog-000002.jsonl", 5, 15)
    assert "chain is broken" in p.what


def test_a_deleted_line_is_reported(thirty: Path) -> None:
    seg = thirty / "predlog-000002.jsonl"
    lines = lines_of(seg)
    del lines[4]  # seq 15
    rewrite(seg, lines)
    p = verify(thirty).problem
    assert (p.segment, p.line, p.seq) == ("predlog-000002.jsonl", 5, 16)
    assert "16 where 15 belongs" in p.what and "missing" in p.what


def test_swapped_lines_are_reported(thirty: Path) -> None:
    seg = thirty / "predlog-000003.jsonl"
    lines = lines_of(seg)
    lines[2], lines[3] = lines[3], lines[2]
    rewrite(seg, lines)
    p = verify(thirty).problem
    assert (p.segment, p.line, p.seq) == ("predlog-000003.jsonl", 3, 24)
    assert "24 where 23 belongs" in p.what


def test_a_segment_cut_mid_line_is_reported_in_that_segment(thirty: Path) -> None:
    seg = thirty / "predlog-000001.jsonl"
    seg.write_bytes(seg.read_bytes()[:-50])
    p = verify(thirty).problem
    assert (p.segment, p.line) == ("predlog-000001.jsonl", 10)
    assert p.what.startswith("torn line")


def test_a_segment_cut_at_a_line_end_is_reported_where_the_gap_shows(thirty: Path) -> None:
    seg = thirty / "predlog-000002.jsonl"
    rewrite(seg, lines_of(seg)[:7])  # seqs 18-20 gone
    p = verify(thirty).problem
    assert (p.segment, p.line, p.seq) == ("predlog-000003.jsonl", 1, 21)
    assert "21 where 18 belongs" in p.what and "predlog-000002.jsonl ends at seq 17" in p.what


def test_a_removed_segment_is_reported(thirty: Path) -> None:
    (thirty / "predlog-000002.jsonl").unlink()
    p = verify(thirty).problem
    assert (p.segment, p.line) == ("predlog-000003.jsonl", 0)
    assert "000002 is missing" in p.what


def test_the_command_line_exits_0_when_intact_and_1_naming_the_damage(thirty: Path) -> None:
    cmd = [sys.executable, "-m", "core.serving.predlog", "verify", str(thirty)]
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 30 entries, seq 1 to 30, in 3 segment(s)" in ok.stdout
    seg = thirty / "predlog-000002.jsonl"
    seg.write_bytes(seg.read_bytes().replace(b'"request_id":"r13"', b'"request_id":"r99"'))
    bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "DAMAGED at predlog-000002.jsonl line 3, seq 13" in bad.stdout


# ---- crashes -----------------------------------------------------------------------------------


def test_a_torn_tail_is_cut_on_reopen_saved_and_reported(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        log.append_many(body(i) for i in range(1, 11))
    seg = tmp_path / "predlog-000001.jsonl"
    intact = seg.read_bytes()
    torn = b'{"error":null,"inputs":{"age":3'
    seg.write_bytes(intact + torn)
    p = verify(tmp_path).problem
    assert (p.line, p.what.split(":")[0]) == (11, "torn line")
    assert "reopening the log cuts it" in p.what
    with PredictionLog(tmp_path) as log:
        r = log.recovery
        assert (r.segment, r.offset, r.dropped_bytes, r.dropped_lines) == (
            "predlog-000001.jsonl", len(intact), len(torn), 0)
        assert Path(r.saved_to).read_bytes() == torn
        assert log.append(body(11)) == 11
    assert json.loads(lines_of(seg)[10])["prev"] == json.loads(lines_of(seg)[9])["hash"]
    assert verify(tmp_path).ok and verify(tmp_path).last_seq == 11


def test_whole_garbage_lines_at_the_end_are_cut_too(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        log.append_many(body(i) for i in range(1, 6))
    seg = tmp_path / "predlog-000001.jsonl"
    seg.write_bytes(seg.read_bytes() + b"\0" * 300 + b"\n" + b"\0" * 100)
    with PredictionLog(tmp_path) as log:
        assert (log.recovery.dropped_bytes, log.recovery.dropped_lines) == (401, 1)
        assert log.append(body(6)) == 6
    assert verify(tmp_path).ok


def test_more_damage_than_one_torn_write_is_not_cut_silently(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        log.append_many(body(i) for i in range(1, 6))
    seg = tmp_path / "predlog-000001.jsonl"
    before = seg.read_bytes()
    seg.write_bytes(before + (b"x" * 300 + b"\n") * 3)
    with pytest.raises(LogCorrupt, match="run verify"):
        PredictionLog(tmp_path, max_batch_bytes=200)
    assert seg.read_bytes() == before + (b"x" * 300 + b"\n") * 3  # nothing was cut


def test_an_empty_newest_segment_resumes_from_the_one_before(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, segment_entries=5) as log:
        log.append_many(body(i) for i in range(1, 6))
    (tmp_path / "predlog-000002.jsonl").touch()  # a crash right after rotating
    with PredictionLog(tmp_path, segment_entries=5) as log:
        assert log.append(body(6)) == 6
    assert json.loads(lines_of(tmp_path / "predlog-000002.jsonl")[0])["seq"] == 6
    assert verify(tmp_path).ok


EFBIG_CHILD = r"""
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
from core.serving.predlog import LogUnavailable, PredictionLog
log = PredictionLog(sys.argv[1])
acked, out = 0, {}
try:
    for i in range(1, 1000):
        acked = log.append({"request_id": f"r{i}", "inputs": {"x": "v" * 300}})
except LogUnavailable as exc:
    out.update(reason=exc.reason, errno=exc.errno, message=str(exc))
t0 = __import__("time").perf_counter()
try:
    log.append({"request_id": "after"})
except LogUnavailable as exc:
    out.update(again=exc.reason, again_s=__import__("time").perf_counter() - t0)
out.update(acked=acked, failure=log.failure and log.failure.reason)
log.close()
print(json.dumps(out))
"""


def test_a_real_write_failure_fails_the_log_and_keeps_what_was_acknowledged(
        tmp_path: Path) -> None:
    child = run_child(EFBIG_CHILD, tmp_path)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    out = json.loads(stdout)
    assert out["errno"] == errno.EFBIG
    assert "[EFBIG]" in out["reason"] and "File too large" in out["message"]
    assert out["again"] == out["reason"] == out["failure"]  # stays failed, says why
    assert out["again_s"] < 0.05  # refused at once, not after a wait
    assert 20 < out["acked"] < 60
    seg = tmp_path / "predlog-000001.jsonl"
    assert seg.stat().st_size <= 20_000 and seg.read_bytes().endswith(b"}\n")
    report = verify(tmp_path)
    assert report.ok and report.last_seq == out["acked"], report.describe()
    with PredictionLog(tmp_path) as log:  # reopened with room again: carries on
        assert log.recovery is None
        assert log.append(body(0)) == out["acked"] + 1
    assert verify(tmp_path).ok


KILL_CHILD = r"""
import sys, threading
from core.serving.predlog import PredictionLog
log = PredictionLog(sys.argv[1], segment_entries=200)
say = threading.Lock()
def work(t):
    for i in range(1_000_000):
        rid = f"t{t}-{i}"
        seq = log.append({"request_id": rid, "inputs": {"x": i, "pad": "p" * 200}})
        with say:
            sys.stdout.write(f"{seq} {rid}\n")
            sys.stdout.flush()
for t in range(6):
    threading.Thread(target=work, args=(t,)).start()
"""


def test_every_acknowledged_entry_survives_sigkill_and_the_chain_verifies(
        tmp_path: Path) -> None:
    child = run_child(KILL_CHILD, tmp_path)
    acked: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 1500 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            seq, rid = line.split()
            acked[int(seq)] = rid
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    for line in rest.splitlines():
        seq, rid = line.split()
        acked[int(seq)] = rid
    assert child.returncode == -signal.SIGKILL
    assert len(acked) >= 1500
    with PredictionLog(tmp_path, segment_entries=200) as log:
        logged = {e["seq"]: e["request_id"] for e in log.read_from(1)}
        next_seq = log.append({"request_id": "after-restart"})
    assert next_seq == max(logged) + 1
    assert all(logged.get(seq) == rid for seq, rid in acked.items())
    assert sorted(logged) == list(range(1, next_seq))
    report = verify(tmp_path)
    assert report.ok and report.last_seq == next_seq, report.describe()
    assert report.segments >= len(acked) // 200


def test_one_big_batch_is_split_across_segments_at_the_limits(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, segment_bytes=5000) as log:
        assert log.append_many(body(i) for i in range(1, 101)) == list(range(1, 101))
    sizes = [p.stat().st_size for _, p in list_segments(tmp_path)]
    line = len(lines_of(tmp_path / "predlog-000001.jsonl")[0])
    assert len(sizes) >= 100 * line // (5000 + line)
    assert all(5000 <= s < 5000 + 2 * line for s in sizes[:-1])
    assert verify(tmp_path).ok and verify(tmp_path).entries == 100
