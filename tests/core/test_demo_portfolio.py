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
        passwords = {a.username: a.password for a in accounts}
        eve = AuthService(store, hasher).sign_in("eve", passwords["eve"])
        inv = InventoryService(store)
        models = {m.name: m for m in inv.page(eve, ModelFilter()).items}
        assert set(models) == {"Screening classifier", "Diabetes progression", "Wine cultivar",
                               "Retail credit default", "Collections early warning"}
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
        # Every version is evaluated on data it was not trained on; each model is documented.
        from core.registry.artifact_store import ArtifactStore
        from core.services.documentation import DocumentationService
        from core.services.evaluation import EvaluationService

        artifacts = ArtifactStore(tmp_path / "demo" / "artifacts")
        evaluations = EvaluationService(store, artifacts)
        kinds = {}
        for name in models:
            for v in inv.versions(eve, name):
                found = evaluations.evaluations(eve, name, v.number)
                assert len(found) == 1, (name, v.number)
                kinds[name] = found[0].kind
                if found[0].kind == "binary":
                    assert found[0].evidence["metrics"]["roc_auc"] < 0.9999, name  # no leakage
        assert kinds == {"Screening classifier": "binary", "Diabetes progression": "regression",
                         "Wine cultivar": "multiclass", "Retail credit default": "binary",
                         "Collections early warning": "binary"}
        credit = evaluations.latest(eve, "Retail credit default", 1).evidence
        assert set(credit["fairness"]["features"]) == {"sex", "age_band"}
        assert credit["explanations"]["global_importance"]
        docs = DocumentationService(store, artifacts)
        record = docs.documents(eve, "Retail credit default", 1)[0]
        assert docs.pdf(eve, record.id).startswith(b"%PDF") and record.pages > 5
        assert all(docs.documents(eve, name, models[name].latest_version) for name in models
                   if models[name].status != "retired")
        assert docs.documents(eve, "Screening classifier", 1)
        assert models["Retail credit default"].limitations
        # The workflow's stages, with real signatures (issue 5).
        states = {(name, v.number): v.state for name in models for v in inv.versions(eve, name)}
        assert states[("Screening classifier", 2)] == "approved"
        assert states[("Screening classifier", 1)] == "validated"
        assert states[("Collections early warning", 1)] == "submitted"
        assert states[("Retail credit default", 1)] == "in_validation"
        assert states[("Wine cultivar", 1)] == "rejected"
        from core.services.findings import FindingsService
        from core.services.workflow import WorkflowService

        flow = WorkflowService(store, artifacts, AuthService(store, hasher))
        assert [(g.meaning, g.valid) for g in flow.signatures(eve, "Screening classifier", 2)] \
            == [("authored", True), ("validated", True), ("reviewed", True), ("approved", True)]
        def inbox(user: str) -> list[tuple[str, int, str | None]]:
            who = AuthService(store, hasher).sign_in(user, passwords[user])
            return [(i.model, i.version, i.step) for i in flow.inbox(who)]

        assert inbox("max") == [("Screening classifier", 1, "approve")]
        assert set(inbox("victor")) == {("Retail credit default", 1, "validate"),
                                         ("Collections early warning", 1, "start_validation")}
        assert sorted(m for m, _n, _s in inbox("dana")) == [  # findings to answer
            "Retail credit default", "Screening classifier"]
        open_high = [f for f in FindingsService(store).owned_by(eve, "dana")
                     if f.severity == "high"]
        assert [f.model_name for f in open_high] == ["Retail credit default"]
        # The collections scorecard, validated before Charter 13 months ago, is overdue.
        from core.services.calendar import CalendarService

        due = CalendarService(store, AuthService(store, hasher)).revalidation_due(eve)
        assert [(d.model, d.version, d.overdue) for d in due] == [
            ("Collections early warning", None, True)]
        assert "MRM-VAL-2025-014" in due[0].basis
        from core.services.workflow import ExceptionService

        [pilot] = ExceptionService(store, AuthService(store, hasher)).exceptions(eve)
        assert (pilot.model, pilot.version, pilot.expired) == ("Retail credit default", 1, False)
        with store.unit_of_work(None, write=False) as uow:
            assert audit.verify(uow.session).ok
    finally:
        store.dispose()
