"""Entities of deployment: servers, routing policies, releases and their steps, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Server:
    id: int
    name: str
    host: str
    port: int
    username: str
    key_path: str | None
    use_agent: bool
    fingerprint: str
    root: str
    agent_port: int
    description: str
    enrolled_by: str
    enrolled_at: datetime
    last_check: dict[str, Any] | None
    last_check_at: datetime | None
    serving: str | None = None  # the release id serving now, per the store
    serving_since: datetime | None = None
    serving_versions: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Check:
    """One preflight item: ``ok`` None means not applicable / not reached."""

    name: str
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class Preflight:
    server: str
    checks: tuple[Check, ...]
    platform: dict[str, Any] | None = None
    runtime_version: str | None = None
    serving: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "ok": self.ok, "platform": self.platform,
                "runtime_version": self.runtime_version, "serving": self.serving,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                           for c in self.checks]}


@dataclass(frozen=True)
class ReleaseStep:
    step: str
    status: str
    detail: str
    at: datetime
    seconds: float | None


@dataclass(frozen=True)
class Release:
    id: int
    release_id: str
    server: str
    kind: str
    versions: tuple[str, ...]
    policy: str | None  # "policy_id v<version>" for an approved policy
    policy_sha256: str
    canary_step: int | None
    previous_release: str | None
    state: str
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reason: str
    error: str | None
    parity: dict[str, Any] | None
    steps: tuple[ReleaseStep, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None
        return {"release": self.release_id, "server": self.server, "kind": self.kind,
                "versions": list(self.versions), "policy": self.policy,
                "policy_sha256": self.policy_sha256, "canary_step": self.canary_step,
                "previous_release": self.previous_release, "state": self.state,
                "requested_by": self.requested_by, "requested_at": iso(self.requested_at),
                "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
                "reason": self.reason, "error": self.error, "parity": self.parity,
                "steps": [{"step": s.step, "status": s.status, "detail": s.detail,
                           "at": iso(s.at), "seconds": s.seconds} for s in self.steps]}


@dataclass(frozen=True)
class RoutingPolicyRecord:
    id: int
    policy_id: str
    version: int
    document: str
    sha256: str
    canary: dict[str, Any] | None
    state: str
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    @property
    def label(self) -> str:
        return f"{self.policy_id} v{self.version}"


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    severity: str
    subject_type: str
    subject: str
    message: str
    state: str
    raised_at: datetime
