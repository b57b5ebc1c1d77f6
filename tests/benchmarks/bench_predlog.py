"""The prediction log's cost per request, printed as figures.

    .venv/bin/python tests/benchmarks/bench_predlog.py [--seconds 3] [--writers 1 8] [--dir /tmp]

Appends entries shaped like a single-row prediction on 20 features (about 1 KB of JSON) to a
real log on disk under --dir, from 1 and then 8 concurrent writer threads, each append waiting
until its entry is synced. Prints appends per second, p50/p99 append latency, the mean group
commit size (entries per fdatasync) and the CPU time per append (the part that competes with
the agent's own work on one core). The agent's target is >= 1,000 requests/s end to end.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def entry(rng: random.Random) -> dict:
    inputs = {f"num_{i:02d}": round(rng.gauss(0, 1) * 1000, 4) for i in range(16)}
    inputs.update(region=rng.choice(["NE", "NW", "SE", "SW"]), product="card",
                  channel=rng.choice(["web", "branch", "phone"]), segment="retail")
    return {
        "request_id": str(uuid.uuid4()),
        "caller": "loan-origination@10.1.2.3",
        "route": {"rule": "region == \"NE\" and age > 40", "split": "canary-5", "sticky": "c-1"},
        "model": "credit-pd", "version": "3.1",
        "artifact_sha256": "9f2c" * 16,
        "inputs": inputs,
        "outputs": {"live": {"label": 1, "proba": [0.1834, 0.8166]},
                    "shadow": [{"version": "3.2", "label": 1, "proba": [0.2011, 0.7989]}]},
        "latency_ms": 1.284,
        "error": None,
    }


def run(folder: Path, writers: int, seconds: float) -> None:
    from core.serving.predlog import PredictionLog

    rng = random.Random(7)
    samples = [entry(rng) for _ in range(256)]
    size = len(__import__("json").dumps(samples[0]))
    log = PredictionLog(folder)
    latencies: list[list[float]] = [[] for _ in range(writers)]
    stop = time.perf_counter() + seconds
    batches_before = _batches(log)

    def work(k: int) -> None:
        mine = latencies[k]
        i = k
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            log.append(samples[i % 256])
            mine.append(time.perf_counter() - t0)
            i += writers

    threads = [threading.Thread(target=work, args=(k,)) for k in range(writers)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    log.close()
    flat = sorted(x for per in latencies for x in per)
    n = len(flat)
    syncs = _batches(log) - batches_before
    print(f"{writers} writer(s): {n / wall:,.0f} appends/s ({n:,} in {wall:.1f} s, entry "
          f"~{size} B); latency p50 {statistics.median(flat) * 1e3:.2f} ms, "
          f"p99 {flat[int(n * 0.99)] * 1e3:.2f} ms; {n / max(syncs, 1):.1f} entries per "
          f"fdatasync; CPU {cpu / n * 1e6:.0f} us per append")


def _batches(log) -> int:  # noqa: ANN001
    return getattr(log, "batches_written", 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--dir", default="/tmp", help="a folder on the disk to measure")
    opts = ap.parse_args()
    for writers in opts.writers:
        folder = Path(tempfile.mkdtemp(prefix="charter-bench-predlog-", dir=opts.dir))
        try:
            run(folder, writers, opts.seconds)
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
