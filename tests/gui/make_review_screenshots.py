"""Screenshots of the read-only review window for a visual check (not a test): a demo store in
/tmp/reviewshotstore with the retail-credit model evaluated, documented, submitted, validated
with two findings and exported as a review package; the window opened from the package alone;
PNGs in /tmp/shots/review-*.png.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_review_screenshots.py
"""
from tests.gui.shotkit import settle, start

kit = start("reviewshotstore", "")
app, svc, pw, STORE, qs = kit.app, kit.svc, kit.pw, kit.folder, kit.qsettings
from datetime import date, timedelta  # noqa: E402

import skops.io as sio  # noqa: E402

from core.demo_credit import applications, credit_model  # noqa: E402
from core.demo_portfolio import CREDIT  # noqa: E402
from core.services.evaluation import EvaluationRequest  # noqa: E402
from core.services.importer import ImportRequest, ImportService  # noqa: E402
from core.validation.evaluate import EvaluationSettings  # noqa: E402
from core.workflow.review_package import open_package  # noqa: E402
from views.approvals_screen import ApprovalsScreen  # noqa: E402
from views.review_window import ReviewWindow  # noqa: E402

NAME = "Retail credit default"


def shot(widget, name: str) -> None:  # noqa: ANN001
    kit.shot(widget, f"review-{name}")


def who(user: str):  # noqa: ANN201
    return svc.auth.sign_in(user, pw[user])


dana, victor, cora = who("dana"), who("victor"), who("cora")
frame = applications(3000, seed=7)
train, holdout = frame.iloc[:2000], frame.iloc[2000:]
train.to_csv(STORE / "train.csv", index=False)
holdout.to_csv(STORE / "holdout.csv", index=False)
sio.dump(credit_model(train), STORE / "m.skops")
svc.inventory.create(dana, NAME, {**CREDIT, "risk_tier": 1})
ImportService(svc.store, svc.artifacts).import_version(dana, ImportRequest(
    NAME, STORE / "m.skops", [(STORE / "train.csv", "training"),
                              (STORE / "holdout.csv", "holdout")], label="1.0"))
svc.evaluations.evaluate(victor, EvaluationRequest(NAME, 1, None, EvaluationSettings(
    explain=False, latency_budget_s=2.0, segments=("sex", "age_band"))))
svc.documentation.generate(dana, NAME, 1)
flow = svc.workflow
flow.transition(dana, NAME, 1, "submit", reason="Ready for independent validation",
                password=pw["dana"])
flow.transition(victor, NAME, 1, "start_validation", reason="Assigned to me")
svc.findings.record(victor, NAME, 1, title="Thin-file applicants under-predicted",
                    description="AUC 0.61 on applicants with under 12 months of history.\n"
                                "Add an override rule or a thin-file segment model.",
                    severity="high", owner="dana", due_date=date.today() + timedelta(days=21))
svc.findings.record(victor, NAME, 1, title="Monitoring plan lacks a PSI threshold",
                    description="State the drift threshold that triggers a review.",
                    severity="low", owner="dana", due_date=date.today() + timedelta(days=45))
flow.transition(victor, NAME, 1, "validate",
                reason="Conceptually sound; one high finding to remediate",
                password=pw["victor"])
package_path = STORE / "retail-credit-v1.charter-review"
svc.review.export(cora, NAME, 1, package_path)
print("package exported")

# On the reviewer's workstation: the package alone.
window = ReviewWindow(open_package(package_path))
window.show()
shot(window, "findings")
window.finding_table.selectRow(0)
shot(window, "finding-selected")
window.tabs.setCurrentIndex(1)
shot(window, "signatures")
window.tabs.setCurrentIndex(2)
window.audit_table.selectRow(3)
shot(window, "audit")
window.tabs.setCurrentIndex(3)
shot(window, "gates")
window.tabs.setCurrentIndex(0)

dialog = window.respond()
dialog.user.setText("cora")
dialog.comments.setPlainText("Limitations are stated clearly; the thin-file gap is the main "
                             "risk.\n\nApprove only with the PSI threshold in the monitoring "
                             "plan.")
dialog.sign.setChecked(True)
settle()
shot(dialog, "respond-no-reason")
dialog.save(STORE / "never.json")
shot(dialog, "respond-refused")
dialog.reason.setText("Documentation and controls meet the model-risk policy")
shot(dialog, "respond")
dialog.save(STORE / "retail-credit-v1-response-cora.json")
shot(window, "responded")
window.close()

# In the console: the Approvals screen's button.
screen = ApprovalsScreen(svc, cora)
screen.resize(1300, 760)
screen.show()
shot(screen, "approvals-button")
screen.open_review_package(package_path)
settle(600)
shot(screen.review_windows[0], "from-console")
