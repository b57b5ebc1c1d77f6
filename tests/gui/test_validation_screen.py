"""The Validation tab of the model screen: run evaluations on the task thread (real model, real
holdout, real store), read their results, cancel, refuse bad holdouts, generate and open the
documentation PDF; and the new owner-written fields of the model dialog."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtTest import QAbstractItemModelTester

from core.entities_validation import Evaluation
from core.services.evaluation import EvaluationRequest
from core.services.importer import ImportRequest, ImportService
from core.validation.evaluate import EvaluationSettings
from tests.gui.conftest import audit_actions, tasks_idle
from tests.gui.registry_data import COMPLETE
from views.registry_screen import RegistryScreen
from views.validation_columns import holdout_columns
from views.validation_run import RunEvaluationDialog
from views.validation_screen import ValidationView
from views.validation_tables import MARK_ROLE, EvaluationTableModel, TextTableModel

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]
MODEL = "pd-cards"
QUICK = {"latency_budget_s": 1.0, "explain": False}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LogisticRegression on age and income as skops, with training and holdout CSVs; the
    holdout also has a sensitive column (sex) and a segment column (region)."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("validation")
    rnd = np.random.default_rng(5)
    n = 600
    frame = pd.DataFrame({"age": rnd.integers(18, 80, n).astype(float),
                          "income": rnd.normal(50_000, 9_000, n).round(2)})
    y = ((frame["income"] + rnd.normal(0, 7_000, n)) > 50_000).astype(int)
    sio.dump(LogisticRegression(max_iter=300).fit(frame.iloc[:300], y.iloc[:300]),
             folder / "model.skops")
    frame.assign(target=y).iloc[:300].to_csv(folder / "train.csv", index=False)
    holdout = frame.assign(target=y).iloc[300:].copy()
    holdout["sex"] = rnd.choice(["female", "male"], len(holdout))
    holdout["region"] = rnd.choice(["north", "south", "west"], len(holdout))
    holdout.to_csv(folder / "holdout.csv", index=False)
    holdout.drop(columns=["income"]).to_csv(folder / "no-income.csv", index=False)
    return folder


@pytest.fixture
def pd_cards(services, sign_in, files: Path) -> str:  # noqa: ANN001
    """The model with version 1 imported through the importer, holdout registered and kept."""
    dana = sign_in("dana")
    services.inventory.create(dana, MODEL, COMPLETE)
    ImportService(services.store, services.artifacts).import_version(dana, ImportRequest(
        MODEL, files / "model.skops", [(files / "train.csv", "training"),
                                       (files / "holdout.csv", "holdout")], label="1.0"))
    return MODEL


@pytest.fixture
def open_validation(qtbot, services, sign_in):  # noqa: ANN001, ANN201
    def _open(username: str, name: str = MODEL) -> ValidationView:
        screen = RegistryScreen(services, sign_in(username))
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.resize(1200, 800)
        screen.show()
        screen.open_model(name)
        page = screen.model_page
        page.tabs.setCurrentWidget(page.versions)
        page.validate_button.click()
        assert page.tabs.currentWidget() is page.validation
        return page.validation

    return _open


def evaluate(services, sign_in, **settings) -> Evaluation:  # noqa: ANN001, ANN003
    evaluation, _ = services.evaluations.evaluate(sign_in("dana"), EvaluationRequest(
        MODEL, 1, None, EvaluationSettings(**{**QUICK, **settings})))
    return evaluation


def recorded(services, sign_in) -> list[Evaluation]:  # noqa: ANN001
    return services.evaluations.evaluations(sign_in("victor"), MODEL, 1)


def table_texts(model: TextTableModel) -> list[list[str]]:
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def start_run(view: ValidationView, qtbot, **fields) -> RunEvaluationDialog:  # noqa: ANN001, ANN003
    view.run_button.click()
    dialog = view.dialog
    assert isinstance(dialog, RunEvaluationDialog)
    qtbot.waitExposed(dialog)
    dialog.skip_explain.setChecked(True)
    for name, value in fields.items():
        getattr(dialog, name).setText(value)
    return dialog


def test_validate_opens_the_version_and_says_nothing_is_recorded(
        open_validation, pd_cards) -> None:  # noqa: ANN001
    view = open_validation("victor")
    assert view.version_number() == 1
    assert view.run_button.isVisible() and view.run_button.isEnabled()
    assert view.empty.isVisible() and "No evaluation of version 1" in view.empty.text()
    assert not view.split.isVisible()
    assert "no PDF generated" in view.documents_label.text()
    assert not view.open_button.isEnabled()


def test_run_evaluation_records_it_and_shows_metrics_and_gates(
        open_validation, pd_cards, services, sign_in, qtbot) -> None:  # noqa: ANN001
    view = open_validation("victor")
    dialog = start_run(view, qtbot)
    assert "holdout.csv (300 rows)" in dialog.use_registered.text()
    assert dialog.use_registered.isChecked()
    assert "region" in dialog.segments.columns()  # the registered holdout's columns
    dialog.segments.tick("region")
    assert dialog.segments.names() == ["region"]
    dialog.sensitive.edit.setText("sex")
    if not _has_fairness():
        dialog.sensitive.edit.clear()
        dialog.segments.edit.setText("region, sex")
    dialog.threshold.setValue(0.4)
    with qtbot.waitSignal(view.changes_made, timeout=20_000) as changed:
        dialog.ok_button.click()
        assert dialog.running() and not dialog.form.isEnabled()
    assert "evaluations" in changed.args[0].kinds
    qtbot.waitUntil(tasks_idle)
    [evaluation] = recorded(services, sign_in)
    assert evaluation.created_by == "victor"
    assert evaluation.evidence["settings"]["threshold"] == 0.4
    assert view.table_model.rowCount() == 1 and view.selected_id() == evaluation.id
    assert view.split.isVisible() and not view.empty.isVisible()
    row = [view.table_model.data(view.table_model.index(0, c)) for c in range(7)]
    assert row[2:5] == ["victor", "holdout.csv", "300"]
    assert row[6].startswith("ROC AUC 0.")
    summary = view.summary
    metrics = dict(table_texts(summary.metrics))
    assert metrics["Rows evaluated"] == "300" and metrics["Decision threshold"] == "0.400"
    assert float(metrics["ROC AUC"]) > 0.7
    gates = {r[0]: r for r in table_texts(summary.gates)}
    auc = gates["Minimum ROC AUC"]
    assert auc[1] == "≥ 0.75" and auc[3] == "✔ pass"  # risk tier 1 thresholds
    assert gates["Maximum single-row p99 latency (ms)"][3] in ("✔ pass", "✘ fail")
    assert summary.fields["evidence"].text().startswith(evaluation.evidence_sha256)
    assert summary.fields["artifact"].text() == evaluation.artifact_sha256
    assert summary.fields["holdout_sha"].text() == evaluation.dataset_sha256
    assert summary.banner.isVisibleTo(view)
    segments = view.segments.tables["region"]
    assert segments.rowCount() == 3
    assert "weak" in [segments.data(segments.index(r, 0), MARK_ROLE) for r in range(3)]
    assert "Explanations were not requested" in view.explanations.empty.text()
    if _has_fairness():
        assert "sex" in view.fairness.tables
    assert "evaluation.recorded" in audit_actions(services.store, sign_in("cora"), services)


def test_cancel_right_after_start_records_nothing(open_validation, pd_cards, services,
                                                  sign_in, qtbot) -> None:  # noqa: ANN001
    view = open_validation("dana")
    dialog = start_run(view, qtbot)
    dialog.ok_button.click()
    task = dialog.task
    assert task is not None and dialog.progress.isVisible()
    with qtbot.waitSignal(task.done, timeout=20_000):
        dialog.reject()  # the dialog's Cancel while running cancels the evaluation
        assert dialog.isVisible() and "Cancelling" in dialog.status.text()
    assert dialog.isVisible() and not dialog.running()
    assert dialog.status.text() == "Cancelled; nothing was recorded."
    assert dialog.status.isVisible() and not dialog.progress.isVisible()
    assert dialog.form.isEnabled() and dialog.ok_button.isEnabled()
    assert not dialog.error.isVisible()
    assert recorded(services, sign_in) == []
    assert view.table_model.rowCount() == 0
    assert "evaluation.recorded" not in audit_actions(services.store, sign_in("cora"), services)
    dialog.reject()  # idle again: Cancel now closes the form
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_a_holdout_missing_an_input_shows_why_and_records_nothing(
        open_validation, pd_cards, services, sign_in, files, qtbot) -> None:  # noqa: ANN001
    view = open_validation("dana")
    dialog = start_run(view, qtbot)
    dialog.use_file.setChecked(True)
    dialog.path.setText(str(files / "no-income.csv"))
    dialog.path.editingFinished.emit()
    qtbot.waitUntil(lambda: "sex" in dialog.sensitive.columns())
    assert "income" not in dialog.columns and "4 columns" in dialog.columns_label.text()
    dialog.segments.set_names(["sex", "region"])
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible() and not dialog.running(), timeout=20_000)
    assert "income" in dialog.error.text() and "Nothing was recorded." in dialog.error.text()
    assert dialog.isVisible() and dialog.ok_button.isEnabled()
    assert recorded(services, sign_in) == []
    actions = audit_actions(services.store, sign_in("cora"), services)
    assert "evaluation.recorded" not in actions


def test_an_unreadable_file_is_named_before_running(open_validation, pd_cards, files,
                                                    qtbot) -> None:  # noqa: ANN001
    view = open_validation("dana")
    dialog = start_run(view, qtbot)
    dialog.use_file.setChecked(True)
    dialog.path.setText(str(files / "model.skops"))
    dialog.path.editingFinished.emit()
    qtbot.waitUntil(lambda: "not a dataset" in dialog.columns_label.text())
    assert dialog.columns == [] and not dialog.sensitive.button.isEnabled()
    dialog.path.clear()
    dialog.ok_button.click()
    assert "Choose the holdout file" in dialog.error.text() and not dialog.running()


def test_read_only_role_sees_results_but_cannot_run(open_validation, pd_cards, services,
                                                    sign_in) -> None:  # noqa: ANN001
    evaluation = evaluate(services, sign_in, segments=("region", "sex"))
    view = open_validation("eve")
    page = view.parent()
    while not hasattr(page, "validate_button"):
        page = page.parent()
    assert page.validate_button.text() == "Evaluations…"
    assert not view.run_button.isVisible() and not view.generate_button.isVisible()
    assert view.run_evaluation() is None and view.generate_documentation() is None
    assert view.selected_id() == evaluation.id
    assert dict(table_texts(view.summary.metrics))["Rows evaluated"] == "300"
    assert view.open_button.isVisible()  # reading a PDF needs only model.read


def test_generate_open_and_save_the_documentation_pdf(open_validation, pd_cards, services,
                                                      sign_in, qtbot, monkeypatch,
                                                      tmp_path) -> None:  # noqa: ANN001
    evaluation = evaluate(services, sign_in, segments=("region", "sex"))
    view = open_validation("victor")
    assert view.generate_button.isEnabled() and not view.open_button.isEnabled()
    with qtbot.waitSignal(view.changes_made, timeout=30_000) as changed:
        view.generate_button.click()
        assert not view.generate_button.isEnabled()  # one at a time
    assert "documentation" in changed.args[0].kinds
    qtbot.waitUntil(tasks_idle)
    [doc] = services.documentation.documents(sign_in("victor"), MODEL, 1)
    assert doc.evaluation_id == evaluation.id and doc.generated_by == "victor"
    assert f"PDF #{doc.id}" in view.documents_label.text()
    assert view.open_button.isEnabled() and view.save_button.isEnabled()
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    view.open_button.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    path = Path(opened[0].toLocalFile())
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == doc.pdf_sha256
    assert path.name == f"pd-cards-v1-documentation-{doc.id}.pdf"
    assert path.stat().st_mode & 0o077 == 0 or path.parent.stat().st_mode & 0o077 == 0
    qtbot.waitUntil(tasks_idle)
    copy = tmp_path / "copy.pdf"
    view.save_pdf(copy)
    qtbot.waitUntil(lambda: copy.exists() and tasks_idle(), timeout=10_000)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == doc.pdf_sha256
    actions = audit_actions(services.store, sign_in("cora"), services)
    assert "documentation.generated" in actions


def test_limitations_and_monitoring_plan_are_saved_with_audit(open_validation, pd_cards,
                                                             services, sign_in,
                                                             qtbot) -> None:  # noqa: ANN001
    view = open_validation("dana")
    page = view.parent()
    while not hasattr(page, "edit"):
        page = page.parent()
    page.edit()
    dialog = page.dialog
    dialog.limitations.setPlainText("Not for <b>thin-file</b> applicants.\nIncome unverified.")
    dialog.monitoring_plan.setPlainText("Monthly PSI per input; alert above 0.2.")
    dialog.reason.setText("documentation for validation")
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    model = services.inventory.get(sign_in("dana"), MODEL)
    assert model.limitations == "Not for <b>thin-file</b> applicants.\nIncome unverified."
    assert model.monitoring_plan == "Monthly PSI per input; alert above 0.2."
    shown = page.values["limitations"]
    assert shown.text() == model.limitations  # shown as typed, not as rich text
    assert page.values["monitoring_plan"].text() == model.monitoring_plan
    [event] = [e for e in services.audit.page(sign_in("cora"), limit=50).items
               if e.action == "model.updated"]
    assert event.reason == "documentation for validation"
    assert "limitations" in (event.new_values or {})


# -- the result panels on complete records of every kind ------------------------------------
def _fixture_evaluation(kind: str, number: int = 1) -> Evaluation:
    from tests.reports.evidence_fixture import evidence

    record = evidence(kind)
    return Evaluation(id=number, version_id=1, model_name="Retail PD scorecard",
                      version_number=3, artifact_sha256=record["model"]["artifact_sha256"],
                      dataset_sha256=record["holdout"]["sha256"], kind=kind,
                      gate_status=record["gates"]["status"], evidence=record,
                      evidence_sha256="0" * 64,
                      created_at=datetime(2026, 11, 23, 13, tzinfo=UTC), created_by="victor")


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_result_panels_show_every_part_of_a_record(services, sign_in, qtbot,
                                                   kind: str) -> None:  # noqa: ANN001
    from views.validation_analysis import ExplanationsPanel, FairnessPanel, SegmentsPanel
    from views.validation_results import LatencyPanel, SummaryPanel

    evaluation = _fixture_evaluation(kind)
    ev = evaluation.evidence
    summary, segments, explanations = SummaryPanel(), SegmentsPanel(), ExplanationsPanel()
    fairness, latency = FairnessPanel(), LatencyPanel()
    for panel in (summary, segments, explanations, fairness, latency):
        qtbot.addWidget(panel)
        panel.show_evaluation(evaluation)
    assert len(table_texts(summary.gates)) == len(ev["gates"]["results"])
    first = {"binary": "ROC AUC", "multiclass": "Accuracy", "regression": "RMSE"}[kind]
    assert first in dict(table_texts(summary.metrics))
    assert set(segments.tables) == {f for f, e in ev["segments"]["features"].items() if e}
    weakest = ev["segments"]["weakest"]
    if weakest:
        table = segments.tables[weakest[0]["feature"]]
        rows = [r for r in range(table.rowCount())
                if table.text(r, 0) == str(weakest[0]["segment"])]
        assert table.data(table.index(rows[0], 0), MARK_ROLE) == "weak"
    ex = ev["explanations"]
    if not ex.get("skipped"):
        ranked = table_texts(explanations.importance)
        assert ranked[0][1] == ex["global_importance"][0]["feature"]
        assert explanations.local_choice.count() == len(ex["local"])
        assert explanations.local.rowCount() == len(ex["local"][0]["contributions"])
    if isinstance(ev["fairness"], dict) and not ev["fairness"].get("skipped"):
        assert set(fairness.tables) == set(ev["fairness"]["features"])
        groups = table_texts(fairness.tables["sex"])
        assert {g[0] for g in groups} == {"female", "male"}
        assert "Four-fifths rule" in fairness.facts["sex"].text()
    else:
        assert fairness.empty.text()
    assert any(r[0] == "Single row, p99" for r in table_texts(latency.table))
    for panel in (summary, segments, explanations, fairness, latency):
        panel.show_evaluation(None)
        assert panel.empty.text().startswith("Select an evaluation")


def test_charts_are_drawn_on_qt_canvases(qtbot) -> None:  # noqa: ANN001
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    from views.validation_charts import ChartsPanel

    panel = ChartsPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    evaluation = _fixture_evaluation("binary")
    panel.show_evaluation(evaluation)  # hidden: nothing is drawn yet
    assert panel.built_for is None
    panel.show()
    qtbot.waitUntil(lambda: panel.built_for == evaluation.id, timeout=20_000)
    keys = panel.keys()
    assert keys[:4] == ["roc", "calibration", "score_distribution", "confusion"]
    assert "shap_global" in keys and "fairness:sex" in keys and "latency" in keys
    assert panel.list.count() == len(keys) and panel.list.currentRow() == 0
    assert isinstance(panel.current_canvas(), FigureCanvasQTAgg)
    panel.list.setCurrentRow(keys.index("latency"))
    assert panel.current_canvas().figure is panel.charts[keys.index("latency")][2]
    panel.show_evaluation(None)
    assert panel.list.count() == 0 and not panel.canvases


def test_table_models_pass_the_model_tester(qtbot) -> None:  # noqa: ANN001
    # Warning mode: a broken rule is a Qt warning, which fails the test (qt_log_level_fail).
    mode = QAbstractItemModelTester.FailureReportingMode.Warning
    evaluations = EvaluationTableModel()
    evaluations_tester = QAbstractItemModelTester(evaluations, mode)
    evaluations.set_evaluations([_fixture_evaluation("binary", 2),
                                 _fixture_evaluation("regression", 1)])
    assert evaluations.rowCount() == 2 and evaluations.row_of(1) == 1
    assert evaluations.data(evaluations.index(0, 5)) == "◐ incomplete" or \
        evaluations.data(evaluations.index(0, 5)).startswith(("✔", "✘"))
    rows = TextTableModel(("Metric", "Value"), numeric=(1,))
    rows_tester = QAbstractItemModelTester(rows, mode)
    rows.set_rows([("ROC AUC", "0.81"), ("<b>KS</b>", None)], ["good", "weak"])
    assert rows.data(rows.index(1, 0)) == "<b>KS</b>" and rows.data(rows.index(1, 1)) == ""
    assert rows.data(rows.index(1, 0), MARK_ROLE) == "weak"
    rows.set_rows([])
    assert rows.rowCount() == 0
    assert evaluations_tester is not None and rows_tester is not None  # alive to the end


def test_holdout_columns_reads_only_the_header(files: Path) -> None:
    assert holdout_columns(files / "holdout.csv") == ["age", "income", "target", "sex",
                                                      "region"]


def test_importing_the_views_loads_no_matplotlib_or_ml_stack() -> None:
    code = ("import sys, views.main_window; bad = [m for m in sys.modules if m.split('.')[0] "
            "in ('matplotlib', 'sklearn', 'shap', 'pandas', 'pyarrow', 'fairlearn')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                            "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr


def _has_fairness() -> bool:
    import importlib.util

    return importlib.util.find_spec("core.validation.fairness") is not None


def test_garbage_made_by_a_task_is_collected_on_the_gui_thread(qtbot) -> None:  # noqa: ANN001
    """A collection on the worker would destroy Qt objects caught in cycles on the wrong thread
    (it crashed drawing charts); the task facade collects on the GUI thread only."""
    import threading

    from PySide6.QtWidgets import QWidget

    from views.task import run_task

    freed: list[int] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            freed.append(threading.get_ident())

    def work(_progress, _cancel) -> bool:  # noqa: ANN001
        for _ in range(5000):  # cyclic garbage: enough allocations to trigger collections
            Cycle()
        return True

    widget = QWidget()
    qtbot.addWidget(widget)
    with qtbot.waitSignal(run_task(widget, "Allocating…", work, show_progress=False).done):
        pass
    qtbot.waitUntil(lambda: len(freed) >= 5000, timeout=5000)
    assert set(freed) == {threading.get_ident()}
