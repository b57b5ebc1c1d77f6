"""How fast a model predicts on this machine: single-row latency and batch throughput.

Timing uses ``time.perf_counter``. The run is bounded: the budget is checked between calls, so
the only overshoot possible is the one call in progress (a Python call cannot be interrupted
safely). Half the budget goes to single-row calls, the rest (plus what they left) to batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core.errors import InvalidInput

BATCH_REPEATS = 5


def latency_profile(
    predict_fn: Callable[[Any], Any],
    rows_frame: Any,
    *,
    single_runs: int = 200,
    batch_size: int = 1000,
    time_budget_s: float = 10,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Time ``predict_fn`` (which takes a DataFrame) on single rows and on batches.

    After one untimed warm-up call, up to ``single_runs`` one-row calls are timed (cycling over
    the rows of ``rows_frame``), then up to ``BATCH_REPEATS`` calls on ``batch_size`` rows (rows
    repeated when the frame is smaller). Returns single-row p50/p95/p99/mean in milliseconds,
    batch throughput in rows per second (total rows over total time), the number of calls made,
    the elapsed time and whether the budget (or ``should_stop``, a cancel check) cut it short.

    Raises InvalidInput for an empty frame or non-positive settings. Whatever ``predict_fn``
    raises propagates unchanged. Writes no audit events.
    """
    import numpy as np

    if rows_frame is None or len(rows_frame) == 0:
        raise InvalidInput("Latency needs at least one row to predict on.")
    if single_runs < 1 or batch_size < 1 or not time_budget_s > 0:
        raise InvalidInput("single_runs, batch_size and time_budget_s must be positive.")
    stop = should_stop or (lambda: False)
    n_rows = len(rows_frame)
    start = time.perf_counter()
    deadline = start + time_budget_s
    single_deadline = start + time_budget_s / 2

    predict_fn(rows_frame.iloc[[0]])  # warm-up: caches, lazy imports, JIT; not measured

    single_ms: list[float] = []
    cut_short = False
    for i in range(single_runs):
        if time.perf_counter() >= single_deadline or stop():
            cut_short = True
            break
        row = rows_frame.iloc[[i % n_rows]]
        t0 = time.perf_counter()
        predict_fn(row)
        single_ms.append((time.perf_counter() - t0) * 1000.0)

    batch = rows_frame.iloc[np.arange(batch_size) % n_rows]
    batch_s: list[float] = []
    for _ in range(BATCH_REPEATS):
        # At least one batch is attempted unless time is already up, so throughput is measured.
        if time.perf_counter() >= deadline or stop():
            cut_short = True
            break
        t0 = time.perf_counter()
        predict_fn(batch)
        batch_s.append(time.perf_counter() - t0)

    def pct(q: float) -> float | None:
        return float(np.percentile(single_ms, q)) if single_ms else None

    total_batch_s = sum(batch_s)
    return {
        "single_row_ms": {
            "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "mean": float(np.mean(single_ms)) if single_ms else None,
            "runs": len(single_ms),
        },
        "batch": {
            "batch_size": int(batch_size),
            "runs": len(batch_s),
            "rows_per_s": batch_size * len(batch_s) / total_batch_s if total_batch_s > 0 else None,
        },
        "time_budget_s": float(time_budget_s),
        "elapsed_s": time.perf_counter() - start,
        "cut_short": cut_short,
    }
