"""Table models and texts of the deployments screen: servers, a server's releases, a release's
steps, routing policies; the plain-text details of a release and of a server's last check."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtGui import QColor

from core.entities_deploy import Check, Release, ReleaseStep, RoutingPolicyRecord, Server
from views.approvals_tables import BAD, RowsTableModel
from views.timefmt import local_text

GOOD = QColor("#1e7b34")
WAIT = QColor("#7a4a06")
KIND_LABELS = {"version": "version", "policy": "routing policy", "canary": "canary step",
               "rollback": "rollback"}
STATE_LABELS = {"queued": "queued", "running": "running", "serving": "serving",
                "superseded": "superseded", "done": "done",
                "failed": "FAILED", "rolled_back": "ROLLED BACK", "cancelled": "cancelled"}
ACTIVE = frozenset({"queued", "running"})
# core.deploy.ssh_errors.HostKeyMismatch's message, wherever it was recorded as text (a
# preflight line, a release's error): "... offered host key X, but Y was pinned ..."
_REFUSED = re.compile(r"The server at (\S+) offered host key (\S+), but (\S+) was pinned")


def host_key_refusal(text: str | None) -> tuple[str, str, str] | None:
    """(address, offered, pinned) when ``text`` reports a refused host key."""
    found = _REFUSED.search(text or "")
    return (found.group(1), found.group(2), found.group(3)) if found else None


def refs_text(versions: tuple[str, ...] | list[str]) -> str:
    return ", ".join(versions) or "—"


def runtime_text(server: Server) -> str:
    check = server.last_check
    if not check:
        return "not checked"
    reached = any(c.get("name") == "runtime" for c in check.get("checks", []))
    return check.get("runtime_version") or ("not installed" if reached else "unknown")


def last_check_text(server: Server) -> str:
    if not server.last_check:
        return "never checked"
    failed = [c["name"] for c in server.last_check.get("checks", []) if c.get("ok") is False]
    verdict = "ok" if not failed else "FAILED: " + ", ".join(failed)
    return f"{verdict} · {local_text(server.last_check_at, seconds=False)}"


def check_lines(checks: list[Check] | list[dict[str, Any]]) -> list[str]:
    """One line per preflight item: ``ok``, ``FAIL`` or ``--`` (not applicable)."""
    lines = []
    for c in checks:
        name, ok, detail = ((c.name, c.ok, c.detail) if isinstance(c, Check)
                            else (c.get("name", "?"), c.get("ok"), c.get("detail", "")))
        mark = "ok  " if ok else ("FAIL" if ok is False else "--  ")
        lines.append(f"{mark}  {name}: {detail}")
    return lines


def server_details(server: Server) -> str:
    """What the Server tab shows: the enrolment, then the last check's lines."""
    lines = [f"{server.name} — {server.address}",
             f"Host key (pinned): {server.fingerprint}",
             f"Deployment folder: {server.root} · agent port {server.agent_port} · "
             + ("SSH agent" if server.use_agent and not server.key_path
                else f"key {server.key_path}"),
             f"Enrolled by {server.enrolled_by} at {local_text(server.enrolled_at)}"]
    if server.description:
        lines.append(f"Description: {server.description}")
    lines.append("")
    check = server.last_check
    if not check:
        lines.append("Not checked yet: Check server connects and reports what it finds.")
        return "\n".join(lines)
    lines.append(f"Last check at {local_text(server.last_check_at)}: "
                 + ("everything ok" if check.get("ok") else "PROBLEMS FOUND"))
    lines.extend("  " + line for line in check_lines(check.get("checks", [])))
    return "\n".join(lines)


def serving_text(server: Server) -> str:
    """What the server serves per the store: versions, release id, since when."""
    if not server.serving:
        return "nothing"
    return (f"{refs_text(server.serving_versions)} — {server.serving} since "
            f"{local_text(server.serving_since, seconds=False)}")


class ServerTableModel(RowsTableModel):
    HEADERS = ("Server", "Address", "Host key (pinned)", "Runtime", "Last check",
               "Serving (versions — release since)")
    LAST_CHECK = 4

    def texts(self, row: Server) -> tuple[str, ...]:
        return (row.name, row.address, row.fingerprint, runtime_text(row),
                last_check_text(row), serving_text(row))

    def foreground(self, row: Server, column: int) -> QColor | None:
        if column == self.LAST_CHECK and row.last_check and not row.last_check.get("ok"):
            return BAD
        return None


def release_target(row: Release) -> str:
    if row.kind == "rollback":
        return f"back to {row.previous_release} ({refs_text(row.versions)})"
    if row.policy:
        return f"policy {row.policy} ({refs_text(row.versions)})"
    return refs_text(row.versions)


def state_color(state: str) -> QColor | None:
    if state in ("failed", "rolled_back"):
        return BAD
    if state == "serving":
        return GOOD
    if state in ACTIVE:
        return WAIT
    return None


class ReleaseTableModel(RowsTableModel):
    HEADERS = ("Release", "Kind", "Versions / policy", "Canary %", "State", "Requested by",
               "Requested", "Finished")
    STATE = 4

    def texts(self, row: Release) -> tuple[str, ...]:
        return (row.release_id, KIND_LABELS.get(row.kind, row.kind), release_target(row),
                "—" if row.canary_step is None else f"{row.canary_step} %",
                STATE_LABELS.get(row.state, row.state), row.requested_by,
                local_text(row.requested_at, seconds=False),
                local_text(row.finished_at, seconds=False) or "—")

    def foreground(self, row: Release, column: int) -> QColor | None:
        return state_color(row.state) if column == self.STATE else None


class StepTableModel(RowsTableModel):
    HEADERS = ("Step", "Status", "Seconds", "Detail")
    STATUS = 1

    def texts(self, row: ReleaseStep) -> tuple[str, ...]:
        return (row.step, row.status, "—" if row.seconds is None else f"{row.seconds:.1f}",
                row.detail.replace("\n", " "))

    def foreground(self, row: ReleaseStep, column: int) -> QColor | None:
        if column == self.STATUS:
            return BAD if row.status == "failed" else GOOD if row.status == "ok" else None
        return None


def parity_lines(parity: dict[str, Any] | None) -> list[str]:
    lines = []
    for ref, result in sorted((parity or {}).items()):
        verdict = "passed" if result.get("passed") else "FAILED"
        lines.append(f"  {ref}: {verdict} — {result.get('summary', '')}")
    return lines


def release_details(row: Release) -> str:
    """Everything about one release as plain text; the error in full."""
    lines = [f"Release {row.release_id} on {row.server}: {KIND_LABELS.get(row.kind, row.kind)}"
             f", {STATE_LABELS.get(row.state, row.state)}"]
    if row.error:  # first: it is what the reader came for
        lines += ["", "Error:", row.error, ""]
    lines.append(f"Versions: {refs_text(row.versions)}")
    if row.policy:
        lines.append(f"Routing policy: {row.policy}")
    if row.policy_sha256 and not row.policy_sha256.startswith("("):
        lines.append(f"Policy document SHA-256: {row.policy_sha256}")
    if row.canary_step is not None:
        lines.append(f"Canary: {row.canary_step} % to the candidate")
    if row.kind == "rollback":
        lines.append(f"Serves again: {row.previous_release}")
    lines.append(f"Requested by {row.requested_by} at {local_text(row.requested_at)}"
                 + (f": {row.reason}" if row.reason else ""))
    if row.started_at:
        lines.append(f"Started {local_text(row.started_at)}"
                     + (f", finished {local_text(row.finished_at)}" if row.finished_at
                        else ""))
    elif row.finished_at:
        lines.append(f"Finished {local_text(row.finished_at)}")
    if row.parity:
        lines += ["", "Parity with the validated answers:", *parity_lines(row.parity)]
    return "\n".join(lines)


class PolicyTableModel(RowsTableModel):
    HEADERS = ("Policy", "State", "Canary plan", "Drafted by", "Drafted", "Decided by",
               "Decision")
    STATE = 1

    def texts(self, row: RoutingPolicyRecord) -> tuple[str, ...]:
        return (row.label, row.state, canary_text(row.canary), row.created_by,
                local_text(row.created_at, seconds=False), row.decided_by or "—",
                (row.decision_reason or "—").replace("\n", " "))

    def foreground(self, row: RoutingPolicyRecord, column: int) -> QColor | None:
        if column == self.STATE:
            return {"approved": GOOD, "rejected": BAD, "draft": WAIT}.get(row.state)
        return None


def canary_text(plan: dict[str, Any] | None) -> str:
    if not plan:
        return "—"
    steps = ", ".join(f"{p} %" for p in plan.get("steps", []))
    return f"{plan.get('candidate')} beside {plan.get('stable')}: {steps}"


def policy_details(row: RoutingPolicyRecord) -> str:
    lines = [f"Routing policy {row.label}: {row.state}", f"SHA-256: {row.sha256}",
             f"Drafted by {row.created_by} at {local_text(row.created_at)}"]
    if row.decided_by:
        lines.append(f"{row.state.capitalize()} by {row.decided_by} at "
                     f"{local_text(row.decided_at)}: {row.decision_reason or ''}")
    if row.canary:
        lines.append(f"Canary plan (rule {row.canary.get('rule')}): {canary_text(row.canary)}")
    lines += ["", "Document:", pretty_json(row.document)]
    return "\n".join(lines)


def pretty_json(text: str) -> str:
    import json

    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except ValueError:
        return text
