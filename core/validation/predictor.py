"""A model version loaded for evaluation: one small interface over skops, ONNX and MLflow.

Only formats that load safely are loaded here: skops through Charter's trusted types, ONNX through
onnxruntime, and MLflow folders holding either. A pickle (or an MLflow folder holding one) is
never unpickled in the console process; the message says how to convert it to skops first.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.registry.formats.errors import ArtifactRejected
from core.validation.metrics import plain

TREE_TYPES = (
    "RandomForest", "ExtraTrees", "GradientBoosting", "HistGradientBoosting", "DecisionTree",
    "IsolationForest", "XGB", "LGBM", "CatBoost",
)
LINEAR_TYPES = (
    "LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDClassifier",
    "SGDRegressor", "LinearSVC", "LinearSVR", "RidgeClassifier", "HuberRegressor", "BayesianRidge",
)


@dataclass
class Predictor:
    """What evaluation needs of a model: predictions on a DataFrame of its input columns.

    ``features`` are the column names the model takes, in order; for an ONNX model with one
    multi-column tensor input they are whatever the caller bound with :meth:`bind_columns`.
    ``estimator`` is the scikit-learn object for skops models (SHAP uses it to pick an
    explainer) and None for ONNX. ``family`` is ``"tree"``, ``"linear"`` or ``"other"``.
    """

    task: str  # "classification" or "regression"
    features: list[str]
    classes: tuple[Any, ...] | None
    model_type: str
    family: str
    estimator: Any | None = None
    _onnx: Any | None = None
    _onnx_input: Mapping[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _bound: bool = False
    # What SHAP's tree and linear explainers look at: the final estimator, and how a frame of
    # raw inputs becomes its input (the pipeline's column-for-column preprocessing, if any).
    inner: Any | None = None
    prepare: Callable[[Any], Any] | None = None

    @property
    def features_unnamed(self) -> bool:
        """True for an ONNX model whose one tensor input does not name its columns."""
        return self._onnx is not None and self._onnx_input.get("width") is not None \
            and not self._bound

    # -- predictions -----------------------------------------------------------------------------
    def predict(self, frame: Any) -> Any:
        """Labels (classification) or values (regression) as a 1-D numpy array."""
        import numpy as np

        if self.estimator is not None:
            return np.asarray(self.estimator.predict(frame[self.features]))
        outputs = self._run_onnx(frame)
        return np.asarray(outputs[0]).reshape(len(frame), -1)[:, 0] \
            if self.task == "regression" else np.asarray(outputs[0]).ravel()

    def predict_proba(self, frame: Any) -> Any:
        """Class probabilities, shape (rows, classes), columns in the order of ``classes``."""
        import numpy as np

        if self.task != "classification":
            raise InvalidInput(f"{self.model_type} is a regression model; it has no class "
                               "probabilities.", hint="Evaluate it with regression metrics.")
        if self.estimator is not None:
            if not hasattr(self.estimator, "predict_proba"):
                raise InvalidInput(f"{self.model_type} gives no probabilities (no predict_proba)"
                                   "; AUC, KS, log loss and calibration need them.",
                                   hint="Refit with probability estimates, or calibrate it "
                                        "(sklearn's CalibratedClassifierCV).")
            return np.asarray(self.estimator.predict_proba(frame[self.features]), dtype=float)
        outputs = self._run_onnx(frame)
        if len(outputs) < 2:
            raise InvalidInput("This ONNX classifier has no probability output.")
        probs = outputs[1]
        if isinstance(probs, list) and probs and isinstance(probs[0], dict):  # ZipMap output
            keys = list(probs[0].keys())
            order = [keys[[str(k) for k in keys].index(str(c))] for c in self.classes or keys]
            return np.array([[row[k] for k in order] for row in probs], dtype=float)
        return np.asarray(probs, dtype=float)

    def score(self, frame: Any, positive_label: Any = None) -> Any:
        """One number per row: the positive class's probability (binary) or the prediction."""
        if self.task == "regression":
            return self.predict(frame).astype(float)
        probs = self.predict_proba(frame)
        return probs[:, self.class_index(positive_label)]

    def class_index(self, label: Any = None) -> int:
        """Column of ``label`` in predict_proba; None means the last class (sklearn's positive)."""
        classes = list(self.classes or ())
        if label is None:
            return len(classes) - 1
        for i, c in enumerate(classes):
            if c == label or str(c) == str(label):
                return i
        raise InvalidInput(f"{label!r} is not one of the model's classes "
                           f"({', '.join(map(repr, classes))}).")

    def bind_columns(self, columns: Sequence[str]) -> None:
        """For an ONNX model whose one tensor input has unnamed columns: feed these, in order."""
        width = self._onnx_input.get("width")
        if self._onnx is None or width is None:
            return
        if len(columns) != width:
            raise InvalidInput(
                f"The ONNX model takes one tensor of {width} unnamed columns, but the holdout "
                f"has {len(columns)} feature columns ({', '.join(columns[:12])}).",
                hint="Give a holdout with exactly the model's inputs, in training order, plus "
                     "the target.")
        self.features = list(columns)
        self._bound = True
        self.notes.append(f"The ONNX model's inputs are unnamed; the holdout's columns were fed "
                          f"in file order: {', '.join(columns)}.")

    def _run_onnx(self, frame: Any) -> list:
        import numpy as np

        spec = self._onnx_input
        if spec.get("width") is not None:
            feed = {spec["name"]: frame[self.features].to_numpy(dtype=spec["dtype"])}
        else:
            feed = {}
            for name, dtype in spec["columns"]:
                column = frame[name].to_numpy()
                if dtype == "str":
                    column = column.astype(str)
                feed[name] = np.asarray(column, dtype=dtype if dtype != "str" else object
                                        ).reshape(-1, 1)
        return self._onnx.run(None, feed)


def family_of(model_type: str) -> str:
    last = model_type.rsplit(".", 1)[-1]
    if any(last.startswith(t) for t in TREE_TYPES):
        return "tree"
    if any(last.startswith(t) for t in LINEAR_TYPES):
        return "linear"
    return "other"


def from_estimator(estimator: Any, *, features: Sequence[str] | None = None) -> Predictor:
    """A Predictor over a fitted scikit-learn estimator (or pipeline)."""
    from sklearn.base import is_classifier, is_regressor

    from core.registry.formats.sklearn_describe import public_name

    if is_classifier(estimator):
        task, classes = "classification", tuple(plain(c) for c in estimator.classes_)
    elif is_regressor(estimator):
        task, classes = "regression", None
    else:
        raise InvalidInput(f"{type(estimator).__name__} is neither a classifier nor a "
                           "regressor; Charter evaluates only those.")
    names = features or [str(n) for n in getattr(estimator, "feature_names_in_", [])]
    if not names:
        raise InvalidInput("The model was fitted without column names, so its inputs cannot be "
                           "matched to the holdout's columns.",
                           hint="Refit it on a pandas DataFrame.")
    names = list(names)
    inner, prepare = _column_for_column(estimator, names)
    family = "other" if inner is None else family_of(public_name(type(inner)))
    return Predictor(task=task, features=names, classes=classes,
                     model_type=public_name(type(estimator)), family=family,
                     estimator=estimator, inner=inner, prepare=prepare)


def _column_for_column(estimator: Any, names: list[str]) -> tuple[Any, Any]:
    """(final estimator, frame -> its input) when the model is a bare estimator or a pipeline
    whose preprocessing maps each input column to one column of the same name (scalers,
    imputers): then SHAP values of the final estimator are those of the inputs. (None, None)
    otherwise (one-hot encoding, feature construction): explain the whole model instead."""
    import pandas as pd

    if not hasattr(estimator, "steps"):
        return estimator, lambda frame: frame[names]
    head = estimator[:-1]
    try:
        out = [str(n) for n in head.get_feature_names_out(names)]
    except Exception:  # a step without get_feature_names_out: not provably column-for-column
        return None, None
    if out != names:
        return None, None

    def prepare(frame: Any) -> Any:
        return pd.DataFrame(head.transform(frame[names]), columns=names, index=frame.index)
    return estimator.steps[-1][1], prepare


def load_predictor(data: bytes, fmt: str, *, name: str = "the artifact") -> Predictor:
    """Load a stored artifact's bytes for evaluation.

    Raises ArtifactRejected for a pickle (never unpickled here), an MLflow folder with a pickled
    model, untrusted skops types or an unreadable file.
    """
    if fmt == "skops":
        from core.registry.formats.skops_format import load_trusted

        model, _schema, _warnings = load_trusted(data, name)
        return from_estimator(model)
    if fmt == "onnx":
        return _onnx_predictor(data, name)
    if fmt == "mlflow":
        return _mlflow_predictor(data, name)
    raise ArtifactRejected(
        f"{name} is a {fmt} file; Charter does not unpickle models in the console, so it cannot "
        "evaluate one.",
        hint="Convert it to skops (charter artifact convert FILE -o FILE.skops) and import the "
             "skops file as a new version.")


def _mlflow_predictor(data: bytes, name: str) -> Predictor:
    from core.registry.archives import safe_extract
    from core.registry.formats import mlflow_format as mlf

    with tempfile.TemporaryDirectory(prefix="charter-eval-") as tmp:
        archive = Path(tmp) / "model.zip"
        archive.write_bytes(data)
        root = safe_extract(archive, Path(tmp) / "model").root
        folder = mlf.find_model_folder(root)
        if folder is None:
            raise ArtifactRejected(f"{name} holds no MLflow model folder.")
        meta = mlf.read_mlmodel(folder)
        flavors = meta["flavors"]
        if isinstance(flavors.get("sklearn"), dict):
            sk = flavors["sklearn"]
            file = mlf.model_file(folder, sk.get("pickled_model"), "sklearn")
            if str(sk.get("serialization_format", "cloudpickle")) != "skops":
                return load_predictor(b"", "pickle", name=f"{name} ({file.name})")
            return load_predictor(file.read_bytes(), "skops", name=f"{name}/{file.name}")
        if isinstance(flavors.get("onnx"), dict):
            file = mlf.model_file(folder, flavors["onnx"].get("data"), "onnx")
            return _onnx_predictor(file.read_bytes(), f"{name}/{file.name}")
    raise ArtifactRejected(f"{name} has no sklearn or onnx flavour to evaluate.")


_ONNX_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64",
                "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(string)": "str"}


def _onnx_predictor(data: bytes, name: str) -> Predictor:
    import onnx
    import onnxruntime as ort

    from core.registry.formats.onnx_format import _class_labels

    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        model = onnx.load_model(io.BytesIO(data))
    except Exception as exc:  # onnxruntime raises its own types
        raise ArtifactRejected(f"onnxruntime cannot run {name}: {str(exc).strip()[:300]}") \
            from None
    inputs = session.get_inputs()
    unknown = [i.type for i in inputs if i.type not in _ONNX_DTYPES]
    if unknown:
        raise ArtifactRejected(f"{name} takes inputs of type {', '.join(unknown)}, which Charter "
                               "cannot feed from a table.")
    classes = _class_labels(model)
    task = "classification" if classes is not None else "regression"
    width = inputs[0].shape[1] if len(inputs) == 1 and len(inputs[0].shape) == 2 else None
    if isinstance(width, int) and width > 1:
        spec: dict[str, Any] = {"name": inputs[0].name, "width": width,
                                "dtype": _ONNX_DTYPES[inputs[0].type]}
        features = [f"{inputs[0].name}[{i}]" for i in range(width)]
    else:
        spec = {"columns": [(i.name, _ONNX_DTYPES[i.type]) for i in inputs]}
        features = [i.name for i in inputs]
    return Predictor(task=task, features=features,
                     classes=None if classes is None else tuple(_label(c) for c in classes),
                     model_type=f"onnx: {model.producer_name or 'unknown'} / "
                                f"{model.graph.name or 'graph'}",
                     family="other", _onnx=session, _onnx_input=spec)



def _label(text: Any) -> Any:
    """ONNX class labels come back as text; integers are restored so they match y_true."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return text

