"""Entities of the workflow: findings and electronic signatures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Finding:
    id: int
    version_id: int
    model_name: str
    version_number: int
    title: str
    description: str
    severity: str  # high, medium, low
    owner: str
    due_date: date | None
    status: str  # open, remediated, closed
    remediation: str
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Signature:
    """One electronic signature, bound to the hashes of what was signed.

    ``valid`` and ``invalid_reason`` are worked out when the signature is read: the artifact
    must still hash to ``artifact_sha256`` and the documentation must still say what it said.
    """

    id: int
    version_id: int
    model_name: str
    version_number: int
    meaning: str  # authored, validated, reviewed, approved, rejected
    signer: str
    printed_name: str
    role: str
    reason: str
    signed_at: datetime
    artifact_sha256: str
    documentation_sha256: str | None  # the PDF signed with, if any
    documentation_source_sha256: str | None
    valid: bool = True
    invalid_reason: str | None = None
