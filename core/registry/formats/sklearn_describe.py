"""Describe a loaded scikit-learn model as plain data: inputs, outputs, task, hyperparameters.

Used in the console process (for skops files, loaded through the trusted-types path) and inside
the pickle sandbox, so it returns only JSON types and imports nothing from Charter. scikit-learn
and numpy are imported inside the functions.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

TEXT_LIMIT = 200  # characters kept of a hyperparameter's repr
MAX_PARAMS = 500


def describe_estimator(model: Any) -> dict[str, Any]:
    """``model_type, task, classes, input_schema, output_schema, hyperparameters, warnings``."""
    from sklearn.base import is_classifier, is_regressor

    notes: list[str] = []
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
    elif getattr(model, "n_features_in_", None) is not None:
        names = [f"x{i}" for i in range(int(model.n_features_in_))]
        notes.append(f"The model was fitted without column names; its {len(names)} inputs are "
                     "positional and named x0, x1, ... here.")
    else:
        names = []
        notes.append("The model does not record its inputs (is it fitted?); the input schema "
                     "is empty.")
    kinds = column_kinds(model, names, notes)
    schema = []
    for name in names:
        kind, cats = kinds.get(name, ("number", None))
        extra = {} if cats is None else {"categories": cats}
        schema.append({"name": name, "kind": kind, **extra})

    classes = None
    if is_classifier(model):
        task = "classification"
        classes = [_text(c) for c in getattr(model, "classes_", [])]
        outputs = [{"name": "label", "kind": "category", "categories": classes}]
        if _has(model, "predict_proba"):
            outputs.append({"name": "probability", "kind": "number"})
    elif is_regressor(model):
        task, outputs = "regression", [{"name": "prediction", "kind": "number"}]
    else:
        task, outputs = "unknown", []
        notes.append("The model is neither a classifier nor a regressor.")
    return {"model_type": public_name(type(model)), "task": task, "classes": classes,
            "input_schema": schema, "output_schema": outputs,
            "hyperparameters": flat_params(model, notes), "warnings": notes}


def public_name(cls: type) -> str:
    """``sklearn.linear_model.LogisticRegression`` rather than its private defining module."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        if any(p.startswith("_") for p in parts[:end]):
            break
        try:
            if getattr(importlib.import_module(".".join(parts[:end])), cls.__name__, None) is cls:
                return f"{'.'.join(parts[:end])}.{cls.__name__}"
        except ImportError:
            break
    return f"{cls.__module__}.{cls.__qualname__}"


def column_kinds(model: Any, names: list[str], notes: list[str]) -> dict[str, tuple]:
    """name -> (kind, categories or None) for inputs that are not plain numbers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model
    while isinstance(first, Pipeline):  # only the first step sees the raw columns
        first = first.steps[0][1]
    kinds: dict[str, tuple] = {}
    if isinstance(first, ColumnTransformer):
        for _label, transformer, columns in getattr(first, "transformers_", []):
            cols = _column_names(columns, names)
            if cols is None:
                notes.append(f"Cannot tell which columns {columns!r} are; they are recorded as "
                             "numbers.")
                continue
            kinds.update(_encoded(transformer, cols))
    else:
        kinds.update(_encoded(first, names))
    categorical = getattr(first, "is_categorical_", None)  # HistGradientBoosting, native
    if categorical is not None:
        kinds.update({n: ("category", None) for n, c in zip(names, categorical) if c})
    return kinds


def _encoded(transformer: Any, cols: list[str]) -> dict[str, tuple]:
    from sklearn.pipeline import Pipeline

    steps = [s for _n, s in transformer.steps] if isinstance(transformer, Pipeline) else [
        transformer]
    for step in steps:
        cats = getattr(step, "categories_", None)
        if cats is not None and type(step).__name__ in ("OneHotEncoder", "OrdinalEncoder",
                                                         "TargetEncoder"):
            return {c: ("category", [_text(v) for v in values if not _missing(v)])
                    for c, values in zip(cols, cats)}
    return {}


def _column_names(columns: Any, names: list[str]) -> list[str] | None:
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, int):
        return [names[columns]] if 0 <= columns < len(names) else None
    try:
        items = list(columns)
    except TypeError:
        return None
    if all(isinstance(c, str) for c in items):
        return items
    if all(hasattr(c, "__index__") and not isinstance(c, bool) for c in items):
        return [names[int(c)] for c in items if 0 <= int(c) < len(names)]
    if all(isinstance(c, bool) or type(c).__name__ == "bool_" for c in items):
        return [n for n, keep in zip(names, items) if keep]
    return None


def flat_params(model: Any, notes: list[str]) -> dict[str, Any]:
    """``get_params(deep=True)``: JSON values as they are, others as a truncated repr."""
    try:
        params = model.get_params(deep=True)
    except Exception as exc:  # a third-party estimator's get_params may fail in any way
        notes.append(f"Its hyperparameters could not be read: {type(exc).__name__}: {exc}")
        return {}
    keys = sorted(params)
    if len(keys) > MAX_PARAMS:
        notes.append(f"Only the first {MAX_PARAMS} of {len(keys)} hyperparameters are recorded.")
    return {k: _plain(params[k]) for k in keys[:MAX_PARAMS]}


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # a numpy scalar
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= TEXT_LIMIT:
        return value
    if isinstance(value, (list, tuple)) and all(
            v is None or isinstance(v, (bool, int, str)) for v in value):
        try:
            if len(json.dumps(value)) <= TEXT_LIMIT:
                return list(value)
        except (TypeError, ValueError):
            pass
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT - 3] + "..."


def _text(value: Any) -> str:
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _has(model: Any, attr: str) -> bool:
    try:
        return hasattr(model, attr)
    except Exception:  # available_if checks may raise other errors on odd estimators
        return False
