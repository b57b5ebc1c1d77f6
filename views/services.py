"""What the views need from the composition root's ``Services`` (views never import ``app``)."""

from __future__ import annotations

from typing import Protocol

from core.registry.artifact_store import ArtifactStore
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
from core.store.uow import Store


class ServicesLike(Protocol):
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
    calendar: CalendarService
    exceptions: ExceptionService
    review: ReviewService
    servers: ServerService
    policies: PolicyService
    deployments: DeploymentService
