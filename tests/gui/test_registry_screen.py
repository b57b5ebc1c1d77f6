"""Registry screen: the lazily paged table model, search and filters, the new-model dialog."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from core.entities_registry import ModelFilter
from tests.gui.registry_data import COMPLETE, add_version, bulk_models
from views.model_dialogs import ModelFormDialog
from views.model_table_model import (
    COL_COMPLETENESS,
    COL_LATEST,
    COL_NAME,
    COL_OWNER,
    COL_STATUS,
    COL_TIER,
    COL_UPDATED,
    COL_VERSIONS,
    MODEL_ROLE,
    ModelTableModel,
)
from views.registry_screen import RegistryScreen

pytestmark = pytest.mark.gui


def all_models(services, principal) -> int:  # noqa: ANN001
    """How many models the store already holds (a demo store may ship some)."""
    n, cursor = 0, None
    while True:
        page = services.inventory.page(principal, after_name=cursor, limit=1000)
        n += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return n


@pytest.fixture
def open_screen(qtbot, services, sign_in):  # noqa: ANN001, ANN201
    def _open(username: str = "dana") -> RegistryScreen:
        widget = RegistryScreen(services, sign_in(username))
        widget.changes_made.connect(widget.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(widget)
        widget.show()
        return widget

    return _open


def names(screen: RegistryScreen) -> list[str]:
    return [m.name for m in screen.model.models]


def test_table_model_pages_lazily_and_passes_the_tester(services, sign_in) -> None:  # noqa: ANN001
    dana = sign_in("dana")
    before = all_models(services, dana)
    bulk_models(services.store, 450, prefix="zz-bulk", business_owner="Retail Credit")
    table = ModelTableModel(services, dana)
    QAbstractItemModelTester(table, QAbstractItemModelTester.FailureReportingMode.Fatal)
    table.reload()
    assert table.rowCount() == 200 and table.pages_fetched == 1 and table.canFetchMore()
    while table.canFetchMore(QModelIndex()):
        table.fetchMore(QModelIndex())
    assert table.rowCount() == before + 450
    assert table.pages_fetched == (before + 450 + 199) // 200
    bulk = [m.name for m in table.models if m.name.startswith("zz-bulk")]
    assert bulk == sorted(bulk) and len(set(bulk)) == 450  # keyset pages: no gaps, no repeats
    row = table.row_of("zz-bulk-0007")
    cell = lambda col, role=Qt.ItemDataRole.DisplayRole: table.data(table.index(row, col), role)  # noqa: E731
    assert cell(COL_NAME) == "zz-bulk-0007"
    assert cell(COL_TIER) == "not rated"
    assert cell(COL_STATUS) == "In development"
    assert cell(COL_OWNER) == "Retail Credit"
    assert (cell(COL_VERSIONS), cell(COL_LATEST)) == ("0", "—")
    assert cell(COL_COMPLETENESS) == "8 missing"  # 10 fields for in-house; 2 given
    assert "Intended use" in cell(COL_COMPLETENESS, Qt.ItemDataRole.ToolTipRole)
    assert cell(COL_UPDATED)[:2] == "20"
    assert cell(0, MODEL_ROLE).name == "zz-bulk-0007"
    assert table.data(table.index(row + 100_000, 0)) is None


def test_versions_and_completeness_columns(services, sign_in) -> None:  # noqa: ANN001
    dana = sign_in("dana")
    services.inventory.create(dana, "pd-cards", COMPLETE)
    for n in (1, 2, 3):
        add_version(services.store, "pd-cards", n)
    table = ModelTableModel(services, dana)
    table.reload(ModelFilter(text="pd-cards"))
    assert table.rowCount() == 1
    row = [table.data(table.index(0, c)) for c in range(table.columnCount())]
    assert row[:7] == ["pd-cards", "1 (high)", "In use", "Retail Credit", "3", "v3", "complete"]


def test_search_and_filters(qtbot, open_screen, services, sign_in) -> None:  # noqa: ANN001
    dana = sign_in("dana")
    inv = services.inventory
    inv.create(dana, "fraud-cards", {"purpose": "Card fraud alerts", "risk_tier": 1,
                                     "business_owner": "Fraud Ops", "status": "in_use"})
    inv.create(dana, "churn-deposits", {"purpose": "Deposit churn", "risk_tier": 3,
                                        "business_owner": "Retail Deposits"})
    inv.create(dana, "pd-mortgage", {"purpose": "Mortgage PD", "risk_tier": 1,
                                     "business_owner": "Retail Credit"})
    inv.retire(dana, "churn-deposits", reason="replaced")
    screen = open_screen()
    assert {"fraud-cards", "churn-deposits", "pd-mortgage"} <= set(names(screen))
    screen.search.setText("FRAUD")  # applied after a short pause while typing
    qtbot.waitUntil(lambda: names(screen) == ["fraud-cards"], timeout=3000)
    screen.search.setText("retail")  # owner text matches too
    screen.apply_filter()
    assert names(screen) == ["churn-deposits", "pd-mortgage"]
    screen.status.setCurrentIndex(screen.status.findData("retired"))  # retired stays findable
    assert names(screen) == ["churn-deposits"]
    assert screen.model.data(screen.model.index(0, COL_STATUS)) == "Retired"
    screen.status.setCurrentIndex(0)
    screen.search.clear()
    screen.tier.setCurrentIndex(screen.tier.findData(1))
    assert {"fraud-cards", "pd-mortgage"} <= set(names(screen))
    assert "churn-deposits" not in names(screen)
    screen.owner.setText("Retail Credit")
    screen.apply_filter()
    assert names(screen) == ["pd-mortgage"]
    assert screen.count_label.text() == "1 model shown"


def test_new_model_dialog_creates_and_audits(qtbot, open_screen, services, cora) -> None:  # noqa: ANN001
    screen = open_screen("dana")
    assert screen.new_button.isVisible()
    screen.new_button.click()
    dialog = screen.dialog
    assert isinstance(dialog, ModelFormDialog)
    dialog.name.setText("lgd-sme")
    dialog.purpose.setPlainText("Loss given default, SME loans")
    dialog.business_owner.setText("SME Lending")
    dialog.risk_tier.setCurrentIndex(dialog.risk_tier.findData(2))
    dialog.uses_personal_data.setCurrentIndex(dialog.uses_personal_data.findData(False))
    assert not dialog.vendor_name.isEnabled()
    dialog.source.setCurrentIndex(dialog.source.findData("vendor"))
    assert dialog.vendor_name.isEnabled()
    dialog.vendor_name.setText("Acme Analytics")
    with qtbot.waitSignal(screen.changes_made, timeout=5000) as changes:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "models" in changes.args[0].kinds
    model = services.inventory.get(screen.principal, "lgd-sme")
    assert (model.risk_tier, model.uses_personal_data, model.source, model.vendor_name) == (
        2, False, "vendor", "Acme Analytics")
    assert screen.model.row_of("lgd-sme") >= 0
    assert screen.pages.currentWidget() is screen.model_page  # the new record is opened
    assert screen.model_page.title.text() == "lgd-sme"
    event = services.audit.page(cora, limit=1).items[0]
    assert (event.action, event.object_type, event.object_id, event.actor) == (
        "model.created", "model", "lgd-sme", "dana")
    assert "Acme Analytics" in event.new_values


@pytest.fixture
def cora(sign_in):  # noqa: ANN001, ANN201
    """The compliance officer, who may read the audit trail."""
    return sign_in("cora")


def test_invalid_name_is_refused_inside_the_dialog(qtbot, open_screen, services,  # noqa: ANN001
                                                   cora) -> None:  # noqa: ANN001
    screen = open_screen("dana")
    before = services.audit.head(cora)[0]
    screen.new_model()
    dialog = screen.dialog
    dialog.name.setText("pd\u202egnp.exe")  # a right-to-left override hides the real name
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert "U+202E" in dialog.error.text()
    assert dialog.isVisible() and dialog.ok_button.isEnabled()
    assert dialog.ok_button.isDefault()  # Enter still submits, not Cancel
    assert dialog.error.textFormat() == Qt.TextFormat.PlainText
    assert screen.model.row_of("pd\u202egnp.exe") == -1
    assert services.audit.head(cora)[0] == before  # nothing written
    dialog.name.setText("pd-cards")  # corrected: the same dialog now succeeds
    with qtbot.waitSignal(screen.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert services.inventory.get(screen.principal, "pd-cards").risk_tier is None


def test_duplicate_name_is_refused_inside_the_dialog(qtbot, open_screen, services) -> None:  # noqa: ANN001
    screen = open_screen("dana")
    services.inventory.create(screen.principal, "pd-cards")
    screen.new_model()
    screen.dialog.name.setText("pd-cards")
    qtbot.mouseClick(screen.dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(screen.dialog.error.isVisible, timeout=5000)
    assert "already in the inventory" in screen.dialog.error.text()


def test_executive_reads_the_registry_without_changing_it(open_screen, services,  # noqa: ANN001
                                                          sign_in) -> None:
    services.inventory.create(sign_in("dana"), "pd-cards", COMPLETE)
    screen = open_screen("eve")
    assert not screen.new_button.isVisible()
    screen.new_model()  # the shortcut path refuses too
    assert screen.dialog is None
    screen.select("pd-cards")
    assert screen.open_button.isEnabled()
    screen.open_selected()
    page = screen.model_page
    assert page.title.text() == "pd-cards"
    assert not page.edit_button.isVisible() and not page.retire_button.isVisible()
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Inventory", "Versions", "Validation", "Findings"]
    assert not any(b.isVisibleTo(page.findings) for b in (
        page.findings.record_button, page.findings.answer_button, page.findings.close_button))
    page.back_button.click()
    assert screen.pages.currentWidget() is screen.list_page


def test_first_page_is_fast_with_ten_thousand_versions(services, sign_in) -> None:  # noqa: ANN001
    """10,000 models each with a version: opening the registry reads only the first page."""
    import json

    from sqlalchemy import insert, select

    from core.store.orm_registry import SqlModel, SqlModelVersion
    from core.timeutil import utcnow

    bulk_models(services.store, 10_000, prefix="m")
    now = utcnow()
    with services.store.unit_of_work() as uow:
        ids = uow.session.execute(select(SqlModel.id)).scalars().all()
        empty = json.dumps([])
        uow.session.execute(insert(SqlModelVersion), [
            {"model_id": i, "number": 1, "label": "", "artifact_sha256": f"{i:064x}",
             "artifact_format": "skops", "artifact_size": 1, "description": "{}",
             "input_schema": empty, "output_schema": empty, "library_versions": "{}",
             "hyperparameters": "{}", "metrics": "{}", "code_reference": "", "author": "dana",
             "created_at": now, "state": "draft"} for i in ids])
    table = ModelTableModel(services, sign_in("dana"))
    start = time.perf_counter()
    table.reload()
    elapsed = time.perf_counter() - start
    assert table.rowCount() == 200 and table.data(table.index(0, COL_VERSIONS)) == "1"
    assert elapsed < 0.3, f"first page took {elapsed * 1000:.0f} ms"
