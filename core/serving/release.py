"""A release folder: the model versions the agent serves, their hashes, and the routing policy.

Layout (written by :func:`write_release`; the console's deployment writes the same)::

    RELEASE/
      manifest.json          # what is in the release, with the SHA-256 of every file
      policy.json            # the routing policy (core.serving.routing)
      artifacts/<sha256>.skops

``manifest.json``::

    {"format": "charter-release/1", "release": "2026-11-23T16:20:00Z", "created_by": "ivan",
     "policy": {"file": "policy.json", "sha256": "..."},
     "versions": [{"ref": "retail-pd@3", "file": "artifacts/<sha256>.skops", "format": "skops",
                   "sha256": "...", "task": "binary", "classes": [0, 1],
                   "input_schema": [{"name": "age", "kind": "number"}, ...],
                   "trusted_types": ["sklearn.pipeline.Pipeline", ...]}]}

:func:`load_release` checks every hash as it loads. A version whose file is missing or whose
SHA-256 differs is not served: it is listed in :attr:`Release.refused` with the reason, and the
others still load. A policy whose hash differs refuses the whole release (:class:`ReleaseError`):
routing is what was approved. Models load through skops with the types the console audited
and recorded in the manifest (``trusted_types``); nothing is unpickled. Only the standard
library here, and skops, numpy and pandas when a model is loaded or called.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.serving.inputs import InputSchema

FORMAT = "charter-release/1"
MANIFEST = "manifest.json"
TASKS = ("binary", "multiclass", "regression")


class ReleaseError(Exception):
    """The release as a whole cannot be served (manifest or policy)."""


@dataclass(frozen=True)
class LoadedVersion:
    """A model version ready to answer: ``predict`` takes rows in schema order."""

    ref: str
    sha256: str
    task: str
    classes: tuple[Any, ...]
    schema: InputSchema
    model: Any
    # The model gives the same answers from a plain float array in schema order as from a
    # DataFrame (checked at load): a one-row DataFrame costs scikit-learn several times more.
    takes_array: bool = False
    # A scaler + logistic-regression scorecard computed with the same numpy operations
    # scikit-learn runs, without its per-call checks; used only if bit-identical at load.
    fast: Any = None

    def _frame(self, rows: Sequence[tuple[Any, ...]]) -> Any:
        import numpy as np
        import pandas as pd

        if self.schema.numeric:  # three times cheaper than from_records for a single row
            return pd.DataFrame(np.asarray(rows, dtype=float), columns=list(self.schema.names))
        return pd.DataFrame.from_records(rows, columns=list(self.schema.names))

    def _call(self, rows: Sequence[tuple[Any, ...]], *, array: bool) -> Any:
        method = self.model.predict if self.task == "regression" else self.model.predict_proba
        if not array:
            return method(self._frame(rows))
        import numpy as np

        if self.fast is not None:
            return self.fast(np.asfortranarray(np.asarray(rows, dtype=float)))

        with warnings.catch_warnings():  # "X does not have valid feature names": by design
            warnings.simplefilter("ignore", UserWarning)
            # column-major, as a DataFrame holds its columns: the same sums in the same order,
            # so the same answers to the last bit
            return method(np.asfortranarray(np.asarray(rows, dtype=float)))

    def predict(self, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """One output per row: ``{"label", "probabilities": {class: p}}`` for classifiers,
        ``{"value"}`` for regression."""
        import numpy as np

        result = self._call(rows, array=self.takes_array)
        if self.task == "regression":
            return [{"value": v}
                    for v in np.asarray(result, dtype=float).reshape(len(rows)).tolist()]
        proba = np.asarray(result, dtype=float)
        labels = [_plain(c) for c in self.classes]
        keys = [str(c) for c in labels]
        # tolist() turns the whole array into Python floats at once; argmax picks the first
        # of tied classes, as per row
        return [{"label": labels[best], "probabilities": dict(zip(keys, row, strict=True))}
                for best, row in zip(proba.argmax(axis=1).tolist(), proba.tolist(),
                                     strict=True)]


def _takes_array(version: LoadedVersion) -> bool:
    """Whether ``version`` answers probe rows identically from an array and a DataFrame."""
    if not version.schema.numeric:
        return False
    n = len(version.schema.names)
    probes = [tuple([0.0] * n), tuple([1.0] * n),
              tuple((-1.5, 2.5, 0.25)[i % 3] * (i + 1) for i in range(n))]
    try:
        import numpy as np

        return bool(np.array_equal(np.asarray(version._call(probes, array=True)),
                                   np.asarray(version._call(probes, array=False))))
    except Exception:  # noqa: BLE001 - a model that cannot take an array uses DataFrames
        return False


def _scorecard(version: LoadedVersion) -> Any:
    """For Pipeline(StandardScaler, LogisticRegression) on two classes, the most common bank
    scorecard: its probabilities by the very numpy operations scikit-learn performs (centre,
    scale, one matrix product, the logistic function), skipping the per-call validation that
    costs more than the arithmetic for a few rows. None for any other model, or if the
    answers differ from the DataFrame path by a single bit on the probe rows."""
    try:
        import numpy as np
        from scipy.special import expit
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    model = version.model
    if not (version.task == "binary" and type(model) is Pipeline and len(model.steps) == 2):
        return None
    scaler, clf = model.steps[0][1], model.steps[1][1]
    if type(scaler) is not StandardScaler or type(clf) is not LogisticRegression \
            or len(clf.classes_) != 2 or clf.coef_.shape != (1, len(version.schema.names)):
        return None
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None
    coef_t, intercept = clf.coef_.T, clf.intercept_

    def proba(x: Any) -> Any:  # x: a fresh float64 array, column-major; changed in place
        if mean is not None:
            x -= mean
        if scale is not None:
            x /= scale
        p = (x @ coef_t + intercept).reshape(-1)
        expit(p, out=p)
        return np.stack([1 - p, p], axis=1)

    n = len(version.schema.names)
    rng = np.random.default_rng(20261123)
    probes = [tuple(r) for r in rng.normal(0, 3, (61, n)) * rng.choice([1, 10, 1e4], (61, n))]
    probes += [tuple([0.0] * n), tuple([1.0] * n), tuple([-1e6] * n)]
    try:
        reference = np.asarray(version._call(probes, array=False))
        ours = proba(np.asfortranarray(np.asarray(probes, dtype=float)))
        return proba if np.array_equal(ours, reference) else None
    except Exception:  # noqa: BLE001 - anything unexpected: the general path
        return None


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass
class Release:
    folder: Path
    name: str
    policy_text: str
    policy_sha256: str
    versions: dict[str, LoadedVersion] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # ref -> why it is not served


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{folder} holds no {MANIFEST}; it is not a release folder.") \
            from None
    except (OSError, ValueError) as err:
        raise ReleaseError(f"{path} cannot be read as JSON: {err}.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReleaseError(f"{path} is not a {FORMAT} manifest.")
    if not isinstance(data.get("versions"), list) or not isinstance(data.get("policy"), dict):
        raise ReleaseError(f"{path} lacks its versions or its policy.")
    return data


def _inside(folder: Path, name: Any) -> Path:
    """``folder/name``, refusing names that leave the folder."""
    if not isinstance(name, str) or not name or os.path.isabs(name) or ".." in Path(name).parts:
        raise ReleaseError(f"The manifest names the file {name!r}, outside the release folder.")
    return folder / name


def load_release(folder: str | Path) -> Release:
    """Read, verify and load the release in ``folder``; raises ReleaseError."""
    folder = Path(folder)
    data = _manifest(folder)
    policy = data["policy"]
    policy_path = _inside(folder, policy.get("file"))
    try:
        policy_bytes = policy_path.read_bytes()
    except OSError as err:
        raise ReleaseError(f"The routing policy {policy_path} cannot be read: "
                           f"{err.strerror}.") from None
    digest = hashlib.sha256(policy_bytes).hexdigest()
    if digest != policy.get("sha256"):
        raise ReleaseError(f"The routing policy {policy_path.name} has SHA-256 {digest}, not "
                           f"the approved {policy.get('sha256')}; the release is not served.")
    release = Release(folder, str(data.get("release", folder.name)),
                      policy_bytes.decode("utf-8"), digest)
    for entry in data["versions"]:
        ref = str(entry.get("ref") or "?")
        try:
            release.versions[ref] = _load_version(folder, entry)
        except ReleaseError as err:
            release.refused[ref] = str(err)
    return release


def _load_version(folder: Path, entry: Mapping[str, Any]) -> LoadedVersion:
    path = _inside(folder, entry.get("file"))
    if entry.get("format") != "skops":
        raise ReleaseError(f"format {entry.get('format')!r} is not served; releases carry "
                           "skops files.")
    if entry.get("task") not in TASKS:
        raise ReleaseError(f"task {entry.get('task')!r} is not one of {', '.join(TASKS)}.")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ReleaseError(f"{path.name} cannot be read: {err.strerror}.") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.get("sha256"):
        raise ReleaseError(f"{path.name} has SHA-256 {digest}, not the approved "
                           f"{entry.get('sha256')}; this version is not served.")
    try:
        schema = InputSchema.from_list(entry.get("input_schema") or [])
    except ValueError as err:
        raise ReleaseError(f"its input schema is malformed: {err}.") from None
    if not schema.names:
        raise ReleaseError("its input schema is empty.")
    import skops.io as sio

    trusted = [str(t) for t in entry.get("trusted_types") or ()]
    try:
        model = sio.loads(data, trusted=trusted)
    except Exception as err:  # untrusted types, or a file skops cannot read
        raise ReleaseError(f"{path.name} does not load with the types the console audited: "
                           f"{type(err).__name__}: {err}") from None
    classes = tuple(entry.get("classes") or ())
    if entry["task"] != "regression" and not classes:
        raise ReleaseError("a classifier's entry lists no classes.")
    version = LoadedVersion(str(entry["ref"]), digest, entry["task"], classes, schema, model)
    version = dataclasses.replace(version, takes_array=_takes_array(version))
    if version.takes_array:
        version = dataclasses.replace(version, fast=_scorecard(version))
    return version


def write_release(folder: str | Path, versions: Sequence[Mapping[str, Any]], policy_text: str,
                  *, release: str, created_by: str) -> dict[str, Any]:
    """Write a release folder. Each version: ``ref``, ``artifact`` (a path to the skops file),
    ``task``, ``classes``, ``input_schema``, ``trusted_types``. Returns the manifest."""
    folder = Path(folder)
    (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    entries = []
    for v in versions:
        data = Path(v["artifact"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        name = f"artifacts/{digest}.skops"
        (folder / name).write_bytes(data)
        entries.append({"ref": v["ref"], "file": name, "format": "skops", "sha256": digest,
                        "task": v["task"], "classes": list(v.get("classes") or ()),
                        "input_schema": list(v["input_schema"]),
                        "trusted_types": sorted(v.get("trusted_types") or ())})
    (folder / "policy.json").write_text(policy_text, encoding="utf-8")
    manifest = {"format": FORMAT, "release": release, "created_by": created_by,
                "policy": {"file": "policy.json",
                           "sha256": hashlib.sha256(policy_text.encode()).hexdigest()},
                "versions": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
