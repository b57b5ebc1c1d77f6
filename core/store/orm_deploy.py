"""ORM classes of deployment (issue 7): enrolled servers, approved routing policies, releases
with their steps, and alerts.

A server's SSH key passphrase is never here: it lives in the OS keyring (core.secrets). The host
key is pinned at enrolment. A routing policy's document is stored as the exact canonical JSON
that was approved, with its SHA-256; an approved policy is never edited (a change is a new
policy version). Releases and their steps are appended as a deployment runs, so the store
records how far a failed deployment got and what was done about it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.store.orm import Base, UtcTimestamp


class SqlServer(Base):
    __tablename__ = "server"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    key_path: Mapped[str | None] = mapped_column(Text)
    use_agent: Mapped[int] = mapped_column(Integer)  # 0/1: authenticate with an SSH agent
    host_key_type: Mapped[str] = mapped_column(String(64))
    host_key: Mapped[str] = mapped_column(Text)  # base64 of the pinned public key blob
    fingerprint: Mapped[str] = mapped_column(String(100))
    root: Mapped[str] = mapped_column(Text)  # the deployment folder on the server
    agent_port: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    enrolled_by: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    # the last preflight: JSON of its checks, and when
    last_check: Mapped[str | None] = mapped_column(Text)
    last_check_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    retired_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)


class SqlRoutingPolicy(Base):
    """One version of a routing policy document, drafted by IT or a data scientist and approved
    (or rejected) by a manager. ``document`` is the canonical JSON ``sha256`` hashes."""

    __tablename__ = "routing_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # the canary plan approved with it: JSON {"candidate": ref, "stable": ref, "steps": [...]}
    canary: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # draft, approved, rejected
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (UniqueConstraint("policy_id", "version",
                                       name="uq_routing_policy_policy_id_version"),)


class SqlRelease(Base):
    """A bundle deployed (or attempted) on a server: what it holds, who asked, how it went."""

    __tablename__ = "release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(String(64), unique=True)  # the folder's name
    server_id: Mapped[int] = mapped_column(ForeignKey("server.id"))
    kind: Mapped[str] = mapped_column(String(16))  # version, policy, rollback, canary
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    policy_row_id: Mapped[int | None] = mapped_column(ForeignKey("routing_policy.id"))
    policy_sha256: Mapped[str] = mapped_column(String(64))  # of the policy the agent gets
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    versions: Mapped[str] = mapped_column(Text)  # JSON list of refs it serves
    canary_step: Mapped[int | None] = mapped_column(Integer)  # percent to the candidate
    previous_release: Mapped[str | None] = mapped_column(String(64))
    # queued, running, serving, failed, rolled_back, cancelled, superseded
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    started_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    finished_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    parity: Mapped[str | None] = mapped_column(Text)  # JSON: rows, tolerance, max difference
    row_version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (Index("ix_release_server", "server_id", "id"),)


class SqlReleaseStep(Base):
    """One step of a deployment as it ran: appended, never changed."""

    __tablename__ = "release_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_row_id: Mapped[int] = mapped_column(ForeignKey("release.id"))
    step: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # ok, failed, skipped, info
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcTimestamp)
    seconds: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_release_step_release", "release_row_id", "id"),)


class SqlAlert(Base):
    """Something an owner must look at: a refused host key, a failed deployment; monitoring
    (issue 8) adds drift and performance alerts. open -> acknowledged -> resolved."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(8))  # high, medium, low
    subject_type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    row_version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": row_version}
    __table_args__ = (Index("ix_alert_state", "state", "id"),)
