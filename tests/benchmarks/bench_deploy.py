"""Time from "deploy" to a serving, parity-checked release for a ~50 MB artifact, and a rollback.

    .venv/bin/python tests/benchmarks/bench_deploy.py [--trees 95] [--keep]

Everything is real: a throwaway OpenSSH server (as root in its own network namespace with no
route out, as the tests run it), a SQLite store with users, the agent runtime installed on the
server from the offline kit, and a random forest imported, evaluated, documented and approved
so its skops file is about 50 MB (--trees sets its size). Measured, each from the request to
the end of the run:

  deploy    the forest onto a server serving a small model: upload, verify the SHA-256 on the
            server, switch, reload (the agent loads and checks the forest), health, parity
  deploy    a small model over it (what the rollback then undoes)
  rollback  back to the forest release still on the server: verify, switch, reload, health,
            parity

Prints each step's seconds as the store recorded them. Exit 1 if a release does not end serving.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "deploy")]

from deploykit import approved_version, make_world  # noqa: E402
from sshd_server import SshdServer  # noqa: E402

from core.services.deployments import Progress  # noqa: E402

BIG = "Collections forest"


def train_forest(folder: Path, trees: int) -> Path:
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    rnd = np.random.default_rng(3)
    n = 30_000
    x = pd.DataFrame(rnd.normal(0, 1, (n, 12)).round(5), columns=[f"x{i}" for i in range(12)])
    y = ((x["x0"] + x["x1"] * x["x2"] + rnd.normal(0, 1, n)) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=trees, min_samples_leaf=1, random_state=0,
                                   n_jobs=-1).fit(x.iloc[:25_000], y.iloc[:25_000])
    sio.dump(model, folder / "forest.skops")
    x.iloc[25_000:26_000].assign(default=y.iloc[25_000:26_000].to_numpy()).to_csv(
        folder / "forest_holdout.csv", index=False)
    return folder / "forest.skops"


def run(world, release, label: str) -> float:  # noqa: ANN001
    started = time.perf_counter()
    done, _ = world.svc.deployments.run(world.ivan, release.release_id, Progress())
    seconds = time.perf_counter() - started
    print(f"\n{label}: {done.state.upper()} in {seconds:.1f} s  ({done.release_id})")
    for s in done.steps:
        print(f"  {s.step:<10} {s.status:<6} {s.seconds or 0:7.2f} s  {s.detail[:90]}")
    if done.state not in ("serving", "done"):
        print(f"  error: {done.error}")
        raise SystemExit(1)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", type=int, default=95)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("CHARTER_CACHE_DIR",
                          str(Path.home() / ".cache" / "charter-test-cache"))
    work = Path(tempfile.mkdtemp(prefix="charter-bench-deploy."))
    with SshdServer() as sshd:
        print(f"sshd at {sshd.host}:{sshd.port}"
              + (f" in network namespace {sshd.netns} (no route out)" if sshd.in_namespace
                 else " on loopback"))
        t = time.perf_counter()
        world = make_world(work, sshd)
        print(f"store with two approved small versions: {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        world.svc.servers.install_runtime(world.ivan, world.server)
        print(f"agent runtime installed from the offline kit: {time.perf_counter() - t:.0f} s")
        forest = train_forest(work, args.trees)
        size = forest.stat().st_size
        print(f"forest: {args.trees} trees, skops file {size / 2**20:.1f} MiB")
        t = time.perf_counter()
        approved_version(world.svc, world.people, work, forest.name, model=BIG,
                         holdout="forest_holdout.csv")
        print(f"forest imported, evaluated, documented, approved: "
              f"{time.perf_counter() - t:.0f} s")
        try:
            svc, ivan = world.svc, world.ivan
            run(world, svc.deployments.request_version(ivan, "Retail PD", 1, world.server)[0],
                "deploy small model first")
            big = run(world, svc.deployments.request_version(ivan, BIG, 1, world.server)[0],
                      f"deploy forest ({size / 2**20:.0f} MiB)")
            run(world, svc.deployments.request_version(ivan, "Retail PD", 2, world.server)[0],
                "deploy small model over it")
            back = run(world, svc.deployments.request_rollback(ivan, world.server)[0],
                       "rollback to the forest")
        finally:
            sshd.run_in_server([str(world.root / "bin" / "charter-agentctl"), "stop"])
            world.svc.close()
    print(f"\nRESULT artifact {size / 2**20:.1f} MiB: deploy to serving and parity-checked "
          f"{big:.1f} s; rollback {back:.1f} s")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
