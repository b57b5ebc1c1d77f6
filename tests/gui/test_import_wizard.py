"""The import wizard: a real skops artifact and CSV through ImportService on the task thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from core.entities_registry import ModelFilter
from tests.gui.conftest import audit_actions, tasks_idle
from views.import_wizard import ImportWizard
from views.registry_screen import RegistryScreen

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LogisticRegression on two named features, its skops file and a matching CSV."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("import-wizard")
    rnd = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rnd.integers(18, 80, 200).astype(float),
                          "income": rnd.normal(50_000, 9_000, 200).round(2)})
    y = (frame["income"] > 50_000).astype(int)
    sio.dump(LogisticRegression(max_iter=200).fit(frame, y), folder / "model.skops")
    frame.assign(target=y).to_csv(folder / "train.csv", index=False)
    frame[["age"]].to_csv(folder / "missing.csv", index=False)
    (folder / "notes.txt").write_text("not a model")
    return folder


@pytest.fixture
def registry(qtbot, services, sign_in):  # noqa: ANN001, ANN201
    def _open(username: str) -> RegistryScreen:
        screen = RegistryScreen(services, sign_in(username))
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.show()
        return screen

    return _open


def registry_events(services, sign_in) -> list[str]:  # noqa: ANN001
    """Audit actions other than signing in and out (reading the trail signs someone in)."""
    return [a for a in audit_actions(services.store, sign_in("cora"), services)
            if not a.startswith("auth.")]


def open_wizard(screen: RegistryScreen, qtbot, model: str | None = None) -> ImportWizard:  # noqa: ANN001
    screen.import_version(model)
    wizard = screen.dialog
    assert isinstance(wizard, ImportWizard)
    qtbot.waitExposed(wizard)
    return wizard


def fill(wizard: ImportWizard, *, name: str, artifact: Path, training: Path | None = None,
         metrics: str = "") -> None:
    page = wizard.model_page
    page.new_radio.setChecked(True)
    page.name.setText(name)
    page.business_owner.setText("Retail Credit")
    page.risk_tier.setCurrentIndex(2)
    wizard.next()
    assert wizard.currentPage() is wizard.artifact_page
    wizard.artifact_page.path.setText(str(artifact))
    wizard.artifact_page.label.setText("1.0.0")
    wizard.artifact_page.metrics.setPlainText(metrics)
    wizard.next()
    assert wizard.currentPage() is wizard.datasets_page
    if training is not None:
        wizard.datasets_page.paths["training"].setText(str(training))
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page


def press_import(wizard: ImportWizard, qtbot) -> None:  # noqa: ANN001
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: tasks_idle() and wizard.summary_page.result.isVisible(),
                    timeout=60_000)


def test_import_creates_the_version_and_refreshes(registry, qtbot, services, sign_in,  # noqa: ANN001
                                                  artifact) -> None:
    screen = registry("dana")
    wizard = open_wizard(screen, qtbot)
    fill(wizard, name="pd-wizard", artifact=artifact / "model.skops",
         training=artifact / "train.csv", metrics="auc=0.81\n\nks = 0.4")
    assert "pd-wizard (new model)" in wizard.summary_page.summary.toPlainText()
    with qtbot.waitSignal(screen.changes_made, timeout=60_000) as sent:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert "versions" in sent.args[0].kinds
    qtbot.waitUntil(wizard.summary_page.result.isVisible)
    assert wizard.summary_page.result.text() == "Imported pd-wizard version 1."
    dana = sign_in("dana")
    [version] = services.inventory.versions(dana, "pd-wizard")
    assert version.label == "1.0.0" and version.metrics == {"auc": 0.81, "ks": 0.4}
    assert [d.role for d in version.datasets] == ["training"]
    assert services.inventory.get(dana, "pd-wizard").business_owner == "Retail Credit"
    assert "version.created" in audit_actions(services.store, sign_in("cora"), services)
    assert screen.model.row_of("pd-wizard") >= 0  # the registry list refreshed
    assert wizard.button(QWizard.WizardButton.FinishButton).text() == "&Close"
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: not wizard.isVisible())


def test_versions_tab_preselects_the_model_and_adds_version_2(registry, qtbot, services,  # noqa: ANN001
                                                               sign_in, artifact) -> None:
    dana = sign_in("dana")
    services.inventory.create(dana, "pd-cards", {})
    screen = registry("dana")
    screen.open_model("pd-cards")
    screen.import_new_button.click()
    wizard = screen.dialog
    assert not wizard.model_page.is_new()
    assert wizard.model_page.model_name() == "pd-cards"
    wizard.next()
    wizard.artifact_page.path.setText(str(artifact / "model.skops"))
    wizard.next()
    wizard.next()
    press_import(wizard, qtbot)
    assert [v.number for v in services.inventory.versions(dana, "pd-cards")] == [1]
    qtbot.waitUntil(lambda: screen.model_page.versions.model.rowCount() == 1)


def test_dataset_disagreement_is_shown_in_the_wizard_and_creates_nothing(  # noqa: ANN001
        registry, qtbot, services, sign_in, artifact) -> None:
    screen = registry("dana")
    wizard = open_wizard(screen, qtbot)
    before = registry_events(services, sign_in)
    fill(wizard, name="pd-bad-data", artifact=artifact / "model.skops",
         training=artifact / "missing.csv")
    press_import(wizard, qtbot)
    result = wizard.summary_page.result
    assert result.objectName() == "error"
    assert "disagrees with the model's schema" in result.text() and "income" in result.text()
    assert wizard.currentPage() is wizard.summary_page and wizard.isVisible()
    assert wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    dana = sign_in("dana")
    names = [m.name for m in services.inventory.page(dana, ModelFilter()).items]
    assert "pd-bad-data" not in names
    assert registry_events(services, sign_in) == before
    # Back, fix the dataset, import again: now it works.
    wizard.back()
    wizard.datasets_page.paths["training"].setText(str(artifact / "train.csv"))
    wizard.next()
    assert not result.isVisible()
    press_import(wizard, qtbot)
    assert result.text() == "Imported pd-bad-data version 1."


def test_unknown_format_names_the_accepted_formats(registry, qtbot, services, sign_in,  # noqa: ANN001
                                                   artifact) -> None:
    wizard = open_wizard(registry("dana"), qtbot)
    fill(wizard, name="pd-text", artifact=artifact / "notes.txt")
    press_import(wizard, qtbot)
    text = wizard.summary_page.result.text()
    assert ".skops" in text and ".onnx" in text and "MLflow" in text
    assert "pd-text" not in [m.name for m in services.inventory.page(sign_in("dana")).items]


def test_bad_metrics_stay_on_the_artifact_page(registry, qtbot) -> None:  # noqa: ANN001
    wizard = open_wizard(registry("dana"), qtbot)
    wizard.model_page.name.setText("x")
    wizard.model_page.new_radio.setChecked(True)
    wizard.next()
    wizard.artifact_page.path.setText("/tmp/model.skops")
    wizard.artifact_page.metrics.setPlainText("auc: 0.8")
    wizard.next()
    assert wizard.currentPage() is wizard.artifact_page
    assert "name=number" in wizard.artifact_page.error.text()


def test_unknown_existing_model_is_refused_on_the_first_page(registry, qtbot) -> None:  # noqa: ANN001
    wizard = open_wizard(registry("dana"), qtbot, "no-such-model")
    assert not wizard.model_page.is_new()
    wizard.next()
    assert wizard.currentPage() is wizard.model_page
    assert "New model" in wizard.model_page.error.text()


def test_executive_sees_no_import(registry) -> None:  # noqa: ANN001
    screen = registry("eve")
    assert not screen.import_button.isVisible()
    assert not screen.import_new_button.isVisible()
    screen.import_version()
    assert screen.dialog is None


def test_reference_profile_of_an_imported_version_is_shown(registry, qtbot, services, sign_in,  # noqa: ANN001
                                                          artifact) -> None:
    from core.services.importer import ImportRequest, ImportService
    from views.profile_dialog import HEADERS

    dana = sign_in("dana")
    ImportService(services.store, services.artifacts).import_version(dana, ImportRequest(
        model="Profiled", artifact=artifact / "model.skops",
        datasets=[(artifact / "train.csv", "training")]))
    screen = registry("eve")  # an executive reads, and sees the profile
    screen.open_model("Profiled")
    page = screen.model_page
    assert page.profile_button.isEnabled()
    page.show_profile()
    qtbot.waitUntil(lambda: getattr(page, "profile_dialog", None) is not None, timeout=10_000)
    table = page.profile_dialog.table
    assert table.columnCount() == len(HEADERS) and table.rowCount() >= 2
    first = [table.item(0, c).text() for c in range(table.columnCount())]
    assert first[1] in ("number", "integer") and first[2].endswith("%")
    assert float(first[3]) <= float(first[4]) <= float(first[5])  # min <= median <= max
    assert "bins:" in first[6]
