"""Model screen: inventory and completeness, versions with their details, history, edit and
retire (only for roles that may edit)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.entities import AuditFilter
from tests.gui.registry_data import COMPLETE, add_version
from views.model_dialogs import ModelFormDialog
from views.model_versions import COL_SHA, VERSION_ROLE
from views.registry_screen import RegistryScreen
from views.widgets import ReasonDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def open_model(qtbot, services, sign_in):  # noqa: ANN001, ANN201
    def _open(username: str, name: str) -> RegistryScreen:
        screen = RegistryScreen(services, sign_in(username))
        screen.changes_made.connect(screen.on_changes)  # what the main window's broadcast does
        qtbot.addWidget(screen)
        screen.show()
        screen.open_model(name)
        return screen

    return _open


@pytest.fixture
def pd_cards(services, sign_in) -> str:  # noqa: ANN001
    services.inventory.create(sign_in("dana"), "pd-cards", COMPLETE)
    return "pd-cards"


def tab_titles(page) -> list[str]:  # noqa: ANN001
    return [page.tabs.tabText(i) for i in range(page.tabs.count())]


def test_inventory_tab_lists_fields_and_what_is_missing(open_model, services,  # noqa: ANN001
                                                        sign_in) -> None:
    services.inventory.create(sign_in("dana"), "churn", {
        "purpose": "Deposit churn <b>early</b> warning", "source": "vendor", "risk_tier": 3})
    page = open_model("dana", "churn").model_page
    assert page.title.text() == "churn"
    assert page.status_label.text() == "In development"
    assert page.tier_label.text() == "Tier 3 (low)"
    purpose = page.values["purpose"]
    assert purpose.text() == "Deposit churn <b>early</b> warning"  # shown as typed
    assert purpose.textFormat() == Qt.TextFormat.PlainText
    assert page.values["source"].text() == "Vendor"
    text = page.completeness.text()
    assert text.startswith("Incomplete inventory record")
    for label in ("Intended use", "Business owner", "Vendor (for a vendor model)"):
        assert label in text
    assert "Risk tier" not in text and "Purpose" not in text
    assert page.completeness.objectName() == "notice"


def test_complete_model_says_so(open_model, pd_cards) -> None:  # noqa: ANN001
    page = open_model("dana", pd_cards).model_page
    assert page.completeness.text().startswith("✔ Complete")
    assert page.values["uses_personal_data"].text() == "yes"
    assert page.values["risk_tier"].text() == "1 (high)"
    assert not page.form.isRowVisible(page.values["vendor_name"])  # in-house


def test_versions_tab_shows_versions_and_details(open_model, services, pd_cards) -> None:  # noqa: ANN001
    digests = {n: add_version(services.store, pd_cards, n, label=f"release {n}")
               for n in (1, 2)}
    page = open_model("victor", pd_cards).model_page
    panel = page.versions
    table = panel.model
    assert table.rowCount() == 2 and not panel.empty.isVisibleTo(page)
    assert [table.data(table.index(r, 0)) for r in range(2)] == ["2", "1"]  # newest first
    first = [table.data(table.index(0, c)) for c in range(table.columnCount())]
    assert first[1:3] == ["release 2", "skops"]
    assert first[COL_SHA] == digests[2][:12]
    assert first[4] == "dana" and first[6] == "draft"
    assert panel.selected().number == 2  # the newest is selected
    panel.table.selectRow(1)
    assert panel.selected() is table.data(table.index(1, 0), VERSION_ROLE)
    schema = [[panel.schema.data(panel.schema.index(r, c)) for c in range(3)]
              for r in range(panel.schema.rowCount())]
    assert schema == [["age", "number", ""], ["income", "number", ""],
                      ["region", "category", "north, south, west"]]
    details = panel.details.toPlainText()
    for expected in (digests[1], "training dataset", "git@git.bank.example:risk/pd.git#v1",
                     "scikit-learn", "1.5.2", "max_depth", "auc", "0.71", "holdout",
                     "3,000 rows", "12,000 rows, reference profile", "probability  (number)"):
        assert expected in details, expected


def test_model_without_versions_says_how_to_add_one(open_model, pd_cards) -> None:  # noqa: ANN001
    panel = open_model("dana", pd_cards).model_page.versions
    assert panel.model.rowCount() == 0
    assert panel.empty.isVisibleTo(panel)
    assert panel.details.toPlainText() == ""


def test_history_tab_for_audit_readers_only(open_model, pd_cards) -> None:  # noqa: ANN001
    page = open_model("cora", pd_cards).model_page
    assert tab_titles(page) == ["Inventory", "Versions", "Validation", "Findings",
                                "History"]
    events = page.history.events
    assert [(e.action, e.object_id) for e in events] == [("model.created", "pd-cards")]
    assert tab_titles(open_model("dana", pd_cards).model_page) == ["Inventory", "Versions",
                                                                   "Validation", "Findings"]


def test_edit_with_reason_updates_and_audits(qtbot, open_model, services, pd_cards,  # noqa: ANN001
                                             sign_in) -> None:
    screen = open_model("dana", pd_cards)
    page = screen.model_page
    assert page.edit_button.isVisible() and page.retire_button.isVisible()
    page.edit()
    dialog = page.dialog
    assert isinstance(dialog, ModelFormDialog)
    assert dialog.business_owner.text() == "Retail Credit"  # filled from the record
    dialog.business_owner.setText("Cards Risk")
    dialog.risk_tier.setCurrentIndex(dialog.risk_tier.findData(2))
    dialog.reason.setText("ownership moved")
    with qtbot.waitSignal(page.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert page.values["business_owner"].text() == "Cards Risk"
    assert page.tier_label.text() == "Tier 2 (medium)"
    assert screen.model.data(screen.model.index(screen.model.row_of(pd_cards), 3)) == "Cards Risk"
    flt = AuditFilter(object_type="model", object_id=pd_cards)
    event = services.audit.page(sign_in("cora"), flt, limit=1).items[0]
    assert (event.action, event.reason) == ("model.updated", "ownership moved")
    assert "Cards Risk" in event.new_values and "Retail Credit" in event.old_values


def test_edit_without_reason_stays_in_dialog(qtbot, open_model, services, pd_cards) -> None:  # noqa: ANN001
    page = open_model("dana", pd_cards).model_page
    page.edit()
    page.dialog.developer.setText("Someone Else")
    qtbot.mouseClick(page.dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(page.dialog.error.isVisible, timeout=5000)
    assert "Say why" in page.dialog.error.text()
    assert services.inventory.get(page.principal, pd_cards).developer == "Dana Scientist"


def test_retire_keeps_the_model_and_its_history(qtbot, open_model, services, pd_cards,  # noqa: ANN001
                                                sign_in) -> None:
    add_version(services.store, pd_cards, 1)
    screen = open_model("dana", pd_cards)
    page = screen.model_page
    page.retire()
    dialog = page.dialog
    assert isinstance(dialog, ReasonDialog) and not dialog.ok_button.isEnabled()
    dialog.reason.setText("replaced by pd-cards-2")
    with qtbot.waitSignal(page.changes_made, timeout=5000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert page.status_label.text() == "Retired"
    assert not page.retire_button.isEnabled()
    assert page.form.isRowVisible(page.values["retired_at"])
    assert page.versions.model.rowCount() == 1  # versions stay
    screen.show_list()
    screen.status.setCurrentIndex(screen.status.findData("retired"))
    assert [m.name for m in screen.model.models] == [pd_cards]
    cora_page = open_model("cora", pd_cards).model_page
    assert [e.action for e in cora_page.history.events] == ["model.updated", "model.created"]


@pytest.mark.parametrize("username", ["victor", "cora", "max", "ivan", "eve", "ada"])
def test_roles_without_model_edit_see_no_edit_or_retire(open_model, pd_cards,  # noqa: ANN001
                                                        username) -> None:
    page = open_model(username, pd_cards).model_page
    assert page.title.text() == pd_cards
    assert not page.edit_button.isVisibleTo(page)
    assert not page.retire_button.isVisibleTo(page)
    page.edit()
    page.retire()
    assert page.dialog is None


def test_missing_model_shows_an_error(open_model) -> None:  # noqa: ANN001
    page = open_model("dana", "no-such-model").model_page
    assert page.error.isVisibleTo(page)
    assert "no model named" in page.error.text()
