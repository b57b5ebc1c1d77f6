"""`charter demo` builds a real portfolio through the import service."""

from __future__ import annotations

from core import audit
from core.demo import create_demo
from core.entities_registry import ModelFilter
from core.services.auth import AuthService
from core.services.inventory import InventoryService


def test_demo_portfolio_has_real_models_in_three_formats_with_lineage(tmp_path, hasher) -> None:
    store, accounts = create_demo(f"sqlite:///{tmp_path}/demo/charter-demo.db", hasher)
    try:
        eve = AuthService(store, hasher).sign_in("eve", accounts[-1].password)
        inv = InventoryService(store)
        models = {m.name: m for m in inv.page(eve, ModelFilter()).items}
        assert set(models) == {"Screening classifier", "Diabetes progression", "Wine cultivar"}
        assert models["Diabetes progression"].status == "retired"
        assert models["Screening classifier"].missing_fields() == []
        assert "Intended use" in models["Wine cultivar"].missing_fields()
        formats = {v.artifact_format for name in models for v in inv.versions(eve, name)}
        assert formats == {"skops", "onnx", "mlflow"}
        screening = inv.versions(eve, "Screening classifier")
        assert [v.number for v in screening] == [2, 1]
        assert all(v.training_dataset_sha256 and v.code_reference for v in screening)
        assert {d.role for d in screening[0].datasets} == {"training", "holdout"}
        assert (tmp_path / "demo" / "artifacts").is_dir()
        assert not (tmp_path / "demo" / "build").exists()
        with store.unit_of_work(None, write=False) as uow:
            assert audit.verify(uow.session).ok
    finally:
        store.dispose()
