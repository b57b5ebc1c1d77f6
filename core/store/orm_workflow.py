"""ORM classes of the workflow (issue 5): findings and electronic signatures.

Signatures are written once (database triggers refuse UPDATE and DELETE); findings move through
open -> remediated -> closed and are never deleted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.entities_workflow import Finding, Signature
from core.store.orm import Base, UtcTimestamp


class SqlFinding(Base):
    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    owner: Mapped[str] = mapped_column(String(64))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    remediation: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    row_version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (Index("ix_finding_version", "version_id", "status"),
                      Index("ix_finding_owner", "owner", "status"))

    def to_entity(self, model_name: str, version_number: int) -> Finding:
        return Finding(
            id=self.id, version_id=self.version_id, model_name=model_name,
            version_number=version_number, title=self.title, description=self.description,
            severity=self.severity, owner=self.owner, due_date=self.due_date,
            status=self.status, remediation=self.remediation, created_by=self.created_by,
            created_at=self.created_at, closed_by=self.closed_by, closed_at=self.closed_at)


class SqlSignature(Base):
    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    meaning: Mapped[str] = mapped_column(String(16))
    signer: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    documentation_sha256: Mapped[str | None] = mapped_column(String(64))
    documentation_source_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_signature_version", "version_id", "id"),)

    def to_entity(self, model_name: str, version_number: int, *, valid: bool = True,
                  invalid_reason: str | None = None) -> Signature:
        return Signature(
            id=self.id, version_id=self.version_id, model_name=model_name,
            version_number=version_number, meaning=self.meaning, signer=self.signer,
            printed_name=self.printed_name, role=self.role, reason=self.reason,
            signed_at=self.signed_at, artifact_sha256=self.artifact_sha256,
            documentation_sha256=self.documentation_sha256,
            documentation_source_sha256=self.documentation_source_sha256, valid=valid,
            invalid_reason=invalid_reason)


class SqlPolicyException(Base):
    """Use of a version before its sign-offs, approved by a manager until a date."""

    __tablename__ = "policy_exception"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"))
    granted_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    expires_on: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_policy_exception_version", "version_id", "id"),)


class SqlPriorValidation(Base):
    """A model's last validation done outside Charter (before it was adopted): the date the
    revalidation clock starts from until Charter records an approval. Written once."""

    __tablename__ = "prior_validation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    validated_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(200))
    validated_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcTimestamp)

    __table_args__ = (Index("ix_prior_validation_model", "model_id", "id"),)
