"""Reference profile of a dataset: what drift monitoring compares production inputs against.

The profile is plain JSON (dicts, lists, str, int, float; no NaN), deterministic for the same
data, and small, so the raw training data need not be kept to monitor a model. Format
``charter-profile/1``::

    {"format": "charter-profile/1", "rows": N, "bins": 10, "top": 50,
     "features": {name: feature, ...}}          # in the data's column order

Every feature has ``kind``, ``count`` (non-missing values), ``nulls`` (null, empty or NaN) and
``null_rate``. Then, by kind:

* number, integer: ``min max mean std`` (population std; over finite values), ``infinite``,
  ``quantiles`` (p1 p5 p25 p50 p75 p95 p99), ``percentiles`` (101 values, p0..p100, for
  Kolmogorov-Smirnov and Wasserstein estimates), ``edges`` and ``counts``. ``edges`` are
  strictly increasing, from the minimum to the maximum: decile edges by default, or midpoints
  between the distinct values when there are no more of them than bins, or just ``[c]`` for a
  constant column. ``counts`` has one bucket below ``edges[0]``, one per bin (``[e_i, e_i+1)``,
  the last one closed; a constant column has one bin ``[c, c]``), and one above ``edges[-1]``,
  and sums to ``count``; see :func:`bucket_index`. With no finite value, stats are ``None`` and
  ``edges``/``counts`` are empty.
* category, boolean: ``cardinality``, ``frequencies`` (the ``top`` most frequent values as
  text -> rows, most frequent first, ties by value), ``other`` (rows of the remaining values)
  and ``other_values`` (how many values were folded into ``other``).
* text: ``cardinality``. datetime: ``min`` and ``max`` as ISO 8601 text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.errors import InvalidInput
from core.registry.datasets import as_table, describe_column, missing_count, value_counts
from core.tasks import CancelToken, ProgressFn, no_progress

PROFILE_FORMAT = "charter-profile/1"
QUANTILES = (1, 5, 25, 50, 75, 95, 99)
TOP_CATEGORIES = 50


def compute_profile(frame: Any, *, bins: int = 10, top: int = TOP_CATEGORIES,
                    kinds: Mapping[str, str] | None = None, progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> dict[str, Any]:
    """The reference profile of ``frame`` (pandas DataFrame, Arrow table or ``Dataset``).

    ``kinds`` overrides the inferred kind of named columns (e.g. integer codes the model treats
    as categories). Progress is in columns. Raises ``InvalidInput`` for ``bins`` or ``top`` < 1
    or an unknown kind, ``DatasetRejected`` for data it cannot describe, and ``Cancelled``.
    """
    if bins < 1 or top < 1:
        raise InvalidInput("A profile needs at least one bin and one category.")
    progress = progress or no_progress
    table = as_table(frame)
    rows, total = table.num_rows, table.num_columns
    names = table.column_names

    def one(i: int) -> dict[str, Any]:
        if cancel:
            cancel.check()
        column = table.column(i)
        kind = (kinds or {}).get(names[i]) or describe_column(names[i], column).kind
        return _feature(column, kind, rows, bins, top)

    # numpy and Arrow release the GIL in sorting and counting: columns in parallel use every core.
    features: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        try:
            for i, feature in enumerate(pool.map(one, range(total))):
                features[names[i]] = feature
                progress(i + 1, total)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return {"format": PROFILE_FORMAT, "rows": rows, "bins": bins, "top": top,
            "features": features}


def _feature(column: Any, kind: str, rows: int, bins: int, top: int) -> dict[str, Any]:
    nulls = missing_count(column)
    out: dict[str, Any] = {"kind": kind, "count": rows - nulls, "nulls": nulls,
                           "null_rate": nulls / rows if rows else 0.0}
    if kind in ("number", "integer"):
        out.update(_numeric(column, kind, bins))
    elif kind in ("category", "boolean"):
        counts = value_counts(column)
        if kind == "boolean":
            counts = {"false": counts.get("false", 0), "true": counts.get("true", 0)}
        kept = dict(list(counts.items())[:top])
        out.update(cardinality=sum(1 for n in counts.values() if n), frequencies=kept,
                   other=sum(counts.values()) - sum(kept.values()),
                   other_values=len(counts) - len(kept))
    elif kind == "text":
        out["cardinality"] = len(value_counts(column)) if out["count"] else 0
    elif kind == "datetime":
        import pyarrow.compute as pc

        bounds = pc.min_max(column).as_py()
        out.update({k: None if v is None else v.isoformat() for k, v in bounds.items()})
    else:
        raise InvalidInput(f"Unknown kind {kind!r}.")
    return out


def _numeric(column: Any, kind: str, bins: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow.compute as pc

    values = pc.drop_null(column).to_numpy().astype(np.float64, copy=False)
    values = values[~np.isnan(values)]
    finite = np.isfinite(values)
    below, above = int(np.sum(values == -np.inf)), int(np.sum(values == np.inf))
    data = np.sort(values[finite] if below or above else values)
    out: dict[str, Any] = {"infinite": below + above}
    if not data.size:
        return {**out, "min": None, "max": None, "mean": None, "std": None,
                "quantiles": None, "percentiles": None, "edges": [], "counts": []}
    # Midpoints keep every distinct value of a discrete column in its own bin; deciles of a 0/1
    # column would put everything in one bin and hide any drift in it.
    distinct = data[np.concatenate(([True], data[1:] != data[:-1]))]
    if distinct.size <= bins:
        middles = (distinct[:-1] + distinct[1:]) / 2
        edges = np.unique(np.concatenate((distinct[:1], middles, distinct[-1:])))
    else:
        edges = np.unique(_sorted_quantiles(data, np.linspace(0.0, 1.0, bins + 1)))
    fixed = _sorted_quantiles(data, np.array(QUANTILES) / 100.0)
    grid = _sorted_quantiles(data, np.linspace(0.0, 1.0, 101))
    # The data are sorted, so each bin's count is a difference of insertion points.
    starts = np.searchsorted(data, edges[:-1], side="left")
    inner = np.diff(np.append(starts, data.size)) if edges.size > 1 else np.array([data.size])
    as_num = int if kind == "integer" else float
    return {**out, "min": as_num(data[0]), "max": as_num(data[-1]),
            "mean": float(np.mean(data)), "std": float(np.std(data)),
            "quantiles": {f"p{q}": float(v) for q, v in zip(QUANTILES, fixed, strict=True)},
            "percentiles": [float(v) for v in grid], "edges": [float(e) for e in edges],
            "counts": [below, *(int(n) for n in inner), above]}


def _sorted_quantiles(data: Any, probs: Any) -> Any:
    """``np.quantile(data, probs)`` (linear method) for sorted ``data``, without re-partitioning
    the array for each call."""
    import numpy as np

    position = probs * (data.size - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, data.size - 1)
    a, b, t = data[low], data[high], position - low
    # numpy's own interpolation, exact at both ends of each step.
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def bucket_index(edges: Any, values: Any) -> Any:
    """The histogram bucket of each value under a profile's ``edges`` (0 is below the range,
    ``len(counts) - 1`` above it); NaN must be removed first. The rule the profile's own counts
    follow, for monitoring to bin new data the same way."""
    import numpy as np

    edges, values = np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64)
    inner = max(edges.size - 1, 1)
    index = np.searchsorted(edges, values, side="right")
    index = np.where(values == edges[-1], inner, index)
    return np.where(values > edges[-1], inner + 1, index)


def profile_json(profile: Mapping[str, Any]) -> str:
    """The profile as compact JSON text, byte-identical for the same profile."""
    return json.dumps(profile, allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def load_profile(text: str) -> dict[str, Any]:
    """Parse a stored profile. Raises ``InvalidInput`` if it is not a ``charter-profile/1``."""
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"The stored profile is not valid JSON: {exc}") from exc
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        raise InvalidInput(f"The stored profile is not in the {PROFILE_FORMAT} format.")
    return profile
