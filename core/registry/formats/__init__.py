"""Artifact formats: recognise, fingerprint and describe a model artifact safely.

skops (Charter's trusted types), ONNX (onnxruntime), MLflow model folders or archives, and
pickle/joblib only after a trust decision and only in a restricted subprocess. scikit-learn,
skops, onnx and onnxruntime are imported inside the functions: importing this package loads none
of them.
"""

from core.registry.formats.api import convert_pickle_to_skops, describe_artifact
from core.registry.formats.description import ArtifactDescription
from core.registry.formats.errors import ACCEPTED_FORMATS, ArtifactRejected
from core.registry.formats.mlflow_format import folder_sha256
from core.registry.formats.trusted import CHARTER_TRUSTED_TYPES

__all__ = ["ACCEPTED_FORMATS", "CHARTER_TRUSTED_TYPES", "ArtifactDescription", "ArtifactRejected",
           "convert_pickle_to_skops", "describe_artifact", "folder_sha256"]
