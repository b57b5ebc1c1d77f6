"""The deployments screen's request dialogs: a version, a routing policy or a rollback for the
selected server, and a manager's decision on a drafted routing policy.

Each dialog only asks; the screen runs the ``request_*`` call (views.task.run_from_dialog, so a
refusal shows inside the dialog) and then the release on its server's queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QComboBox, QFormLayout, QPlainTextEdit, QWidget

from core.entities import Principal
from core.entities_deploy import Release, RoutingPolicyRecord
from core.workflow.lifecycle import STATE_LABELS
from views.deployments_tables import canary_text, policy_details, refs_text
from views.timefmt import local_text
from views.widgets import FormDialog, PasswordFormDialog, plain_label, reason_field


@dataclass(frozen=True)
class Deployable:
    """An approved version the deploy dialog offers."""

    model: str
    number: int
    state: str
    label: str

    @property
    def text(self) -> str:
        return (f"{self.model} v{self.number}" + (f" ({self.label})" if self.label else "")
                + f" — {STATE_LABELS.get(self.state, self.state).lower()}")


class _RequestDialog(FormDialog):
    """A choice in a combo and a reason; the action button wants both."""

    def __init__(self, title: str, action: str, intro: str, label: str,
                 parent: QWidget | None) -> None:
        super().__init__(title, action, parent)
        self.setMinimumWidth(580)
        self.body.addWidget(plain_label(intro, "hint"))
        form = QFormLayout()
        form.setVerticalSpacing(7)
        self.choice = QComboBox()
        self.choice.setAccessibleName(label.replace("&", ""))
        self.reason = reason_field()
        form.addRow(label, self.choice)
        form.addRow("Rea&son", self.reason)
        self.form = form
        self.body.addLayout(form)
        self.reason.textChanged.connect(self._update)
        self.choice.currentIndexChanged.connect(self._update)
        self.clear_error_when_edited(self.reason)

    def _update(self) -> None:
        ready = self.choice.count() > 0 and bool(self.reason.text().strip())
        self.ok_button.setEnabled(ready)
        if ready:
            self.ok_button.setDefault(True)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self._update()

    def reason_text(self) -> str:
        return self.reason.text().strip()


class DeployVersionDialog(_RequestDialog):
    def __init__(self, server: str, versions: list[Deployable],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Deploy a version to {server}", "Deploy",
                         f"An approved version, served alone on {server}. Its artifact is "
                         "hashed again against the approval before it is sent; after the "
                         "switch the server must answer the evaluation's reference rows as "
                         "validated, or the previous release is put back.",
                         "&Version", parent)
        for v in versions:
            self.choice.addItem(v.text, v)
        if not versions:
            self.show_error("No version is approved for use; nothing can be deployed.")
        self._update()

    def chosen(self) -> Deployable:
        return self.choice.currentData()


class DeployPolicyDialog(_RequestDialog):
    def __init__(self, server: str, policies: list[RoutingPolicyRecord],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Deploy a routing policy to {server}", "Deploy",
                         f"A routing policy a manager approved, with every version it routes "
                         f"to, on {server}. A policy with a canary plan starts at its first "
                         "step; advance it from the screen.", "&Policy", parent)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setMinimumHeight(180)
        self.preview.setAccessibleName("Policy document")
        self.body.addWidget(self.preview)
        for p in policies:
            self.choice.addItem(f"{p.label}" + (f" — canary {canary_text(p.canary)}"
                                                if p.canary else ""), p)
        self.choice.currentIndexChanged.connect(self._preview)
        if not policies:
            self.show_error("No routing policy is approved; a manager approves drafted "
                            "policies first.")
        self._preview()
        self._update()

    def _preview(self) -> None:
        chosen = self.chosen()
        self.preview.setPlainText(policy_details(chosen) if chosen is not None else "")

    def chosen(self) -> RoutingPolicyRecord | None:
        return self.choice.currentData()


class RollbackDialog(_RequestDialog):
    """The server's earlier releases it can serve again; first the default (the one served
    before the current one)."""

    def __init__(self, server: str, earlier: list[Release],
                 parent: QWidget | None = None) -> None:
        super().__init__(f"Roll back {server}", "Roll back",
                         f"Serve an earlier release of {server} again. Its files on the server "
                         "are verified against their hashes first, and it must pass the parity "
                         "check again.", "&Release", parent)
        if earlier:
            self.choice.addItem(f"The release served before the current one "
                                f"({earlier[0].release_id})", None)
        for r in earlier:
            self.choice.addItem(f"{r.release_id} — {refs_text(r.versions)}"
                                + (f", policy {r.policy}" if r.policy else "")
                                + f" — requested {local_text(r.requested_at, seconds=False)}",
                                r.release_id)
        if not earlier:
            self.show_error(f"{server} has no earlier release to roll back to.")
        self._update()

    def target(self) -> str | None:
        """The release id to serve again; None: the service's default (the previous one)."""
        return self.choice.currentData()


class PolicyDecisionDialog(PasswordFormDialog):
    """A manager approves or rejects a drafted routing policy, password again."""

    def __init__(self, principal: Principal, policy: RoutingPolicyRecord, approve: bool,
                 parent: QWidget | None = None) -> None:
        verb = "Approve" if approve else "Reject"
        super().__init__(f"{verb} routing policy {policy.label}", verb, principal.username,
                         parent)
        self.setMinimumWidth(640)
        self.approve = approve
        self.policy = policy
        self.body.addWidget(plain_label(
            f"{verb} {policy.label}, drafted by {policy.created_by}. What is approved is "
            "this document's SHA-256" + (" and its canary plan" if policy.canary else "")
            + "; a change is a new version of the policy.", "hint"))
        document = QPlainTextEdit(policy_details(policy))
        document.setReadOnly(True)
        document.setMinimumHeight(200)
        document.setAccessibleName("Policy document")
        self.body.addWidget(document)
        form = QFormLayout()
        self.reason = reason_field()
        form.addRow("Rea&son", self.reason)
        form.addRow("&Password again", self.password)
        self.body.addLayout(form)
        self.watch(self.reason)

    def ready(self) -> bool:
        return bool(self.reason.text().strip())
