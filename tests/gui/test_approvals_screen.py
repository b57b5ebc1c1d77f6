"""The Approvals screen on a real store with real services: each role's inbox, the whole path
from draft to approved through the console (signing with the password, a finding that blocks
approval until it is remediated and closed), a wrong password, a version that changed while the
dialog was open, the count in the navigation, and the table models."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QLabel

from core.errors import AccountLocked
from core.services.calendar import DueItem
from core.services.workflow import PolicyException
from core.services.importer import ImportRequest, ImportService
from tests.gui.conftest import tasks_idle
from tests.gui.registry_data import COMPLETE
from views.approvals_screen import ApprovalsScreen
from views.approvals_tables import (
    CalendarTableModel,
    ExceptionTableModel,
    FindingTableModel,
    InboxTableModel,
    SignatureTableModel,
)
from views.findings_panel import RecordFindingDialog, RemediateDialog
from views.sign_dialog import SignDialog
from views.widgets import ReasonDialog

pytestmark = pytest.mark.gui
MODEL = "pd-cards"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rnd = np.random.default_rng(3)
    x = rnd.normal(size=(200, 2))
    path = tmp_path_factory.mktemp("approvals") / "model.skops"
    sio.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), path)
    return path


@pytest.fixture
def version(services, sign_in, artifact: Path) -> int:  # noqa: ANN001
    """Tier 1 ``pd-cards`` version 1 by dana, in draft, with its documentation PDF."""
    dana = sign_in("dana")
    services.inventory.create(dana, MODEL, COMPLETE)
    ImportService(services.store, services.artifacts).import_version(
        dana, ImportRequest(MODEL, artifact, label="1.0"))
    services.documentation.generate(dana, MODEL, 1)
    return 1


@pytest.fixture
def open_screen(qtbot, services, sign_in):  # noqa: ANN001, ANN201
    def _open(username: str) -> ApprovalsScreen:
        screen = ApprovalsScreen(services, sign_in(username))
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.resize(1150, 760)
        screen.show()
        qtbot.waitUntil(tasks_idle)
        return screen

    return _open


def gone(dialog) -> bool:  # noqa: ANN001 - closed (and deleted: WA_DeleteOnClose)
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def waiting(screen: ApprovalsScreen) -> list[tuple[str, int, str]]:
    return [(i.model, i.version, i.wanted) for i in screen.items]


def select(screen: ApprovalsScreen, qtbot) -> None:  # noqa: ANN001
    assert screen.select(MODEL, 1)
    qtbot.waitUntil(lambda: screen.detail.detail is not None and tasks_idle())


def state(services, sign_in) -> str:  # noqa: ANN001
    return services.inventory.versions(sign_in("cora"), MODEL)[0].state


def step(screen: ApprovalsScreen, name: str, qtbot, *, reason: str = "checked",  # noqa: ANN001
         password: str | None = None, wait: bool = True) -> SignDialog:
    button = screen.detail.steps[name]
    assert button.isVisible() and button.isEnabled(), name
    button.click()
    dialog = screen.detail.dialog
    assert isinstance(dialog, SignDialog)
    dialog.reason.setText(reason)
    if password is not None:
        dialog.password.setText(password)
    dialog.ok_button.click()
    if wait:
        qtbot.waitUntil(tasks_idle)
    return dialog


def test_full_path_from_draft_to_approved_through_the_console(
        open_screen, version, services, sign_in, passwords, qtbot) -> None:  # noqa: ANN001
    # Dana: her draft waits for submission; submitting signs with her password.
    dana = open_screen("dana")
    assert waiting(dana) == [(MODEL, 1, "Submit for validation")]
    select(dana, qtbot)
    detail = dana.detail
    assert "Draft" in detail.facts.text() and "tier 1" in detail.facts.text()
    assert "No evaluation recorded" in detail.gates.text()
    assert not detail.steps["approve"].isVisible()  # not a data scientist's action
    dialog = step(dana, "submit", qtbot, password=passwords["dana"], wait=False)
    shown = " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert "Dana Scientist (dana, Data scientist)" in shown and "UTC" in shown
    assert "Authored" in shown
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    assert state(services, sign_in) == "submitted"
    assert waiting(dana) == []  # refreshed on its own Changes
    assert "Done" in detail.outcome.text() and "Submitted" in detail.outcome.text()

    # Victor: starts the validation, records a high finding owned by dana, signs.
    victor = open_screen("victor")
    assert waiting(victor) == [(MODEL, 1, "Start the validation")]
    select(victor, qtbot)
    assert victor.detail.steps["start_validation"].isEnabled()
    assert not victor.detail.steps["validate"].isEnabled()
    step(victor, "start_validation", qtbot)
    assert state(services, sign_in) == "in_validation"
    panel = victor.detail.findings
    panel.record_button.click()
    qtbot.waitUntil(lambda: isinstance(panel.dialog, RecordFindingDialog))
    form = panel.dialog
    form.title.setText("Thin-file segment weak")
    form.description.setPlainText("AUC 0.61 on thin files")
    form.severity.setCurrentIndex(form.severity.findData("high"))
    assert form.owner.currentData() == "dana"  # the author by default
    form.ok_button.click()
    qtbot.waitUntil(lambda: gone(form) and tasks_idle())
    qtbot.waitUntil(lambda: panel.table_model.rowCount() == 1)
    assert "1 open of 1" in panel.heading.text()
    step(victor, "validate", qtbot, password=passwords["victor"])
    assert state(services, sign_in) == "validated"

    # Cora: the validated tier-1 version needs her review.
    cora = open_screen("cora")
    assert waiting(cora) == [(MODEL, 1, "Review and sign the compliance review")]
    select(cora, qtbot)
    step(cora, "review", qtbot, password=passwords["cora"])
    assert waiting(cora) == []

    # Max: signed off, but the open high finding blocks approval: the inbox and the dialog
    # say why.
    mx = open_screen("max")
    [(_m, _n, wanted)] = waiting(mx)
    assert wanted.startswith("Reject, or wait: 1 open high-severity finding(s) block approval")
    select(mx, qtbot)
    dialog = step(mx, "approve", qtbot, password=passwords["max"])
    assert dialog.isVisible() and dialog.error.isVisible()
    assert "high-severity finding" in dialog.error.text()
    assert "Thin-file segment weak" in dialog.error.text()
    assert "closes a finding" in dialog.error.text()  # the hint
    dialog.reject()
    assert state(services, sign_in) == "validated"

    # Dana answers the finding from her inbox; Victor closes it.
    dana.refresh()
    qtbot.waitUntil(tasks_idle)
    [(model, number, wanted)] = waiting(dana)
    assert wanted.startswith("Answer finding #") and (model, number) == (MODEL, 1)
    select(dana, qtbot)
    dana.detail.findings.table.selectRow(0)
    dana.detail.findings.answer_button.click()
    answer = dana.detail.findings.dialog
    assert isinstance(answer, RemediateDialog)
    answer.text.setPlainText("Added a thin-file override rule")
    answer.ok_button.click()
    qtbot.waitUntil(lambda: gone(answer) and tasks_idle())
    victor.refresh()
    qtbot.waitUntil(tasks_idle)
    assert any(w.startswith("Close finding #") for _m, _n, w in waiting(victor))
    victor.detail.reload()
    qtbot.waitUntil(tasks_idle)
    victor.detail.findings.table.selectRow(0)
    victor.detail.findings.close_button.click()
    closing = victor.detail.findings.dialog
    assert isinstance(closing, ReasonDialog)
    closing.reason.setText("Override reviewed")
    closing.ok_button.click()
    qtbot.waitUntil(lambda: gone(closing) and tasks_idle())

    # Max approves; the signatures are all valid.
    mx.refresh()
    qtbot.waitUntil(tasks_idle)
    step(mx, "approve", qtbot, reason="fit for use", password=passwords["max"])
    assert state(services, sign_in) == "approved"
    sigs = mx.detail.signatures
    texts = [[sigs.data(sigs.index(r, c)) for c in range(sigs.columnCount())]
             for r in range(sigs.rowCount())]
    assert [(t[0], t[1], t[5]) for t in texts] == [
        ("Authored", "Dana Scientist", "valid"), ("Validated", "Victor Validator", "valid"),
        ("Reviewed", "Cora Compliance", "valid"), ("Approved", "Max Manager", "valid")]
    assert texts[3][4] == "fit for use"
    assert waiting(mx) == []
    assert not any(b.isEnabled() for b in mx.detail.steps.values() if b.isVisible())


def test_wrong_password_is_shown_in_the_dialog_and_changes_nothing(
        open_screen, version, services, sign_in, passwords, qtbot) -> None:  # noqa: ANN001
    dana = open_screen("dana")
    select(dana, qtbot)
    dialog = step(dana, "submit", qtbot, password="not my password")
    assert dialog.isVisible() and dialog.error.isVisible()
    assert dialog.error.text()  # the service's message, as it words it
    assert dialog.password.text() == ""  # cleared for another try
    assert state(services, sign_in) == "draft"
    assert services.workflow.signatures(sign_in("cora"), MODEL, 1) == []
    dialog.password.setText(passwords["dana"])
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    assert state(services, sign_in) == "submitted"


def test_locking_the_account_with_signature_passwords_signs_the_console_out(
        qtbot, services, sign_in, version, qsettings) -> None:  # noqa: ANN001
    from views.main_window import MainWindow

    window = MainWindow(services, sign_in("dana"), qsettings=qsettings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(tasks_idle)
    messages: list[str] = []
    window.signed_out.connect(messages.append)
    screen = next(s for s in window.screens if isinstance(s, ApprovalsScreen))
    window.show_screen(window.screens.index(screen))
    select(screen, qtbot)
    dialog = None
    for attempt in range(5):  # the store's default lock-out is after 5 failures
        if dialog is None:
            dialog = step(screen, "submit", qtbot, password=f"wrong {attempt}")
        else:
            dialog.password.setText(f"wrong {attempt}")
            dialog.ok_button.click()
            qtbot.waitUntil(tasks_idle)
        if attempt < 4:
            assert dialog.isVisible() and not messages
    qtbot.waitUntil(lambda: bool(messages))
    assert "locked" in messages[0]
    assert gone(dialog) and not window.isVisible()
    assert state(services, sign_in) == "draft"
    with pytest.raises(AccountLocked):  # the store locked the account, not just the window
        sign_in("dana")


def test_a_version_changed_behind_the_dialog_is_reported(
        open_screen, version, services, sign_in, passwords, qtbot) -> None:  # noqa: ANN001
    services.workflow.transition(sign_in("dana"), MODEL, 1, "submit", reason="ready",
                                 password=passwords["dana"])
    victor = open_screen("victor")
    select(victor, qtbot)
    victor.detail.steps["start_validation"].click()
    dialog = victor.detail.dialog
    assert dialog.expected_state == "submitted"
    # Meanwhile a manager rejects it (a tier-1 version may be rejected from submitted).
    services.workflow.transition(sign_in("max"), MODEL, 1, "reject", reason="withdrawn",
                                 password=passwords["max"])
    dialog.reason.setText("taking it")
    dialog.ok_button.click()
    qtbot.waitUntil(tasks_idle)
    assert dialog.isVisible()
    assert "changed while you were deciding" in dialog.error.text()
    assert "Rejected" in dialog.error.text()
    assert state(services, sign_in) == "rejected"
    qtbot.waitUntil(lambda: "Rejected" in victor.detail.facts.text())


def test_navigation_shows_the_count_and_follows_changes(
        qtbot, services, sign_in, passwords, version, qsettings) -> None:  # noqa: ANN001
    from views.main_window import MainWindow

    window = MainWindow(services, sign_in("victor"), qsettings=qsettings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(tasks_idle)
    assert "Approvals" in window.screen_titles()
    assert "Approvals" in window.nav_texts()  # nothing waits: no count
    _, changes = services.workflow.transition(sign_in("dana"), MODEL, 1, "submit",
                                              reason="ready", password=passwords["dana"])
    window.changed.emit(changes)
    qtbot.waitUntil(lambda: "Approvals (1)" in window.nav_texts())
    # The validation tab is one click away from the item.
    screen = next(s for s in window.screens if isinstance(s, ApprovalsScreen))
    window.show_screen(window.screens.index(screen))
    select(screen, qtbot)
    screen.detail.validation_button.click()
    registry = window.current_screen()
    assert registry.model_page.tabs.currentWidget() is registry.model_page.validation
    assert registry.model_page.validation.version_number() == 1
    # Roles without workflow actions have no Approvals screen.
    other = MainWindow(services, sign_in("ivan"), qsettings=qsettings)
    qtbot.addWidget(other)
    assert "Approvals" not in other.screen_titles()


def test_recording_a_validation_before_charter_puts_the_model_on_the_calendar(
        open_screen, version, services, sign_in, passwords, qtbot) -> None:  # noqa: ANN001
    from datetime import date

    from PySide6.QtCore import QDate

    from views.calendar_dialogs import PriorValidationDialog

    cora = open_screen("cora")
    cora.prior_button.click()
    qtbot.waitUntil(lambda: isinstance(getattr(cora, "prior_dialog", None),
                                       PriorValidationDialog))
    dialog = cora.prior_dialog
    assert [dialog.model.itemText(i) for i in range(dialog.model.count())] == [MODEL]
    assert not dialog.ok_button.isEnabled()  # nothing typed yet
    dialog.validated_on.setDate(QDate(2023, 5, 31))
    dialog.reference.setText("MRM-2023-<b>9</b>")
    dialog.validated_by.setText("Model Risk Office")
    dialog.reason.setText("onboarding")
    dialog.password.setText("not my password")
    dialog.ok_button.click()
    qtbot.waitUntil(tasks_idle)
    assert dialog.isVisible() and dialog.error.isVisible() and dialog.password.text() == ""
    assert services.calendar.prior_validations(sign_in("cora"), MODEL) == []
    dialog.password.setText(passwords["cora"])
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    [record] = services.calendar.prior_validations(sign_in("cora"), MODEL)
    assert (record.validated_on, record.reference) == (date(2023, 5, 31), "MRM-2023-<b>9</b>")
    qtbot.waitUntil(lambda: cora.calendar.rowCount() == 1)
    texts = [cora.calendar.data(cora.calendar.index(0, c)) for c in range(7)]
    assert texts[:6] == [MODEL, "—", "1 (high)", "2023-05-31", "2024-05-31", "OVERDUE"]
    assert texts[6] == "validated before Charter by Model Risk Office (report MRM-2023-<b>9</b>)"
    assert cora.tabs.tabText(1) == "Compliance calendar (1 overdue, 0 due soon)"


def test_a_manager_grants_a_policy_exception_and_the_calendar_lists_it(
        open_screen, version, services, sign_in, passwords, qtbot,  # noqa: ANN001
        qsettings) -> None:  # noqa: ANN001
    from datetime import date, timedelta

    from PySide6.QtCore import QDate

    from views.calendar_dialogs import ExceptionDialog
    from views.main_window import MainWindow

    services.workflow.transition(sign_in("dana"), MODEL, 1, "submit", reason="ready",
                                 password=passwords["dana"])
    window = MainWindow(services, sign_in("max"), qsettings=qsettings)
    qtbot.addWidget(window)
    window.show()
    window.open_model(MODEL, 0)
    page = window.current_screen().model_page
    qtbot.waitUntil(lambda: tasks_idle() and page.versions.table.model().rowCount() == 1)
    page.tabs.setCurrentWidget(page.versions)
    page.versions.table.selectRow(0)
    assert page.exception_button.isVisible() and page.exception_button.isEnabled()
    dialog = page.grant_exception()
    assert isinstance(dialog, ExceptionDialog)
    until = date.today() + timedelta(days=45)
    dialog.until.setDate(QDate(until.year, until.month, until.day))
    dialog.reason.setText("Regulatory deadline; validation booked")
    dialog.password.setText("not my password")
    dialog.ok_button.click()
    qtbot.waitUntil(tasks_idle)
    assert dialog.isVisible() and dialog.error.isVisible() and dialog.password.text() == ""
    assert services.exceptions.exceptions(sign_in("cora")) == []
    dialog.password.setText(passwords["max"])
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    [granted] = services.exceptions.exceptions(sign_in("cora"))
    assert (granted.model, granted.version, granted.expires_on) == (MODEL, 1, until)
    cora = open_screen("cora")
    assert cora.exceptions.rowCount() == 1
    texts = [cora.exceptions.data(cora.exceptions.index(0, c)) for c in range(8)]
    assert texts[1:4] == [MODEL, "1", "max"] and texts[5:] == [
        until.isoformat(), "in force", "Regulatory deadline; validation booked"]
    assert cora.exceptions_heading.text() == "Policy exceptions (1)"
    # Other roles have no such button.
    other = MainWindow(services, sign_in("victor"), qsettings=qsettings)
    qtbot.addWidget(other)
    other.open_model(MODEL, 0)
    assert not other.current_screen().model_page.exception_button.isVisibleTo(other)


def test_review_package_round_trip_through_the_console(
        open_screen, version, services, sign_in, passwords, qtbot, tmp_path) -> None:  # noqa: ANN001
    from core.workflow.review_package import make_response, open_package, write_response

    flow = services.workflow
    flow.transition(sign_in("dana"), MODEL, 1, "submit", reason="ready",
                    password=passwords["dana"])
    flow.transition(sign_in("victor"), MODEL, 1, "start_validation", reason="mine")
    flow.transition(sign_in("victor"), MODEL, 1, "validate", reason="sound",
                    password=passwords["victor"])
    cora = open_screen("cora")
    select(cora, qtbot)
    package = tmp_path / "cards.charter-review"
    assert cora.detail.export_button.isVisible()
    cora.detail.export_review_package(str(package))
    qtbot.waitUntil(lambda: tasks_idle() and cora.detail.outcome.isVisible())
    assert str(package) in cora.detail.outcome.text()
    opened = open_package(package)
    assert opened.manifest_sha256 in cora.detail.outcome.text()
    response = tmp_path / "response.json"
    write_response(make_response(opened, "cora", ["Limitations are clear"],
                                 sign_reason="Meets the policy", created_at="2026-11-23"),
                   response)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(response.read_text().replace("Limitations", "Limits"))
    dialog = cora.import_review_response(tampered)
    dialog.password.setText(passwords["cora"])
    dialog.ok_button.click()
    qtbot.waitUntil(tasks_idle)
    assert dialog.isVisible() and "not a valid review response" in dialog.error.text()
    dialog.reject()
    dialog = cora.import_review_response(response)
    dialog.password.setText("not my password")
    dialog.ok_button.click()
    qtbot.waitUntil(tasks_idle)
    assert dialog.isVisible() and dialog.password.text() == ""
    assert state(services, sign_in) == "validated"
    assert [s.meaning for s in flow.signatures(sign_in("cora"), MODEL, 1)] == [
        "authored", "validated"]
    dialog.password.setText(passwords["cora"])
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: gone(dialog) and tasks_idle())
    assert cora.notice.text() == ("Imported 1 review comment(s) from cora for pd-cards version "
                                  "1 and the compliance signature (reviewed) was applied.")
    assert [s.meaning for s in flow.signatures(sign_in("cora"), MODEL, 1)] == [
        "authored", "validated", "reviewed"]
    assert not open_screen("dana").response_button.isVisible()


def test_compliance_calendar_and_table_models(open_screen, version, services, sign_in,
                                              qtbot) -> None:  # noqa: ANN001
    cora = open_screen("cora")
    assert cora.tabs.count() == 2
    assert cora.tabs.tabText(1).startswith("Compliance calendar (0 overdue")
    assert cora.empty.isVisible() and not cora.table.isVisible()
    assert open_screen("victor").tabs.count() == 1
    dana = open_screen("dana")
    select(dana, qtbot)
    expired = [PolicyException(4, MODEL, 1, "max", "deadline", datetime(2024, 1, 2, tzinfo=UTC),
                               datetime(2024, 3, 1).date(), "submitted", True),
               PolicyException(3, MODEL, 1, "max", "older", datetime(2023, 1, 2, tzinfo=UTC),
                               datetime(2023, 3, 1).date(), "approved", False)]
    due = [DueItem(MODEL, 1, 1, datetime(2024, 1, 2, 12, tzinfo=UTC), "approved in Charter",
                   datetime(2025, 1, 2, 12, tzinfo=UTC), True),
           DueItem("Legacy", None, 2, datetime(2023, 3, 1, tzinfo=UTC),
                   "validated before Charter by MRM (report R-7)",
                   datetime(2025, 3, 1, tzinfo=UTC), True)]
    testers = []
    for fresh, rows in ((InboxTableModel(), dana.items),
                        (SignatureTableModel(), dana.detail.signatures.items),
                        (FindingTableModel(), dana.detail.findings.table_model.items),
                        (CalendarTableModel(), due),
                        (ExceptionTableModel(), expired)):
        testers.append(QAbstractItemModelTester(
            fresh, QAbstractItemModelTester.FailureReportingMode.Fatal))
        fresh.set_items(rows)
        fresh.set_items(rows[:0])
        fresh.set_items(rows)
    exceptions = ExceptionTableModel()
    exceptions.set_items(expired)
    assert [exceptions.data(exceptions.index(r, 6)) for r in (0, 1)] == [
        "EXPIRED", "ended: version approved"]
    assert exceptions.data(exceptions.index(0, 6), Qt.ItemDataRole.ForegroundRole) is not None
    calendar = CalendarTableModel()
    calendar.set_items(due)
    assert calendar.data(calendar.index(0, 5)) == "OVERDUE"
    assert calendar.data(calendar.index(0, 4)).startswith("2025-01-0")
    assert [calendar.data(calendar.index(1, c)) for c in (1, 3, 4, 6)] == [
        "—", "2023-03-01", "2025-03-01", "validated before Charter by MRM (report R-7)"]
    assert dana.inbox.data(dana.inbox.index(0, 4)) == "Submit for validation"
    assert dana.inbox.data(dana.inbox.index(0, 3)) == "Draft"
    assert dana.inbox.headerData(4, Qt.Orientation.Horizontal) == "Waiting for you to"
