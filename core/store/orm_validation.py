"""ORM classes of evaluations and generated documentation (issue 4).

Both are evidence: written once and never changed or deleted (database triggers refuse it). An
evaluation is bound to the artifact and holdout hashes it was computed from and carries the
SHA-256 of its own canonical JSON; a documentation record carries the SHA-256 of the PDF, whose
bytes are kept in the artifact store.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.entities_validation import Documentation, Evaluation
from core.store.orm import Base, UtcTimestamp


class SqlEvaluation(Base):
    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"))
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # binary, multiclass, regression
    gate_status: Mapped[str] = mapped_column(String(16))  # passed, failed, incomplete
    evidence: Mapped[str] = mapped_column(Text)  # canonical JSON (charter-evaluation/1)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_evaluation_version", "version_id", "id"),)

    def to_entity(self, model_name: str, version_number: int) -> Evaluation:
        return Evaluation(
            id=self.id, version_id=self.version_id, model_name=model_name,
            version_number=version_number, artifact_sha256=self.artifact_sha256,
            dataset_sha256=self.dataset_sha256, kind=self.kind, gate_status=self.gate_status,
            evidence=json.loads(self.evidence), evidence_sha256=self.evidence_sha256,
            created_at=self.created_at, created_by=self.created_by)


class SqlDocumentation(Base):
    __tablename__ = "documentation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation.id"))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))  # of what the PDF was made from
    generated_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    generated_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_documentation_version", "version_id", "id"),)

    def to_entity(self, model_name: str, version_number: int) -> Documentation:
        return Documentation(
            id=self.id, version_id=self.version_id, model_name=model_name,
            version_number=version_number, evaluation_id=self.evaluation_id,
            pdf_sha256=self.pdf_sha256, size=self.size, pages=self.pages,
            source_sha256=self.source_sha256, generated_at=self.generated_at,
            generated_by=self.generated_by)
