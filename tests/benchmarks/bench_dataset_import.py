"""Issue 3's dataset target, printed as figures.

    .venv/bin/python tests/benchmarks/bench_dataset_import.py [--rows 1000000] [--keep DIR]

Writes a reference CSV of N rows x 30 columns (20 numeric with 1% empty cells, 5 integer, 5
categorical) in a temporary folder (generation timed apart), then times what an import does with
it: fingerprint (SHA-256), read, describe (schema, nulls, categories) and reference profile.
Target: under 10 s end to end for 1,000,000 rows. Peak memory is the process's ru_maxrss.
"""

from __future__ import annotations

import argparse
import subprocess
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv

    rng = np.random.default_rng(3)
    columns: dict[str, pa.Array] = {}
    for i in range(20):
        values = rng.normal(loc=i, scale=1 + i, size=rows).round(6)
        columns[f"num_{i:02d}"] = pa.array(values, mask=rng.random(rows) < 0.01)
    for i in range(5):
        columns[f"int_{i}"] = pa.array(rng.integers(0, 10 ** (i + 1), size=rows))
    levels = [["A", "B", "C"], ["north", "south", "east", "west"],
              [f"grade_{g}" for g in range(7)], ["retail", "sme", "corporate"],
              [f"branch {b:02d}" for b in range(40)]]
    for i, names in enumerate(levels):
        codes = rng.integers(0, len(names), size=rows)
        columns[f"cat_{i}"] = pa.array(np.array(names, dtype=object)[codes])
    csv.write_csv(pa.table(columns), path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the CSV here and keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        path = folder / "reference.csv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        gen = time.perf_counter() - t0
        print(f"generated {args.rows:,} rows x 30 columns, {path.stat().st_size / 2**20:.0f} MiB "
              f"in {gen:.2f} s (not counted)")
        # A fresh interpreter: module imports are paid and peak memory is the import's own.
        subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


def measure(path: Path) -> None:
    t0 = time.perf_counter()
    from core.registry.datasets import read_dataset
    from core.registry.profile import compute_profile, profile_json

    t_import = time.perf_counter()
    size = path.stat().st_size
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if done >= size and "hashed" not in marks:
            marks["hashed"] = time.perf_counter()
        if done >= total:
            marks["read"] = time.perf_counter()

    dataset = read_dataset(path, progress=progress)
    t_read = time.perf_counter()
    text = profile_json(compute_profile(dataset))
    t_profile = time.perf_counter()
    info = dataset.info
    print(f"  import core.registry (pyarrow on use)    {t_import - t0:6.2f} s")
    print(f"  import pyarrow + SHA-256 (1 MiB chunks)  {marks['hashed'] - t_import:6.2f} s")
    print(f"  read CSV (pyarrow, threads)             {marks['read'] - marks['hashed']:6.2f} s")
    print(f"  describe (kinds, nulls, categories)     {t_read - marks['read']:6.2f} s")
    print(f"  profile (numpy, threads) + JSON         {t_profile - t_read:6.2f} s  "
          f"({len(text) / 1024:.0f} KiB of JSON)")
    print(f"end to end {t_profile - t0:.2f} s (target < 10 s): {info.rows:,} rows, "
          f"{len(info.columns)} columns {dict(Counter(k for _, k in info.schema))}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          f"(file {size / 2**20:.0f} MiB, table {dataset.table.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
