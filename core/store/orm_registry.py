"""ORM classes of the model inventory and registry (issue 3).

A model is an inventory record that is retired, never deleted. A model version is immutable once
created (database triggers refuse changes to what identifies it; only its lifecycle state moves).
Datasets are registered once per file fingerprint and linked to versions with a role.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.entities_registry import Dataset, Model, ModelVersion
from core.store.orm import Base, UtcTimestamp


def _json(text: str | None) -> object:
    return None if text is None else json.loads(text)


class SqlModel(Base):
    __tablename__ = "model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    intended_use: Mapped[str] = mapped_column(Text, default="")
    restrictions: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[str] = mapped_column(Text, default="")
    methodology: Mapped[str] = mapped_column(Text, default="")
    business_owner: Mapped[str] = mapped_column(String(200), default="")
    developer: Mapped[str] = mapped_column(String(200), default="")
    risk_tier: Mapped[int | None] = mapped_column(Integer)
    data_classification: Mapped[str] = mapped_column(String(32), default="")
    uses_personal_data: Mapped[bool | None] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16), default="in_house")
    vendor_name: Mapped[str] = mapped_column(String(200), default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    monitoring_plan: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="in_development")
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    retired_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    row_version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (Index("ix_model_status_name", "status", "name"),
                      Index("ix_model_tier_name", "risk_tier", "name"))

    def to_entity(self, version_count: int = 0, latest_version: int | None = None) -> Model:
        return Model(
            id=self.id, name=self.name, purpose=self.purpose, intended_use=self.intended_use,
            restrictions=self.restrictions, products=self.products, methodology=self.methodology,
            business_owner=self.business_owner, developer=self.developer,
            risk_tier=self.risk_tier, data_classification=self.data_classification,
            uses_personal_data=self.uses_personal_data, source=self.source,
            vendor_name=self.vendor_name, limitations=self.limitations,
            monitoring_plan=self.monitoring_plan, status=self.status, created_at=self.created_at,
            created_by=self.created_by, updated_at=self.updated_at, retired_at=self.retired_at,
            version_count=version_count, latest_version=latest_version,
        )


class SqlDataset(Base):
    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[str] = mapped_column(Text)  # JSON: [{"name", "kind", "categories"?}]
    info: Mapped[str] = mapped_column(Text)  # JSON: nulls and categories per column
    profile: Mapped[str | None] = mapped_column(Text)  # JSON reference profile
    stored: Mapped[bool] = mapped_column(Boolean)  # raw file kept in the artifact store
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    created_by: Mapped[str] = mapped_column(String(64))

    def to_entity(self, role: str | None = None) -> Dataset:
        return Dataset(id=self.id, sha256=self.sha256, name=self.name, format=self.format,
                       size=self.size, rows=self.rows, schema=_json(self.schema),
                       info=_json(self.info), has_profile=self.profile is not None,
                       stored=self.stored, created_at=self.created_at,
                       created_by=self.created_by, role=role)


class SqlModelVersion(Base):
    __tablename__ = "model_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64), default="")
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_format: Mapped[str] = mapped_column(String(16))
    artifact_size: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text)  # JSON ArtifactDescription
    input_schema: Mapped[str] = mapped_column(Text)
    output_schema: Mapped[str] = mapped_column(Text)
    library_versions: Mapped[str] = mapped_column(Text)
    hyperparameters: Mapped[str] = mapped_column(Text)
    metrics: Mapped[str] = mapped_column(Text)  # supplied at import
    training_dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    code_reference: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    state: Mapped[str] = mapped_column(String(32), default="draft")

    __table_args__ = (UniqueConstraint("model_id", "number", name="uq_model_version_number"),
                      Index("ix_model_version_created", "created_at", "id"),
                      Index("ix_model_version_artifact", "artifact_sha256"))

    def to_entity(self, model_name: str, datasets: tuple[Dataset, ...] = ()) -> ModelVersion:
        return ModelVersion(
            id=self.id, model_id=self.model_id, model_name=model_name, number=self.number,
            label=self.label, artifact_sha256=self.artifact_sha256,
            artifact_format=self.artifact_format, artifact_size=self.artifact_size,
            description=_json(self.description), input_schema=_json(self.input_schema),
            output_schema=_json(self.output_schema),
            library_versions=_json(self.library_versions),
            hyperparameters=_json(self.hyperparameters), metrics=_json(self.metrics),
            training_dataset_sha256=self.training_dataset_sha256,
            code_reference=self.code_reference, author=self.author,
            created_at=self.created_at, state=self.state, datasets=datasets,
        )


class SqlVersionDataset(Base):
    __tablename__ = "version_dataset"

    version_id: Mapped[int] = mapped_column(ForeignKey("model_version.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"), primary_key=True)


class SqlArtifactTrust(Base):
    """A validator's decision that a pickle/joblib artifact (by its SHA-256) may be inspected in
    the sandbox and converted. The decision is also in the audit trail (``artifact.trusted``)."""

    __tablename__ = "artifact_trust"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    decided_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UtcTimestamp)
