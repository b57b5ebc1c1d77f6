"""Entities of the model inventory and registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUSES = ("in_development", "in_use", "retired")
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
SOURCES = ("in_house", "vendor")
DATASET_ROLES = ("training", "reference", "holdout")

# The inventory fields a model-risk examiner expects filled in (OCC 2011-12 / SR 11-7 inventory:
# purpose and use, restrictions, owner, developer, risk rating, data, source), with labels.
REQUIRED_FIELDS: dict[str, str] = {
    "purpose": "Purpose",
    "intended_use": "Intended use",
    "restrictions": "Restrictions on use",
    "products": "Products or portfolios that use it",
    "methodology": "Methodology (model type)",
    "business_owner": "Business owner",
    "developer": "Developer",
    "risk_tier": "Risk tier",
    "data_classification": "Data classification",
    "uses_personal_data": "Whether it uses personal data",
    "vendor_name": "Vendor (for a vendor model)",
}


@dataclass(frozen=True)
class Model:
    id: int
    name: str
    purpose: str
    intended_use: str
    restrictions: str
    products: str
    methodology: str
    business_owner: str
    developer: str
    risk_tier: int | None
    data_classification: str
    uses_personal_data: bool | None
    source: str
    vendor_name: str
    status: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    retired_at: datetime | None
    version_count: int = 0
    latest_version: int | None = None
    # Written by the model's owner for the documentation (issue 4); not inventory fields.
    limitations: str = ""
    monitoring_plan: str = ""

    def missing_fields(self) -> list[str]:
        """Labels of the inventory fields still empty: the completeness check."""
        missing = []
        for key, label in REQUIRED_FIELDS.items():
            if key == "vendor_name" and self.source != "vendor":
                continue
            value = getattr(self, key)
            if value is None or (isinstance(value, str) and not value.strip()):
                missing.append(label)
        return missing


@dataclass(frozen=True)
class Dataset:
    id: int
    sha256: str
    name: str
    format: str
    size: int
    rows: int
    schema: Any
    info: Any
    has_profile: bool
    stored: bool
    created_at: datetime
    created_by: str
    role: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    id: int
    model_id: int
    model_name: str
    number: int
    label: str
    artifact_sha256: str
    artifact_format: str
    artifact_size: int
    description: Any
    input_schema: Any
    output_schema: Any
    library_versions: Any
    hyperparameters: Any
    metrics: Any
    training_dataset_sha256: str | None
    code_reference: str
    author: str
    created_at: datetime
    state: str
    datasets: tuple[Dataset, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ModelFilter:
    text: str | None = None  # matched against name, purpose, owner
    status: str | None = None
    risk_tier: int | None = None
    owner: str | None = None
    include_retired: bool = True
