"""What the deployments screen's buttons do. Each function takes the screen, asks what it must
(a dialog), runs the service call off the GUI thread and reports on the screen: its banner, its
live activity, ``changes_made``.

Requests (``request_version``, ``request_policy``, ``request_rollback``, ``request_canary``) are
short writes on the console's task queue; the release they queue then runs on its server's
queue (views.deployments_runner), so a second request for a busy server shows "queued" until
the first has ended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from core.entities import Changes
from core.entities_deploy import Preflight, Release, Server
from core.entities_registry import ModelFilter
from core.errors import KnownError
from core.permissions import Action
from core.workflow.lifecycle import IN_USE
from views import deployments_runner as runner
from views.deployments_dialogs import (
    Deployable,
    DeployPolicyDialog,
    DeployVersionDialog,
    PolicyDecisionDialog,
    RollbackDialog,
)
from views.deployments_enrol import enrol_server
from views.deployments_tables import STATE_LABELS, check_lines, host_key_refusal
from views.error_dialog import error_text
from views.sign_dialog import password_refused
from views.task import run_call, run_from_dialog
from views.widgets import ReasonDialog

if TYPE_CHECKING:
    from views.deployments_screen import DeploymentsScreen


def _open(screen: DeploymentsScreen, dialog: QDialog) -> QDialog:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    screen.dialog = dialog
    dialog.open()
    return dialog


def _alive(screen: DeploymentsScreen) -> bool:
    return shiboken6.isValid(screen)


# -- servers -------------------------------------------------------------------------------------
def enrol(screen: DeploymentsScreen) -> None:
    if not screen.enrol_button.isEnabled():
        return

    def enrolled(server: Server, changes: Changes) -> None:
        screen.show_banner(True, f"{server.name} is enrolled with host key "
                                 f"{server.fingerprint}. Check it, then install the runtime.")
        screen.changes_made.emit(changes)

    screen.dialog = enrol_server(screen, screen.services.servers, screen.principal, enrolled)


def check(screen: DeploymentsScreen) -> None:
    server = screen.selected_server()
    if server is None or not screen.check_button.isEnabled():
        return
    servers, who, name = screen.services.servers, screen.principal, server.name

    def checked(result: tuple[Preflight, Changes]) -> None:
        report, changes = result
        failed = [c.name for c in report.checks if c.ok is False]
        refused = next((host_key_refusal(c.detail) for c in report.checks
                        if host_key_refusal(c.detail)), None)
        if refused:  # the red banner says it all; the lines are on the server tab
            screen.banner.hide()
            screen.show_host_key_refused(name, *refused)
        else:
            if any(c.name == "connection" and c.ok for c in report.checks):
                screen.refused.pop(name, None)  # the pinned key was accepted again
            screen.show_banner(report.ok, f"{name}: " + (
                "every check passed." if report.ok else
                f"{len(failed)} check(s) failed ({', '.join(failed)}).")
                + "\n" + "\n".join(check_lines(list(report.checks))))
        screen.details.setCurrentWidget(screen.server_text)
        screen.changes_made.emit(changes)

    run_call(screen, f"Checking {name}…", lambda: servers.check(who, name), checked,
             on_failure=lambda err: _failed(screen, name, err))


def install(screen: DeploymentsScreen) -> None:
    server = screen.selected_server()
    if server is None or not screen.install_button.isEnabled():
        return
    servers, who, name = screen.services.servers, screen.principal, server.name
    key = f"install:{name}"
    screen.install_log[name] = []
    screen.activity.set(key, f"Installing the runtime on {name}: connecting")
    screen.details.setCurrentWidget(screen.server_text)
    screen.update_buttons()

    def installed(result: tuple[Preflight, Changes]) -> None:
        report, changes = result
        screen.show_banner(report.ok, f"{name}: runtime {report.runtime_version or '?'} "
                                      "installed." + ("" if report.ok else
                                                      " Some checks failed:")
                           + "\n" + "\n".join(check_lines(list(report.checks))))
        screen.changes_made.emit(changes)

    task = runner.install_runtime(screen, servers, who, name, installed,
                                  on_failure=lambda err: _failed(screen, name, err))
    task.done.connect(lambda: _alive(screen) and _ended(screen, key))


def _ended(screen: DeploymentsScreen, key: str) -> None:
    """The work behind activity line ``key`` is over, however it ended."""
    screen.activity.drop(key)
    screen.update_buttons()


def _failed(screen: DeploymentsScreen, server: str, err: BaseException) -> bool:
    if not isinstance(err, KnownError) or not _alive(screen):
        return False
    if not screen.host_key_error(server, err):
        screen.show_banner(False, f"{server}: {error_text(err)}")
    return True


# -- releases ------------------------------------------------------------------------------------
def deployable_versions(services: Any, who: Any) -> list[Deployable]:
    """Every version approved for use, model by model (worker thread)."""
    found, after = [], None
    while True:
        page = services.inventory.page(who, ModelFilter(include_retired=False),
                                       after_name=after)
        for model in page.items:
            found += [Deployable(model.name, v.number, v.state, v.label)
                      for v in services.inventory.versions(who, model.name)
                      if v.state in IN_USE]
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def _requested(screen: DeploymentsScreen, result: tuple[Release, Changes]) -> None:
    """A release was queued: say so, show it, and run it on its server's queue."""
    release, changes = result
    screen.changes_made.emit(changes)
    start(screen, release)


def start(screen: DeploymentsScreen, release: Release) -> None:
    rid = release.release_id
    waiting = any(r.state in ("queued", "running") and r.release_id != rid
                  for r in screen.releases if r.server == release.server)
    screen.activity.set(rid, f"{rid} on {release.server}: " + (
        "queued behind the release running there" if waiting else "starting"),
        release.server)
    screen.show_banner(True, f"Release {rid} is queued on {release.server}.")

    def ended(result: tuple[Release, Changes]) -> None:
        done, changes = result
        screen.activity.drop(rid)  # before the banner, which may grow into its place
        state = STATE_LABELS.get(done.state, done.state)
        ok = done.state in ("serving", "done", "cancelled")
        again = (f" {done.previous_release} serves again." if done.kind == "rollback"
                 and done.state == "done" else "")
        screen.show_banner(ok, f"Release {rid} on {done.server}: {state}.{again}"
                           + (f"\n{done.error}" if done.error else ""))
        screen.select_release(rid)
        screen.changes_made.emit(changes)

    task = runner.run_release(screen, screen.services.deployments, screen.principal, release,
                              ended, on_failure=lambda err: _failed(screen, release.server, err))
    task.done.connect(lambda: _alive(screen) and _ended(screen, rid))
    task.progressed.connect(
        lambda done, total: _alive(screen) and screen.activity.upload(rid, done, total))


def _request(screen: DeploymentsScreen, dialog: QDialog, label: str, call: Any) -> None:
    run_from_dialog(screen, dialog, label, call, lambda result: _requested(screen, result))


def deploy_version(screen: DeploymentsScreen) -> None:
    server = screen.selected_server()
    if server is None or not screen.deploy_button.isEnabled():
        return
    services, who, name = screen.services, screen.principal, server.name

    def ask(versions: list[Deployable]) -> None:
        dialog = DeployVersionDialog(name, versions, screen)

        def submit() -> None:
            v, reason = dialog.chosen(), dialog.reason_text()
            _request(screen, dialog, f"Requesting {v.model} v{v.number} on {name}…",
                     lambda: services.deployments.request_version(who, v.model, v.number,
                                                                  name, reason=reason))

        dialog.submitted.connect(submit)
        _open(screen, dialog)

    run_call(screen, "Reading the approved versions…",
             lambda: deployable_versions(services, who), ask, show_progress=False)


def deploy_policy(screen: DeploymentsScreen) -> None:
    server = screen.selected_server()
    if server is None or not screen.policy_button.isEnabled():
        return
    deployments, who, name = screen.services.deployments, screen.principal, server.name
    approved = [p for p in screen.policies if p.state == "approved"]
    dialog = DeployPolicyDialog(name, approved, screen)

    def submit() -> None:
        p, reason = dialog.chosen(), dialog.reason_text()
        _request(screen, dialog, f"Requesting policy {p.label} on {name}…",
                 lambda: deployments.request_policy(who, p.policy_id, p.version, name,
                                                    reason=reason))

    dialog.submitted.connect(submit)
    _open(screen, dialog)


def rollback(screen: DeploymentsScreen) -> None:
    server = screen.selected_server()
    if server is None or not screen.rollback_button.isEnabled():
        return
    deployments, who, name = screen.services.deployments, screen.principal, server.name
    earlier = [r for r in screen.releases if r.state == "superseded" and r.kind != "rollback"]
    dialog = RollbackDialog(name, earlier, screen)

    def submit() -> None:
        to, reason = dialog.target(), dialog.reason_text()
        _request(screen, dialog, f"Requesting a rollback of {name}…",
                 lambda: deployments.request_rollback(who, name, to=to, reason=reason))

    dialog.submitted.connect(submit)
    _open(screen, dialog)


def canary(screen: DeploymentsScreen, action: str) -> None:
    server, serving = screen.selected_server(), screen.serving_release()
    button = screen.advance_button if action == "advance" else screen.abort_button
    if server is None or serving is None or not button.isEnabled():
        return
    deployments, who, name = screen.services.deployments, screen.principal, server.name
    question = (f"The canary on {name} sends {serving.canary_step} % of requests to the "
                "candidate. " + ("Advance it to its plan's next step: why now?"
                                 if action == "advance" else
                                 "Abort it: every request goes to the stable version. Why?"))
    dialog = ReasonDialog(f"Canary on {name}: {action}", question, screen,
                          action_text="Advance" if action == "advance" else "Abort canary")
    dialog.reason.setPlaceholderText("Your decision (recorded in the audit trail)")

    def submit() -> None:
        reason = dialog.text()
        _request(screen, dialog, f"Requesting the canary {action} on {name}…",
                 lambda: deployments.request_canary(who, name, action, reason=reason))

    dialog.submitted.connect(submit)
    _open(screen, dialog)


def cancel(screen: DeploymentsScreen) -> None:
    release = screen.selected_release()
    if release is None or not screen.cancel_button.isEnabled():
        return
    deployments, who, rid = screen.services.deployments, screen.principal, release.release_id

    def cancelled(result: tuple[Release, Changes]) -> None:
        row, changes = result
        screen.show_banner(True, f"Release {rid} is cancelled." if row.state == "cancelled"
                           else f"Release {rid} will stop before its switch; if it already "
                                "switched, it finishes.")
        screen.changes_made.emit(changes)

    run_call(screen, f"Cancelling {rid}…", lambda: deployments.cancel(who, rid), cancelled,
             on_failure=lambda err: _failed(screen, release.server, err))


# -- routing policies ----------------------------------------------------------------------------
def decide_policy(screen: DeploymentsScreen, approve: bool) -> None:
    policy = screen.selected_policy()
    button = screen.approve_button if approve else screen.reject_button
    if policy is None or not button.isEnabled() or not screen.principal.may(
            Action.POLICY_APPROVE):
        return
    policies, who = screen.services.policies, screen.principal
    dialog = PolicyDecisionDialog(who, policy, approve, screen)

    def decided(result: Any) -> None:
        row, changes = result
        screen.show_banner(True, f"Routing policy {row.label} is {row.state}.")
        screen.changes_made.emit(changes)

    def submit() -> None:
        reason, password = dialog.reason.text().strip(), dialog.password.text()
        task = run_from_dialog(
            screen, dialog, f"Recording the decision on {policy.label}…",
            lambda: policies.decide(who, policy.policy_id, policy.version, approve=approve,
                                    reason=reason, password=password), decided)
        task.failed.connect(lambda err: password_refused(dialog, err, screen.session_ended.emit))

    dialog.submitted.connect(submit)
    _open(screen, dialog)
