"""Deployments: approved versions and approved routing policies put on enrolled servers, rolled
back, and canaries moved step by step; one queue per server.

A request (:meth:`request_version`, :meth:`request_policy`, :meth:`request_rollback`,
:meth:`request_canary`) checks everything that can be checked in the store and records a
``queued`` release; :meth:`run` then builds the bundle and runs the engine's steps
(core.deploy.engine) on the server, recording each step as it ends. Only one release runs per
server at a time; the rest wait, in order, and can be cancelled until their switch.

What may be deployed: a version in an approved state whose approval signature still matches
its artifact (the file is hashed again) and which has evaluation reference answers (the parity
check needs them); a routing policy approved by a manager whose every version is such a version
with the same artifact hash. IT deploys (``deploy``/``rollback`` permissions).
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from core.deploy.bundle import (
    VersionPayload,
    build_folder,
    model_slug,
    single_version_policy,
    trusted_types_of,
    version_ref,
)
from core.deploy.engine import Engine, Layout, Outcome, Reference
from core.deploy.ssh_errors import SshError
from core.entities import Changes, Principal
from core.entities_deploy import Release, ReleaseStep
from core.errors import InvalidInput, KnownError, NotFound
from core.permissions import Action, require
from core.registry.artifact_store import ArtifactStore
from core.services.auth import AuthService
from core.services.policies import canary_document, policy_row
from core.services.servers import ServerService, raise_alert, server_row
from core.store.orm_deploy import SqlRelease, SqlReleaseStep, SqlRoutingPolicy, SqlServer
from core.store.orm_registry import SqlModel, SqlModelVersion
from core.store.orm_validation import SqlEvaluation
from core.store.orm_workflow import SqlSignature
from core.store.uow import Store
from core.timeutil import utcnow
from core.workflow.lifecycle import IN_USE

CHANGES = Changes(kinds=frozenset({"deployment"}), audit=True)
ACTIVE = ("queued", "running")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class DeploymentRefused(KnownError):
    code = "deployment_refused"


@dataclass
class Progress:
    """Callbacks a screen or the command line passes to :meth:`DeploymentService.run`."""

    step: Callable[[str, str, str], None] = lambda step, status, detail: None
    bytes: Callable[[int, int], None] = lambda done, total: None


def _server_lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _new_release_id() -> str:
    return utcnow().strftime("r%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class DeploymentService:
    def __init__(self, store: Store, auth: AuthService, artifacts: ArtifactStore,
                 servers: ServerService) -> None:
        self.store = store
        self.auth = auth
        self.artifacts = artifacts
        self.servers = servers
        self._cancel: dict[str, threading.Event] = {}

    # -- requests --------------------------------------------------------------------------------
    def request_version(self, principal: Principal, model: str, number: int, server: str, *,
                        reason: str = "") -> tuple[Release, Changes]:
        require(principal.role, Action.DEPLOY)
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            srv = server_row(s, server)
            payload = self._payload(s, model, number, check_file=True)
            row = self._queue(uow, srv, "version", [payload.ref], reason,
                              version_id=_version_id(s, model, number),
                              policy_sha256="(built at deployment)")
            return self._entity(s, row), CHANGES

    def request_policy(self, principal: Principal, policy_id: str, version: int, server: str,
                       *, reason: str = "") -> tuple[Release, Changes]:
        require(principal.role, Action.DEPLOY)
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            srv = server_row(s, server)
            pol = policy_row(s, policy_id, version)
            if pol.state != "approved":
                raise DeploymentRefused(f"Routing policy {policy_id} v{version} is {pol.state}; "
                                        "a manager must approve it before it is deployed.")
            refs = self._policy_payload_refs(s, pol)
            canary = json.loads(pol.canary) if pol.canary else None
            step = canary["steps"][0] if canary else None
            row = self._queue(uow, srv, "canary" if canary else "policy", refs, reason,
                              policy_row_id=pol.id, policy_sha256=pol.sha256,
                              canary_step=step)
            return self._entity(s, row), CHANGES

    def request_canary(self, principal: Principal, server: str, action: str, *,
                       reason: str) -> tuple[Release, Changes]:
        """``advance`` the canary on ``server`` to its plan's next step, or ``abort`` it back to
        the stable version; ``reason`` is the recorded decision."""
        require(principal.role, Action.DEPLOY)
        if action not in ("advance", "abort"):
            raise InvalidInput(f"A canary action is advance or abort; got {action!r}.")
        if not (reason or "").strip():
            raise InvalidInput("Record the decision: why the canary moves (or stops) now.")
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            srv = server_row(s, server)
            cur = _serving(s, srv.id)
            if cur is None or cur.kind != "canary" or cur.policy_row_id is None:
                raise DeploymentRefused(f"No canary is being served on {server}.")
            pol = s.get(SqlRoutingPolicy, cur.policy_row_id)
            plan = json.loads(pol.canary)
            steps = plan["steps"]
            if action == "abort":
                step = 0
            else:
                later = [p for p in steps if p > (cur.canary_step or 0)]
                if not later:
                    raise DeploymentRefused(f"The canary on {server} is already at "
                                            f"{cur.canary_step}%, its last step.")
                step = later[0]
            row = self._queue(uow, srv, "canary", json.loads(cur.versions), reason.strip(),
                              policy_row_id=pol.id, policy_sha256=pol.sha256, canary_step=step)
            uow.record("deployment.canary_decision", "server", server, reason=reason.strip(),
                       old={"percent": cur.canary_step}, new={"percent": step,
                                                              "action": action,
                                                              "release": row.release_id})
            return self._entity(s, row), CHANGES

    def request_rollback(self, principal: Principal, server: str, *, to: str | None = None,
                         reason: str = "") -> tuple[Release, Changes]:
        """Serve an earlier release again (default: the one served before the current)."""
        require(principal.role, Action.ROLLBACK)
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            srv = server_row(s, server)
            cur = _serving(s, srv.id)
            earlier = s.execute(select(SqlRelease).where(
                SqlRelease.server_id == srv.id, SqlRelease.state.in_(("superseded",)),
                SqlRelease.kind != "rollback").order_by(SqlRelease.id.desc())).scalars().all()
            if to is None:
                target = next((r for r in earlier if cur is None
                               or r.release_id != cur.release_id), None)
                if target is None:
                    raise DeploymentRefused(f"{server} has no earlier release to roll back "
                                            "to.")
            else:
                target = next((r for r in earlier if r.release_id == to), None)
                if target is None:
                    known = ", ".join(r.release_id for r in earlier[:10]) or "none"
                    raise DeploymentRefused(f"Release {to} never served on {server}; earlier "
                                            f"releases: {known}.")
            row = self._queue(uow, srv, "rollback", json.loads(target.versions), reason,
                              version_id=target.version_id, policy_row_id=target.policy_row_id,
                              policy_sha256=target.policy_sha256,
                              canary_step=target.canary_step, release_id=target.release_id)
            return self._entity(s, row), CHANGES

    def cancel(self, principal: Principal, release_id: str) -> tuple[Release, Changes]:
        """Cancel a queued release, or ask a running one to stop before its switch."""
        require(principal.role, Action.DEPLOY)
        with self.store.unit_of_work(principal) as uow:
            row = _release_row(uow.session, release_id)
            if row.state == "queued":
                row.state, row.finished_at = "cancelled", utcnow()
                uow.record("deployment.cancelled", "release", release_id)
            elif row.state == "running":
                self._cancel.setdefault(release_id, threading.Event()).set()
                uow.record("deployment.cancel_requested", "release", release_id)
            else:
                raise InvalidInput(f"Release {release_id} is {row.state}; only a queued or "
                                   "running release can be cancelled.")
            return self._entity(uow.session, row), CHANGES

    # -- running ---------------------------------------------------------------------------------
    def run(self, principal: Principal, release_id: str, progress: Progress | None = None
            ) -> tuple[Release, Changes]:
        """Run a queued release to its end (serving, failed, rolled_back or cancelled). Waits
        for the release before it on the same server. Never raises for a failed step: the
        outcome is in the returned release and the store."""
        progress = progress or Progress()
        with self.store.unit_of_work(principal, write=False) as uow:
            row = _release_row(uow.session, release_id)
            server_name = uow.session.get(SqlServer, row.server_id).name
        require(principal.role, Action.ROLLBACK if row.kind == "rollback" else Action.DEPLOY)
        with _server_lock(server_name):
            cancel = self._cancel.setdefault(release_id, threading.Event())
            with self.store.unit_of_work(principal) as uow:
                row = _release_row(uow.session, release_id)
                if row.state != "queued":
                    return self._entity(uow.session, row), Changes()
                row.state, row.started_at = "running", utcnow()
                uow.record("deployment.started", "release", release_id, new={
                    "server": server_name, "kind": row.kind,
                    "versions": json.loads(row.versions)})
            try:
                outcome = self._execute(principal, release_id, server_name, progress, cancel)
            except (KnownError, OSError) as err:
                message = getattr(err, "message", None) or str(err)
                self._step(principal, release_id, "prepare", "failed", message, None)
                outcome = Outcome("failed", message, "prepare")
            finally:
                self._cancel.pop(release_id, None)
            return self._finish(principal, release_id, server_name, outcome), CHANGES

    def _execute(self, principal: Principal, release_id: str, server_name: str,
                 progress: Progress, cancel: threading.Event) -> Outcome:
        server = self.servers.server(principal, server_name)
        with self.store.unit_of_work(principal, write=False) as uow:
            row = _release_row(uow.session, release_id)
            kind, target_id = row.kind, row.previous_release if row.kind == "rollback" else None
            payloads = [self._payload(uow.session, *_split_ref(uow.session, ref),
                                      check_file=kind != "rollback")
                        for ref in json.loads(row.versions)]
            policy_text = self._policy_text(uow.session, row, payloads)

        def record(step: str, status: str, detail: str, seconds: float | None) -> None:
            self._step(principal, release_id, step, status, detail, seconds)
            progress.step(step, status, detail)

        references = [p.reference for p in payloads]
        try:
            with self.servers.open_session(principal, server) as ssh:
                engine = Engine(ssh, Layout(server.root), server.agent_port, record=record,
                                progress=lambda step, done, total: progress.bytes(done, total),
                                cancel=cancel)
                if kind == "rollback":
                    return engine.rollback_to(target_id, references)
                with tempfile.TemporaryDirectory(prefix="charter-release.") as tmp:
                    folder = Path(tmp) / release_id
                    manifest = build_folder(folder, payloads, policy_text,
                                            release_id=release_id,
                                            created_by=principal.username)
                    self._set(principal, release_id, policy_sha256=manifest["policy"]["sha256"],
                              manifest_sha256=_sha(folder / "manifest.json"))
                    return engine.deploy(folder, release_id, references)
        except SshError as err:
            record("connect", "failed", err.message, None)
            return Outcome("failed", err.message, "connect")

    def _finish(self, principal: Principal, release_id: str, server_name: str,
                outcome: Outcome) -> Release:
        with self.store.unit_of_work(principal) as uow:
            s = uow.session
            row = _release_row(s, release_id)
            row_state = outcome.state
            if outcome.state == "serving":
                for other in s.execute(select(SqlRelease).where(
                        SqlRelease.server_id == row.server_id,
                        SqlRelease.state == "serving")).scalars():
                    other.state = "superseded"
                if row.kind == "rollback":  # the earlier release serves again
                    target = _release_row(s, row.previous_release)
                    target.state = "serving"
                    target.finished_at = utcnow()
                    row_state = "done"
            row.state = row_state
            row.finished_at = utcnow()
            row.error = outcome.error
            row.parity = json.dumps(outcome.parity, sort_keys=True) if outcome.parity else None
            event = {"serving": "deployment.succeeded", "rolled_back": "deployment.rolled_back",
                     "cancelled": "deployment.cancelled"}.get(outcome.state,
                                                            "deployment.failed")
            uow.record(event, "release", release_id, reason=outcome.error or "", new={
                "server": server_name, "state": row.state, "failed_step": outcome.failed_step,
                "previous": outcome.previous, "parity": {
                    k: v.get("summary") for k, v in outcome.parity.items()}})
            if outcome.state in ("failed", "rolled_back"):
                raise_alert(uow, "deployment_failed", "high" if outcome.state == "failed"
                            else "medium", "server", server_name,
                            f"Release {release_id} on {server_name}: {outcome.error}")
            return self._entity(s, row)

    # -- reading ---------------------------------------------------------------------------------
    def releases(self, principal: Principal, server: str | None = None, *,
                 limit: int = 200) -> list[Release]:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            q = select(SqlRelease).order_by(SqlRelease.id.desc()).limit(limit)
            if server is not None:
                q = q.where(SqlRelease.server_id == server_row(uow.session, server).id)
            return [self._entity(uow.session, r) for r in uow.session.execute(q).scalars()]

    def release(self, principal: Principal, release_id: str) -> Release:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return self._entity(uow.session, _release_row(uow.session, release_id))

    def queued(self, principal: Principal, server: str) -> list[Release]:
        return [r for r in reversed(self.releases(principal, server)) if r.state in ACTIVE]

    # -- internals -------------------------------------------------------------------------------
    def _queue(self, uow: Any, srv: SqlServer, kind: str, refs: list[str], reason: str, *,
               version_id: int | None = None, policy_row_id: int | None = None,
               policy_sha256: str, canary_step: int | None = None,
               release_id: str | None = None) -> SqlRelease:
        row = SqlRelease(release_id=_new_release_id() if kind != "rollback" else
                         f"rollback-{uuid.uuid4().hex[:10]}",
                         server_id=srv.id, kind=kind, version_id=version_id,
                         policy_row_id=policy_row_id, policy_sha256=policy_sha256,
                         versions=json.dumps(refs), canary_step=canary_step,
                         previous_release=release_id, state="queued",
                         requested_by=uow.principal.username, requested_at=utcnow(),
                         reason=(reason or "").strip())
        uow.session.add(row)
        uow.session.flush()
        uow.record("deployment.requested", "release", row.release_id, reason=row.reason, new={
            "server": srv.name, "kind": kind, "versions": refs,
            "to": release_id, "canary_percent": canary_step})
        return row

    def _payload(self, s: DbSession, model: str, number: int, *, check_file: bool
                 ) -> VersionPayload:
        m = s.execute(select(SqlModel).where(SqlModel.name == model)).scalar_one_or_none()
        v = None if m is None else s.execute(select(SqlModelVersion).where(
            SqlModelVersion.model_id == m.id, SqlModelVersion.number == number)
        ).scalar_one_or_none()
        if v is None:
            raise NotFound(f"There is no version {model} v{number}.")
        name = f"{model} v{number}"
        if v.state not in IN_USE:
            raise DeploymentRefused(f"{name} is {v.state.replace('_', ' ')}; only approved "
                                    "versions are deployed.")
        approvals = s.execute(select(SqlSignature).where(
            SqlSignature.version_id == v.id, SqlSignature.meaning == "approved").order_by(
            SqlSignature.id.desc())).scalars().first()
        if approvals is None or approvals.artifact_sha256 != v.artifact_sha256:
            raise DeploymentRefused(f"{name} has no approval signature for its artifact; it "
                                    "cannot be deployed.")
        from core.services.workflow import _newest_documentation

        doc = _newest_documentation(s, v.id)
        if approvals.documentation_source_sha256 is not None and (
                doc is None or doc.source_sha256 != approvals.documentation_source_sha256):
            raise DeploymentRefused(f"{name}'s documentation changed after it was approved, so "
                                    "the approval no longer holds; it is not deployed.")
        if v.artifact_format != "skops":
            raise DeploymentRefused(f"{name} is a {v.artifact_format} artifact; the agent serves "
                                    "skops files. Import a skops export as a new version.")
        path = self.artifacts.path_for(v.artifact_sha256)
        if check_file:
            try:
                self.artifacts.verify(v.artifact_sha256)
            except KnownError as err:
                raise DeploymentRefused(f"{name}'s artifact file no longer matches the "
                                        f"approved hash ({err.message}); it is not "
                                        "deployed.") from None
        ev = s.execute(select(SqlEvaluation).where(
            SqlEvaluation.version_id == v.id,
            SqlEvaluation.artifact_sha256 == v.artifact_sha256).order_by(
            SqlEvaluation.id.desc())).scalars().first()
        evidence = json.loads(ev.evidence) if ev is not None else {}
        ref_answers = evidence.get("reference_answers")
        if not ref_answers or not ref_answers.get("rows"):
            raise DeploymentRefused(f"{name} has no evaluation with reference answers, which "
                                    "the parity check compares the server's answers with. "
                                    "Evaluate it again, then deploy.")
        kind = evidence.get("kind")
        ref = version_ref(m.name, v.number)
        return VersionPayload(
            ref=ref, model=m.name, number=v.number, sha256=v.artifact_sha256, artifact=path,
            task=kind, classes=list(ref_answers.get("classes") or []),
            input_schema=_schema(v.input_schema),
            trusted_types=trusted_types_of(path.read_bytes(), name),
            reference=Reference(ref, ref_answers["rows"], ref_answers["outputs"],
                                ref_answers.get("classes"), float(ref_answers["tolerance"])))

    def _policy_payload_refs(self, s: DbSession, pol: SqlRoutingPolicy) -> list[str]:
        from core.serving.routing import RoutingPolicy

        doc = RoutingPolicy.from_json(pol.document)
        refs = []
        for ref, sha in doc.versions().items():
            model, number = _split_ref(s, ref)
            payload = self._payload(s, model, number, check_file=True)
            if payload.sha256 != sha:
                raise DeploymentRefused(f"Policy {pol.policy_id} v{pol.version} routes to {ref} "
                                        f"with artifact {sha[:12]}…, but that version holds "
                                        f"{payload.sha256[:12]}…; draft a new policy.")
            refs.append(ref)
        return refs

    def _policy_text(self, s: DbSession, row: SqlRelease,
                     payloads: list[VersionPayload]) -> str:
        if row.policy_row_id is None:
            return single_version_policy(payloads[0])
        pol = s.get(SqlRoutingPolicy, row.policy_row_id)
        if pol.canary and row.canary_step is not None:
            return canary_document(pol, row.canary_step)
        return pol.document

    def _step(self, principal: Principal, release_id: str, step: str, status: str, detail: str,
              seconds: float | None) -> None:
        with self.store.unit_of_work(principal) as uow:
            row = _release_row(uow.session, release_id)
            uow.session.add(SqlReleaseStep(release_row_id=row.id, step=step, status=status,
                                           detail=detail[:4000], at=utcnow(),
                                           seconds=None if seconds is None
                                           else f"{seconds:.3f}"))
            uow.record(f"deployment.step_{status}", "release", release_id,
                       new={"step": step, "detail": detail[:500]})

    def _set(self, principal: Principal, release_id: str, **values: Any) -> None:
        with self.store.unit_of_work(principal) as uow:
            row = _release_row(uow.session, release_id)
            for k, v in values.items():
                setattr(row, k, v)

    @staticmethod
    def _entity(s: DbSession, row: SqlRelease) -> Release:
        steps = s.execute(select(SqlReleaseStep).where(
            SqlReleaseStep.release_row_id == row.id).order_by(SqlReleaseStep.id)).scalars()
        pol = s.get(SqlRoutingPolicy, row.policy_row_id) if row.policy_row_id else None
        return Release(
            id=row.id, release_id=row.release_id, server=s.get(SqlServer, row.server_id).name,
            kind=row.kind, versions=tuple(json.loads(row.versions)),
            policy=f"{pol.policy_id} v{pol.version}" if pol else None,
            policy_sha256=row.policy_sha256, canary_step=row.canary_step,
            previous_release=row.previous_release, state=row.state,
            requested_by=row.requested_by, requested_at=row.requested_at,
            started_at=row.started_at, finished_at=row.finished_at, reason=row.reason,
            error=row.error, parity=json.loads(row.parity) if row.parity else None,
            steps=tuple(ReleaseStep(x.step, x.status, x.detail, x.at,
                                    float(x.seconds) if x.seconds else None) for x in steps))


def _serving(s: DbSession, server_id: int) -> SqlRelease | None:
    return s.execute(select(SqlRelease).where(
        SqlRelease.server_id == server_id, SqlRelease.state == "serving").order_by(
        SqlRelease.id.desc()).limit(1)).scalar_one_or_none()


def _release_row(s: DbSession, release_id: str) -> SqlRelease:
    row = s.execute(select(SqlRelease).where(
        SqlRelease.release_id == release_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no release {release_id}.")
    return row


def _version_id(s: DbSession, model: str, number: int) -> int:
    return s.execute(select(SqlModelVersion.id).join(SqlModel).where(
        SqlModel.name == model, SqlModelVersion.number == number)).scalar_one()


def _split_ref(s: DbSession, ref: str) -> tuple[str, int]:
    """``retail-pd@3`` -> ("Retail PD", 3), by the models' slugs."""
    slug, _, number = ref.rpartition("@")
    names = [n for n in s.execute(select(SqlModel.name)).scalars() if model_slug(n) == slug]
    if len(names) != 1 or not number.isdigit():
        raise DeploymentRefused(f"{ref} names no single model in this store"
                                + (f" ({', '.join(names)} share the name)" if names else "")
                                + ".")
    return names[0], int(number)


def _schema(stored: Any) -> list[dict[str, Any]]:
    entries = json.loads(stored) if isinstance(stored, str) else (stored or [])
    return [{k: e[k] for k in ("name", "kind", "categories") if k in e} for e in entries]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()

