"""Screenshots of the Approvals screen for a visual check (not a test): a demo store in
/tmp/apprshotstore with versions at several workflow steps (one evaluated, validated and
reviewed with an open high finding); PNGs in /tmp/shots/approvals-*.png.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_approvals_screenshots.py
"""
from tests.gui.shotkit import settle, start

kit = start("apprshotstore", "")
app, svc, pw, STORE, qs = kit.app, kit.svc, kit.pw, kit.folder, kit.qsettings
from datetime import date, timedelta  # noqa: E402

import skops.io as sio  # noqa: E402

from core.demo_credit import applications, credit_model  # noqa: E402
from core.demo_portfolio import CREDIT  # noqa: E402
from core.services.evaluation import EvaluationRequest  # noqa: E402
from core.services.importer import ImportRequest, ImportService  # noqa: E402
from core.validation.evaluate import EvaluationSettings  # noqa: E402
from views.approvals_screen import ApprovalsScreen  # noqa: E402
from views.main_window import MainWindow  # noqa: E402

CREDIT_NAME = "Retail credit default"


def shot(widget, name: str) -> None:  # noqa: ANN001
    kit.shot(widget, f"approvals-{name}")


def who(user: str):  # noqa: ANN201
    return svc.auth.sign_in(user, pw[user])


dana, victor, cora = who("dana"), who("victor"), who("cora")
frame = applications(3000, seed=7)
train, holdout = frame.iloc[:2000], frame.iloc[2000:]
train.to_csv(STORE / "train.csv", index=False)
holdout.to_csv(STORE / "holdout.csv", index=False)
importer = ImportService(svc.store, svc.artifacts)
for i, (name, tier) in enumerate(((CREDIT_NAME, 1), ("Card fraud score", 2),
                                  ("Collections priority", 3), ("Mortgage LGD", 1))):
    sio.dump(credit_model(train.sample(frac=0.9, random_state=i)), STORE / f"m{i}.skops")
    svc.inventory.create(dana, name, {**CREDIT, "risk_tier": tier})
    importer.import_version(dana, ImportRequest(
        name, STORE / f"m{i}.skops", [(STORE / "train.csv", "training"),
                                      (STORE / "holdout.csv", "holdout")], label="1.0"))
svc.evaluations.evaluate(victor, EvaluationRequest(CREDIT_NAME, 1, None, EvaluationSettings(
    explain=False, latency_budget_s=2.0, segments=("sex", "age_band"))))
for name in (CREDIT_NAME, "Card fraud score", "Collections priority", "Mortgage LGD"):
    svc.documentation.generate(dana, name, 1)
flow = svc.workflow
for name in (CREDIT_NAME, "Card fraud score", "Collections priority"):
    flow.transition(dana, name, 1, "submit", reason="Ready for independent validation",
                    password=pw["dana"])
flow.transition(victor, CREDIT_NAME, 1, "start_validation", reason="Assigned to me")
svc.findings.record(victor, CREDIT_NAME, 1, title="Thin-file applicants under-predicted",
                    description="AUC 0.61 on applicants with under 12 months of history.",
                    severity="high", owner="dana", due_date=date.today() + timedelta(days=21))
svc.findings.record(victor, CREDIT_NAME, 1, title="Monitoring plan lacks a PSI threshold",
                    description="State the drift threshold that triggers a review.",
                    severity="low", owner="dana", due_date=date.today() + timedelta(days=45))
flow.transition(victor, CREDIT_NAME, 1, "validate",
                reason="Conceptually sound; one high finding to remediate",
                password=pw["victor"])
flow.transition(cora, CREDIT_NAME, 1, "review", reason="Model documentation complete",
                password=pw["cora"])
print("workflow set up")


def window(user: str) -> tuple[MainWindow, ApprovalsScreen]:
    w = MainWindow(svc, who(user), qsettings=qs, idle_interval_ms=3_600_000)
    w.resize(1300, 860)
    w.show()
    index = w.screen_titles().index("Approvals")
    w.show_screen(index)
    settle()
    return w, w.screens[index]


# Manager: the credit model is ready; approving is refused while the high finding is open.
w, screen = window("max")
screen.select(CREDIT_NAME, 1)
shot(w, "manager")
dialog = screen.detail.start_step("approve")
dialog.reason.setText("Fit for use in card decisions")
dialog.password.setText(pw["max"])
settle()
shot(dialog, "sign-dialog")
dialog.ok_button.click()
settle(600)
shot(dialog, "approve-blocked")
dialog.reject()
dialog = screen.detail.start_step("approve")
dialog.reason.setText("x")
dialog.password.setText("wrong password")
dialog.ok_button.click()
settle(600)
shot(dialog, "wrong-password")
dialog.reject()
w.close()

# Validator: submitted versions to start; record a finding.
w, screen = window("victor")
screen.select("Card fraud score", 1)
shot(w, "validator")
screen.detail.start_step("start_validation").ok_button  # noqa: B018 - the step dialog
settle()
shot(screen.detail.dialog, "step-dialog")
screen.detail.dialog.reject()
screen.select(CREDIT_NAME, 1)
settle()
screen.detail.findings.record()
settle()
form = screen.detail.findings.dialog
form.title.setText("Calibration drifts above 0.4")
form.description.setPlainText("Predicted default rates exceed observed in the top decile.")
shot(form, "record-finding")
form.reject()
w.close()

# Data scientist: findings to answer, a draft to submit.
w, screen = window("dana")
screen.select(CREDIT_NAME, 1)
settle()
screen.detail.findings.table.selectRow(0)
shot(w, "data-scientist")
screen.detail.findings.remediate()
screen.detail.findings.dialog.text.setPlainText(
    "Added a thin-file override rule and retrained; AUC 0.72 on thin files.")
shot(screen.detail.findings.dialog, "remediate")
screen.detail.findings.dialog.reject()
w.close()

# Compliance officer: nothing to review now; a legacy model's validation before Charter is
# recorded through the calendar's dialog, and shows as overdue.
svc.inventory.create(dana, "Collections early warning", {"risk_tier": 1, "status": "in_use"})
w, screen = window("cora")
shot(w, "compliance")
screen.tabs.setCurrentIndex(1)
screen.record_prior_validation()
settle()
d = screen.prior_dialog
d.model.setCurrentText("Collections early warning")
d.validated_on.setDate(d.validated_on.date().addDays(-40))
d.reference.setText("MRM-VAL-2025-014")
d.validated_by.setText("Model Risk Office (before Charter)")
d.reason.setText("Portfolio onboarding: the last validation report on file")
d.password.setText(pw["cora"])
shot(d, "prior-validation")
d.ok_button.click()
settle()
w.close()

# A manager grants a policy exception from the model screen's Versions tab; the calendar lists it.
w = MainWindow(svc, who("max"), qsettings=qs, idle_interval_ms=3_600_000)
w.resize(1300, 860)
w.show()
w.open_model(CREDIT_NAME, 0)
page = w.current_screen().model_page
page.tabs.setCurrentWidget(page.versions)
page.versions.table.selectRow(0)
settle()
shot(w, "model-versions-exception-button")
d = page.grant_exception()
d.reason.setText("Pilot in two branches before the validation completes")
d.password.setText(pw["max"])
shot(d, "exception-dialog")
d.ok_button.click()
settle()
w.close()
w, screen = window("cora")
screen.tabs.setCurrentIndex(1)
settle()
shot(w, "compliance-calendar")
w.close()

# The model screen's Findings tab.
w = MainWindow(svc, who("victor"), qsettings=qs, idle_interval_ms=3_600_000)
w.resize(1300, 860)
w.show()
w.open_model(CREDIT_NAME, 1)
page = w.current_screen().model_page
page.tabs.setCurrentWidget(page.findings)
shot(w, "model-findings")
w.close()
