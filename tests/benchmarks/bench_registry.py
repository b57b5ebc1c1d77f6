"""Issue 3's registry target, printed as figures.

    .venv/bin/python tests/benchmarks/bench_registry.py [--models 2000] [--versions 5] [--runs 5]

Fills a SQLite store with N models x V versions (default 2,000 x 5 = 10,000 versions, each with
its description, schema and hyperparameters as an import writes them), then times the registry
screen as it opens: built, first keyset page loaded, painted (target < 300 ms); and the first
page under a search, a tier filter and a status filter through the service it calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark passphrase 42"


def fill(store, models: int, versions: int) -> None:  # noqa: ANN001
    import hashlib

    from sqlalchemy import insert

    from core.store.orm_registry import SqlModel, SqlModelVersion
    from core.timeutil import utcnow

    now = utcnow()
    schema = json.dumps([{"name": f"f{i}", "kind": "number"} for i in range(30)])
    hyper = json.dumps({f"p{i}": i for i in range(40)})
    with store.engine.begin() as conn:
        conn.execute(insert(SqlModel), [dict(
            name=f"Model {i:05d}", purpose=f"Purpose of model {i}", intended_use="", restrictions="",
            products="", methodology="", business_owner=f"Desk {i % 40}", developer="dana",
            risk_tier=1 + i % 3, data_classification="internal", uses_personal_data=False,
            source="in_house", vendor_name="", status=("in_use", "in_development", "retired")[i % 3],
            created_at=now, created_by="dana", updated_at=now, retired_at=None, row_version=1)
            for i in range(models)])
        ids = [r[0] for r in conn.exec_driver_sql("select id from model order by id")]
        rows = []
        for mid in ids:
            for n in range(1, versions + 1):
                digest = hashlib.sha256(f"{mid}/{n}".encode()).hexdigest()
                rows.append(dict(model_id=mid, number=n, label=f"{n}.0", artifact_sha256=digest,
                                 artifact_format="skops", artifact_size=123456,
                                 description=json.dumps({"format": "skops"}),
                                 input_schema=schema, output_schema="[]",
                                 library_versions='{"scikit-learn": "1.9.1"}',
                                 hyperparameters=hyper, metrics='{"auc": 0.8}',
                                 training_dataset_sha256=digest, code_reference="git:x",
                                 author="dana", created_at=now, state="draft"))
        conn.execute(insert(SqlModelVersion), rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    from app.container import build_services
    from core.entities_registry import ModelFilter
    from core.security import Hasher, HashParams
    from core.services.users import UserService
    from core.store.opening import open_store
    from views.registry_screen import RegistryScreen

    work = Path(tempfile.mkdtemp(prefix="charter-bench-registry-"))
    store = open_store(f"sqlite:///{work}/registry.db", create=True)
    hasher = Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))
    UserService(store, hasher).create_first_admin("admin", "Bench Admin", PASSWORD)
    t0 = time.perf_counter()
    fill(store, opts.models, opts.versions)
    print(f"filled {opts.models:,} models x {opts.versions} = {opts.models * opts.versions:,} "
          f"versions in {time.perf_counter() - t0:.1f} s")
    app = QApplication.instance() or QApplication([])
    svc = build_services(store, hasher)
    me = svc.auth.sign_in("admin", PASSWORD)
    times = []
    for _ in range(opts.runs):
        t0 = time.perf_counter()
        screen = RegistryScreen(svc, me)
        screen.resize(1280, 800)
        screen.grab()
        times.append(time.perf_counter() - t0)
        rows = screen.model.rowCount() if hasattr(screen, "model") else None
        screen.deleteLater()
        app.processEvents()
    print(f"registry screen opened and painted (first page {rows} rows): median "
          f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over "
          f"{opts.runs} runs (target < 300 ms)")
    for label, flt in (("search 'model 01'", ModelFilter(text="model 01")),
                       ("tier 1", ModelFilter(risk_tier=1)),
                       ("status retired", ModelFilter(status="retired")),
                       ("owner Desk 7", ModelFilter(owner="Desk 7"))):
        times = []
        for _ in range(opts.runs):
            t0 = time.perf_counter()
            page = svc.inventory.page(me, flt, limit=200)
            times.append(time.perf_counter() - t0)
        print(f"  first page, {label} ({len(page.items)} rows): median "
              f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    svc.close()


if __name__ == "__main__":
    main()
