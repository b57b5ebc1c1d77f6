"""An exported audit trail can be re-verified with nothing but the README's description."""

from __future__ import annotations

import csv
import hashlib
import json

from core.demo import create_demo
from core.security import Hasher, HashParams
from core.services.audit_trail import AuditTrailService
from core.services.auth import AuthService
from core.services.users import UserService


def readme_hash(event: dict) -> str:
    # Written from README.md's "Verifying an exported audit trail outside Charter", not from core.
    fields = ["seq", "ts", "actor", "role", "workstation", "action", "object_type", "object_id",
              "old_values", "new_values", "reason", "prev_hash"]
    text = json.dumps([event[f] for f in fields], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_chain(events: list[dict]) -> None:
    prev = "0" * 64
    for n, event in enumerate(events, start=1):
        assert event["seq"] == n
        assert event["prev_hash"] == prev
        assert readme_hash(event) == event["hash"], f"event {n}"
        prev = event["hash"]


def test_json_and_csv_exports_verify_by_the_readme_recipe(tmp_path):
    hasher = Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))
    store, accounts = create_demo(f"sqlite:///{tmp_path}/demo.db", hasher, with_portfolio=False)
    auth, users = AuthService(store, hasher), UserService(store, hasher)
    admin = auth.sign_in("ada", accounts[0].password)
    # Text that spreadsheets would run, non-ASCII and quotes all go through the chain.
    users.add(admin, "zoe", '=HYPERLINK("http://evil.invalid","Zoë")', ["validator"])
    users.disable(admin, "zoe", reason="-1+2 @SUM(A1) 'quoted' «non-ASCII» \u2028")
    svc = AuditTrailService(store)
    svc.export(admin, tmp_path / "trail.json", "json")
    svc.export(admin, tmp_path / "trail.csv", "csv")

    data = json.loads((tmp_path / "trail.json").read_text(encoding="utf-8"))
    check_chain(data["events"])
    assert data["head"] == {"last_seq": data["events"][-1]["seq"],
                            "last_hash": data["events"][-1]["hash"]}

    with open(tmp_path / "trail.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    formula_cells = [v for r in rows for v in r.values() if v and v[0] in "=+-@"]
    assert formula_cells == []  # every such cell was defused with a leading '
    events = []
    for row in rows:
        event = {k: (v[1:] if v.startswith("'") else v) or None for k, v in row.items()}
        event["seq"] = int(event["seq"])
        events.append(event)
    check_chain(events)
    assert any('=HYPERLINK' in (e["new_values"] or "") for e in events)
    assert sum(1 for r in rows if r["reason"].startswith("'-1+2")) == 1
