"""Evaluating a model version on holdout data and recording the evidence.

The slow part (loading the verified artifact, reading the holdout, predicting, explaining) runs
before the store is written; only a finished evaluation is recorded, in one transaction with its
audit event. The record is immutable (database triggers) and bound to the SHA-256 of the
artifact, of the holdout file, and of its own canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.entities import Changes, Principal
from core.entities_validation import Evaluation
from core.errors import InvalidInput, NotFound
from core.permissions import Action, require
from core.registry.artifact_store import ArtifactCorrupt, ArtifactStore, StoredBlob
from core.services.importer import PreparedDataset, register_dataset
from core.services.settings import read as read_setting
from core.store.orm_registry import SqlDataset, SqlModel, SqlModelVersion, SqlVersionDataset
from core.store.orm_validation import SqlEvaluation
from core.store.uow import Store
from core.tasks import CancelToken, ProgressFn, no_progress
from core.timeutil import utcnow
from core.validation.evaluate import EvaluationSettings

CHANGES = Changes(kinds=frozenset({"evaluations"}), audit=True)
LIBRARIES = ("numpy", "pandas", "scikit-learn", "shap", "fairlearn", "skops", "onnxruntime")


@dataclass(frozen=True)
class EvaluationRequest:
    model: str
    version: int
    holdout: Path | None = None  # None: the version's registered holdout dataset
    settings: EvaluationSettings = EvaluationSettings()


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "item"):
        return finite(value.item())
    return value


def version_row(session: Session, model: str, number: int) -> tuple[SqlModel, SqlModelVersion]:
    """The model and its version ``number``; raises NotFound naming what exists."""
    row = session.execute(select(SqlModel).where(SqlModel.name == model)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no model named {model!r}.",
                       hint="`charter models list` shows the inventory.")
    version = session.execute(select(SqlModelVersion).where(
        SqlModelVersion.model_id == row.id, SqlModelVersion.number == number)
    ).scalar_one_or_none()
    if version is None:
        numbers = session.execute(select(SqlModelVersion.number).where(
            SqlModelVersion.model_id == row.id).order_by(SqlModelVersion.number)).scalars().all()
        raise NotFound(f"{model} has no version {number}"
                       + (f"; it has {', '.join(map(str, numbers))}." if numbers
                          else "; it has no versions yet."))
    return row, version


def parse_version_ref(text: str) -> tuple[str, int]:
    """``NAME@N`` (or ``NAME:N``) as (name, N); raises InvalidInput with the expected form."""
    for sep in ("@", ":"):
        name, found, number = text.rpartition(sep)
        if found and name.strip() and number.strip().isdigit():
            return name.strip(), int(number)
    raise InvalidInput(f"{text!r} does not name a version.",
                       hint="Write MODEL@VERSION, for example 'Screening classifier@2'.")


class EvaluationService:
    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    def evaluate(self, principal: Principal, req: EvaluationRequest, *,
                 progress: ProgressFn = no_progress,
                 cancel: CancelToken | None = None) -> tuple[Evaluation, Changes]:
        """Evaluate a version on a holdout and record the evidence.

        Raises PermissionDenied, NotFound, InvalidInput (holdout and model disagree, bad labels,
        wrong task, unknown sensitive feature, ...), DatasetRejected, ArtifactRejected (a format
        Charter does not load in the console), ArtifactCorrupt, Cancelled.
        Audit: ``dataset.registered`` (a holdout file seen for the first time) and
        ``evaluation.recorded``.
        """
        from core.registry.datasets import ensure_matches_schema, read_dataset
        from core.validation.evaluate import run_evaluation
        from core.validation.gates import thresholds_for
        from core.validation.predictor import load_predictor

        require(principal.role, Action.MODEL_EVALUATE)
        with self.store.unit_of_work(principal, write=False) as uow:
            model, version = version_row(uow.session, req.model, req.version)
            tier, sha, fmt = model.risk_tier, version.artifact_sha256, version.artifact_format
            identity = {"name": model.name, "version": version.number, "label": version.label,
                        "artifact_sha256": sha, "format": fmt, "risk_tier": tier}
            schema = json.loads(version.input_schema or "[]")
            outputs = [*self._training_target(uow.session, version, schema),
                       *(o.get("name") for o in json.loads(version.output_schema or "[]")
                         if isinstance(o, dict) and o.get("name"))]
            thresholds = thresholds_for(tier, lambda key: read_setting(uow.session, key))
            holdout_row = None if req.holdout is not None else self._holdout(uow.session, version)
            holdout_path = (Path(req.holdout) if req.holdout is not None
                            else self.artifacts.path_for(holdout_row.sha256))
        progress(2, 100)
        predictor = load_predictor(self.artifacts.read_bytes(sha), fmt,
                                   name=f"{req.model} version {req.version}")
        identity["model_type"] = predictor.model_type
        if cancel is not None:
            cancel.check()
        data = read_dataset(holdout_path, cancel=cancel,
                            fmt=holdout_row.format if holdout_row is not None else None)
        if holdout_row is not None and data.info.fingerprint != holdout_row.sha256:
            raise ArtifactCorrupt.mismatch(holdout_row.sha256, holdout_path,
                                           StoredBlob(data.info.fingerprint, data.info.size))
        if not predictor.features_unnamed and schema:
            # The import-time checks: missing inputs, wrong kinds, categories never seen.
            ensure_matches_schema(schema, data)
        progress(5, 100)
        frame = data.to_frame()
        evidence = run_evaluation(
            predictor, frame, req.settings, thresholds=thresholds, tier=tier,
            output_names=outputs, cancel=cancel,
            progress=lambda d, t: progress(5 + int(90 * d / max(t, 1)), 100))
        evidence["model"] = identity
        evidence["holdout"] = {"sha256": data.info.fingerprint,
                               "name": holdout_row.name if holdout_row else holdout_path.name,
                               **evidence["holdout"]}
        evidence["library_versions"] = _library_versions()
        evidence["created_at"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        evidence = finite(evidence)
        text = canonical_json(evidence)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if cancel is not None:
            cancel.check()
        if req.holdout is not None:
            self.artifacts.put_file(holdout_path, cancel=cancel)
        progress(97, 100)
        with self.store.unit_of_work(principal) as uow:
            model, version = version_row(uow.session, req.model, req.version)
            dataset = (uow.session.get(SqlDataset, holdout_row.id) if holdout_row is not None
                       else register_dataset(uow, principal, PreparedDataset(
                           holdout_path, "holdout", data.info, None), True))
            row = SqlEvaluation(
                version_id=version.id, artifact_sha256=sha, dataset_id=dataset.id,
                dataset_sha256=dataset.sha256, kind=evidence["kind"],
                gate_status=evidence["gates"]["status"], evidence=text, evidence_sha256=digest,
                created_at=utcnow(), created_by=principal.username)
            uow.session.add(row)
            uow.session.flush()
            uow.record("evaluation.recorded", "model", model.name, new={
                "version": version.number, "evaluation": row.id, "artifact_sha256": sha,
                "dataset_sha256": dataset.sha256, "evidence_sha256": digest,
                "gates": row.gate_status, "headline": headline(evidence)})
            result = row.to_entity(model.name, version.number)
        progress(100, 100)
        return result, CHANGES

    def evaluations(self, principal: Principal, model: str, version: int) -> list[Evaluation]:
        """Every evaluation of a version, newest first."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            m, v = version_row(uow.session, model, version)
            rows = uow.session.execute(select(SqlEvaluation).where(
                SqlEvaluation.version_id == v.id).order_by(SqlEvaluation.id.desc())).scalars()
            return [r.to_entity(m.name, v.number) for r in rows]

    def latest(self, principal: Principal, model: str, version: int) -> Evaluation | None:
        found = self.evaluations(principal, model, version)
        return found[0] if found else None

    def get(self, principal: Principal, evaluation_id: int) -> Evaluation:
        """One evaluation; its evidence is re-hashed and must match the recorded hash."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            row = uow.session.get(SqlEvaluation, evaluation_id)
            if row is None:
                raise NotFound(f"There is no evaluation {evaluation_id}.")
            version = uow.session.get(SqlModelVersion, row.version_id)
            model = uow.session.get(SqlModel, version.model_id)
            entity = row.to_entity(model.name, version.number)
        if hashlib.sha256(canonical_json(entity.evidence).encode()).hexdigest() \
                != entity.evidence_sha256:
            raise InvalidInput(f"Evaluation {evaluation_id}'s evidence no longer matches its "
                               "recorded hash; the store was changed outside Charter.",
                               hint="Verify the audit trail (charter audit verify) and restore "
                                    "the store from a backup.")
        return entity

    @staticmethod
    def _training_target(session: Session, version: SqlModelVersion, schema: list) -> list[str]:
        """The label column of the version's training data: its one column that is not an
        input (a holdout made the same way names its label the same)."""
        text = session.execute(select(SqlDataset.schema).join(SqlVersionDataset).where(
            SqlVersionDataset.version_id == version.id, SqlVersionDataset.role == "training")
        ).scalar()
        if text is None:
            return []
        inputs = {f.get("name") for f in schema if isinstance(f, dict)}
        extra = [c["name"] for c in json.loads(text) if c.get("name") not in inputs]
        return extra if len(extra) == 1 else []

    @staticmethod
    def _holdout(session: Session, version: SqlModelVersion) -> SqlDataset:
        row = session.execute(select(SqlDataset).join(SqlVersionDataset).where(
            SqlVersionDataset.version_id == version.id, SqlVersionDataset.role == "holdout")
        ).scalar_one_or_none()
        if row is None:
            raise InvalidInput("This version has no registered holdout dataset.",
                               hint="Choose a holdout file (--holdout FILE on the command line).")
        if not row.stored:
            raise InvalidInput(f"The holdout {row.name} was registered without keeping its data "
                               "(it was imported with --discard-datasets).",
                               hint="Choose the file again (--holdout FILE on the command line).")
        return row


def headline(evidence: dict) -> dict:
    """The few figures the audit event and lists show."""
    m = evidence.get("metrics") or {}
    keys = {"binary": ("roc_auc", "ks", "accuracy"), "multiclass": ("accuracy", "macro_f1"),
            "regression": ("rmse", "r2")}.get(evidence.get("kind"), ())
    return {k: m.get(k) for k in keys}


def _library_versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in ("charter", *LIBRARIES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
