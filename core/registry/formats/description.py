"""What Charter records about a model artifact, whatever its format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput
from core.registry.datasets import FeatureSpec

FORMATS = ("skops", "onnx", "mlflow", "pickle")
TASKS = ("classification", "regression", "unknown")


@dataclass(frozen=True)
class ArtifactDescription:
    """The fingerprint and description of one artifact; immutable and JSON-serialisable.

    ``sha256`` is the SHA-256 of the artifact file's bytes; for an MLflow model *folder* it is
    :func:`core.registry.formats.mlflow_format.folder_sha256` (see there). ``details`` holds
    format-specific facts (MLflow flavours, ONNX opsets, how a pickle was sandboxed).
    """

    format: str
    sha256: str
    size: int
    model_type: str
    task: str = "unknown"
    classes: tuple[str, ...] | None = None
    input_schema: tuple[FeatureSpec, ...] = ()
    output_schema: tuple[Mapping[str, Any], ...] = ()
    library_versions: Mapping[str, str] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "sha256": self.sha256, "size": self.size,
            "model_type": self.model_type, "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "input_schema": [f.to_dict() for f in self.input_schema],
            "output_schema": [dict(o) for o in self.output_schema],
            "library_versions": dict(self.library_versions),
            "hyperparameters": dict(self.hyperparameters),
            "warnings": list(self.warnings), "details": dict(self.details),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactDescription:
        """Raises ``InvalidInput`` for a missing or wrongly typed field."""
        try:
            fmt, task = data["format"], data.get("task", "unknown")
            if fmt not in FORMATS or task not in TASKS:
                raise ValueError(f"format {fmt!r} / task {task!r}")
            classes = data.get("classes")
            json.dumps(data.get("hyperparameters", {}), allow_nan=False)
            return cls(
                format=fmt, sha256=str(data["sha256"]), size=int(data["size"]),
                model_type=str(data["model_type"]), task=task,
                classes=None if classes is None else tuple(str(c) for c in classes),
                input_schema=tuple(FeatureSpec.from_dict(f) for f in data.get("input_schema", ())),
                output_schema=tuple(dict(o) for o in data.get("output_schema", ())),
                library_versions={str(k): str(v)
                                  for k, v in dict(data.get("library_versions", {})).items()},
                hyperparameters=dict(data.get("hyperparameters", {})),
                warnings=tuple(str(w) for w in data.get("warnings", ())),
                details=dict(data.get("details", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"A stored artifact description is malformed: {exc}") from None


def from_model_facts(facts: Mapping[str, Any], *, fmt: str, sha256: str, size: int,
                     library_versions: Mapping[str, str] | None = None,
                     warnings: list[str] | tuple[str, ...] = (),
                     details: Mapping[str, Any] | None = None) -> ArtifactDescription:
    """Build a description from the plain dict :func:`sklearn_describe.describe_estimator` makes.

    The dict may come from the pickle sandbox, i.e. from code Charter does not trust: every field
    is validated here (``from_dict`` raises ``InvalidInput`` for anything malformed).
    """
    data = {
        "format": fmt, "sha256": sha256, "size": size,
        "model_type": facts.get("model_type", "unknown"), "task": facts.get("task", "unknown"),
        "classes": facts.get("classes"), "input_schema": facts.get("input_schema", []),
        "output_schema": facts.get("output_schema", []),
        "library_versions": {**dict(facts.get("library_versions", {})),
                             **dict(library_versions or {})},
        "hyperparameters": facts.get("hyperparameters", {}),
        "warnings": [*facts.get("warnings", []), *warnings], "details": dict(details or {}),
    }
    return ArtifactDescription.from_dict(data)
