"""The Findings screen on a real store with real services: every model's findings in one list,
the header counts, filters that narrow it, an overdue due date in the error colour, details as
plain text, the CSV export with a formula title escaped, the owner answering a finding, a
validator closing one, and "Open version" reaching the model screen through the main window."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from core.store.orm_workflow import SqlFinding
from tests.gui.conftest import tasks_idle
from tests.gui.registry_data import add_version, bulk_models
from views.approvals_tables import BAD
from views.findings_panel import RemediateDialog
from views.findings_screen import FindingsScreen, PortfolioFindingTableModel
from views.main_window import MainWindow
from views.registry_screen import RegistryScreen
from views.widgets import ReasonDialog

pytestmark = pytest.mark.gui
TODAY = date.today()
FORMULA = "=SUM(A1:A9) on the summary tab"
MARKUP = "<b>Not bold</b> & <i>not italic</i>"


@pytest.fixture
def findings(services, sign_in) -> dict[str, int]:
    """Four findings on three versions of two models, recorded by victor (ids by key):

    calib  Cards PD v2      medium  dana  overdue (due 3 days ago)  open
    thin   Cards PD v1      high    dana  due in 10 days            open
    sum    Mortgage LGD v1  low     max   no due date               open     title "=SUM..."
    old    Mortgage LGD v1  high    dana  due in 5 days             closed
    """
    bulk_models(services.store, 1, prefix="Cards PD")
    bulk_models(services.store, 1, prefix="Mortgage LGD")
    cards, mortgage = "Cards PD-0000", "Mortgage LGD-0000"
    for model, number in ((cards, 1), (cards, 2), (mortgage, 1)):
        add_version(services.store, model, number)
    victor, svc = sign_in("victor"), services.findings

    def add(model: str, number: int, title: str, severity: str, owner: str,
            due: int | None, description: str = "") -> int:
        return svc.record(victor, model, number, title=title, description=description,
                          severity=severity, owner=owner,
                          due_date=TODAY + timedelta(days=due) if due is not None else None
                          )[0].id

    ids = {"old": add(mortgage, 1, "Collateral haircut", "high", "dana", 5),
           "thin": add(cards, 1, "Thin-file segment", "high", "dana", 10,
                       "AUC 0.61 on thin files."),
           "sum": add(mortgage, 1, FORMULA, "low", "max", None, MARKUP),
           "calib": add(cards, 2, "Calibration drift", "medium", "dana", 3)}
    svc.close(victor, ids["old"], reason="Documented")
    with services.store.unit_of_work() as uow:  # time passes: #calib is now 3 days late
        uow.session.get(SqlFinding, ids["calib"]).due_date = TODAY - timedelta(days=3)
    return ids


@pytest.fixture
def open_screen(qtbot, services, sign_in):
    def _open(username: str) -> FindingsScreen:
        screen = FindingsScreen(services, sign_in(username))
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.resize(1200, 760)
        screen.show()
        qtbot.waitUntil(tasks_idle)
        return screen

    return _open


def shown(screen: FindingsScreen) -> list[int]:
    return [f.id for f in screen.findings]


def cell(screen: FindingsScreen, row: int, column: int, role=Qt.ItemDataRole.DisplayRole):
    return screen.model.data(screen.model.index(row, column), role)


def test_lists_every_model_with_counts_and_overdue_in_red(open_screen, findings,
                                                          qtbot) -> None:
    screen = open_screen("cora")
    QAbstractItemModelTester(screen.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    # Not closed, newest first; the closed one is left out by default.
    assert shown(screen) == [findings["calib"], findings["sum"], findings["thin"]]
    assert screen.counts_label.text() == ("3 not closed across the portfolio · 1 high · "
                                          "1 overdue")
    assert [cell(screen, 0, c) for c in range(9)] == [
        "Cards PD-0000", "2", str(findings["calib"]), "medium", "Calibration drift", "dana",
        f"{(TODAY - timedelta(days=3)).isoformat()} (overdue)", "open", "0"]
    due, late = PortfolioFindingTableModel.DUE, Qt.ItemDataRole.ForegroundRole
    assert cell(screen, 0, due, late).color() == BAD
    assert cell(screen, 2, due) == (TODAY + timedelta(days=10)).isoformat()
    assert cell(screen, 2, due, late) is None
    assert cell(screen, 2, PortfolioFindingTableModel.SEVERITY, late).color() == BAD  # high
    assert cell(screen, 1, due) == "—"
    # Compliance reads and exports; it neither answers nor closes.
    assert screen.csv_button.isVisible()
    assert not screen.answer_button.isVisible() and not screen.close_button.isVisible()


def test_filters_narrow_the_list(open_screen, findings, qtbot) -> None:
    screen = open_screen("max")
    bar = screen.filters

    def after(change) -> list[int]:
        change()  # typing applies a moment after the last key, with no Enter needed
        qtbot.waitUntil(lambda: not bar._typing.isActive() and tasks_idle())
        return shown(screen)

    assert after(lambda: bar.choose(bar.status, "Any status")) == [
        findings["calib"], findings["sum"], findings["thin"], findings["old"]]
    assert after(lambda: bar.choose(bar.severity, "High")) == [findings["thin"],
                                                                findings["old"]]
    assert after(lambda: bar.choose(bar.status, "Closed")) == [findings["old"]]
    assert after(lambda: bar.choose(bar.severity, "Any severity")) == [findings["old"]]
    assert after(lambda: bar.choose(bar.status, "Not closed")) == [
        findings["calib"], findings["sum"], findings["thin"]]
    assert [bar.owner.itemData(i) for i in range(bar.owner.count())] == ["", "dana", "max"]
    assert bar.owner.itemText(2) == "max (me)"
    assert after(lambda: bar.owner.setCurrentIndex(2)) == [findings["sum"]]
    assert after(lambda: bar.owner.setCurrentIndex(0)) == [
        findings["calib"], findings["sum"], findings["thin"]]
    assert after(lambda: bar.overdue.setChecked(True)) == [findings["calib"]]
    assert after(lambda: bar.overdue.setChecked(False)) == [
        findings["calib"], findings["sum"], findings["thin"]]
    assert after(lambda: bar.text.setText("mortgage")) == [findings["sum"]]
    assert after(lambda: bar.text.setText("thin-FILE")) == [findings["thin"]]
    assert after(lambda: bar.text.setText("nothing like this")) == []
    assert screen.empty.isVisible() and screen.shown_label.text() == "0 shown"
    bar.text.clear()
    assert after(lambda: bar.choose(bar.order, "By due date")) == [
        findings["calib"], findings["thin"], findings["sum"]]
    # The header counts the whole portfolio, whatever the filter.
    assert screen.counts_label.text().startswith("3 not closed")


def test_details_show_user_text_as_typed(open_screen, findings, qtbot) -> None:
    screen = open_screen("cora")
    assert screen.select(findings["sum"])
    text = screen.details.toPlainText()
    assert MARKUP in text and FORMULA in text and "(not answered yet)" in text
    assert "Mortgage LGD-0000 version 1 · severity low · open · owner max · due no date" in text


def test_csv_export_escapes_a_formula_title(open_screen, findings, services, sign_in,
                                            tmp_path, qtbot) -> None:
    screen = open_screen("cora")
    cora = sign_in("cora")
    target = tmp_path / "findings.csv"
    with qtbot.waitSignal(screen.changes_made):
        screen.export(target)
    with open(target, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["id"]) for r in rows] == [findings["calib"], findings["sum"],
                                            findings["thin"]]
    assert rows[1]["title"] == "'" + FORMULA and rows[1]["description"] == MARKUP
    assert (rows[0]["overdue"], rows[0]["model"], rows[0]["version"]) == (
        "yes", "Cards PD-0000", "2")
    assert screen.banner.text() == f"Exported 3 finding(s) to {target}."
    event = services.audit.page(cora, limit=1).items[0]
    assert event.action == "findings.exported" and json.loads(event.new_values)["findings"] == 3


def test_owner_answers_a_finding(open_screen, findings, services, sign_in, qtbot) -> None:
    screen = open_screen("dana")
    assert screen.answer_button.isVisible() and not screen.close_button.isVisible()
    assert not screen.csv_button.isVisible()  # data scientists do not export evidence
    assert screen.select(findings["sum"])  # max's: not hers to answer
    assert not screen.answer_button.isEnabled()
    assert screen.select(findings["thin"])
    assert screen.answer_button.isEnabled()
    screen.answer_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, RemediateDialog)
    dialog.text.setPlainText("Added a thin-file override rule; AUC 0.72 on thin files.")
    with qtbot.waitSignal(screen.changes_made):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: (not shiboken6.isValid(dialog) or not dialog.isVisible())
                    and tasks_idle())
    stored = {f.id: f for f in services.findings.portfolio(sign_in("cora"))}
    assert stored[findings["thin"]].status == "remediated"
    assert stored[findings["thin"]].remediation.startswith("Added a thin-file override")
    row = shown(screen).index(findings["thin"])
    assert cell(screen, row, 7) == "remediated"
    assert screen.selected().id == findings["thin"]  # the selection survives the reload
    assert "AUC 0.72 on thin files" in screen.details.toPlainText()


def test_validator_closes_a_finding(open_screen, findings, services, sign_in, qtbot) -> None:
    screen = open_screen("victor")
    assert screen.close_button.isVisible() and not screen.answer_button.isVisible()
    assert screen.select(findings["calib"])
    screen.close_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, ReasonDialog)
    dialog.reason.setText("Recalibration accepted")
    with qtbot.waitSignal(screen.changes_made):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: findings["calib"] not in shown(screen) and tasks_idle())
    assert screen.counts_label.text() == ("2 not closed across the portfolio · 1 high · "
                                          "0 overdue")
    closed = services.audit.page(sign_in("cora"), limit=10).items
    assert any(e.action == "finding.closed" and e.reason == "Recalibration accepted"
               for e in closed)


def test_open_version_shows_it_on_the_model_screen(qtbot, services, sign_in, qsettings,
                                                   findings) -> None:
    window = MainWindow(services, sign_in("victor"), qsettings=qsettings)
    qtbot.addWidget(window)
    window.show()
    index = window.screen_titles().index("Findings")
    window.show_screen(index)
    screen = window.screens[index]
    qtbot.waitUntil(lambda: bool(screen.findings) and tasks_idle())
    assert screen.select(findings["calib"])
    screen.open_button.click()
    current = window.current_screen()
    assert isinstance(current, RegistryScreen)
    page = current.model_page
    assert current.pages.currentWidget() is page
    assert page.tabs.currentWidget() is page.validation
    assert page.validation.model_name == "Cards PD-0000"
    assert page.validation.version_number() == 2


def test_not_shown_to_roles_without_findings_work(qtbot, services, sign_in,
                                                  qsettings) -> None:
    for user in ("ada", "ivan", "eve"):
        window = MainWindow(services, sign_in(user), qsettings=qsettings)
        qtbot.addWidget(window)
        assert "Findings" not in window.screen_titles()
