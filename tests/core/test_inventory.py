"""The model inventory on SQLite and PostgreSQL: records, completeness, retiring, search."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from core.entities_registry import ModelFilter
from core.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from core.permissions import Role
from core.services.inventory import InventoryService

FULL = {"purpose": "Probability of default for retail cards", "intended_use": "Credit limits",
        "restrictions": "Not for mortgages", "products": "Retail cards",
        "methodology": "Gradient boosting", "business_owner": "Retail Credit Risk",
        "developer": "dana", "risk_tier": 1, "data_classification": "confidential",
        "uses_personal_data": "yes", "source": "in_house"}


@pytest.fixture
def inv(console):
    return InventoryService(console.store)


@pytest.fixture
def scientist(console):
    return console.add_user("dana", [Role.DATA_SCIENTIST])


def test_create_check_completeness_and_audit(console, inv, scientist) -> None:
    model, _ = inv.create(scientist, "Retail PD", {"purpose": "PD for cards", "risk_tier": "2"})
    assert model.risk_tier == 2 and model.status == "in_development"
    assert "Business owner" in model.missing_fields()
    assert "Purpose" not in model.missing_fields()
    full, _ = inv.create(scientist, "Cards PD", FULL)
    assert full.missing_fields() == [] and full.uses_personal_data is True
    ev = console.events("model.created")[-1]
    assert (ev.actor, ev.object_id) == ("dana", "Cards PD")
    assert json.loads(ev.new_values)["risk_tier"] == 1
    with pytest.raises(AlreadyExists):
        inv.create(scientist, "Cards PD")


@pytest.mark.parametrize("bad", ["Evil\u202eDP liateR", "tab\tname", "bell\x07", "x"])
def test_names_with_control_or_direction_characters_are_refused(console, inv, scientist,
                                                                bad) -> None:
    before = len(console.events())
    with pytest.raises(InvalidInput):
        inv.create(scientist, bad)
    assert len(console.events()) == before


@pytest.mark.parametrize("field,value,words", [("risk_tier", 4, "Risk tier"),
                                               ("data_classification", "secret", "one of"),
                                               ("uses_personal_data", "maybe", "yes or no"),
                                               ("colour", "red", "not an inventory field")])
def test_bad_field_values_are_named(inv, scientist, field, value, words) -> None:
    with pytest.raises(InvalidInput, match=words):
        inv.create(scientist, "M1", {field: value})


def test_update_and_retire_keep_the_record_searchable(console, inv, scientist) -> None:
    inv.create(scientist, "Old scorecard", FULL)
    with pytest.raises(InvalidInput, match="why"):
        inv.update(scientist, "Old scorecard", {"risk_tier": 2}, reason=" ")
    model, _ = inv.update(scientist, "Old scorecard", {"risk_tier": 2}, reason="re-rated")
    ev = console.events("model.updated")[-1]
    assert json.loads(ev.old_values) == {"risk_tier": 1}
    assert json.loads(ev.new_values) == {"risk_tier": 2} and ev.reason == "re-rated"
    retired, _ = inv.retire(scientist, "Old scorecard", reason="replaced")
    assert retired.status == "retired" and retired.retired_at is not None
    assert [m.name for m in inv.page(scientist, ModelFilter(text="scorecard")).items] == [
        "Old scorecard"]
    assert inv.page(scientist, ModelFilter(include_retired=False)).items == []
    with pytest.raises(InvalidInput, match="retired"):
        inv.update(scientist, "Old scorecard", {"purpose": "x"}, reason="edit")


def test_models_are_never_deleted(console, inv, scientist) -> None:
    inv.create(scientist, "Keeper")
    with console.store.engine.connect() as conn, pytest.raises(Exception, match="never deleted"):
        conn.execute(text("delete from model"))
    assert inv.get(scientist, "Keeper").name == "Keeper"


def test_keyset_pages_and_filters(inv, scientist) -> None:
    for i in range(25):
        inv.create(scientist, f"Model {i:02d}", {"risk_tier": 1 + i % 3,
                                                  "business_owner": f"Desk {i % 2}"})
    page = inv.page(scientist, limit=10)
    names = [m.name for m in page.items]
    while page.next_cursor:
        page = inv.page(scientist, after_name=page.next_cursor, limit=10)
        names += [m.name for m in page.items]
    assert names == [f"Model {i:02d}" for i in range(25)]
    inv.create(scientist, "alpha model")
    inv.create(scientist, "Zeta model")
    first = inv.page(scientist, limit=2)
    assert [m.name for m in first.items] == ["alpha model", "Model 00"]
    rest = inv.page(scientist, after_name=first.next_cursor, limit=100)
    assert [m.name for m in rest.items][-1] == "Zeta model" and len(rest.items) == 25
    tier1 = inv.page(scientist, ModelFilter(risk_tier=1)).items
    assert len(tier1) == 9 and {m.risk_tier for m in tier1} == {1}
    assert len(inv.page(scientist, ModelFilter(owner="Desk 1")).items) == 12


def test_roles(console, inv, scientist) -> None:
    exec_ = console.add_user("eve", [Role.EXECUTIVE])
    comp = console.add_user("cora", [Role.COMPLIANCE])
    inv.create(scientist, "Read me")
    assert inv.get(exec_, "Read me").name == "Read me"
    with pytest.raises(PermissionDenied):
        inv.create(exec_, "Nope")
    with pytest.raises(PermissionDenied):
        inv.update(comp, "Read me", {"purpose": "x"}, reason="y")
    with pytest.raises(NotFound):
        inv.get(comp, "Missing")
