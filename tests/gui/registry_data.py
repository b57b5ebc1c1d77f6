"""Models and versions for the registry GUI tests and screenshots.

Versions are inserted directly through the ORM classes (the importer is tested on its own);
bulk models too, so a test can have hundreds without hundreds of audited transactions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from core.store.orm_registry import SqlDataset, SqlModel, SqlModelVersion, SqlVersionDataset
from core.store.uow import Store
from core.timeutil import utcnow

COMPLETE: dict[str, Any] = {
    "purpose": "Probability of default for retail card applications",
    "intended_use": "Credit decisions on new card applications",
    "restrictions": "Not for small-business lending",
    "products": "Credit cards",
    "methodology": "Gradient-boosted trees",
    "business_owner": "Retail Credit",
    "developer": "Dana Scientist",
    "risk_tier": 1,
    "data_classification": "confidential",
    "uses_personal_data": True,
    "source": "in_house",
    "status": "in_use",
}

INPUT_SCHEMA = [
    {"name": "age", "kind": "number"},
    {"name": "income", "kind": "number"},
    {"name": "region", "kind": "category", "categories": ["north", "south", "west"]},
]
OUTPUT_SCHEMA = [{"name": "label", "kind": "category", "categories": [0, 1]},
                 {"name": "probability", "kind": "number"}]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def bulk_models(store: Store, count: int, *, prefix: str = "model", **fields: Any) -> list[str]:
    """Insert ``count`` models named ``{prefix}-0000``... (no audit events: test data)."""
    now = utcnow()
    names = [f"{prefix}-{i:04d}" for i in range(count)]
    with store.unit_of_work() as uow:
        for i, name in enumerate(names):
            uow.session.add(SqlModel(name=name, created_at=now, updated_at=now,
                                     created_by="dana",
                                     **{"purpose": f"Purpose {i}", **fields}))
    return names


def add_version(store: Store, model_name: str, number: int, *, label: str = "",
                fmt: str = "skops", author: str = "dana", datasets: bool = True) -> str:
    """Insert version ``number`` of a model with a training and a holdout dataset; returns the
    artifact's SHA-256."""
    from sqlalchemy import select

    artifact = sha(f"{model_name}/{number}")
    with store.unit_of_work() as uow:
        s = uow.session
        model_id = s.execute(select(SqlModel.id).where(SqlModel.name == model_name)).scalar_one()
        training = sha(f"{model_name}/{number}/training")
        version = SqlModelVersion(
            model_id=model_id, number=number, label=label, artifact_sha256=artifact,
            artifact_format=fmt, artifact_size=48_213 + number,
            description=json.dumps({"format": fmt, "task": "classification"}),
            input_schema=json.dumps(INPUT_SCHEMA), output_schema=json.dumps(OUTPUT_SCHEMA),
            library_versions=json.dumps({"scikit-learn": "1.5.2", "numpy": "2.1.3"}),
            hyperparameters=json.dumps({"max_depth": 3 + number, "learning_rate": 0.1}),
            metrics=json.dumps({"auc": round(0.70 + number / 100, 3), "ks": 0.41}),
            training_dataset_sha256=training if datasets else None,
            code_reference=f"git@git.bank.example:risk/pd.git#v{number}", author=author,
            created_at=utcnow() - timedelta(days=30 - number), state="draft")
        s.add(version)
        s.flush()
        if datasets:
            for role, digest, rows in (("training", training, 12_000),
                                       ("holdout", sha(f"{model_name}/{number}/holdout"), 3_000)):
                ds = SqlDataset(sha256=digest, name=f"{model_name}-{role}.csv", format="csv",
                                size=rows * 40, rows=rows, schema=json.dumps(INPUT_SCHEMA),
                                info="{}", profile="{}" if role == "training" else None,
                                stored=True, created_at=utcnow(), created_by=author)
                s.add(ds)
                s.flush()
                s.add(SqlVersionDataset(version_id=version.id, role=role, dataset_id=ds.id))
    return artifact
