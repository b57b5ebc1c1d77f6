"""Build the services for one open store. Nothing here runs at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.registry.artifact_store import ArtifactStore
from core.security import Hasher
from core.services.audit_trail import AuditTrailService
from core.services.auth import AuthService
from core.services.calendar import CalendarService
from core.services.deployments import DeploymentService
from core.services.documentation import DocumentationService
from core.services.evaluation import EvaluationService
from core.services.findings import FindingsService
from core.services.inventory import InventoryService
from core.services.policies import PolicyService
from core.services.review import ReviewService
from core.services.servers import ServerService
from core.services.settings import SettingsService
from core.services.users import UserService
from core.services.workflow import ExceptionService, WorkflowService
from core.settings import WorkstationSettings
from core.store.opening import is_demo, open_store
from core.store.uow import Store


@dataclass
class Services:
    store: Store
    auth: AuthService
    users: UserService
    settings: SettingsService
    audit: AuditTrailService
    demo: bool
    inventory: InventoryService
    artifacts: ArtifactStore
    evaluations: EvaluationService
    documentation: DocumentationService
    workflow: WorkflowService
    findings: FindingsService
    exceptions: ExceptionService
    calendar: CalendarService
    review: ReviewService
    servers: ServerService
    policies: PolicyService
    deployments: DeploymentService

    def close(self) -> None:
        self.store.dispose()


def resolve_store_url(cli_url: str | None, *, demo: bool = False) -> str:
    """``--db``, then ``CHARTER_DB_URL``, then the workstation settings, then the SQLite file in
    the user data folder (``--demo`` picks the separate demo store)."""
    if cli_url:
        return cli_url
    if demo:
        return paths.demo_store_url()
    env = os.environ.get("CHARTER_DB_URL")
    if env:
        return env
    configured = WorkstationSettings().get("store.url")
    if configured:
        return configured
    return paths.default_store_url()


def artifact_store_for(store: Store, demo: bool) -> ArtifactStore:
    """The demo store keeps its artifacts beside it; any other store uses the workstation's
    artifact folder (a configured shared path must exist; the default one is created)."""
    if demo and store.url.database:
        return ArtifactStore(Path(store.url.database).parent / "artifacts")
    root, shared = paths.artifact_dir()
    return ArtifactStore(root, create=not shared)


def build_services(store: Store, hasher: Hasher | None = None) -> Services:
    hasher = hasher or Hasher()
    demo = is_demo(store)
    artifacts = artifact_store_for(store, demo)
    auth = AuthService(store, hasher)
    documentation = DocumentationService(store, artifacts)
    evaluations = EvaluationService(store, artifacts)
    workflow = WorkflowService(store, artifacts, auth)
    servers = ServerService(store, auth)
    return Services(
        store=store,
        auth=auth,
        users=UserService(store, hasher),
        settings=SettingsService(store),
        audit=AuditTrailService(store),
        demo=demo,
        inventory=InventoryService(store),
        artifacts=artifacts,
        evaluations=evaluations,
        documentation=documentation,
        workflow=workflow,
        findings=FindingsService(store),
        exceptions=ExceptionService(store, auth),
        calendar=CalendarService(store, auth),
        review=ReviewService(store, artifacts, workflow, documentation, evaluations),
        servers=servers,
        policies=PolicyService(store, auth),
        deployments=DeploymentService(store, auth, artifacts, servers),
    )


def open_services(url: str, *, create: bool = False, hasher: Hasher | None = None) -> Services:
    return build_services(open_store(url, create=create), hasher)
