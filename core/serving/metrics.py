"""The agent's counters, in Prometheus' text format: requests by version and status, latency
histograms by version, prediction-log appends and failures. Event-loop thread only."""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}  # version -> count per bucket, +Inf last
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.appends = 0
        self.log_failures = 0

    def observe(self, version: str, status: int, seconds: float) -> None:
        self.requests[(version, status)] += 1
        counts = self.latency.setdefault(version, [0] * (len(BUCKETS) + 1))
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[version] += seconds

    def log_appended(self) -> None:
        self.appends += 1

    def log_failed(self) -> None:
        self.log_failures += 1

    def text(self) -> str:
        out = ["# HELP charter_requests_total Requests answered, by model version and status.",
               "# TYPE charter_requests_total counter"]
        out += [f'charter_requests_total{{version="{v}",status="{s}"}} {n}'
                for (v, s), n in sorted(self.requests.items())]
        out += ["# HELP charter_request_seconds Time to answer a request, by model version.",
                "# TYPE charter_request_seconds histogram"]
        for version, counts in sorted(self.latency.items()):
            running = 0
            for le, n in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                running += n
                out.append(f'charter_request_seconds_bucket{{version="{version}",le="{le}"}} '
                           f"{running}")
            out.append(f'charter_request_seconds_sum{{version="{version}"}} '
                       f"{self.latency_sum[version]:.6f}")
            out.append(f'charter_request_seconds_count{{version="{version}"}} {running}')
        out += ["# TYPE charter_log_appends_total counter",
                f"charter_log_appends_total {self.appends}",
                "# TYPE charter_log_failures_total counter",
                f"charter_log_failures_total {self.log_failures}"]
        return "\n".join(out) + "\n"
