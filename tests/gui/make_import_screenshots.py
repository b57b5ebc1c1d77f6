"""Screenshots of the import wizard for a visual check (not a test): each page, the dataset
error and the success state. PNGs in /tmp/shots/import.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_import_screenshots.py
"""
from PySide6.QtWidgets import QWizard

from tests.gui.shotkit import start, wait  # noqa: F401
from views import task  # noqa: E402

kit = start("importshotstore", "import")
app, svc, pw, STORE, OUT = kit.app, kit.svc, kit.pw, kit.folder, kit.out
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import skops.io as sio  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from views.registry_screen import RegistryScreen  # noqa: E402

rnd = np.random.default_rng(3)
frame = pd.DataFrame({"age": rnd.integers(18, 80, 200).astype(float),
                      "income": rnd.normal(50_000, 9_000, 200).round(2)})
y = (frame["income"] > 50_000).astype(int)
sio.dump(LogisticRegression(max_iter=200).fit(frame, y), STORE / "pd-cards-v3.skops")
frame.to_csv(STORE / "train.csv", index=False)
frame[["age"]].to_csv(STORE / "holdout-missing-income.csv", index=False)
shot = kit.shot


dana = svc.auth.sign_in("dana", pw["dana"])
for name in ("pd-cards", "lgd-mortgage", "fraud-cards"):
    svc.inventory.create(dana, name, {"business_owner": "Retail Credit", "risk_tier": 1})
screen = RegistryScreen(svc, dana)
screen.resize(1200, 760)
screen.show()
shot(screen, "0-registry")
screen.import_version()
wizard = screen.dialog
shot(wizard, "1-model-existing")
page = wizard.model_page
page.new_radio.setChecked(True)
page.name.setText("pd-cards-challenger")
page.purpose.setText("Challenger PD model for retail card applications")
page.business_owner.setText("Retail Credit")
page.risk_tier.setCurrentIndex(1)
shot(wizard, "1-model-new")
wizard.next()
art = wizard.artifact_page
art.path.setText(str(STORE / "pd-cards-v3.skops"))
art.label.setText("3.0.0")
art.code_ref.setText("git@git.bank.example:risk/pd.git#v3.0.0")
art.metrics.setPlainText("auc=0.81\nks=0.42")
shot(wizard, "2-artifact")
wizard.next()
wizard.datasets_page.paths["training"].setText(str(STORE / "train.csv"))
wizard.datasets_page.paths["holdout"].setText(str(STORE / "holdout-missing-income.csv"))
shot(wizard, "3-datasets")
wizard.next()
shot(wizard, "4-summary")
wizard.button(QWizard.WizardButton.FinishButton).click()
shot(wizard, "5-dataset-error")
wizard.back()
wizard.datasets_page.paths["holdout"].setText(str(STORE / "train.csv"))
wizard.next()
wizard.button(QWizard.WizardButton.FinishButton).click()
shot(wizard, "6-imported")
wizard.accept()
screen.open_model("pd-cards")
screen.model_page.tabs.setCurrentIndex(1)
shot(screen, "7-versions-tab")
task.wait_for_all()
svc.close()
