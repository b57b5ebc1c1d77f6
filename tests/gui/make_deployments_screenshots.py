"""Screenshots of the Deployments screen for a visual check (not a test): a real OpenSSH server
(tests/sshd_server.py) and the deployment world of tests/deploy/deploykit.py in
/tmp/deployshotstore (Retail PD v1 and v2 approved, "prod-1" enrolled, its runtime installed
from the offline kit, which takes about a minute); PNGs in /tmp/shots/deployments-*.png.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_deployments_screenshots.py
"""
import json
import shutil
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path[:0] = [str(Path(__file__).parents[1]), str(Path(__file__).parents[1] / "deploy")]
from deploykit import MODEL, PW, make_world  # noqa: E402
from sshd_server import SshdServer  # noqa: E402

from core.deploy.bundle import version_ref  # noqa: E402
from core.services.deployments import Progress  # noqa: E402
from tests.gui.shotkit import settle, wait  # noqa: E402
from views import style  # noqa: E402
from views.deployments_screen import DeploymentsScreen  # noqa: E402
from views.main_window import MainWindow  # noqa: E402

app = QApplication.instance() or QApplication(sys.argv[:1])
app.setStyle("Fusion")
app.setStyleSheet(style.stylesheet())
STORE, OUT = Path("/tmp/deployshotstore"), Path("/tmp/shots")
shutil.rmtree(STORE, ignore_errors=True)
STORE.mkdir(parents=True)
OUT.mkdir(parents=True, exist_ok=True)
sshd = SshdServer()
sshd.start()
w = make_world(STORE, sshd)
svc, ivan = w.svc, w.ivan
qs_path = STORE / "q.ini"
print("installing the runtime…")
svc.servers.install_runtime(ivan, "prod-1")
svc.servers.check(ivan, "prod-1")
V1, V2 = version_ref(MODEL, 1), version_ref(MODEL, 2)


def shot(widget, name: str) -> None:  # noqa: ANN001
    settle()
    widget.grab().save(str(OUT / f"deployments-{name}.png"))
    print("saved", name)


def run(release, **progress):  # noqa: ANN001, ANN003, ANN201
    done, _ = svc.deployments.run(ivan, release.release_id, Progress(**progress))
    return done


def deploy(number: int, reason: str, **progress):  # noqa: ANN003, ANN201
    release, _ = svc.deployments.request_version(ivan, MODEL, number, "prod-1", reason=reason)
    return run(release, **progress)


first = deploy(1, "First production release of the retail PD model")
deploy(2, "Recalibrated on Q3 data (committee 14 Oct)")


# A release whose model file is spoiled after it was verified: the agent refuses it, the
# console rolls back to the release serving before.
def spoil(step: str, status: str, detail: str) -> None:
    if (step, status) == ("rename", "ok"):
        for p in w.root.glob(f"releases/{detail.split('/')[-1]}/artifacts/*.skops"):
            p.write_bytes(b"not a model")


failed = deploy(1, "Hotfix: back to v1 scoring", step=spoil)
print("spoiled release:", failed.state)

shas = {v.number: v.artifact_sha256 for v in svc.inventory.versions(ivan, MODEL)}
svc.policies.draft(ivan, json.dumps({
    "format": "charter.routing/1", "policy_id": "retail-pd", "version": 1,
    "description": "Canary of the recalibrated model",
    "versions": [{"name": V1, "sha256": shas[1]}, {"name": V2, "sha256": shas[2]}],
    "sticky_key": "customer_id",
    "rules": [{"name": "canary", "when": "true",
               "target": [{"version": V1, "weight": 95}, {"version": V2, "weight": 5}]}],
    "default": V1}), canary={"rule": "canary", "stable": V1, "candidate": V2,
                             "steps": [5, 50, 100]})


def window(user: str) -> tuple[MainWindow, DeploymentsScreen]:
    from PySide6.QtCore import QSettings

    win = MainWindow(svc, w.people[user], qsettings=QSettings(str(qs_path),
                                                              QSettings.Format.IniFormat),
                     idle_interval_ms=3_600_000)
    win.resize(1340, 880)
    win.show()
    index = win.screen_titles().index("Deployments")
    win.show_screen(index)
    settle()
    return win, win.screens[index]


# IT: the server serves v2; the history with the rolled-back release; its steps.
win, screen = window("ivan")
screen.select_release(failed.release_id)
shot(win, "rolled-back")
serving = next(r for r in screen.releases if r.state == "serving")
screen.select_release(serving.release_id)
shot(win, "serving")
screen.details.setCurrentWidget(screen.server_text)
shot(win, "server-check")
screen.details.setCurrentIndex(0)

# The enrol dialog with a fetched fingerprint.
screen.enrol_button.click()
d = screen.dialog
d.name.setText("prod-2")
d.host.setText(sshd.host)
d.port.setValue(sshd.port)
d.username.setText(sshd.user)
d.key_path.setText(str(sshd.client_key_path))
d.description.setText("Second scoring node, data centre B")
d.fetch_button.click()
settle(800)
d.confirmed.setChecked(True)
shot(d, "enrol")
d.reject()

# A deployment from the dialog, caught in progress, with a second one queued behind it.
screen.deploy_button.click()
settle()
d = screen.dialog
shot(d, "deploy-dialog")
d.choice.setCurrentIndex(1)  # v1
d.reason.setText("Roll forward to v1 after the incident review")
d.ok_button.click()
for _ in range(400):
    wait(25)
    if any("verify ok" in line or "rename ok" in line for line in screen.activity.lines.values()):
        break
screen.deploy_button.click()
wait(400)
d = screen.dialog
d.reason.setText("Queued behind the running release")
d.ok_button.click()
wait(600)
screen.select_release(screen.releases[1].release_id if len(screen.releases) > 1 else "")
win.grab().save(str(OUT / "deployments-in-progress.png"))
print("saved in-progress")
settle()
shot(win, "finished")

# Roll back dialog.
screen.rollback_button.click()
settle()
screen.dialog.reason.setText("Parity fine but business asks for v2")
shot(screen.dialog, "rollback-dialog")
screen.dialog.reject()
win.close()

# A manager: the policy waiting for the decision, and the decision dialog.
win, screen = window("max")
screen.tabs.setCurrentIndex(1)
screen.policy_table.selectRow(0)
shot(win, "manager-policies")
screen.approve_button.click()
screen.dialog.reason.setText("Canary agreed at the model risk committee")
screen.dialog.password.setText(PW)
shot(screen.dialog, "approve-policy")
screen.dialog.reject()
win.close()

# A data scientist: read only.
win, screen = window("dana")
shot(win, "read-only")
win.close()

# The host key replaced: a check is refused, with both fingerprints.
sshd.regenerate_host_key()
win, screen = window("ivan")
screen.check_button.click()
settle(1500)
shot(win, "host-key-refused")
win.close()

sshd.run_in_server([str(w.root / "bin" / "charter-agentctl"), "stop"])
svc.close()
sshd.close()
