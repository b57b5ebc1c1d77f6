"""SHAP explanations of a model on a holdout sample, bounded in time.

The explainer follows the model: Tree SHAP for tree ensembles, the linear explainer for linear
models and the model-agnostic permutation explainer for everything else (pipelines, ONNX, text
columns). A pilot measures the cost per row on this machine before the run is planned. When the
requested sample does not fit the time budget it is cut (never below ``MIN_ROWS``) or, when that
would leave too few rows, a cheaper variant is used: Saabas attributions for trees, fewer
permutations and background rows for the permutation explainer. The record then says so
(``approximate`` and ``approximation_note``).

The sample, the background and the permutation explainer's shuffles are seeded, so a run the
budget does not cut is reproducible; where the budget cuts, the cut depends on measured speed.
shap is imported inside the functions: importing this module stays cheap. The first permutation
explanation in a process also pays numba's compilation of shap's masker (about 10 s here); it
counts against the budget like any other time spent.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.errors import Cancelled, CharterError, InvalidInput

MIN_ROWS = 50  # fewer explained rows than this cannot rank features usefully
# Exact Tree SHAP on a cut sample is preferred to Saabas on the full one only while the cut
# sample keeps this many rows (or all that were asked for); below it the ranking is too noisy.
EXACT_ENOUGH_ROWS = 500
CHUNK_S = 0.5  # target seconds per chunk, so should_stop is checked about this often
PILOT_S = 0.2  # the pilot doubles its batch until one batch takes this long
MAX_CHUNK = 2000
# Antithetic permutations per row for the permutation explainer. Each costs one model call on
# (2 * features + 1) * background rows; shap's default max_evals=500 means 500 // (2p + 1) of
# them (55 for four features), which makes a cheap pipeline cost ~0.2 s a row here.
PERMUTATIONS = 10
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def _shap() -> Any:
    """shap, imported without the PendingDeprecationWarnings its import triggers in matplotlib."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap
    return shap


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence what shap and numba say while explaining (locally), nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"shap(\.|$)")
        warnings.filterwarnings("ignore", module=r"numba(\.|$)")
        yield


def _json_value(value: Any) -> Any:
    """A cell value as JSON: Python scalars, None for missing or infinite, ISO dates, else text."""
    import math

    import pandas as pd

    if isinstance(value, str):
        return str(value)  # also numpy's str_
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    value = value.item() if hasattr(value, "item") else value  # numpy scalars
    if isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, float):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# -- the explained output ------------------------------------------------------------------------

def _select(values: Any, base: Any, class_idx: int | None, flip: str | None) -> tuple[Any, Any]:
    """SHAP values (rows, features) and base values (rows,) of the explained output.

    ``values`` is (rows, features) for one output or (rows, features, outputs), ``base`` (rows,)
    or (rows, outputs). ``class_idx`` None picks each row's largest output (its predicted class).
    ``flip`` turns a single output for the last class into the first class's: ``"negate"``
    (log-odds, margins) or ``"complement"`` (probabilities).
    """
    import numpy as np

    values, base = np.asarray(values, dtype=float), np.asarray(base, dtype=float)
    if values.ndim == 2:
        base = base.reshape(len(values))
        if flip == "negate":
            return -values, -base
        if flip == "complement":
            return -values, 1.0 - base
        return values, base
    rows = np.arange(len(values))
    cls = np.argmax(base + values.sum(axis=1), axis=1) if class_idx is None \
        else np.full(len(values), class_idx)
    return values[rows, :, cls], base[rows, cls]


def _per_row(expected: Any, values: Any) -> Any:
    """shap's expected value repeated for each explained row: (rows,) or (rows, outputs)."""
    import numpy as np

    expected = np.asarray(expected, dtype=float).ravel()
    rows = np.shape(values)[0]
    return np.full(rows, expected[0]) if np.ndim(values) == 2 else np.tile(expected, (rows, 1))


def _identify_scale(predictor: Any, frame: Any, recon: Any) -> str | None:
    """Which model output ``recon`` (base value + SHAP sum, as shap returned it) reproduces.

    "probability", "log-odds", "softmax logit", "decision function" or "prediction"; None when
    it matches none of them, and then the explainer is not trusted for this model.
    """
    import numpy as np

    def close(a: Any, b: Any) -> bool:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return a.shape == b.shape and bool(np.allclose(a, b, **TOLERANCE))

    if predictor.task == "regression":
        return "prediction" if close(recon, predictor.predict(frame)) else None
    est, proba = predictor.estimator, None
    if hasattr(est, "predict_proba"):
        proba = predictor.predict_proba(frame)
        if close(recon, proba) or (np.ndim(recon) == 1 and close(recon, proba[:, -1])):
            return "probability"
    if hasattr(est, "decision_function"):
        dec = np.asarray(est.decision_function(frame[predictor.features]), dtype=float)
        if not close(recon, dec):
            return None
        if proba is not None and dec.ndim == 1 and close(1 / (1 + np.exp(-dec)), proba[:, -1]):
            return "log-odds"
        if proba is not None and dec.ndim == 2:
            soft = np.exp(dec - dec.max(axis=1, keepdims=True))
            if close(soft / soft.sum(axis=1, keepdims=True), proba):
                return "softmax logit"
        return "decision function"
    return None


def _output_text(scale: str, kind: str, class_label: Any) -> str:
    if kind == "regression":
        return "prediction"
    if class_label is not None:
        return f"{scale} of class {class_label}"
    return (f"{scale} of the predicted class (each row is explained for the class the model "
            "predicts for it; global importance averages |SHAP| over those)")


# -- explainers: raw(positions) gives shap's values and per-row base values ----------------------

class _TreeEngine:
    method, name, background = "tree", "shap.TreeExplainer", 0

    def __init__(self, shap: Any, predictor: Any, X: Any) -> None:
        self.X, self.approximate = predictor.prepare(X), False
        # Path-dependent Tree SHAP (no background: the trees' own cover counts) on the raw output.
        self.explainer = shap.TreeExplainer(predictor.inner)

    def raw(self, positions: Any, approximate: bool | None = None) -> tuple[Any, Any]:
        approximate = self.approximate if approximate is None else approximate
        # Additivity is verified once against the model's own output (_identify_scale).
        values = self.explainer.shap_values(self.X.iloc[positions], approximate=approximate,
                                            check_additivity=False)
        return values, _per_row(self.explainer.expected_value, values)


class _LinearEngine:
    method, name = "linear", "shap.LinearExplainer"

    def __init__(self, shap: Any, predictor: Any, X: Any, background: Any) -> None:
        self.matrix = predictor.prepare(X).to_numpy(dtype=float)
        self.background = len(background)
        masker = shap.maskers.Independent(self.matrix[background], max_samples=len(background))
        self.explainer = shap.LinearExplainer(predictor.inner, masker)

    def raw(self, positions: Any) -> tuple[Any, Any]:
        values = self.explainer.shap_values(self.matrix[positions])
        return values, _per_row(self.explainer.expected_value, values)


class _Codec:
    """Feature columns as one float matrix (text, booleans and categories as codes) and back.

    shap's maskers need numbers; the model gets back a DataFrame with the original values and
    dtypes, so a pipeline with a OneHotEncoder sees the strings it was fitted on.
    """

    def __init__(self, X: Any) -> None:
        import numpy as np
        import pandas as pd

        self.columns = list(X.columns)
        self.decoders: list[tuple[str, Any]] = []
        arrays = []
        for name in self.columns:
            column = X[name]
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                arrays.append(column.to_numpy(dtype=float, na_value=np.nan))
                self.decoders.append(("number", column.dtype))
            else:
                codes, uniques = pd.factorize(column, use_na_sentinel=False)
                arrays.append(codes.astype(float))
                self.decoders.append(("code", uniques))
        self.matrix = np.column_stack(arrays)

    def frame(self, matrix: Any) -> Any:
        import numpy as np
        import pandas as pd

        columns = {}
        for j, (name, (kind, info)) in enumerate(zip(self.columns, self.decoders, strict=True)):
            column = matrix[:, j]
            if kind == "code":
                columns[name] = info.take(column.astype(np.intp))
            else:
                columns[name] = column if info == np.float64 else pd.Series(column).astype(info)
        return pd.DataFrame(columns, columns=self.columns)


class _PermutationEngine:
    method, name = "permutation", "shap.PermutationExplainer"

    def __init__(self, shap: Any, predictor: Any, X: Any, background: Any, seed: int,
                 class_idx: int | None) -> None:
        import numpy as np

        self.shap, self.seed, self.background_pos = shap, seed, background
        self.codec = _Codec(X)
        self.pass_evals = 2 * len(self.codec.columns) + 1  # evaluations of one permutation
        est, self.flip = predictor.estimator, None
        if predictor.task == "regression":
            self.output = "prediction"

            def model(matrix: Any) -> Any:
                return np.asarray(predictor.predict(self.codec.frame(matrix)), dtype=float)
        elif est is not None and not hasattr(est, "predict_proba") \
                and hasattr(est, "decision_function"):
            self.output = "decision function"
            if len(predictor.classes) == 2 and class_idx == 0:
                self.flip = "negate"

            def model(matrix: Any) -> Any:
                return np.asarray(est.decision_function(self.codec.frame(matrix)), dtype=float)
        else:
            self.output = "probability"

            def model(matrix: Any) -> Any:
                return predictor.predict_proba(self.codec.frame(matrix))
        self.model = model
        self.configure(len(background), PERMUTATIONS)

    def configure(self, background_rows: int, permutations: int) -> None:
        data = self.codec.matrix[self.background_pos[:background_rows]]
        masker = self.shap.maskers.Independent(data, max_samples=len(data))
        self.explainer = self.shap.PermutationExplainer(self.model, masker, seed=self.seed)
        self.background, self.permutations = len(data), permutations
        self.evals = permutations * self.pass_evals

    def raw(self, positions: Any) -> tuple[Any, Any]:
        import numpy as np

        values, bases = [], []
        for pos in positions:
            # shap shuffles with numpy's global RNG: reseed per row so chunking cannot matter.
            np.random.seed(np.random.SeedSequence([self.seed, int(pos)]).generate_state(1)[0])
            out = self.explainer(self.codec.matrix[[pos]], max_evals=self.evals, silent=True)
            values.append(out.values[0])
            bases.append(np.asarray(out.base_values[0], dtype=float))
        return np.stack(values), np.stack(bases)


def _choose_engine(shap: Any, predictor: Any, X: Any, probe: Any, background: Any, seed: int,
                   class_idx: int | None) -> tuple[Any, str, Any]:
    """The engine, the output scale it explains, and its verified probe rows (or None).

    A tree or linear explainer is used only when base value + SHAP sum on the ``probe`` rows
    reproduces one of the model's outputs; anything else (unsupported model, text columns,
    no estimator) goes to the permutation explainer.
    """
    import numpy as np
    import pandas as pd

    # The explainers see what the final estimator sees (after column-for-column encoding).
    seen = predictor.prepare(X.iloc[probe]) if predictor.inner is not None else X
    numeric = all(pd.api.types.is_numeric_dtype(seen[c]) and not pd.api.types.is_bool_dtype(
        seen[c]) for c in seen.columns)
    if predictor.inner is not None and numeric and predictor.family in ("tree", "linear"):
        try:
            with _quiet():
                engine: Any = _TreeEngine(shap, predictor, X) if predictor.family == "tree" \
                    else _LinearEngine(shap, predictor, X, background)
                t0 = time.perf_counter()
                values, base = engine.raw(probe)
                seconds = time.perf_counter() - t0
            scale = _identify_scale(predictor, X.iloc[probe],
                                    base + np.asarray(values, dtype=float).sum(axis=1))
        except CharterError:
            raise
        except Exception:  # shap's "model not supported" errors vary by model and version
            scale = None
        if scale is not None:
            return engine, scale, (probe, values, base, seconds)
    engine = _PermutationEngine(shap, predictor, X, background, seed, class_idx)
    return engine, engine.output, None


# -- running against the deadline ----------------------------------------------------------------

class _Run:
    """Explains rows of the sample in chunks against a deadline; keeps results per position."""

    def __init__(self, engine: Any, select: Callable[[Any, Any], tuple[Any, Any]], *,
                 deadline: float, check: Callable[[], None],
                 progress: Callable[[int, int], None] | None, total: int) -> None:
        self.engine, self.select, self.deadline = engine, select, deadline
        self.check, self.progress, self.total = check, progress, total
        self.reset()

    def reset(self) -> None:
        self.values: dict[int, Any] = {}
        self.bases: dict[int, float] = {}
        self.done = 0  # rows of the sample explained (a prefix of it)
        self.per_row: float | None = None  # marginal seconds per row, measured

    def store(self, positions: Any, values: Any, base: Any) -> None:
        values, base = self.select(values, base)
        for i, pos in enumerate(positions):
            self.values[int(pos)] = values[i]
            self.bases[int(pos)] = float(base[i])
        if self.progress is not None:
            self.progress(min(len(self.values), self.total), self.total)

    def explain(self, positions: Any, **kwargs: Any) -> float:
        t0 = time.perf_counter()
        with _quiet():
            values, base = self.engine.raw(positions, **kwargs)
        self.store(positions, values, base)
        return time.perf_counter() - t0

    def pilot(self, order: Any, warmed_up: bool = False) -> None:
        """Doubling batches until one takes PILOT_S, to measure the marginal cost per row.

        Unless ``warmed_up`` (rows were already explained), the first batch only warms up (numba
        compilation, caches) and is not trusted as a measurement.
        """
        size = max(1, self.done)
        while self.done < len(order):
            self.check()
            batch = order[self.done:self.done + size]
            seconds = self.explain(batch)
            self.done += len(batch)
            if warmed_up or self.per_row is None:
                self.per_row = seconds / len(batch)
            if warmed_up and (seconds >= PILOT_S
                              or time.perf_counter() + 2 * seconds > self.deadline):
                return
            warmed_up = True
            size = len(batch) * 2 if seconds < PILOT_S else len(batch)

    def run(self, order: Any, reserve_s: float = 0.0) -> None:
        """The rest of ``order``, chunk by chunk, while the next chunk fits the deadline."""
        while self.done < len(order):
            self.check()
            per_row = self.per_row or 1e-3
            room = int((self.deadline - reserve_s - time.perf_counter()) / per_row)
            size = min(max(1, int(CHUNK_S / per_row)), MAX_CHUNK, room)
            if size < 1:
                return
            batch = order[self.done:self.done + size]
            self.per_row = max(self.explain(batch) / len(batch), 1e-7)
            self.done += len(batch)

    def projected(self, reserve_s: float = 0.0) -> int:
        """Rows of the sample this run can reach before the deadline, at the measured speed."""
        left = self.deadline - reserve_s - time.perf_counter()
        return self.done + max(0, int(0.9 * left / (self.per_row or 1e-3)))


def _too_slow(what: str, per_row: float | None, rows: int, budget: float) -> InvalidInput:
    cost = f"about {per_row * rows:.1f} s ({per_row:.3g} s per row measured)" if per_row \
        else "longer than that"
    return InvalidInput(
        f"SHAP explanations do not fit the time budget of {budget:g} s: {rows} rows with {what} "
        f"would take {cost}.",
        hint=f"Raise the explanation time budget, or skip explanations for this model; fewer "
             f"than {rows} rows cannot rank the features usefully.")


def _saabas_instead(run: _Run, order: Any, local_pos: list[int], reserve_s: float,
                    budget: float) -> tuple[dict[int, Any], str]:
    """Switch a tree run to Saabas attributions; keep local rows exact when affordable."""
    import numpy as np

    exact_per_row = run.per_row or 0.0
    exact = {p: (run.values[p], run.bases[p]) for p in local_pos if p in run.values}
    todo = [p for p in local_pos if p not in exact]
    keep_exact = exact_per_row * len(todo) <= 0.5 * (run.deadline - time.perf_counter())
    run.reset()
    run.engine.approximate = True
    run.pilot(order)
    run.run(order, reserve_s=reserve_s + (exact_per_row * len(todo) if keep_exact else 0.0))
    if keep_exact and todo:
        run.check()
        with _quiet():
            values, base = run.select(*run.engine.raw(np.asarray(todo), approximate=False))
        exact.update({p: (values[i], float(base[i])) for i, p in enumerate(todo)})
    note = (f"Exact Tree SHAP measured {exact_per_row:.3g} s per row here, so {len(order)} rows "
            f"would take about {exact_per_row * len(order):.0f} s against a budget of "
            f"{budget:g} s. Global importance therefore uses shap's approximate=True (Saabas "
            f"path attributions) on {run.done} rows: they add up to the model output like SHAP "
            "values but are not Shapley values and give more weight to splits lower in the "
            "trees. " + ("Local explanations are exact Tree SHAP." if keep_exact
                         else "Local explanations use the same approximation."))
    return (exact if keep_exact else {}), note


def _shrink_permutation(run: _Run, order: Any, floor_rows: int, reserve_s: float,
                        budget: float) -> str:
    """Fewer permutations, then background rows, until ``floor_rows`` rows fit; else InvalidInput.

    A cheap model's cost is mostly per call (one call per permutation), so permutations go first.
    """
    engine = run.engine
    full_b, full_p, per_row = engine.background, engine.permutations, run.per_row or 1e-3
    ladder = [(full_b, min(full_p, 3)), (full_b, 1), (min(full_b, 20), 1)]
    left = run.deadline - reserve_s - time.perf_counter()
    for b, perms in ladder:
        estimate = per_row * perms / full_p * max(b / full_b, 0.5)
        if estimate * floor_rows <= 0.9 * left:
            break
    else:
        raise _too_slow(engine.name, per_row, floor_rows, budget)
    engine.configure(b, perms)
    run.reset()
    run.per_row = estimate
    run.run(order, reserve_s=reserve_s)
    return (f"To fit the time budget of {budget:g} s the permutation explainer used {perms} "
            f"permutation(s) per row (default {full_p}) and {b} background rows (requested "
            f"{full_b}), so its estimates are noisier.")


# -- the public function -------------------------------------------------------------------------

def explain(
    predictor: Any,
    frame: Any,
    *,
    positive_label: Any = None,
    sample_rows: int = 2000,
    background_rows: int = 100,
    local_rows: Sequence[int] = (),
    n_local_default: int = 3,
    time_budget_s: float = 60.0,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """SHAP values for a seeded sample of ``frame`` (the holdout), within ``time_budget_s``.

    The explainer follows the model: ``shap.TreeExplainer`` (path-dependent, on the estimator)
    for ``family == "tree"``, ``shap.LinearExplainer`` over ``background_rows`` sampled rows for
    ``"linear"``, otherwise ``shap.PermutationExplainer`` calling the predictor on DataFrames of
    its feature columns (pipelines, ONNX, text columns). A binary classifier is explained for
    ``positive_label`` (default: the last class); a multiclass one for that class when given,
    else each row for its predicted class; a regressor for its prediction. ``output`` names the
    scale, checked against the model's own output on the first rows.

    Up to ``sample_rows`` rows are drawn with ``seed``; ``local_rows`` (positions in ``frame``;
    default the first ``n_local_default`` rows of the sample) get per-feature breakdowns.
    ``progress(done, total)`` is called after each chunk. Returns the "explanations" evidence
    dict of the charter-evaluation/1 record.

    Raises InvalidInput for bad settings, missing feature columns, local rows outside the
    holdout, or a budget too small for ``MIN_ROWS`` rows even with the cheaper variants;
    Cancelled when ``should_stop()`` returns True (checked between chunks). Errors of the model
    itself propagate. Writes no audit events.
    """
    import numpy as np

    start = time.perf_counter()
    if sample_rows < 1 or background_rows < 1 or n_local_default < 0:
        raise InvalidInput("sample_rows and background_rows must be at least 1 and "
                           "n_local_default at least 0.")
    if not time_budget_s > 0:
        raise InvalidInput("The explanation time budget must be positive.")
    missing = [c for c in predictor.features if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The holdout lacks the model's input column(s): "
                           f"{', '.join(map(str, missing[:12]))}.")
    n = len(frame)
    if n == 0:
        raise InvalidInput("Nothing to explain: the holdout has no rows.")
    asked = list(dict.fromkeys(int(r) for r in local_rows))
    outside = [r for r in asked if not 0 <= r < n]
    if outside:
        raise InvalidInput(f"Local row(s) {outside[:10]} are outside the holdout "
                           f"(positions 0 to {n - 1}).")

    def check() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("Explanation cancelled; nothing was recorded.")

    check()
    X = frame[list(predictor.features)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)[:min(sample_rows, n)]
    background = rng.choice(n, size=min(background_rows, n), replace=False)
    kind = "regression" if predictor.task == "regression" \
        else "binary" if len(predictor.classes or ()) == 2 else "multiclass"
    class_idx = None
    if kind != "regression" and (positive_label is not None or kind == "binary"):
        class_idx = predictor.class_index(positive_label)
    class_label = None if class_idx is None else predictor.classes[class_idx]
    shap = _shap()

    saved_rng = np.random.get_state()  # the permutation explainer reseeds numpy's global RNG
    try:
        engine, scale, probe = _choose_engine(shap, predictor, X, order[:2], background, seed,
                                              class_idx)
        flip = getattr(engine, "flip", None)
        if engine.method != "permutation" and class_idx is not None \
                and class_idx != len(predictor.classes) - 1:
            flip = "complement" if scale == "probability" else "negate"
        want = len(order)
        floor_rows = min(MIN_ROWS, want)
        in_order = set(order.tolist())
        run = _Run(engine, lambda v, b: _select(v, b, class_idx, flip), deadline=start +
                   time_budget_s, check=check, progress=progress,
                   total=want + sum(r not in in_order for r in asked))
        if probe is not None:  # the scale check already explained the first rows: a warm-up
            run.store(probe[0], probe[1], probe[2])
            run.done, run.per_row = len(probe[0]), probe[3] / len(probe[0])
        run.pilot(order, warmed_up=probe is not None)
        reserve = (run.per_row or 0.0) * len(asked)
        notes: list[str] = []
        exact_locals: dict[int, Any] = {}
        if engine.method == "tree" and run.projected(reserve) < min(want, EXACT_ENOUGH_ROWS):
            exact_locals, note = _saabas_instead(
                run, order, asked or order[:n_local_default].tolist(), reserve, time_budget_s)
            notes.append(note)
        elif engine.method == "permutation" and run.projected(reserve) < floor_rows:
            notes.append(_shrink_permutation(run, order, floor_rows, reserve, time_budget_s))
        else:
            run.run(order, reserve_s=reserve)
        if run.done < floor_rows:
            raise _too_slow(engine.name, run.per_row, floor_rows, time_budget_s)
        if run.done < want:
            notes.insert(0, f"Requested {want} rows; {run.done} were explained, as "
                            f"{engine.name} took {run.per_row:.3g} s per row here and the "
                            f"time budget is {time_budget_s:g} s.")
        sample = order[:run.done]
        local_pos = asked or sample[:n_local_default].tolist()
        todo = [p for p in local_pos if p not in run.values and p not in exact_locals]
        if todo:  # a few rows outside the sample: explained even if the deadline has passed
            check()
            run.explain(np.asarray(todo))
        if progress is not None:  # a cut sample ends the bar at its own, smaller total
            progress(len(run.values), len(run.values))
    finally:
        np.random.set_state(saved_rng)

    values = np.stack([run.values[int(p)] for p in sample])
    mean_abs = np.abs(values).mean(axis=0)
    names = [str(c) for c in X.columns]
    local = []
    for pos in local_pos:
        shap_row, base = exact_locals.get(pos, (run.values[pos], run.bases[pos]))
        ranked = sorted(range(len(names)), key=lambda j: -abs(shap_row[j]))
        local.append({
            "row": int(pos),
            "prediction": float(base + float(np.sum(shap_row))),
            "base_value": float(base),
            "contributions": [{"feature": names[j], "value": _json_value(X.iat[pos, j]),
                               "shap": float(shap_row[j])} for j in ranked],
        })
    return {
        "method": engine.method,
        "explainer": engine.name,
        "output": _output_text(scale, kind, class_label),
        "requested_rows": int(sample_rows),
        "sample_rows": int(run.done),
        "background_rows": int(engine.background),
        "approximate": bool(notes),
        "approximation_note": " ".join(notes) or None,
        "global_importance": [{"feature": names[j], "mean_abs_shap": float(mean_abs[j])}
                              for j in sorted(range(len(names)), key=lambda j: -mean_abs[j])],
        "local": local,
        "elapsed_s": time.perf_counter() - start,
        "shap_version": str(shap.__version__),
        "seed": int(seed),
    }
