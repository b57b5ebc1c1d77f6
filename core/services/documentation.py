"""The model documentation PDF, generated from recorded evidence and recorded by its hash.

The PDF is rendered from the version, the model's inventory record and owner-written texts, and
one recorded evaluation. The bytes go into the artifact store (content-addressed), and a
documentation record with the PDF's SHA-256, and the SHA-256 of exactly what it was made from,
goes into the store with its audit event. The same sources and generation time give the same
bytes; the same sources at another time give the same content.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from core.entities import Changes, Principal
from core.entities_validation import Documentation
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.files import write_atomically
from core.permissions import Action, allowed, require
from core.registry.artifact_store import ArtifactStore
from core.services.evaluation import EvaluationService, canonical_json, version_row
from core.services.inventory import version_entity
from core.store.orm_validation import SqlDocumentation, SqlEvaluation
from core.store.uow import Store
from core.tasks import CancelToken, ProgressFn, no_progress
from core.timeutil import utcnow

CHANGES = Changes(kinds=frozenset({"documentation"}), audit=True)
_PAGE = re.compile(rb"/Type\s*/Page[^s]")


def _charter_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("charter")
    except metadata.PackageNotFoundError:
        return "unknown"


class DocumentationService:
    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts
        self.evaluations = EvaluationService(store, artifacts)

    def generate(self, principal: Principal, model: str, version: int, *,
                 evaluation_id: int | None = None, generated_at: datetime | None = None,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
                 ) -> tuple[Documentation, bytes, Changes]:
        """Render the documentation of ``model`` version ``version`` from its newest evaluation
        (or ``evaluation_id``), store the PDF and record it.

        Raises PermissionDenied (needs model.evaluate or report.export), NotFound, InvalidInput
        (an evaluation of another version, evidence that no longer matches its hash),
        StorageUnavailable, Cancelled. Audit: ``documentation.generated``.
        """
        from core.reports.documentation import DocumentationInput, render_documentation

        if not (allowed(principal.role, Action.MODEL_EVALUATE)
                or allowed(principal.role, Action.REPORT_EXPORT)):
            raise PermissionDenied(f"The {principal.role.label} role cannot generate model "
                                   "documentation.")
        with self.store.unit_of_work(principal, write=False) as uow:
            m, v = version_row(uow.session, model, version)
            model_entity = m.to_entity()
            version_entity_ = version_entity(uow.session, v, m.name)
            findings, signoffs = _findings_and_signoffs(uow.session, v.id)
            if evaluation_id is None:
                evaluation_id = uow.session.execute(
                    select(SqlEvaluation.id).where(SqlEvaluation.version_id == v.id)
                    .order_by(SqlEvaluation.id.desc()).limit(1)).scalar()
        evaluation = None
        if evaluation_id is not None:
            evaluation = self.evaluations.get(principal, evaluation_id)
            if evaluation.version_id != version_entity_.id:
                raise InvalidInput(f"Evaluation {evaluation_id} is of {evaluation.model_name} "
                                   f"version {evaluation.version_number}, not of this version.")
        progress(1, 4)
        if cancel is not None:
            cancel.check()
        doc = DocumentationInput(
            model=model_entity, version=version_entity_,
            evidence=evaluation.evidence if evaluation else None,
            evidence_sha256=evaluation.evidence_sha256 if evaluation else None,
            limitations=model_entity.limitations, monitoring_plan=model_entity.monitoring_plan,
            findings=findings, signoffs=signoffs, generated_by=principal.username,
            charter_version=_charter_version())
        when = generated_at or utcnow()
        pdf = render_documentation(doc, when)
        progress(3, 4)
        blob = self.artifacts.put_bytes(pdf)
        source = _source_sha256(doc)
        with self.store.unit_of_work(principal) as uow:
            m, v = version_row(uow.session, model, version)
            row = SqlDocumentation(
                version_id=v.id, evaluation_id=evaluation.id if evaluation else None,
                pdf_sha256=blob.sha256, size=blob.size, pages=len(_PAGE.findall(pdf)),
                source_sha256=source, generated_at=when, generated_by=principal.username)
            uow.session.add(row)
            uow.session.flush()
            uow.record("documentation.generated", "model", m.name, new={
                "version": v.number, "documentation": row.id, "pdf_sha256": blob.sha256,
                "evaluation": row.evaluation_id,
                "evidence_sha256": evaluation.evidence_sha256 if evaluation else None,
                "source_sha256": source, "pages": row.pages})
            result = row.to_entity(m.name, v.number)
        progress(4, 4)
        return result, pdf, CHANGES

    def export(self, principal: Principal, model: str, version: int, dest: Path, **kw
               ) -> tuple[Documentation, Changes]:
        """Generate (as :meth:`generate`) and write the PDF to ``dest`` atomically."""
        record, pdf, changes = self.generate(principal, model, version, **kw)
        write_atomically(Path(dest), pdf)
        return record, changes

    def documents(self, principal: Principal, model: str, version: int) -> list[Documentation]:
        """Every documentation PDF generated for a version, newest first."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            m, v = version_row(uow.session, model, version)
            rows = uow.session.execute(select(SqlDocumentation).where(
                SqlDocumentation.version_id == v.id).order_by(SqlDocumentation.id.desc()))
            return [r.to_entity(m.name, v.number) for r in rows.scalars()]

    def pdf(self, principal: Principal, documentation_id: int) -> bytes:
        """The PDF's bytes, verified against the recorded SHA-256 (ArtifactCorrupt if not)."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            row = uow.session.get(SqlDocumentation, documentation_id)
            if row is None:
                raise NotFound(f"There is no documentation {documentation_id}.")
            sha = row.pdf_sha256
        return self.artifacts.read_bytes(sha)


def _findings_and_signoffs(session, version_id: int) -> tuple[list[dict], list[dict]]:  # noqa: ANN001
    """The version's findings and signatures, as the documentation prints them."""
    from core.store.orm_workflow import SqlFinding, SqlSignature

    findings = [{"id": f.id, "severity": f.severity, "title": f.title, "status": f.status,
                 "text": f.description + (f"\nRemediation: {f.remediation}" if f.remediation
                                          else "")}
                for f in session.execute(select(SqlFinding).where(
                    SqlFinding.version_id == version_id).order_by(SqlFinding.id)).scalars()]
    roles = {"authored": "Model owner", "validated": "Validator",
             "reviewed": "Compliance officer", "approved": "Approving manager",
             "rejected": "Approving manager"}
    signoffs = [{"role": roles[g.meaning], "name": f"{g.printed_name} ({g.signer})",
                 "decision": g.meaning, "at": g.signed_at}
                for g in session.execute(select(SqlSignature).where(
                    SqlSignature.version_id == version_id).order_by(SqlSignature.id)).scalars()]
    return findings, signoffs


def _source_sha256(doc) -> str:  # noqa: ANN001
    """SHA-256 of what the PDF documents: the model record with the owner's texts, the version,
    the evidence."""
    from dataclasses import asdict

    model = {k: v if not isinstance(v, datetime) else v.isoformat()
             for k, v in asdict(doc.model).items()
             if k not in ("updated_at", "version_count", "latest_version")}
    # Findings and sign-offs are printed but left out: they are the workflow's own records, and
    # a signature bound to this documentation must not stop holding because the PDF was made
    # again to show the findings closed or the signatures given.
    source = {"model": model, "version": doc.version.id, "artifact": doc.version.artifact_sha256,
              "evidence_sha256": doc.evidence_sha256}
    return hashlib.sha256(canonical_json(source).encode()).hexdigest()
