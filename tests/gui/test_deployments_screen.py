"""The Deployments screen against a real OpenSSH server (tests/sshd_server.py) and a real SQLite
store (tests/deploy/deploykit.py: Retail PD v1 and v2 approved, v3 draft, "prod-1" enrolled
with its runtime not yet installed).

One world for the module, in the order an IT team meets it: the server listed and read only for
a data scientist; a manager approving a routing policy and nothing else; a server enrolled
through the dialog with its host key fetched and confirmed; the runtime installed with its
progress lines; v1 deployed from the dialog with every step appearing, v2 queued behind a
second request, a third request cancelled while queued; a rollback; and last, the server's host
key replaced: enrolment with the old fingerprint and a check are both refused, with both
fingerprints shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtTest import QAbstractItemModelTester

sys.path.insert(0, str(Path(__file__).parents[1] / "deploy"))
from deploykit import MODEL, PW, World, make_world  # noqa: E402
from sshd_server import SshdServer  # noqa: E402

from core.deploy.bundle import version_ref  # noqa: E402
from tests.gui.conftest import tasks_idle  # noqa: E402
from views.deployments_dialogs import (  # noqa: E402
    DeployPolicyDialog,
    DeployVersionDialog,
    PolicyDecisionDialog,
    RollbackDialog,
)
from views.deployments_enrol import EnrolServerDialog  # noqa: E402
from views.deployments_screen import DeploymentsScreen  # noqa: E402

pytestmark = pytest.mark.gui
STEPS = ["preflight", "upload", "verify", "rename", "switch", "reload", "health", "parity"]
V1, V2 = version_ref(MODEL, 1), version_ref(MODEL, 2)


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshdServer]:
    server = SshdServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sshd: SshdServer,
          qapp) -> Iterator[World]:  # noqa: ANN001
    w = make_world(tmp_path_factory.mktemp("gui-deploy"), sshd)
    try:
        yield w
    finally:
        import time

        from views import task

        deadline = time.monotonic() + 120  # a release still running on its server's queue
        while task.running() and time.monotonic() < deadline:
            qapp.processEvents()
            time.sleep(0.05)
        task.wait_for_all(30_000)
        qapp.processEvents()
        sshd.run_in_server([str(w.root / "bin" / "charter-agentctl"), "stop"])
        w.svc.close()


@pytest.fixture
def open_screen(qtbot, world: World):  # noqa: ANN001, ANN201
    def _open(username: str) -> DeploymentsScreen:
        screen = DeploymentsScreen(world.svc, world.people[username])
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.resize(1250, 820)
        screen.show()
        qtbot.waitUntil(lambda: tasks_idle() and bool(screen.servers), timeout=10_000)
        qtbot.waitUntil(tasks_idle)
        return screen

    return _open


def texts(model, column: int) -> list[str]:  # noqa: ANN001
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def releases(screen: DeploymentsScreen) -> dict[str, tuple[str, str]]:
    """Release id -> (versions / policy, state) as the history table shows them."""
    m = screen.release_model
    return {m.data(m.index(r, 0)): (m.data(m.index(r, 2)), m.data(m.index(r, 4)))
            for r in range(m.rowCount())}


def it_buttons(screen: DeploymentsScreen) -> list:
    return [screen.enrol_button, screen.check_button, screen.install_button,
            screen.deploy_button, screen.policy_button, screen.rollback_button,
            screen.advance_button, screen.abort_button, screen.cancel_button]


def gone(dialog) -> bool:  # noqa: ANN001 - closed (and deleted: WA_DeleteOnClose)
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def deploy_from_dialog(screen: DeploymentsScreen, qtbot, number: int) -> str:  # noqa: ANN001
    """Deploy Retail PD v``number`` through the dialog; the new release's id."""
    before = {r.release_id for r in screen.services.deployments.releases(screen.principal)}
    screen.deploy_button.click()
    qtbot.waitUntil(lambda: isinstance(screen.dialog, DeployVersionDialog)
                    and not gone(screen.dialog))
    dialog = screen.dialog
    offered = [dialog.choice.itemText(i) for i in range(dialog.choice.count())]
    assert [t.split(" — ")[0] for t in offered] == [f"{MODEL} v2", f"{MODEL} v1"]  # not v3
    assert not dialog.ok_button.isEnabled()  # a reason first
    dialog.choice.setCurrentIndex(offered.index(next(t for t in offered
                                                     if t.startswith(f"{MODEL} v{number}"))))
    dialog.reason.setText(f"release v{number} to production")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    (new,) = {r.release_id for r in screen.services.deployments.releases(
        screen.principal)} - before
    return new


def wait_state(screen: DeploymentsScreen, qtbot, release_id: str, state: str,  # noqa: ANN001
               timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: releases(screen).get(release_id, ("", ""))[1] == state
                    and not screen.activity.lines, timeout=timeout)
    qtbot.waitUntil(tasks_idle)


def test_a_data_scientist_reads_servers_and_releases_but_cannot_act(open_screen,
                                                                    world: World) -> None:
    screen = open_screen("dana")
    QAbstractItemModelTester(screen.server_model)
    row = screen.server_model.texts(screen.servers[0])
    assert row[0] == "prod-1" and row[2].startswith("SHA256:")
    assert row[1].endswith(f":{world.svc.servers.server(world.ivan, 'prod-1').port}")
    assert row[3:] == ("not checked", "never checked", "nothing")
    assert "Host key (pinned):" in screen.server_text.toPlainText()
    assert "Not checked yet" in screen.server_text.toPlainText()
    assert not any(b.isVisibleTo(screen) or b.isEnabled() for b in it_buttons(screen))
    assert not screen.approve_button.isVisibleTo(screen)
    assert screen.details.tabText(0) == "Releases of prod-1 (0)"


def test_a_manager_approves_a_routing_policy_and_has_no_it_buttons(open_screen,
                                                                   world: World, qtbot) -> None:
    shas = {v.number: v.artifact_sha256 for v in world.svc.inventory.versions(world.ivan,
                                                                            MODEL)}
    doc = json.dumps({"format": "charter.routing/1", "policy_id": "retail-pd", "version": 1,
                      "versions": [{"name": V1, "sha256": shas[1]},
                                   {"name": V2, "sha256": shas[2]}],
                      "sticky_key": "customer_id",
                      "rules": [{"name": "canary", "when": "true",
                                 "target": [{"version": V1, "weight": 95},
                                            {"version": V2, "weight": 5}]}],
                      "default": V1})
    world.svc.policies.draft(world.ivan, doc, canary={
        "rule": "canary", "stable": V1, "candidate": V2, "steps": [5, 50, 100]})
    screen = open_screen("max")
    assert not any(b.isEnabled() for b in it_buttons(screen))
    assert screen.tabs.tabText(1) == "Routing policies (1, 1 draft)"
    assert not any(b.isVisibleTo(screen) for b in it_buttons(screen))
    screen.tabs.setCurrentIndex(1)
    screen.policy_table.selectRow(0)
    assert screen.approve_button.isVisible() and screen.approve_button.isEnabled()
    assert "retail-pd@2 beside retail-pd@1: 5 %, 50 %, 100 %" in screen.policy_text.toPlainText()
    screen.approve_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, PolicyDecisionDialog) and not dialog.ok_button.isEnabled()
    dialog.reason.setText("canary agreed at the model risk committee")
    dialog.password.setText("not my password")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible())
    assert dialog.password.text() == ""  # cleared for another try; nothing decided
    dialog.password.setText(PW)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    qtbot.waitUntil(lambda: texts(screen.policy_model, 1) == ["approved"])
    assert "Routing policy retail-pd v1 is approved." in screen.banner.text()
    assert not screen.approve_button.isEnabled()


def test_enrol_a_server_after_confirming_its_fingerprint(open_screen, world: World,
                                                         sshd: SshdServer, qtbot) -> None:
    screen = open_screen("ivan")
    assert screen.enrol_button.isEnabled()
    screen.enrol_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, EnrolServerDialog)
    assert dialog.root.text() == "/opt/charter" and dialog.agent_port.value() == 8080
    dialog.name.setText("prod-2")
    dialog.host.setText(sshd.host)
    dialog.port.setValue(sshd.port)
    dialog.username.setText(sshd.user)
    dialog.key_path.setText(str(sshd.client_key_path))
    dialog.root.setText(str(sshd.root / "charter-2"))
    dialog.agent_port.setValue(18081)
    assert not dialog.ok_button.isEnabled() and not dialog.card.isVisible()
    dialog.fetch_button.click()
    qtbot.waitUntil(lambda: dialog.card.isVisible(), timeout=10_000)
    assert dialog.key_value.text() == sshd.host_key.fingerprint
    assert "administrator" in dialog.instruction.text()
    assert not dialog.ok_button.isEnabled()  # not confirmed yet
    dialog.confirmed.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.port.setValue(sshd.port + 1)  # another address: the fingerprint is forgotten
    assert not dialog.card.isVisible() and not dialog.ok_button.isEnabled()
    dialog.port.setValue(sshd.port)
    dialog.fetch_button.click()
    qtbot.waitUntil(lambda: dialog.card.isVisible(), timeout=10_000)
    dialog.confirmed.setChecked(True)
    dialog.name.setText("prod-1")  # taken: refused inside the dialog
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert "already enrolled" in dialog.error.text() and dialog.isVisible()
    dialog.name.setText("prod-2")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: "prod-2" in texts(screen.server_model, 0))
    assert "prod-2 is enrolled with host key " + sshd.host_key.fingerprint in \
        screen.banner.text()
    assert world.svc.servers.server(world.ivan, "prod-2").fingerprint == \
        sshd.host_key.fingerprint


def test_check_then_install_the_runtime_with_its_progress(open_screen, world: World,
                                                          qtbot) -> None:
    screen = open_screen("ivan")
    assert screen.select_server("prod-1")
    screen.check_button.click()
    qtbot.waitUntil(lambda: "prod-1: 1 check(s) failed (runtime)" in screen.banner.text(),
                    timeout=20_000)
    assert "FAIL  runtime: not installed" in screen.banner.text()
    qtbot.waitUntil(lambda: "FAIL  runtime" in screen.server_text.toPlainText())
    assert "ok    python: Python 3.11" in screen.server_text.toPlainText()
    assert screen.details.currentWidget() is screen.server_text
    screen.install_button.click()
    assert screen.activity.isVisible() and not screen.install_button.isEnabled()
    qtbot.waitUntil(lambda: "uploading charter-agent-kit" in screen.server_text.toPlainText(),
                    timeout=60_000)
    assert "Installing the runtime on prod-1" in screen.activity.label.text()
    qtbot.waitUntil(lambda: "runtime charter-agent 0.1.0 installed" in screen.banner.text(),
                    timeout=240_000)
    qtbot.waitUntil(lambda: tasks_idle() and texts(screen.server_model, 3)[0]
                    == "charter-agent 0.1.0")
    assert texts(screen.server_model, 4)[0].startswith("ok · ")
    assert not screen.activity.isVisible() and screen.install_button.isEnabled()


def test_deploy_from_the_dialog_a_second_waits_queued_a_third_is_cancelled(
        open_screen, world: World, qtbot) -> None:
    screen = open_screen("ivan")
    assert screen.select_server("prod-1")
    seen: list[tuple[str, list[str]]] = []  # (release selected, its steps shown) over time
    uploads: list[tuple[int, int]] = []
    screen.step_model.modelReset.connect(lambda: seen.append((
        getattr(screen.selected_release(), "release_id", ""), texts(screen.step_model, 0))))
    real = screen.activity.upload
    screen.activity.upload = lambda rid, d, t: (uploads.append((d, t)), real(rid, d, t))
    first = deploy_from_dialog(screen, qtbot, 1)
    qtbot.waitUntil(lambda: screen.select_release(first))
    second = deploy_from_dialog(screen, qtbot, 2)
    third = deploy_from_dialog(screen, qtbot, 1)
    # one queue per server: the later ones wait while the first runs
    qtbot.waitUntil(lambda: releases(screen).get(third, ("", ""))[1] == "queued")
    assert releases(screen)[second][1] == "queued"
    assert releases(screen)[first][1] in ("queued", "running")
    assert screen.activity.isVisible() and third in screen.activity.label.text()
    assert screen.select_release(third) and screen.cancel_button.isEnabled()
    screen.cancel_button.click()
    qtbot.waitUntil(lambda: releases(screen).get(third, ("", ""))[1] == "cancelled")
    assert screen.select_release(first)
    wait_state(screen, qtbot, second, "serving", timeout=90_000)
    assert releases(screen)[first] == (V1, "superseded")
    assert releases(screen)[second] == (V2, "serving")
    assert world.serving() == second
    assert uploads and uploads[-1][0] == uploads[-1][1] > 0  # the bar reached the total
    # each step appeared as it ended, before the release was over
    partial = {len(steps) for rid, steps in seen if rid == first and steps == STEPS[:len(steps)]}
    assert len(partial - {0, len(STEPS)}) >= 2, seen
    assert screen.select_release(first)
    assert texts(screen.step_model, 0) == STEPS
    assert set(texts(screen.step_model, 1)) == {"ok"}
    assert all(float(s) >= 0 for s in texts(screen.step_model, 2))
    details = screen.release_text.toPlainText()
    assert f"{V1}: passed — 100 rows, largest difference" in details
    assert "release v1 to production" in details
    serving = screen.server_model.texts(screen.servers[0])[5]
    assert serving.startswith(f"{V2} — {second} since ")
    assert "Release " in screen.banner.text()


def test_roll_back_to_the_release_served_before(open_screen, world: World, qtbot) -> None:
    screen = open_screen("ivan")
    assert screen.select_server("prod-1")
    qtbot.waitUntil(lambda: bool(screen.releases) and tasks_idle())
    before = next(r for r in screen.releases if r.state == "superseded")
    assert screen.rollback_button.isEnabled()
    screen.rollback_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, RollbackDialog)
    assert dialog.target() is None  # the default: the release served before the current one
    assert before.release_id in dialog.choice.itemText(0)
    dialog.reason.setText("v2 scores drift in the first hour")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: releases(screen).get(before.release_id, ("", ""))[1] == "serving"
                    and not screen.activity.lines, timeout=60_000)
    qtbot.waitUntil(tasks_idle)
    rollback = next(r for r in screen.releases if r.kind == "rollback")
    assert rollback.state == "done" and rollback.previous_release == before.release_id
    assert screen.select_release(rollback.release_id)
    assert texts(screen.step_model, 0) == ["verify", "switch", "reload", "health", "parity"]
    assert f"Serves again: {before.release_id}" in screen.release_text.toPlainText()
    assert world.serving() == before.release_id


def test_deploy_the_approved_canary_policy_and_advance_it(open_screen, world: World,
                                                          qtbot) -> None:
    screen = open_screen("ivan")
    assert screen.select_server("prod-1")
    qtbot.waitUntil(lambda: bool(screen.releases) and tasks_idle())
    assert not screen.advance_button.isEnabled() and not screen.abort_button.isEnabled()
    screen.policy_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, DeployPolicyDialog)
    assert dialog.choice.itemText(0).startswith("retail-pd v1 — canary")  # the approved one
    assert '"policy_id": "retail-pd"' in dialog.preview.toPlainText()
    dialog.reason.setText("start the canary agreed by the committee")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: any(r.kind == "canary" and r.state == "serving"
                                for r in screen.releases) and not screen.activity.lines,
                    timeout=60_000)
    qtbot.waitUntil(tasks_idle)
    row = releases(screen)[screen.serving_release().release_id]
    assert row == ("policy retail-pd v1 (retail-pd@1, retail-pd@2)", "serving")
    assert texts(screen.release_model, 3)[0] == "5 %"
    assert screen.advance_button.isEnabled() and screen.abort_button.isEnabled()
    screen.advance_button.click()
    dialog = screen.dialog
    assert any("sends 5 % of requests to the candidate" in label.text()
               for label in dialog.findChildren(type(screen.banner)))
    assert not dialog.ok_button.isEnabled()  # the decision must be written down
    dialog.reason.setText("no drift after a day at 5 %")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: screen.serving_release() is not None
                    and screen.serving_release().canary_step == 50
                    and not screen.activity.lines, timeout=60_000)
    qtbot.waitUntil(tasks_idle)
    assert "canary step" in texts(screen.release_model, 1)[0]
    assert world.serving() == screen.serving_release().release_id


def test_a_replaced_host_key_is_refused_with_both_fingerprints(open_screen, world: World,
                                                               sshd: SshdServer,
                                                               qtbot) -> None:
    screen = open_screen("ivan")
    pinned = sshd.host_key.fingerprint
    screen.enrol_button.click()
    dialog = screen.dialog
    dialog.name.setText("prod-3")
    dialog.host.setText(sshd.host)
    dialog.port.setValue(sshd.port)
    dialog.username.setText(sshd.user)
    dialog.key_path.setText(str(sshd.client_key_path))
    dialog.fetch_button.click()
    qtbot.waitUntil(lambda: dialog.card.isVisible(), timeout=10_000)
    dialog.confirmed.setChecked(True)
    sshd.regenerate_host_key()  # between the confirmation and the enrolment
    offered = sshd.host_key.fingerprint
    assert offered != pinned
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert f"now offers host key {offered}" in dialog.error.text()
    assert not dialog.card.isVisible() and not dialog.ok_button.isEnabled()  # fetch again
    dialog.reject()
    assert "prod-3" not in [s.name for s in world.svc.servers.servers(world.ivan)]
    assert screen.select_server("prod-1")
    screen.check_button.click()
    qtbot.waitUntil(lambda: screen.host_key_banner.isVisible(), timeout=20_000)
    banner = screen.host_key_banner.text()
    assert "HOST KEY REFUSED — prod-1" in banner
    assert f"Offered now: {offered}" in banner and f"Pinned at enrolment: {pinned}" in banner
    assert not screen.banner.isVisible()  # said once, in red
    qtbot.waitUntil(tasks_idle)
    assert "FAIL  connection" in screen.server_text.toPlainText()
    # installing the runtime is refused at the connection too: the same red banner
    screen.host_key_banner.hide()
    screen.install_button.click()
    qtbot.waitUntil(lambda: tasks_idle() and not screen.activity.lines, timeout=20_000)
    assert screen.host_key_banner.isVisible() and offered in screen.host_key_banner.text()
    assert not screen.banner.isVisible() and screen.install_button.isEnabled()
    # the refusal stays in view for anyone who opens the screen later
    other = open_screen("dana")
    assert other.host_key_banner.isVisible() and offered in other.host_key_banner.text()
