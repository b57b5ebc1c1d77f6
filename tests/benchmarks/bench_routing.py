"""Issue 6's routing policy, timed: routes per second on one core.

    .venv/bin/python tests/benchmarks/bench_routing.py [--routes 200000] [--runs 5]

Builds a five-rule policy (numeric and string comparisons, ``in`` lists, a dotted field, a bare
boolean, a 95/5 canary split sticky by customer id, global and per-rule shadows), then routes
pre-built records: a mix that reaches every rule and the default, then only records that reach
the canary split (one SHA-256 each), then only records that fall through to the default (every
condition evaluated). Prints the median of the runs, and the time to parse the policy.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

VERSIONS = ("retail-pd@3", "retail-pd@4", "retail-pd@5", "retail-pd@6", "retail-pd@7")

POLICY = {
    "format": "charter.routing/1",
    "policy_id": "retail-pd",
    "version": 12,
    "versions": [{"name": v, "sha256": hashlib.sha256(v.encode()).hexdigest()} for v in VERSIONS],
    "sticky_key": "customer_id",
    "shadows": ["retail-pd@7"],
    "rules": [
        {"name": "staff", "when": "is_staff", "target": "retail-pd@5", "shadows": []},
        {"name": "thin-file", "when": "bureau.months_on_file < 6 and not bureau.hit == false",
         "target": "retail-pd@6"},
        {"name": "senior-ne", "when": 'age > 60 and region == "NE"', "target": "retail-pd@3"},
        {"name": "sme", "when": 'segment in ["sme", "micro", "corporate"] and exposure >= 250000',
         "target": "retail-pd@5"},
        {"name": "canary", "when": 'region in ["NE", "SW", "W", "S"] or channel != "branch"',
         "target": [{"version": "retail-pd@3", "weight": 95},
                    {"version": "retail-pd@4", "weight": 5}]},
    ],
    "default": "retail-pd@3",
}


def records(n: int, kind: str) -> list[dict]:
    rng = random.Random(6)
    out = []
    for i in range(n):
        r = {"customer_id": f"C-{rng.randrange(10**9)}", "age": rng.randint(18, 90),
             "region": rng.choice(["NE", "SW", "W", "S", "N", "E"]),
             "segment": rng.choice(["mass", "affluent", "sme", "micro"]),
             "exposure": rng.randint(1_000, 1_000_000), "is_staff": rng.random() < 0.02,
             "channel": rng.choice(["branch", "web", "app"]),
             "bureau": {"months_on_file": rng.randint(0, 200), "hit": rng.random() < 0.9}}
        if kind == "canary":
            r.update(is_staff=False, bureau={"months_on_file": 100, "hit": True}, age=30,
                     segment="mass", region="SW")
        elif kind == "default":
            r.update(is_staff=False, bureau={"months_on_file": 100, "hit": True}, age=30,
                     segment="mass", region="N", channel="branch")
        out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()

    import json

    from core.serving.routing import RoutingPolicy

    text = json.dumps(POLICY)
    started = time.perf_counter()
    for _ in range(100):
        policy = RoutingPolicy.from_json(text)
    parse_ms = (time.perf_counter() - started) * 10
    print(f"policy {policy.policy_id} v{policy.version}, {len(policy.rules)} rules, "
          f"sha256 {policy.sha256[:16]}..., parsed and compiled in {parse_ms:.2f} ms")

    for kind in ("mix", "canary", "default"):
        batch = records(opts.routes, kind)
        ids = [str(i) for i in range(len(batch))]
        route = policy.route
        rates = []
        for _ in range(opts.runs):
            started = time.perf_counter()
            for record, rid in zip(batch, ids):
                route(record, rid)
            rates.append(len(batch) / (time.perf_counter() - started))
        hits: dict[str, int] = {}
        for record, rid in zip(batch[:20_000], ids):
            name = route(record, rid).rule
            hits[name] = hits.get(name, 0) + 1
        rate = statistics.median(rates)
        print(f"{kind:8s} {rate:12,.0f} routes/s  {1e6 / rate:6.2f} us/route   "
              f"rules hit in the first 20,000: {dict(sorted(hits.items()))}")


if __name__ == "__main__":
    main()
