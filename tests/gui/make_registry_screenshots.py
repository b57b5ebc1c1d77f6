"""Screenshots of the registry screens for a visual check (not a test): a demo store in
/tmp/regshotstore with ~30 models and some versions; PNGs in /tmp/shots/registry.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_registry_screenshots.py
"""
import random

from tests.gui.shotkit import start, wait  # noqa: F401

kit = start("regshotstore", "registry", portfolio=True)
app, svc, pw, STORE, OUT, qs = kit.app, kit.svc, kit.pw, kit.folder, kit.out, kit.qsettings
from tests.gui.registry_data import COMPLETE, add_version  # noqa: E402
from views.main_window import MainWindow  # noqa: E402

shot = kit.shot


rng = random.Random(3)
dana = svc.auth.sign_in("dana", pw["dana"])
OWNERS = ("Retail Credit", "Cards Risk", "Fraud Operations", "Treasury", "SME Lending",
          "Collections")
KINDS = ("pd", "lgd", "ead", "fraud", "churn", "aml-alerts", "pricing", "collections")
SEGMENTS = ("cards", "mortgage", "sme", "auto", "deposits")
names = sorted({f"{rng.choice(KINDS)}-{rng.choice(SEGMENTS)}" for _ in range(60)})[:30]
for i, name in enumerate(names):
    values = dict(COMPLETE)
    values["business_owner"] = rng.choice(OWNERS)
    values["risk_tier"] = rng.choice((1, 2, 3, None))
    values["status"] = rng.choice(("in_development", "in_use", "in_use"))
    values["purpose"] = f"{name.split('-')[0].upper()} model for {name.split('-')[-1]}"
    for key in rng.sample(["intended_use", "restrictions", "products", "developer"],
                          rng.choice((0, 0, 1, 3))):
        values[key] = ""
    if i % 7 == 3:
        values.update(source="vendor", vendor_name="" if i % 2 else "Acme Analytics")
    svc.inventory.create(dana, name, values)
    for n in range(1, rng.choice((0, 1, 2, 4)) + 1):
        add_version(svc.store, name, n, label=f"{2024 + n // 3}.{n}",
                    fmt=rng.choice(("skops", "onnx", "mlflow")))
svc.inventory.retire(dana, names[5], reason="replaced by a new model")
svc.inventory.update(dana, names[0], {"developer": "Dana Scientist and team"},
                     reason="team change")


def window(user: str) -> MainWindow:
    w = MainWindow(svc, svc.auth.sign_in(user, pw[user]), qsettings=qs,
                   idle_interval_ms=3_600_000)
    w.resize(1300, 800)
    w.show()
    return w


def registry_of(w: MainWindow):  # noqa: ANN201
    index = w.screen_titles().index("Model registry")
    w.show_screen(index)
    return w.screens[index]


w = window("dana")
reg = registry_of(w)
shot(w, "01_registry")
reg.search.setText("cards")
reg.apply_filter()
shot(w, "02_registry_search")
reg.search.clear()
reg.apply_filter()
reg.new_model()
d = reg.dialog
d.name.setText("pd-cards-2025")
d.purpose.setPlainText("Probability of default for card applications")
d.source.setCurrentIndex(d.source.findData("vendor"))
shot(d, "03_new_model_dialog")
d.name.setText("pd\u202ecards")
d.submitted.emit()
shot(d, "04_new_model_error")
d.reject()
multi = next(m for m in reg.model.models if m.version_count >= 4)
reg.open_model(multi.name)
shot(w, "05_model_inventory")
incomplete = next(m for m in reg.model.models if m.missing_fields())
reg.open_model(incomplete.name)
shot(w, "06_model_incomplete")
reg.open_model(multi.name)
reg.model_page.tabs.setCurrentIndex(1)
shot(w, "07_model_versions")
reg.model_page.edit()
shot(reg.model_page.dialog, "08_edit_dialog")
reg.model_page.dialog.reject()
w._end_session()
w.close()
w = window("cora")
reg = registry_of(w)
reg.open_model(names[0])
reg.model_page.tabs.setCurrentIndex(2)
reg.model_page.history_table.selectRow(0)
shot(w, "09_model_history_compliance")
w._end_session()
w.close()
w = window("eve")
reg = registry_of(w)
shot(w, "10_registry_executive")
w._end_session()
w.close()
