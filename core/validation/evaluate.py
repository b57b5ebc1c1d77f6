"""One full evaluation of a loaded model on a holdout frame: the evidence record's content.

This is the pure part (no store, no audit): check the holdout against the model, predict, then
metrics, latency, SHAP explanations, segments, fairness and the acceptance gates. The service in
``core.services.evaluation`` adds the identities (version, hashes) and records the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput
from core.tasks import CancelToken, ProgressFn, no_progress
from core.validation.metrics import plain
from core.validation.predictor import Predictor

SCHEMA = "charter-evaluation/1"
CHUNK_ROWS = 20_000
# Holdout rows kept with their answers in every evaluation: a deployment sends them to the
# serving agent and compares its answers with these (the parity check, issue 7).
REFERENCE_ROWS = 100
PARITY_TOLERANCE = 1e-9
MAX_DEFAULT_SEGMENT_FEATURES = 5
MAX_SEGMENT_CATEGORIES = 20


@dataclass(frozen=True)
class EvaluationSettings:
    target: str | None = None
    task: str | None = None  # "classification" or "regression" to insist on one
    sensitive: Sequence[str] = ()
    segments: Sequence[str] = ()  # empty: categorical inputs and the two most important features
    threshold: float = 0.5
    positive_label: Any = None  # None: the model's last class (scikit-learn's positive class)
    favourable_label: Any = None  # the outcome fairness counts as favourable; None: positive
    shap_rows: int = 2000
    shap_background: int = 100
    local_rows: Sequence[int] = ()
    explain_budget_s: float = 30.0
    latency_budget_s: float = 10.0
    seed: int = 0
    explain: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


def resolve_target(columns: Sequence[str], features: Sequence[str], settings: EvaluationSettings,
                   output_names: Sequence[str] = ()) -> str:
    """The label column: as given, else the model's output name or ``target`` when present, else
    the one column that is neither an input nor a named sensitive/segment feature."""
    cols = list(columns)
    if settings.target:
        if settings.target not in cols:
            raise InvalidInput(f"The target column {settings.target!r} is not in the holdout "
                               f"(columns: {_shown(cols)}).")
        return settings.target
    for name in (*output_names, "target", "label", "y"):
        if name in cols and name not in features:
            return name
    named = set(features) | set(settings.sensitive) | set(settings.segments)
    candidates = [c for c in cols if c not in named]
    if len(candidates) == 1:
        return candidates[0]
    raise InvalidInput(
        "Cannot tell which holdout column is the true label"
        + (f": candidates {_shown(candidates)}." if candidates else ": every column is a model "
           "input."),
        hint="Name the target column (--target COLUMN on the command line).")


def check_holdout(frame: Any, predictor: Predictor, target: str,
                  settings: EvaluationSettings) -> dict:
    """Refuse a holdout the model cannot be evaluated on; returns facts for the record.

    Missing input columns, unexplained extra columns, infinite values and missing labels are
    refused with the columns named; missing values in inputs are counted (the model may or may
    not accept them: :func:`predict_all` says so if it does not).
    """
    import numpy as np
    import pandas as pd

    cols = [str(c) for c in frame.columns]
    for name in (*settings.sensitive, *settings.segments):
        if name not in cols:
            raise InvalidInput(f"The column {name!r} is not in the holdout (columns: "
                               f"{_shown(cols)}).")
    if predictor.features_unnamed:
        predictor.bind_columns([c for c in cols if c != target and c not in settings.sensitive])
    missing = [f for f in predictor.features if f not in cols]
    if missing:
        raise InvalidInput(
            f"The holdout lacks {len(missing)} of the model's input columns: {_shown(missing)}.",
            hint="Evaluate on data with the columns the model was trained on (names are "
                 "case-sensitive).")
    allowed = set(predictor.features) | {target} | set(settings.sensitive) | set(settings.segments)
    extra = [c for c in cols if c not in allowed]
    if extra:
        raise InvalidInput(
            f"The holdout has {len(extra)} column(s) that are neither model inputs nor the target "
            f"({target!r}): {_shown(extra)}.",
            hint="Name them as sensitive or segment features (--sensitive, --segment on the "
                 "command line), or remove the columns from the file.")
    if len(frame) == 0:
        raise InvalidInput("The holdout has no rows.")
    labels = frame[target]
    if labels.isna().any():
        raise InvalidInput(f"The target column {target!r} has {int(labels.isna().sum())} "
                           "missing value(s).", hint="Drop those rows; a holdout needs every "
                                                     "label.")
    infinite = {}
    for name in predictor.features + ([target] if predictor.task == "regression" else []):
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            count = int(np.isinf(column.to_numpy(dtype=float, na_value=np.nan)).sum())
            if count:
                infinite[name] = count
    if infinite:
        raise InvalidInput(
            "The holdout has infinite values: "
            + ", ".join(f"{k} ({v})" for k, v in list(infinite.items())[:10]) + ".",
            hint="Replace or drop them; no model output on infinite input can be trusted.")
    nulls = {name: int(n) for name, n in frame[predictor.features].isna().sum().items() if n}
    return {"rows": len(frame), "target": target, "features": list(predictor.features),
            "missing_values": nulls}


def predict_all(predictor: Predictor, frame: Any, kind: str, missing: Mapping[str, int],
                progress: Callable[[int, int], None], cancel: CancelToken | None) -> Any:
    """Probabilities (classification) or predictions (regression) over the whole frame,
    in chunks so progress moves and cancel is honoured."""
    import numpy as np

    parts = []
    for start in range(0, len(frame), CHUNK_ROWS):
        if cancel is not None:
            cancel.check()
        chunk = frame.iloc[start:start + CHUNK_ROWS]
        try:
            out = (predictor.predict(chunk).astype(float) if kind == "regression"
                   else predictor.predict_proba(chunk))
        except InvalidInput:
            raise
        except Exception as exc:  # the model's own error on this data
            why = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            hint = ("Columns with missing values: " + ", ".join(
                f"{k} ({v})" for k, v in list(missing.items())[:10]) + ". Impute or drop them."
                if missing else "Check that the column types match the training data.")
            raise InvalidInput(f"The model failed to predict on the holdout ({why}).",
                               hint=hint) from None
        parts.append(np.asarray(out, dtype=float))
        progress(min(start + CHUNK_ROWS, len(frame)), len(frame))
    result = np.concatenate(parts)
    if not np.isfinite(result).all():
        raise InvalidInput("The model returned NaN or infinite predictions on the holdout.",
                           hint="Check the inputs for missing values the model cannot handle.")
    return result


def _kind(predictor: Predictor, settings: EvaluationSettings) -> str:
    if settings.task not in (None, "classification", "regression"):
        raise InvalidInput(f"task must be classification or regression; got {settings.task!r}.")
    if settings.task and settings.task != predictor.task:
        raise InvalidInput(
            f"{predictor.model_type} is a {predictor.task} model; it cannot be evaluated with "
            f"{settings.task} metrics.", hint=f"Evaluate it as a {predictor.task} model.")
    if predictor.task == "regression":
        return "regression"
    return "binary" if len(predictor.classes or ()) == 2 else "multiclass"


def _true_labels(frame: Any, target: str, predictor: Predictor) -> Any:
    """The target as the model's own class values (a CSV may read 0/1 as text or floats)."""
    import numpy as np

    values = frame[target].to_numpy()
    known = {str(c): c for c in predictor.classes or ()}
    for c in list(predictor.classes or ()):
        if isinstance(c, (int, float)):
            known.setdefault(str(float(c)), c)
    mapped = [known.get(str(v)) for v in values]
    unknown = sorted({str(v) for v, m in zip(values, mapped) if m is None})
    if unknown:
        raise InvalidInput(
            f"The target {target!r} holds labels the model does not know: {_shown(unknown)} "
            f"(its classes: {_shown([str(c) for c in predictor.classes or ()])}).",
            hint="Is this the right target column, and the right model?")
    return np.asarray(mapped, dtype=object)


def run_evaluation(predictor: Predictor, frame: Any, settings: EvaluationSettings, *,
                   thresholds: Mapping[str, float], tier: int | None, output_names: Sequence[str] = (),
                   progress: ProgressFn = no_progress,
                   cancel: CancelToken | None = None) -> dict:
    """Evaluate ``predictor`` on ``frame``; returns the evidence record without its identities
    (``model``, ``holdout.sha256``/``name`` and ``created_at`` are added by the service).

    Raises InvalidInput (with the offending columns or labels named) and Cancelled.
    """
    from core.validation import metrics as vm
    from core.validation.gates import check_gates
    from core.validation.latency import latency_profile

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    kind = _kind(predictor, settings)
    target = resolve_target(frame.columns, predictor.features, settings, output_names)
    facts = check_holdout(frame, predictor, target, settings)
    warnings = list(predictor.notes)
    if facts["missing_values"]:
        warnings.append("Inputs with missing values (the model handled them): " + ", ".join(
            f"{k} ({v})" for k, v in facts["missing_values"].items()))

    def stage(name: str, start: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - start, 4)
        return now

    total_steps = 100

    def step(fraction: float) -> None:
        progress(int(fraction * total_steps), total_steps)

    y = (frame[target].to_numpy(dtype=float) if kind == "regression"
         else _true_labels(frame, target, predictor))
    outputs = predict_all(predictor, frame, kind, facts["missing_values"],
                          lambda d, t: step(0.25 * d / t), cancel)
    clock = stage("predict", clock)
    positive = None
    if kind == "binary":
        index = predictor.class_index(settings.positive_label)
        positive = predictor.classes[index]
        scores = outputs[:, index]
        result = vm.classification_metrics(y, scores, threshold=settings.threshold,
                                           positive_label=positive)
    elif kind == "multiclass":
        scores = outputs
        result = vm.multiclass_metrics(y, outputs, predictor.classes)
    else:
        scores = outputs
        result = vm.regression_metrics(y, outputs)
    clock = stage("metrics", clock)
    step(0.3)

    if cancel is not None:
        cancel.check()
    sample = frame.iloc[:1000]
    latency = latency_profile(predictor.predict, sample, time_budget_s=settings.latency_budget_s,
                              should_stop=_stopper(cancel))
    clock = stage("latency", clock)
    step(0.4)

    explanations: dict = {"skipped": "Explanations were not requested."}
    if settings.explain:
        from core.validation.explain import explain

        try:
            explanations = explain(
                predictor, frame[predictor.features], positive_label=positive,
                sample_rows=settings.shap_rows, background_rows=settings.shap_background,
                local_rows=tuple(settings.local_rows), time_budget_s=settings.explain_budget_s,
                seed=settings.seed, should_stop=_stopper(cancel),
                progress=lambda d, t: step(0.4 + 0.4 * d / max(t, 1)))
        except InvalidInput as exc:  # too slow even when cut down: the rest still stands
            reason = exc.message + (f" {exc.hint}" if exc.hint else "")
            explanations = {"skipped": reason}
            warnings.append(f"Explanations were skipped: {exc.message}")
        clock = stage("explanations", clock)

    segment_features = list(settings.segments) or default_segments(
        frame, predictor, explanations, settings.sensitive)
    segments = segment_section(frame, y, scores, kind, segment_features, settings, positive,
                               predictor.classes)
    clock = stage("segments", clock)
    step(0.85)

    fairness: dict | None = None
    if settings.sensitive:
        if kind != "binary":
            fairness = {"skipped": "Fairness is measured for binary classifiers (a favourable "
                                   "decision); this model is " + kind + "."}
        else:
            import numpy as np

            from core.validation.fairness import fairness_report

            negative = next(c for c in predictor.classes if c != positive)
            favourable = positive if settings.favourable_label is None else next(
                (c for c in predictor.classes if str(c) == str(settings.favourable_label)), None)
            if favourable is None:
                raise InvalidInput(f"The favourable label {settings.favourable_label!r} is not "
                                   f"one of the model's classes ({_shown(predictor.classes)}).")
            decided = np.where(scores >= settings.threshold, positive, negative).astype(object)
            fairness = fairness_report(
                y, decided, {name: frame[name].to_numpy() for name in settings.sensitive},
                favourable_label=favourable, threshold=settings.threshold)
        clock = stage("fairness", clock)
    step(0.95)

    evidence = {
        "schema": SCHEMA, "task": predictor.task, "kind": kind,
        "holdout": facts,
        "settings": {"threshold": settings.threshold, "positive_label": plain(positive),
                     "favourable_label": plain(settings.favourable_label)
                     if settings.favourable_label is not None else plain(positive),
                     "segments": segment_features, "sensitive": list(settings.sensitive),
                     "seed": settings.seed, "shap_rows": settings.shap_rows,
                     "time_budget_s": settings.explain_budget_s},
        "warnings": warnings, "metrics": result, "segments": segments, "latency": latency,
        "explanations": explanations, "fairness": fairness,
        "reference_answers": reference_answers(frame, predictor, outputs, kind),
    }
    evidence["gates"] = check_gates(evidence, tier, thresholds)
    timings["total"] = round(sum(timings.values()), 4)
    evidence["timings_s"] = timings
    step(1.0)
    return evidence


def reference_answers(frame: Any, predictor: Predictor, outputs: Any, kind: str,
                      rows: int = REFERENCE_ROWS) -> dict:
    """The first ``rows`` holdout rows with every input present, as JSON records, and the
    model's answers to them here: probabilities in ``classes`` order, or values. Compared
    within ``tolerance`` (absolute) with what a deployed agent answers for the same rows."""
    features = frame[list(predictor.features)]
    complete = features.notna().all(axis=1).to_numpy()
    picked = complete.nonzero()[0][:rows]
    records = [{name: _json_value(v) for name, v in rec.items()}
               for rec in features.iloc[picked].to_dict("records")]
    answers = outputs[picked]
    return {"rows": records, "outputs": answers.tolist(),
            "classes": None if kind == "regression" else [plain(c) for c in predictor.classes],
            "tolerance": PARITY_TOLERANCE,
            "note": f"The first {len(records)} holdout rows with no missing input, and the "
                    "model's answers to them at evaluation."}


def _json_value(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)  # timestamps and other objects: as text, as a JSON caller sends them


def default_segments(frame: Any, predictor: Predictor, explanations: Mapping,
                     sensitive: Sequence[str]) -> list[str]:
    """Categorical inputs with a few values, then the two most important inputs by SHAP."""
    import pandas as pd

    chosen: list[str] = []
    for name in predictor.features:
        column = frame[name]
        categorical = not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(
            column)
        if categorical and 2 <= column.nunique() <= MAX_SEGMENT_CATEGORIES:
            chosen.append(name)
    for item in explanations.get("global_importance", [])[:2]:
        if item["feature"] in frame.columns and item["feature"] not in chosen:
            chosen.append(item["feature"])
    chosen = [c for c in chosen if c not in sensitive]
    return chosen[:MAX_DEFAULT_SEGMENT_FEATURES]


def segment_section(frame: Any, y: Any, scores: Any, kind: str, features: Sequence[str],
                    settings: EvaluationSettings, positive: Any, classes: Any) -> dict:
    from core.validation.segments import segment_metrics, weakest

    task = {"binary": "classification"}.get(kind, kind)
    metric = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}[kind]
    per_feature, everything = {}, []
    for name in features:
        entries = segment_metrics(frame, y, scores, name, task=task, threshold=settings.threshold,
                                  positive_label=positive, classes=classes)
        per_feature[name] = entries
        everything.extend(entries)
    return {"features": per_feature, "metric": metric,
            "weakest": weakest(everything, metric) if everything else []}


def _stopper(cancel: CancelToken | None) -> Callable[[], bool] | None:
    return None if cancel is None else (lambda: cancel.cancelled)



def _shown(names: Sequence[str], limit: int = 12) -> str:
    names = [str(n) for n in names]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
