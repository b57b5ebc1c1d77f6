"""Deployments: the enrolled servers, what each serves, its releases and their steps, and the
routing policies (everyone who reads models; only IT acts, and managers decide on policies).

The servers table (``ServerService.servers``) sits over the selected server's details: its
releases (``DeploymentService.releases``), newest first, with the selected release's steps,
parity figures and error in full; and the server itself: enrolment, pinned host key and the
last check as ok/FAIL lines. IT enrols servers (views.deployments_enrol), checks them, installs
the agent runtime, deploys approved versions and approved routing policies, rolls back, moves a
canary and cancels a queued or running release (views.deployments_actions). A release runs on
its server's own queue (views.deployments_runner): its steps appear as they end, the upload
moves a progress bar, and a second release for the same server waits "queued" behind it. A host
key the server no longer matches is shown in a red banner with both fingerprints.

The screen reads again on every ``Changes`` about deployments.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.deploy.ssh_errors import HostKeyMismatch
from core.entities import Changes, Principal
from core.entities_deploy import Release, RoutingPolicyRecord, Server
from core.errors import KnownError
from core.permissions import Action
from views import deployments_actions as actions
from views.approvals_tables import ITEM_ROLE
from views.deployments_runner import ActivityPanel, events
from views.deployments_tables import (
    ACTIVE,
    PolicyTableModel,
    ReleaseTableModel,
    ServerTableModel,
    StepTableModel,
    host_key_refusal,
    policy_details,
    release_details,
    server_details,
)
from views.error_dialog import error_text
from views.screen import Screen
from views.services import ServicesLike
from views.style import icon
from views.task import run_call
from views.widgets import button_row, data_table, plain_label, screen_header, table_over_details

WATCHED = frozenset({"deployment"})
SUBTITLE_IT = ("Enrol servers, check them, and deploy approved versions and routing policies; "
               "every step is recorded.")
SUBTITLE_READ = "What each server serves, and every release with its steps. Read only."
SUBTITLE_MANAGER = ("What each server serves and every release; routing policies wait here "
                    "for your decision.")


def _text_pane(name: str, placeholder: str) -> QPlainTextEdit:
    pane = QPlainTextEdit()  # plain text: server and user text is never read as markup
    pane.setReadOnly(True)
    pane.setAccessibleName(name)
    pane.setPlaceholderText(placeholder)
    return pane


class DeploymentsScreen(Screen):
    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        self.servers: list[Server] = []
        self.releases: list[Release] = []
        self.policies: list[RoutingPolicyRecord] = []
        self.dialog: QWidget | None = None  # the dialog open now (tests drive it)
        self.install_log: dict[str, list[str]] = {}  # server -> lines of its runtime install
        # server -> (address, offered, pinned): a refusal raised to this screen (a runtime
        # install) rather than recorded in the store; kept until a check connects again
        self.refused: dict[str, tuple[str, str, str]] = {}
        self._generation = 0
        self._release_generation = 0
        self._reselecting = False  # the list is being replaced: one selection event at the end
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        layout.addWidget(screen_header("Deployments", SUBTITLE_IT if principal.may(
            Action.DEPLOY) else SUBTITLE_MANAGER if principal.may(Action.POLICY_APPROVE)
            else SUBTITLE_READ))
        self.host_key_banner = plain_label("", "bannerBad")
        self.host_key_banner.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.host_key_banner.hide()
        layout.addWidget(self.host_key_banner)
        self.banner = plain_label("", "bannerOk")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.activity = ActivityPanel()
        layout.addWidget(self.activity)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._servers_tab(), icon("inventory"), "Servers")
        self.tabs.addTab(self._policies_tab(), icon("roles"), "Routing policies")
        layout.addWidget(self.tabs, 1)
        ev = events()
        ev.step.connect(self._on_step)
        ev.line.connect(self._on_line)
        ev.ended.connect(self._on_ended)
        self.update_buttons()
        self.refresh()

    # -- building --------------------------------------------------------------------------------
    def _button(self, name: str, text: str, tip: str, action: Action,
                slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(icon(name), text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: slot())
        button.setVisible(self.principal.may(action))
        return button

    def _servers_tab(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.setSpacing(8)
        self.enrol_button = self._button(
            "add-user", "Enrol server…", "Add a server; its host key is confirmed and pinned",
            Action.SERVER_ENROL, lambda: actions.enrol(self))
        self.check_button = self._button(
            "verify", "Check server", "Connect and check Python, disk, the runtime and what "
            "is served", Action.SERVER_ENROL, lambda: actions.check(self))
        self.install_button = self._button(
            "import", "Install runtime", "Install the serving agent from the offline kit (no "
            "internet needed on the server)", Action.SERVER_ENROL,
            lambda: actions.install(self))
        box.addLayout(button_row(self.enrol_button, self.check_button, self.install_button))
        self.server_model = ServerTableModel(self)
        self.server_table = data_table(self.server_model, (80, 200, 150, 135, 195))
        self.server_table.selectionModel().selectionChanged.connect(
            lambda *_: self._reselecting or self._server_selected())
        self.empty = plain_label("No server is enrolled yet."
                                 + (" Enrol one to deploy to it." if self.principal.may(
                                     Action.SERVER_ENROL) else ""), "hint")
        self.empty.hide()
        top = QWidget()
        top_box = QVBoxLayout(top)
        top_box.setContentsMargins(0, 0, 0, 0)
        top_box.addWidget(self.empty)
        top_box.addWidget(self.server_table, 1)
        self.details = QTabWidget()
        self.details.setDocumentMode(True)
        self.details.addTab(self._releases_page(), icon("history"), "Releases")
        self.server_text = _text_pane("Server details", "Select a server.")
        self.details.addTab(self.server_text, icon("settings"), "Server and last check")
        box.addWidget(table_over_details(top, self.details, (105, 560), (1, 4)), 1)
        return page

    def _releases_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 6, 0, 0)
        box.setSpacing(6)
        self.deploy_button = self._button(
            "versions", "Deploy version…", "Put an approved version on the selected server",
            Action.DEPLOY, lambda: actions.deploy_version(self))
        self.policy_button = self._button(
            "roles", "Deploy policy…", "Put an approved routing policy on the selected server",
            Action.DEPLOY, lambda: actions.deploy_policy(self))
        self.rollback_button = self._button(
            "back", "Roll back…", "Serve an earlier release of the selected server again",
            Action.ROLLBACK, lambda: actions.rollback(self))
        self.advance_button = self._button(
            "refresh", "Canary: advance…", "Move the canary to its plan's next step",
            Action.DEPLOY, lambda: actions.canary(self, "advance"))
        self.abort_button = self._button(
            "disable", "Canary: abort…", "Send every request to the stable version again",
            Action.DEPLOY, lambda: actions.canary(self, "abort"))
        self.cancel_button = self._button(
            "retire", "Cancel", "Cancel the selected release while it is queued, or stop it "
            "before its switch", Action.DEPLOY, lambda: actions.cancel(self))
        box.addLayout(button_row(self.deploy_button, self.policy_button, self.rollback_button,
                                 self.advance_button, self.abort_button, self.cancel_button))
        self.release_model = ReleaseTableModel(self)
        self.release_table = data_table(self.release_model,
                                        (192, 80, 170, 78, 110, 112, 155))
        self.release_table.selectionModel().selectionChanged.connect(
            lambda *_: self._release_selected())
        self.step_model = StepTableModel(self)
        self.step_table = data_table(self.step_model, (80, 60, 70, 300))
        self.release_text = _text_pane("Release details",
                                       "Select a release for its steps, parity and error.")
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.step_table)
        lower.addWidget(self.release_text)
        lower.setSizes([520, 420])
        box.addWidget(table_over_details(self.release_table, lower, (160, 280), (2, 3)), 1)
        return page

    def _policies_tab(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 8, 0, 0)
        box.setSpacing(8)
        self.approve_button = self._button(
            "sign", "Approve policy…", "Approve the selected draft (password again)",
            Action.POLICY_APPROVE, lambda: actions.decide_policy(self, True))
        self.reject_button = self._button(
            "disable", "Reject policy…", "Reject the selected draft (password again)",
            Action.POLICY_APPROVE, lambda: actions.decide_policy(self, False))
        box.addLayout(button_row(self.approve_button, self.reject_button))
        self.policy_model = PolicyTableModel(self)
        self.policy_table = data_table(self.policy_model, (130, 80, 365, 90, 155, 90))
        self.policy_table.selectionModel().selectionChanged.connect(
            lambda *_: self._policy_selected())
        self.policy_text = _text_pane("Policy document", "Select a policy to read it.")
        self.policy_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        box.addWidget(table_over_details(self.policy_table, self.policy_text, (220, 300),
                                         (1, 1)), 1)
        return page

    # -- Screen ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        servers, policies, who = self.services.servers, self.services.policies, self.principal
        self._generation += 1
        generation = self._generation
        run_call(self, "Reading the servers…",
                 lambda: (servers.servers(who), policies.policies(who)),
                 lambda result: self._loaded(generation, *result),
                 on_failure=self._failed, show_progress=False)

    def on_changes(self, changes: Changes) -> None:
        if changes.kinds & WATCHED:
            self.refresh()

    def _failed(self, err: BaseException) -> bool:
        if isinstance(err, KnownError):
            self.show_banner(False, "Cannot read the deployments: " + error_text(err))
            return True
        return False

    def _loaded(self, generation: int, servers: list[Server],
                policies: list[RoutingPolicyRecord]) -> None:
        if generation != self._generation:
            return
        chosen = self.selected_server()
        self.servers = servers
        self._reselecting = True
        try:
            self.server_model.set_items(servers)
            names = [s.name for s in servers]
            if servers:
                self.server_table.selectRow(names.index(chosen.name) if chosen is not None
                                            and chosen.name in names else 0)
        finally:
            self._reselecting = False
        self.empty.setVisible(not servers)
        self._server_selected()
        policy = self.selected_policy()
        self.policies = policies
        self.policy_model.set_items(policies)
        keys = [(p.policy_id, p.version) for p in policies]
        if policy is not None and (policy.policy_id, policy.version) in keys:
            self.policy_table.selectRow(keys.index((policy.policy_id, policy.version)))
        drafts = sum(p.state == "draft" for p in policies)
        self.tabs.setTabText(1, f"Routing policies ({len(policies)}"
                                + (f", {drafts} draft)" if drafts else ")"))
        self._policy_selected()

    def reload_releases(self) -> None:
        """Read the selected server's releases again (after a step, a request, a change)."""
        server = self.selected_server()
        self._release_generation += 1
        generation = self._release_generation
        if server is None:
            self._releases_loaded(generation, None, [])
            return
        deployments, who, name = self.services.deployments, self.principal, server.name
        run_call(self, "Reading the releases…", lambda: deployments.releases(who, name),
                 lambda rows: self._releases_loaded(generation, name, rows),
                 on_failure=self._failed, show_progress=False)

    def _releases_loaded(self, generation: int, name: str | None,
                         rows: list[Release]) -> None:
        if generation != self._release_generation:
            return
        chosen = self.selected_release()
        self.releases = rows
        self.release_model.set_items(rows)
        ids = [r.release_id for r in rows]
        if chosen is not None and chosen.release_id in ids:
            self.release_table.selectRow(ids.index(chosen.release_id))
        elif rows:
            self.release_table.selectRow(0)
        active = sum(r.state in ACTIVE for r in rows)
        self.details.setTabText(0, f"Releases of {name} ({len(rows)}"
                                   + (f", {active} queued or running)" if active else ")")
                                if name else "Releases")
        self._release_selected()
        self._show_host_key_refusal()

    # -- selection -------------------------------------------------------------------------------
    def selected_server(self) -> Server | None:
        rows = self.server_table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def selected_release(self) -> Release | None:
        rows = self.release_table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def selected_policy(self) -> RoutingPolicyRecord | None:
        rows = self.policy_table.selectionModel().selectedRows()
        return rows[0].data(ITEM_ROLE) if rows else None

    def select_server(self, name: str) -> bool:
        names = [s.name for s in self.servers]
        if name in names:
            self.server_table.selectRow(names.index(name))
            return True
        return False

    def select_release(self, release_id: str) -> bool:
        ids = [r.release_id for r in self.releases]
        if release_id in ids:
            self.release_table.selectRow(ids.index(release_id))
            return True
        return False

    def serving_release(self) -> Release | None:
        return next((r for r in self.releases if r.state == "serving"), None)

    def _server_selected(self) -> None:
        server = self.selected_server()
        if server is None or any(r.server != server.name for r in self.releases):
            self.release_model.set_items([])  # another server's: never shown under this one
            self.releases = []
        self._show_server_text()
        self.reload_releases()
        self.update_buttons()

    def _show_server_text(self) -> None:
        server = self.selected_server()
        if server is None:
            self.server_text.setPlainText("")
            return
        text = server_details(server)
        lines = self.install_log.get(server.name)
        if lines:
            text += "\n\nRuntime install (this session):\n" + "\n".join(f"  {x}" for x in lines)
        self.server_text.setPlainText(text)

    def _release_selected(self) -> None:
        release = self.selected_release()
        self.step_model.set_items(list(release.steps) if release else [])
        self.release_text.setPlainText(release_details(release) if release else "")
        self.update_buttons()

    def _policy_selected(self) -> None:
        policy = self.selected_policy()
        self.policy_text.setPlainText(policy_details(policy) if policy else "")
        self.update_buttons()

    def update_buttons(self) -> None:
        may, server = self.principal.may, self.selected_server()
        release, policy = self.selected_release(), self.selected_policy()
        installing = server is not None and f"install:{server.name}" in self.activity
        serving = self.serving_release()
        earlier = any(r.state == "superseded" and r.kind != "rollback" for r in self.releases)
        canary = serving is not None and serving.kind == "canary"
        self.enrol_button.setEnabled(may(Action.SERVER_ENROL))
        for button in (self.check_button, self.install_button):
            button.setEnabled(may(Action.SERVER_ENROL) and server is not None
                              and not installing)
        for button in (self.deploy_button, self.policy_button):
            button.setEnabled(may(Action.DEPLOY) and server is not None)
        self.rollback_button.setEnabled(may(Action.ROLLBACK) and earlier)
        self.advance_button.setEnabled(may(Action.DEPLOY) and canary
                                       and serving.canary_step != 100)
        self.abort_button.setEnabled(may(Action.DEPLOY) and canary)
        self.cancel_button.setEnabled(may(Action.DEPLOY) and release is not None
                                      and release.state in ACTIVE)
        decidable = (policy is not None and policy.state == "draft"
                     and policy.created_by != self.principal.username)
        self.approve_button.setEnabled(may(Action.POLICY_APPROVE) and decidable)
        self.reject_button.setEnabled(may(Action.POLICY_APPROVE) and decidable)

    # -- messages --------------------------------------------------------------------------------
    def show_banner(self, ok: bool, text: str) -> None:
        self.banner.setObjectName("bannerOk" if ok else "bannerBad")
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setText(text)
        self.banner.show()

    def show_host_key_refused(self, server: str, address: str, offered: str,
                              pinned: str) -> None:
        self.host_key_banner.setText(
            f"HOST KEY REFUSED — {server} ({address})\n"
            f"Offered now: {offered}\nPinned at enrolment: {pinned}\n"
            "Charter refused the connection: someone may be intercepting it, or the server was "
            "reinstalled. Confirm the new fingerprint with the server's administrator before "
            "anything else; re-enrol the server only if they confirm it.")
        self.host_key_banner.show()

    def host_key_error(self, server: str, err: BaseException) -> bool:
        """Show a HostKeyMismatch in the red banner; True if it was one."""
        if isinstance(err, HostKeyMismatch):
            self.refused[server] = (err.address, err.offered, err.expected)
            self.show_host_key_refused(server, *self.refused[server])
            return True
        return False

    def _show_host_key_refusal(self) -> None:
        """The selected server's last check or newest release reports a refused host key."""
        server = self.selected_server()
        found = None
        if server is not None:
            texts = [c.get("detail", "") for c in (server.last_check or {}).get("checks", [])]
            texts += [r.error or "" for r in self.releases[:1]]
            found = next((host_key_refusal(t) for t in texts if host_key_refusal(t)),
                         self.refused.get(server.name))
        if found:
            self.show_host_key_refused(server.name, *found)
        else:
            self.host_key_banner.hide()

    # -- live work -------------------------------------------------------------------------------
    @Slot(str, str, str, str)
    def _on_step(self, release_id: str, step: str, status: str, detail: str) -> None:
        self.activity.step(release_id, step, status, detail)
        if self.activity.lines or any(r.release_id == release_id for r in self.releases):
            self.reload_releases()

    @Slot(str, str)
    def _on_line(self, server: str, text: str) -> None:
        self.install_log.setdefault(server, []).append(text)
        if f"install:{server}" in self.activity:
            self.activity.set(f"install:{server}", f"Installing the runtime on {server}: {text}")
        selected = self.selected_server()
        if selected is not None and selected.name == server:
            self._show_server_text()

    @Slot(str, str)
    def _on_ended(self, server: str, release_id: str) -> None:
        self.refresh()
