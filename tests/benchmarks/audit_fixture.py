"""Fill a store's audit trail with many realistic, correctly chained events (for benchmarks).

Uses the same hash function as the one writer, so ``verify`` checks real links; inserts go
straight through sqlite3/psycopg in large batches because a million service calls would measure
argon2, not the trail.
"""

from __future__ import annotations

import random

from sqlalchemy import text

from core.audit import FIELDS, event_hash
from core.store.uow import Store

ACTORS = ["dana", "victor", "cora", "max", "ivan", "eve", "ada"]
ROLES = {"dana": "data_scientist", "victor": "validator", "cora": "compliance_officer",
         "max": "manager", "ivan": "it_operations", "eve": "executive", "ada": "administrator"}
ACTIONS = ["auth.signed_in", "setting.changed", "user.roles_changed", "auth.sign_in_failed",
           "audit.verified", "user.created"]


def fill(store: Store, n: int, *, seed: int = 7, batch: int = 50_000) -> None:
    rnd = random.Random(seed)
    with store.engine.begin() as conn:
        seq, prev = conn.execute(text("select last_seq, last_hash from audit_head")).one()
        placeholders = ", ".join(f":{f}" for f in FIELDS)
        insert = text(f"insert into audit_event ({', '.join(FIELDS)}) values ({placeholders})")
        base = 1_700_000_000
        rows = []
        for i in range(n):
            seq += 1
            actor = ACTORS[rnd.randrange(len(ACTORS))]
            action = ACTIONS[rnd.randrange(len(ACTIONS))]
            secs = base + i * 3
            ts = _iso(secs, i)
            new = '{"value":%d}' % rnd.randrange(1000) if action == "setting.changed" else None
            fields = [seq, ts, actor, ROLES[actor], "ws-%02d" % rnd.randrange(20), action,
                      "user" if action.startswith(("auth", "user")) else "setting",
                      actor if action.startswith(("auth", "user")) else "auth.idle_lock_minutes",
                      None, new, None, prev]
            prev = event_hash(fields)
            rows.append(dict(zip(FIELDS, [*fields, prev], strict=True)))
            if len(rows) >= batch:
                conn.execute(insert, rows)
                rows.clear()
        if rows:
            conn.execute(insert, rows)
        conn.execute(text("update audit_head set last_seq = :s, last_hash = :h"),
                     {"s": seq, "h": prev})


def _iso(secs: int, i: int) -> str:
    import time

    t = time.gmtime(secs)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{i % 1_000_000:06d}Z"
