"""Importing a model version: artifact, datasets, schema checks, reference profile, lineage.

The slow and fallible work (hashing, describing the artifact, reading datasets, checking them
against the model's schema, profiling) happens before the database is touched; only when all of
it succeeded is one transaction written: the model (if new), the datasets, the version and their
audit events. A refused import therefore changes nothing but the artifact store, whose blobs are
content-addressed and harmless to keep.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.entities import Changes, Principal
from core.entities_registry import DATASET_ROLES, ModelVersion
from core.errors import AlreadyExists, InvalidInput
from core.permissions import Action, require
from core.registry.artifact_store import ArtifactStore, hash_file
from core.services.inventory import (
    add_model,
    check_model_name,
    check_text,
    clean_fields,
    version_entity,
)
from core.store.orm_registry import (
    SqlArtifactTrust,
    SqlDataset,
    SqlModel,
    SqlModelVersion,
    SqlVersionDataset,
)
from core.store.uow import Store
from core.tasks import CancelToken, ProgressFn, no_progress
from core.timeutil import utcnow


@dataclass(frozen=True)
class ImportRequest:
    model: str
    artifact: Path
    datasets: Sequence[tuple[Path, str]] = ()  # (file, role): training, reference, holdout
    model_fields: Mapping[str, Any] = field(default_factory=dict)  # for a new model
    code_reference: str = ""
    label: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    # Keep the raw dataset files in the artifact store (validation re-reads the holdout data);
    # False keeps only fingerprint, description and profile, for data that must not be copied.
    keep_datasets: bool = True


@dataclass(frozen=True)
class PreparedDataset:
    path: Path
    role: str
    info: Any
    profile: dict | None


class ImportService:
    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    def trust_pickle(self, principal: Principal, artifact: Path, *, reason: str) -> Changes:
        """Record a validator's decision that this pickle/joblib file (by its SHA-256) may be
        inspected in the sandbox. Audit: ``artifact.trusted``."""
        require(principal.role, Action.ARTIFACT_TRUST)
        reason = check_text("reason", reason)
        if not reason:
            raise InvalidInput("Say why this pickle is trusted; it goes into the audit trail.")
        sha = _identity(Path(artifact))
        with self.store.unit_of_work(principal) as uow:
            if uow.session.get(SqlArtifactTrust, sha) is not None:
                return Changes()
            uow.session.add(SqlArtifactTrust(sha256=sha, file_name=Path(artifact).name[:255],
                                             decided_by=principal.username, reason=reason,
                                             decided_at=utcnow()))
            uow.record("artifact.trusted", "artifact", sha, reason=reason,
                       new={"file": Path(artifact).name, "format": "pickle"})
        return Changes(audit=True)

    def convert_pickle(self, principal: Principal, artifact: Path, dest: Path) -> Changes:
        """Convert a trusted pickle/joblib model to skops (in the sandbox), so later versions can
        be imported without trusting a pickle. The result is loaded back with Charter's trusted
        types before it is written. Raises PermissionDenied, InvalidInput (no trust decision),
        ArtifactRejected. Audit: ``artifact.converted``."""
        from core.registry.formats import convert_pickle_to_skops

        require(principal.role, Action.ARTIFACT_TRUST)
        source = _identity(Path(artifact))
        if not self._is_trusted(principal, source):
            raise InvalidInput("Record the trust decision first: charter artifact trust FILE "
                               "--reason ...")
        convert_pickle_to_skops(Path(artifact), Path(dest))
        result = hash_file(Path(dest)).sha256
        with self.store.unit_of_work(principal) as uow:
            uow.record("artifact.converted", "artifact", source,
                       new={"to_format": "skops", "sha256": result, "file": Path(dest).name})
        return Changes(audit=True)

    def import_version(self, principal: Principal, req: ImportRequest, *,
                       progress: ProgressFn = no_progress,
                       cancel: CancelToken | None = None) -> tuple[ModelVersion, Changes]:
        """Import ``req.artifact`` as the next version of ``req.model`` (created if new).

        Raises PermissionDenied, InvalidInput, ArtifactRejected (format, corrupt, untrusted
        pickle), DatasetRejected (with every schema disagreement), AlreadyExists (the same
        artifact is already a version of this model), StorageUnavailable, Cancelled.
        Audit: ``model.created`` (new model), ``dataset.registered`` (new datasets),
        ``version.created``.
        """
        from core.registry.datasets import DatasetRejected, ensure_matches_schema, read_dataset
        from core.registry.formats import describe_artifact
        from core.registry.profile import compute_profile

        require(principal.role, Action.MODEL_IMPORT)
        name = check_model_name(req.model)
        roles = [role for _, role in req.datasets]
        for role in roles:
            if role not in DATASET_ROLES:
                raise InvalidInput(f"{role!r} is not a dataset role; use one of "
                                   f"{', '.join(DATASET_ROLES)}.")
        if len(set(roles)) != len(roles):
            raise InvalidInput("Give at most one dataset per role.")
        metrics = {str(k): _metric(k, v) for k, v in req.metrics.items()}
        artifact = Path(req.artifact)
        _check_size(artifact)
        trusted = self._is_trusted(principal, _identity(artifact))
        progress(1, 10)
        description = describe_artifact(artifact, trusted_pickle=trusted, cancel=cancel)
        schema = list(description.input_schema)
        prepared = []
        for i, (path, role) in enumerate(req.datasets):
            if cancel is not None:
                cancel.check()
            try:
                data = read_dataset(Path(path), cancel=cancel)
                ensure_matches_schema(schema, data)
            except DatasetRejected as err:  # with several datasets, say which one
                message = err.message[:1].lower() + err.message[1:]
                raise DatasetRejected(f"{role.capitalize()} dataset {Path(path).name}: {message}",
                                      hint=err.hint, disagreements=err.disagreements) from None
            profile = None
            if role in ("reference", "training"):
                names = [f.name for f in schema] or None
                table = data.table.select(names) if names else data.table
                profile = compute_profile(table, cancel=cancel)
            prepared.append(PreparedDataset(Path(path), role, data.info, profile))
            progress(2 + i * 2, 10)
        with tempfile.TemporaryDirectory(prefix="charter-import-") as scratch:
            blob = self.artifacts.put_file(_artifact_file(artifact, Path(scratch)),
                                           cancel=cancel)
        if req.keep_datasets:
            for p in prepared:
                self.artifacts.put_file(p.path, cancel=cancel)
        progress(9, 10)
        return self._save(principal, name, req, description, blob, prepared, metrics)

    # -- the one transaction -------------------------------------------------------------------
    def _save(self, principal, name, req, description, blob, prepared, metrics):  # noqa: ANN001, ANN202
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            model = s.execute(select(SqlModel).where(SqlModel.name == name)).scalar_one_or_none()
            if model is None:
                model = add_model(uow, principal, name, clean_fields(req.model_fields))
            elif model.status == "retired":
                raise InvalidInput(f"{name} is retired; a retired model takes no new versions.")
            dup = s.execute(select(SqlModelVersion.number).where(
                SqlModelVersion.model_id == model.id,
                SqlModelVersion.artifact_sha256 == blob.sha256)).scalar()
            if dup is not None:
                raise AlreadyExists(
                    f"This artifact is already version {dup} of {name} "
                    f"(SHA-256 {blob.sha256[:12]}…).",
                    hint="A version is immutable; import a changed artifact as a new version.")
            number = (s.execute(select(func.max(SqlModelVersion.number)).where(
                SqlModelVersion.model_id == model.id)).scalar() or 0) + 1
            links = []
            for p in prepared:
                links.append((register_dataset(uow, principal, p, req.keep_datasets), p.role))
            training = next((ds.sha256 for ds, role in links if role == "training"), None)
            d = description.to_dict()
            row = SqlModelVersion(
                model_id=model.id, number=number, label=check_text("label", req.label, limit=64),
                artifact_sha256=blob.sha256, artifact_format=description.format,
                artifact_size=blob.size, description=_dump(d),
                input_schema=_dump(d.get("input_schema", [])),
                output_schema=_dump(d.get("output_schema", [])),
                library_versions=_dump(d.get("library_versions", {})),
                hyperparameters=_dump(d.get("hyperparameters", {})), metrics=_dump(metrics),
                training_dataset_sha256=training,
                code_reference=check_text("code reference", req.code_reference, limit=500),
                author=principal.username, created_at=utcnow(), state="draft")
            s.add(row)
            s.flush()
            for ds, role in links:
                s.add(SqlVersionDataset(version_id=row.id, role=role, dataset_id=ds.id))
            s.flush()
            uow.record("version.created", "model", name, new={
                "version": number, "artifact_sha256": blob.sha256,
                "format": description.format, "datasets": {r: ds.sha256 for ds, r in links},
                "code_reference": row.code_reference})
            version = version_entity(s, row, name)
        return version, Changes(kinds=frozenset({"models", "versions"}), audit=True)

    def _is_trusted(self, principal: Principal, sha: str) -> bool:
        with self.store.unit_of_work(principal, write=False) as uow:
            return uow.session.get(SqlArtifactTrust, sha) is not None


def _identity(path: Path) -> str:
    """What a trust decision is bound to: the file's SHA-256, or for an MLflow model folder the
    hash over its files (core.registry.formats.folder_sha256)."""
    if path.is_dir():
        from core.registry.formats import folder_sha256

        return folder_sha256(path)[0]
    return hash_file(path).sha256


def _artifact_file(path: Path, scratch: Path) -> Path:
    """The file to store: the artifact itself, or for an MLflow model folder a zip of it built
    deterministically (sorted names, fixed times), so the same folder always hashes the same."""
    if not path.is_dir():
        return path
    target = scratch / f"{path.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
            info = zipfile.ZipInfo(file.relative_to(path).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, file.read_bytes())
    return target


# Describing an artifact loads it into memory; anything larger is refused before it is read.
# (Datasets are bounded by memory too; artifacts are hashed streaming whatever their size.)
MAX_ARTIFACT_BYTES = 4 << 30


def _check_size(path: Path) -> None:
    try:
        size = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                if path.is_dir() else path.stat().st_size)
    except OSError as err:
        raise InvalidInput(f"Cannot read the artifact {path}: {err.strerror}.") from None
    if size > MAX_ARTIFACT_BYTES:
        raise InvalidInput(
            f"The artifact {path.name} is {size / 2**30:.1f} GiB; Charter loads artifacts to "
            f"describe them and accepts up to {MAX_ARTIFACT_BYTES / 2**30:.0f} GiB.",
            hint="Check that this is the model file and not, say, a data export; a model this "
                 "large needs a reviewed exception.")


def _metric(key: Any, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"Metric {key!r} must be a number; got {value!r}.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"Metric {key!r} must be a finite number.")
    return number


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def register_dataset(uow, principal: Principal, p: PreparedDataset, stored: bool) -> SqlDataset:  # noqa: ANN001
    from core.registry.profile import profile_json

    info = p.info
    row = uow.session.execute(
        select(SqlDataset).where(SqlDataset.sha256 == info.fingerprint)).scalar_one_or_none()
    if row is not None:
        if row.profile is None and p.profile is not None:
            row.profile = profile_json(p.profile)
        return row
    row = SqlDataset(
        sha256=info.fingerprint, name=check_text("dataset name", p.path.name, limit=255),
        format=info.format, size=info.size, rows=info.rows,
        schema=_dump([{"name": n, "kind": k} for n, k in info.schema]),
        info=_dump(_info_dict(info)),
        profile=profile_json(p.profile) if p.profile is not None else None, stored=stored,
        created_at=utcnow(), created_by=principal.username)
    uow.session.add(row)
    uow.session.flush()
    uow.record("dataset.registered", "dataset", info.fingerprint,
               new={"name": row.name, "rows": info.rows, "format": info.format})
    return row


def _info_dict(info: Any) -> dict:
    return {"rows": info.rows, "columns": [
        {"name": c.name, "kind": c.kind, "nulls": c.nulls, "distinct": c.distinct,
         "categories": dict(c.categories) if c.categories else None} for c in info.columns]}
