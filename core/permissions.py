"""Roles, actions and the role x action permission table.

The table is data: services call :func:`require` and never test roles directly, so what a role
may do is read in one place. DESIGN.md's "never does" column is enforced by tests over this table
(for example: the administrator holds no signing or approval action, the executive holds no
writing action).
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import PermissionDenied


class Role(StrEnum):
    DATA_SCIENTIST = "data_scientist"
    VALIDATOR = "validator"
    COMPLIANCE = "compliance_officer"
    MANAGER = "manager"
    IT = "it_operations"
    EXECUTIVE = "executive"
    ADMIN = "administrator"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.DATA_SCIENTIST: "Data scientist",
    Role.VALIDATOR: "Validator",
    Role.COMPLIANCE: "Compliance officer",
    Role.MANAGER: "Manager",
    Role.IT: "IT / operations",
    Role.EXECUTIVE: "Executive",
    Role.ADMIN: "Administrator",
}


class Action(StrEnum):
    # users, settings, audit (issue 2)
    USER_MANAGE = "user.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_EXPORT = "audit.export"
    # registry and validation
    MODEL_READ = "model.read"
    MODEL_IMPORT = "model.import"
    MODEL_EDIT = "model.edit"
    MODEL_EVALUATE = "model.evaluate"
    ARTIFACT_TRUST = "artifact.trust"
    # workflow
    VERSION_SUBMIT = "version.submit"
    FINDING_RECORD = "finding.record"
    FINDING_REMEDIATE = "finding.remediate"
    VALIDATION_SIGN = "validation.sign"
    COMPLIANCE_SIGN = "compliance.sign"
    VERSION_APPROVE = "version.approve"
    POLICY_APPROVE = "policy.approve"
    POLICY_EXCEPTION = "policy.exception"
    # deployment
    SERVER_ENROL = "server.enrol"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    # monitoring and reporting
    MONITORING_READ = "monitoring.read"
    ALERT_MANAGE = "alert.manage"
    REPORT_EXPORT = "report.export"
    PORTFOLIO_READ = "portfolio.read"


# Actions that sign, approve or attest: an administrator never holds them (DESIGN.md).
SIGNING_ACTIONS = frozenset(
    {
        Action.VALIDATION_SIGN,
        Action.COMPLIANCE_SIGN,
        Action.VERSION_APPROVE,
        Action.POLICY_APPROVE,
        Action.POLICY_EXCEPTION,
    }
)

# Actions that only read.
READ_ACTIONS = frozenset(
    {
        Action.AUDIT_READ,
        Action.AUDIT_VERIFY,
        Action.MODEL_READ,
        Action.MONITORING_READ,
        Action.PORTFOLIO_READ,
    }
)

_A = Action
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.DATA_SCIENTIST: frozenset(
        {
            _A.MODEL_READ, _A.MODEL_IMPORT, _A.MODEL_EDIT, _A.MODEL_EVALUATE,
            _A.VERSION_SUBMIT, _A.FINDING_REMEDIATE, _A.MONITORING_READ, _A.PORTFOLIO_READ,
        }
    ),
    Role.VALIDATOR: frozenset(
        {
            _A.MODEL_READ, _A.MODEL_EVALUATE, _A.FINDING_RECORD, _A.VALIDATION_SIGN,
            _A.ARTIFACT_TRUST, _A.MONITORING_READ, _A.REPORT_EXPORT, _A.PORTFOLIO_READ,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            _A.AUDIT_READ, _A.AUDIT_VERIFY, _A.AUDIT_EXPORT, _A.MODEL_READ, _A.COMPLIANCE_SIGN,
            _A.MONITORING_READ, _A.ALERT_MANAGE, _A.REPORT_EXPORT, _A.PORTFOLIO_READ,
        }
    ),
    Role.MANAGER: frozenset(
        {
            _A.MODEL_READ, _A.VERSION_APPROVE, _A.POLICY_APPROVE, _A.POLICY_EXCEPTION,
            _A.MONITORING_READ, _A.ALERT_MANAGE, _A.REPORT_EXPORT, _A.PORTFOLIO_READ,
        }
    ),
    Role.IT: frozenset(
        {
            _A.MODEL_READ, _A.SERVER_ENROL, _A.DEPLOY, _A.ROLLBACK, _A.MONITORING_READ,
            _A.ALERT_MANAGE,
        }
    ),
    Role.EXECUTIVE: frozenset({_A.PORTFOLIO_READ, _A.MONITORING_READ, _A.MODEL_READ}),
    Role.ADMIN: frozenset(
        {
            _A.USER_MANAGE, _A.SETTINGS_MANAGE, _A.AUDIT_READ, _A.AUDIT_VERIFY, _A.AUDIT_EXPORT,
            _A.MODEL_READ, _A.PORTFOLIO_READ,
        }
    ),
}


def allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


def roles_allowed(action: Action) -> list[Role]:
    return [role for role in Role if action in PERMISSIONS[role]]


def require(role: Role, action: Action) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may perform ``action``."""
    if not allowed(role, action):
        who = ", ".join(r.label for r in roles_allowed(action)) or "no role"
        raise PermissionDenied(
            f"The {role.label} role may not do this ({action.value}).",
            hint=f"Allowed for: {who}. Ask an administrator if you need that role.",
        )
