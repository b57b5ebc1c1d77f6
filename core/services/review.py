"""Offline review: exporting a review package and importing the reviewer's response.

The package format and its verification live in ``core.workflow.review_package`` (no store).
Here the store's side: what goes into a package, the ``review.exported`` event that records the
manifest's SHA-256 (the package's only anchor: there is no key infrastructure), and the import
of a response, which is checked against that event and against the version as it is now, and
whose signature is made by :meth:`WorkflowService.transition` with the password entered at
import, so every check a signature gets in the console applies.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from core import audit
from core.entities import Changes, Principal
from core.errors import InvalidInput, KnownError, PermissionDenied
from core.files import write_atomically
from core.permissions import Action, allowed, require
from core.registry.artifact_store import ArtifactStore
from core.services.documentation import DocumentationService
from core.services.evaluation import EvaluationService, version_row
from core.services.workflow import WorkflowService
from core.store.opening import store_info
from core.store.orm import SqlAuditEvent
from core.store.orm_validation import SqlDocumentation
from core.store.orm_workflow import SqlFinding
from core.store.uow import Store
from core.timeutil import to_iso, utcnow
from core.workflow.review_package import ReviewResponse, build_package, read_response

CHANGES = Changes(audit=True)
IMPORT_CHANGES = Changes(kinds=frozenset({"versions", "workflow"}), audit=True)
_T = SqlAuditEvent.__table__


def _plain(value: Any) -> Any:
    """Entities as JSON-ready values (datetimes as ISO text)."""
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class ReviewService:
    def __init__(self, store: Store, artifacts: ArtifactStore, workflow: WorkflowService,
                 documentation: DocumentationService, evaluations: EvaluationService) -> None:
        self.store = store
        self.artifacts = artifacts
        self.workflow = workflow
        self.documentation = documentation
        self.evaluations = evaluations

    # -- export ---------------------------------------------------------------------------------
    def export(self, principal: Principal, model: str, version: int,
               dest: Path) -> tuple[str, Changes]:
        """Write the review package of ``model`` version ``version`` to ``dest`` and return the
        manifest's SHA-256 (the reviewer's response must name it).

        Raises PermissionDenied (needs report.export or compliance.sign), NotFound, InvalidInput
        (no documentation yet; a destination that cannot be written), ArtifactCorrupt (the
        artifact or the PDF changed on disk). Audit: ``review.exported``.
        """
        if not (allowed(principal.role, Action.REPORT_EXPORT)
                or allowed(principal.role, Action.COMPLIANCE_SIGN)):
            raise PermissionDenied(f"The {principal.role.label} role cannot export review "
                                   "packages.")
        docs = self.documentation.documents(principal, model, version)
        if not docs:
            raise InvalidInput(f"{model} version {version} has no documentation yet; a review "
                               "package carries the documentation PDF.",
                               hint="Generate the documentation first (Validation tab, or "
                                    "charter report documentation).")
        doc = docs[0]
        pdf = self.documentation.pdf(principal, doc.id)  # verified against its hash
        latest = self.evaluations.latest(principal, model, version)
        evaluation = self.evaluations.get(principal, latest.id) if latest else None
        signatures = self.workflow.signatures(principal, model, version)
        with self.store.unit_of_work(principal, write=False) as uow:
            s = uow.session
            m, v = version_row(s, model, version)
            findings = [r.to_entity(m.name, v.number) for r in s.execute(
                select(SqlFinding).where(SqlFinding.version_id == v.id)
                .order_by(SqlFinding.id)).scalars()]
            rows = s.execute(select(*audit._COLUMNS).where(or_(
                (_T.c.object_type == "model") & (_T.c.object_id == m.name),
                (_T.c.object_type == "finding")
                & _T.c.object_id.in_([str(f.id) for f in findings])))
                .order_by(_T.c.seq)).all()
            name, number, state, sha = m.name, v.number, v.state, v.artifact_sha256
        self.artifacts.verify(sha)
        info = store_info(self.store)
        manifest = {
            "model": name, "version": number, "state": state, "artifact_sha256": sha,
            "documentation": {"id": doc.id, "pdf_sha256": doc.pdf_sha256,
                              "source_sha256": doc.source_sha256,
                              "generated_at": to_iso(doc.generated_at),
                              "generated_by": doc.generated_by},
            "created_at": to_iso(utcnow()), "created_by": principal.username,
            "store": {"store_id": info.get("store_id"), "location": self.store.location}}
        evidence = {
            "evaluation": None if evaluation is None else {
                "id": evaluation.id, "kind": evaluation.kind,
                "gate_status": evaluation.gate_status,
                "artifact_sha256": evaluation.artifact_sha256,
                "dataset_sha256": evaluation.dataset_sha256,
                "created_at": to_iso(evaluation.created_at),
                "created_by": evaluation.created_by,
                "evidence": evaluation.evidence,
                "evidence_sha256": evaluation.evidence_sha256},
            "findings": _plain([asdict(f) for f in findings]),
            "signatures": _plain([asdict(g) for g in signatures])}
        data, manifest_sha = build_package(manifest, pdf, evidence, [tuple(r) for r in rows])
        write_atomically(Path(dest), data)
        with self.store.unit_of_work(principal) as uow:
            uow.record("review.exported", "model", name, new={
                "version": number, "manifest_sha256": manifest_sha, "file": Path(dest).name,
                "artifact_sha256": sha, "documentation": doc.id,
                "documentation_sha256": doc.pdf_sha256,
                "documentation_source_sha256": doc.source_sha256,
                "evaluation": evaluation.id if evaluation else None,
                "audit_events": len(rows)})
        return manifest_sha, CHANGES

    # -- import ---------------------------------------------------------------------------------
    def import_response(self, principal: Principal, path: Path,
                        password: str) -> tuple[dict[str, Any], Changes]:
        """Import a reviewer's response file: record its comments and, if it asks for one,
        apply the reviewer's compliance signature ("review" step) with ``password``.

        Refused (and nothing changed but the refusal's audit event) when the file was edited,
        names a package this store never exported, the version's artifact or documentation
        changed since the export, the importing user is not the reviewer, the response was
        imported before, the password is wrong (counts toward lock-out) or the signature itself
        is refused by the workflow. Raises InvalidInput, PermissionDenied,
        AuthenticationFailed, ArtifactCorrupt, NotFound.
        Audit: ``review.comments_imported`` (and the workflow's ``version.review``), or
        ``review.import_refused`` with the reason.
        """
        require(principal.role, Action.MODEL_READ)
        path = Path(path)
        response: ReviewResponse | None = None
        try:
            response = read_response(path)
            exported = self._check(principal, response)
            signature = None
            if response.sign:
                outcome, _ = self.workflow.transition(
                    principal, response.model, response.version, "review",
                    reason=response.reason or "", password=password)
                signature = outcome.signature
            else:
                self.workflow.auth.confirm_identity(principal, password,
                                                    purpose="review response import")
        except KnownError as refusal:
            self._refused(principal, path, response, refusal)
            raise
        with self.store.unit_of_work(principal) as uow:
            uow.record("review.comments_imported", "model", response.model, new={
                "version": response.version, "reviewer": response.reviewer,
                "manifest_sha256": response.package_manifest_sha256,
                "response_sha256": response.sha256, "comments": list(response.comments),
                "written_at": response.created_at, "exported_by": exported["actor"],
                "signature": signature.id if signature else None})
        summary = {"model": response.model, "version": response.version,
                   "reviewer": response.reviewer, "comments": len(response.comments),
                   "signature": None if signature is None else _plain(asdict(signature))}
        return summary, IMPORT_CHANGES

    def _check(self, principal: Principal, response: ReviewResponse) -> dict[str, Any]:
        """Everything about a response that needs no password; returns the export event."""
        if response.reviewer != principal.username:
            raise PermissionDenied(f"This response was written by {response.reviewer}; only "
                                   f"{response.reviewer} can import it.")
        with self.store.unit_of_work(principal, write=False) as uow:
            s = uow.session
            events = s.execute(select(_T.c.actor, _T.c.new_values, _T.c.action).where(
                _T.c.action.in_(("review.exported", "review.comments_imported")),
                _T.c.object_type == "model", _T.c.object_id == response.model)).all()
            exported = None
            for actor, new, action in events:
                values = json.loads(new or "{}")
                if action == "review.comments_imported" \
                        and values.get("response_sha256") == response.sha256:
                    raise InvalidInput("This response was imported already; nothing was "
                                       "changed.")
                if action == "review.exported" and values.get("version") == response.version \
                        and values.get("manifest_sha256") == response.package_manifest_sha256:
                    exported = {**values, "actor": actor}
            if exported is None:
                raise InvalidInput(
                    f"This store never exported the package the response answers (manifest "
                    f"{response.package_manifest_sha256[:12]}… for {response.model} version "
                    f"{response.version}).",
                    hint="Import the response into the store the package came from.")
            m, v = version_row(s, response.model, response.version)
            sha = v.artifact_sha256
            doc = s.execute(select(SqlDocumentation).where(SqlDocumentation.version_id == v.id)
                            .order_by(SqlDocumentation.id.desc()).limit(1)).scalar()
        stale = "Export a new package and review it again."
        if sha != exported["artifact_sha256"]:
            raise InvalidInput("The version's artifact is not the one in the reviewed package.",
                               hint=stale)
        try:
            self.artifacts.verify(sha)
        except KnownError:
            raise InvalidInput("The version's artifact file changed on disk since the package "
                               "was exported.", hint=stale) from None
        if doc is None or doc.source_sha256 != exported["documentation_source_sha256"]:
            raise InvalidInput("The version's documentation changed since the package was "
                               "exported; the review was of the earlier documentation.",
                               hint=stale)
        return exported

    def _refused(self, principal: Principal, path: Path, response: ReviewResponse | None,
                 refusal: KnownError) -> None:
        with self.store.unit_of_work(principal) as uow:
            new = {"file": path.name, "why": refusal.message}
            if response is None:
                uow.record("review.import_refused", "review_response", path.name, new=new)
            else:
                uow.record("review.import_refused", "model", response.model, new={
                    **new, "version": response.version, "reviewer": response.reviewer,
                    "response_sha256": response.sha256})
