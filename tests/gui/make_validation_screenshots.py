"""Screenshots of the Validation tab for a visual check (not a test): a demo store in
/tmp/valshotstore with the synthetic retail-credit model imported as skops, evaluated for real
(SHAP explanations, and fairness by sex and age band), its
documentation generated; PNGs in /tmp/shots/validation-*.png.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_validation_screenshots.py
"""
from tests.gui.shotkit import settle, start, wait  # noqa: F401

kit = start("valshotstore", "")
app, svc, pw, STORE, OUT, qs = kit.app, kit.svc, kit.pw, kit.folder, kit.out, kit.qsettings
import skops.io as sio  # noqa: E402

from core.demo_credit import FEATURES, TARGET, applications, credit_model  # noqa: E402
from core.demo_portfolio import CREDIT  # noqa: E402
from core.services.evaluation import EvaluationRequest  # noqa: E402
from core.services.importer import ImportRequest, ImportService  # noqa: E402
from core.validation.evaluate import EvaluationSettings  # noqa: E402
from views.main_window import MainWindow  # noqa: E402

NAME = "Retail credit default"


def shot(widget, name: str) -> None:  # noqa: ANN001
    kit.shot(widget, f"validation-{name}")


# -- the model, its data, a real evaluation ---------------------------------------------------
frame = applications(4000, seed=11)
train, holdout = frame.iloc[:2800], frame.iloc[2800:]
train.to_csv(STORE / "credit-training.csv", index=False)
holdout.to_csv(STORE / "credit-holdout.csv", index=False)
holdout[[c for c in holdout.columns if c != "income"]].to_csv(STORE / "no-income.csv",
                                                                index=False)
sio.dump(credit_model(train), STORE / "credit.skops")
# Version 2: boosted trees on the numeric inputs only (SHAP's tree explainer is fast on it).
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

NUMERIC = [f for f in FEATURES if f not in ("employment", "housing")]
sio.dump(HistGradientBoostingClassifier(max_iter=80, random_state=0).fit(
    train[NUMERIC], train[TARGET]), STORE / "credit-trees.skops")
dana = svc.auth.sign_in("dana", pw["dana"])
victor = svc.auth.sign_in("victor", pw["victor"])
fields = {k: v for k, v in CREDIT.items()}
svc.inventory.create(dana, NAME, fields)
ImportService(svc.store, svc.artifacts).import_version(dana, ImportRequest(
    NAME, STORE / "credit.skops", [(STORE / "credit-training.csv", "training"),
                                   (STORE / "credit-holdout.csv", "holdout")], label="1.0",
    code_reference="git@git.bank.example:risk/credit.git#v1.0"))
ImportService(svc.store, svc.artifacts).import_version(dana, ImportRequest(
    NAME, STORE / "credit-trees.skops", [(STORE / "credit-training.csv", "training"),
                                         (STORE / "credit-holdout.csv", "holdout")],
    label="2.0", code_reference="git@git.bank.example:risk/credit.git#v2.0"))
sensitive = ("sex", "age_band")
svc.evaluations.evaluate(dana, EvaluationRequest(NAME, 1, None, EvaluationSettings(
    explain=False, segments=sensitive, latency_budget_s=2.0)))
svc.evaluations.evaluate(dana, EvaluationRequest(NAME, 2, None, EvaluationSettings(
    explain=False, segments=("employment", "housing", *sensitive), latency_budget_s=2.0)))
svc.evaluations.evaluate(victor, EvaluationRequest(NAME, 2, None, EvaluationSettings(
    sensitive=sensitive, segments=("employment", "housing"),
    favourable_label=0, shap_rows=400, explain_budget_s=20,
    latency_budget_s=2.0)))
print("evaluations recorded")
svc.documentation.generate(victor, NAME, 2)


def window(user: str) -> MainWindow:
    w = MainWindow(svc, svc.auth.sign_in(user, pw[user]), qsettings=qs,
                   idle_interval_ms=3_600_000)
    w.resize(1300, 860)
    w.show()
    return w


def model_page(w: MainWindow):  # noqa: ANN201
    index = w.screen_titles().index("Model registry")
    w.show_screen(index)
    registry = w.screens[index]
    registry.open_model(NAME)
    return registry.model_page


w = window("victor")
page = model_page(w)
page.tabs.setCurrentWidget(page.versions)
shot(w, "01-versions")
page.validate_button.click()
view = page.validation
shot(w, "02-summary")
bar = view.summary.verticalScrollBar()
bar.setValue(bar.maximum())
shot(w, "02b-summary-record")
bar.setValue(0)
tabs = view.tabs
for i, name in enumerate(("summary", "charts", "segments", "explanations", "fairness",
                          "latency")):
    if i == 0:
        continue
    tabs.setCurrentIndex(i)
    shot(w, f"{i + 2:02d}-{name}")
tabs.setCurrentIndex(1)
for key in ("calibration", "shap_global", "shap_local", "fairness:sex", "segment:age_band"):
    keys = view.charts.keys()
    match = [k for k in keys if k.startswith(key)]
    if match:
        view.charts.list.setCurrentRow(keys.index(match[0]))
        shot(w, f"09-chart-{match[0].replace(':', '-')}")
# the older evaluation (no explanations)
view.table.selectRow(1)
tabs.setCurrentIndex(3)
shot(w, "10-explanations-skipped")
tabs.setCurrentIndex(0)
view.run_button.click()
dialog = view.dialog
dialog.sensitive.tick("sex")
dialog.sensitive.tick("age_band")
dialog.favourable.setText("0")
shot(dialog, "11-run-dialog")
dialog.use_file.setChecked(True)
dialog.path.setText(str(STORE / "no-income.csv"))
dialog.path.editingFinished.emit()
settle()
dialog.skip_explain.setChecked(True)
dialog.ok_button.click()
shot(dialog, "12-run-error")
dialog.use_registered.setChecked(True)
dialog.segments.set_names(["employment", "housing"])
dialog.ok_button.click()
wait(600)
dialog.grab().save(str(OUT / "validation-13-running.png"))
print("saved 13-running")
dialog.reject()
shot(dialog, "14-cancelled")
dialog.reject()
w._end_session()
w.close()
w = window("dana")
page = model_page(w)
page.edit()
shot(page.dialog, "15-model-dialog")
page.dialog.reject()
shot(w, "16-inventory")
w._end_session()
w.close()
w = window("eve")
page = model_page(w)
page.tabs.setCurrentWidget(page.versions)
page.validate_button.click()
shot(w, "17-read-only")
w._end_session()
w.close()
