"""The error every artifact-format reader raises when Charter will not accept an artifact."""

from __future__ import annotations

from core.errors import KnownError

ACCEPTED_FORMATS = ("a skops file (.skops), an ONNX model (.onnx), an MLflow model folder or a "
                    ".zip/.tar.gz of one, or a pickle/joblib file only after a validator records "
                    "a trust decision")


class ArtifactRejected(KnownError):
    """Charter will not accept this artifact; the message says why and what to do instead."""

    code = "artifact_rejected"
