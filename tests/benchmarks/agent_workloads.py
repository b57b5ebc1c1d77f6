"""The requests bench_agent.py sends: the same rows in each server's request format, the
malformed variants a buggy caller sends, and the three workloads (single, batch, mixed)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from loadgen import Request, http_request

HOST = "127.0.0.1"
FEATURES = [f"f{i}" for i in range(20)]
BATCH_ROWS = 100
MALFORMED_EVERY = 10  # one request in ten


def sample_rows(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[round(rng.gauss(0, 1) * 20, 6) for _ in FEATURES] for _ in range(n)]


@dataclass(frozen=True)
class Target:
    """One server and the request format its measurements use."""

    server: str   # "agent", "mlflow", "mlserver"
    label: str    # what the table shows
    path: str

    def body(self, rows: list[list[float]], runtime: str = "mlflow") -> bytes:
        n = len(rows)
        if self.path == "/predict":
            payload = {"records": [dict(zip(FEATURES, r, strict=True)) for r in rows]}
        elif self.path == "/invocations":
            payload = {"dataframe_split": {"columns": FEATURES, "data": rows}}
        elif self.server == "mlserver" and runtime == "mlflow":
            payload = {"parameters": {"content_type": "pd"},
                       "inputs": [{"name": f, "datatype": "FP64", "shape": [n],
                                   "data": [r[i] for r in rows]}
                                  for i, f in enumerate(FEATURES)]}
        elif self.server == "mlserver":
            payload = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [n, 20],
                                   "data": [v for r in rows for v in r]}],
                       "outputs": [{"name": "predict_proba"}]}
        else:  # the agent's v2: one [rows, features] tensor
            payload = {"inputs": [{"name": "input", "datatype": "FP64", "shape": [n, 20],
                                   "data": [v for r in rows for v in r]}]}
        return json.dumps(payload, separators=(",", ":")).encode()

    def malformed(self, rows: list[list[float]], kind: str, runtime: str) -> bytes:
        """The same request made wrong in one way, the way a buggy caller would."""
        if kind == "bad-json":
            good = self.body(rows, runtime)
            return good[:len(good) // 2]
        bad = [list(r) for r in rows]
        body = json.loads(self.body(bad, runtime))
        if self.path == "/predict":
            rec = body["records"][0]
            if kind == "missing-field":
                del rec["f7"]
            else:
                rec["f3"] = "abc" if kind == "text-in-number" else None
        elif self.path == "/invocations":
            if kind == "missing-field":
                body["dataframe_split"]["columns"] = FEATURES[:-1]
                body["dataframe_split"]["data"] = [r[:-1] for r in bad]
            else:
                bad[0][3] = "abc" if kind == "text-in-number" else None
                body["dataframe_split"]["data"] = bad
        elif len(body["inputs"]) > 1:  # one tensor per column
            if kind == "missing-field":
                del body["inputs"][7]
            else:
                body["inputs"][3]["data"][0] = "abc" if kind == "text-in-number" else None
        else:
            t = body["inputs"][0]
            if kind == "missing-field":
                t["data"] = t["data"][:-1]
            else:
                t["data"][3] = "abc" if kind == "text-in-number" else None
        return json.dumps(body, separators=(",", ":")).encode()


MALFORMED_KINDS = ("bad-json", "missing-field", "text-in-number", "null-value")


def workload(target: Target, port: int, name: str, runtime: str) -> list[Request]:
    def req(kind: str, body: bytes) -> Request:
        return Request(kind, http_request(HOST, port, target.path, body,
                                          "X-Charter-Caller: bench\r\n"))

    if name == "batch":
        rows = sample_rows(BATCH_ROWS * 32, 2)
        return [req("ok", target.body(rows[i:i + BATCH_ROWS], runtime))
                for i in range(0, len(rows), BATCH_ROWS)]
    rows = sample_rows(1000, 1)
    if name == "single":
        return [req("ok", target.body([r], runtime)) for r in rows]
    out = []
    for i, r in enumerate(rows):
        if i % MALFORMED_EVERY == MALFORMED_EVERY - 1:
            kind = MALFORMED_KINDS[(i // MALFORMED_EVERY) % len(MALFORMED_KINDS)]
            out.append(req(kind, target.malformed([r], kind, runtime)))
        else:
            out.append(req("ok", target.body([r], runtime)))
    return out
