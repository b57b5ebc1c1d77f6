"""Entities of validation: evaluation evidence records and generated documentation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Evaluation:
    """One immutable evaluation record. ``evidence`` is the charter-evaluation/1 dict whose
    canonical JSON hashes to ``evidence_sha256``."""

    id: int
    version_id: int
    model_name: str
    version_number: int
    artifact_sha256: str
    dataset_sha256: str
    kind: str
    gate_status: str
    evidence: Any
    evidence_sha256: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Documentation:
    """A generated documentation PDF: its hash (the bytes are in the artifact store)."""

    id: int
    version_id: int
    model_name: str
    version_number: int
    evaluation_id: int | None
    pdf_sha256: str
    size: int
    pages: int
    source_sha256: str
    generated_at: datetime
    generated_by: str
