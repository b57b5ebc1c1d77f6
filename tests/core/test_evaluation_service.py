"""Evaluating a version end to end on SQLite and PostgreSQL: the recorded evidence, its bindings
and immutability, gates from store settings, and every kind of bad input losing nothing."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sqlalchemy import text

from core.errors import InvalidInput, KnownError, NotFound, PermissionDenied
from core.permissions import Role
from core.registry.artifact_store import ArtifactStore
from core.registry.datasets import DatasetRejected
from core.registry.formats import ArtifactRejected
from core.services.evaluation import (
    EvaluationRequest,
    EvaluationService,
    canonical_json,
    parse_version_ref,
)
from core.services.importer import ImportRequest, ImportService
from core.tasks import CancelToken
from core.validation.evaluate import EvaluationSettings

FEATURES = ["income", "age", "region"]
QUICK = {"explain": False, "latency_budget_s": 0.5}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A credit-style pipeline, its skops file, a holdout with a sensitive column beside the
    inputs, and a regression model."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rnd = np.random.default_rng(5)
    n = 1200
    frame = pd.DataFrame({"income": rnd.normal(50_000, 12_000, n).round(2),
                          "age": rnd.integers(18, 80, n),
                          "region": rnd.choice(["NE", "SW", "MW"], n)})
    y = (frame["income"] / 50_000 + rnd.normal(0, 0.3, n) > 1).astype(int)
    pipe = Pipeline([("prep", ColumnTransformer([
        ("num", StandardScaler(), ["income", "age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])])),
        ("clf", LogisticRegression(max_iter=200))]).fit(frame.iloc[:600], y.iloc[:600])
    folder = tmp_path_factory.mktemp("evaluation")
    sio.dump(pipe, folder / "model.skops")
    holdout = frame.iloc[600:].assign(default=y.iloc[600:].to_numpy(),
                                      sex=rnd.choice(["f", "m"], 600))
    holdout.to_csv(folder / "holdout.csv", index=False)
    holdout.drop(columns=["sex"]).to_csv(folder / "holdout_plain.csv", index=False)
    reg = LinearRegression().fit(frame[["income", "age"]], frame["income"] * 0.01 + frame["age"])
    sio.dump(reg, folder / "reg.skops")
    return {"folder": folder, "pipe": pipe, "holdout": holdout}


@pytest.fixture
def services(console, tmp_path):
    artifacts = ArtifactStore(tmp_path / "artifacts")
    return ImportService(console.store, artifacts), EvaluationService(console.store, artifacts)


@pytest.fixture
def dana(console):
    return console.add_user("dana", [Role.DATA_SCIENTIST])


@pytest.fixture
def imported(services, dana, data):
    importer, _ = services
    version, _ = importer.import_version(dana, ImportRequest(
        model="Retail PD", artifact=data["folder"] / "model.skops",
        datasets=[(data["folder"] / "holdout_plain.csv", "holdout")],
        model_fields={"risk_tier": 2}))
    return version


def _evaluations(console) -> int:
    return console.sql("SELECT count(*) FROM evaluation")[0][0]


def test_evaluation_is_recorded_bound_to_hashes_and_agrees_with_sklearn(
        console, services, dana, data, imported) -> None:
    _, evaluator = services
    ev, changes = evaluator.evaluate(dana, EvaluationRequest(
        "Retail PD", 1, data["folder"] / "holdout.csv",
        EvaluationSettings(sensitive=("sex",), **QUICK)))
    e = ev.evidence
    holdout = data["holdout"]
    expected_auc = skm.roc_auc_score(holdout["default"],
                                     data["pipe"].predict_proba(holdout[FEATURES])[:, 1])
    assert e["metrics"]["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert (e["kind"], e["holdout"]["target"], e["holdout"]["rows"]) == ("binary", "default", 600)
    assert ev.artifact_sha256 == imported.artifact_sha256 == e["model"]["artifact_sha256"]
    file_sha = hashlib.sha256((data["folder"] / "holdout.csv").read_bytes()).hexdigest()
    assert ev.dataset_sha256 == file_sha == e["holdout"]["sha256"]
    assert ev.evidence_sha256 == hashlib.sha256(canonical_json(e).encode()).hexdigest()
    assert e["gates"]["tier_used"] == 2 and e["gates"]["status"] in ("passed", "failed")
    assert {r["gate"] for r in e["gates"]["results"]} >= {"min_roc_auc", "max_dp_difference"}
    groups = e["fairness"]["features"]["sex"]["groups"]
    assert sum(g["count"] for g in groups) == 600
    assert e["segments"]["features"]["region"] and changes.audit
    recorded = json.loads(console.events("evaluation.recorded")[-1].new_values)
    assert recorded["evidence_sha256"] == ev.evidence_sha256
    assert recorded["dataset_sha256"] == file_sha
    assert console.events("dataset.registered")[-1].object_id == file_sha
    again = evaluator.get(dana, ev.id)
    assert again.evidence == e and evaluator.latest(dana, "Retail PD", 1).id == ev.id
    # the reference answers a deployment's parity check compares against
    ref = e["reference_answers"]
    sent = pd.DataFrame(ref["rows"])  # stored as canonical JSON: keys sorted
    assert sorted(sent.columns) == sorted(FEATURES) and len(sent) == 100 and ref["classes"] == [0, 1]
    sent = sent[FEATURES]
    pd.testing.assert_frame_equal(sent, holdout[FEATURES].iloc[:100].reset_index(drop=True),
                                  check_dtype=False)
    assert np.array_equal(np.asarray(ref["outputs"]), data["pipe"].predict_proba(sent))
    assert ref["tolerance"] == 1e-9


def test_the_registered_holdout_is_used_by_default_and_read_verified(
        console, services, dana, imported) -> None:
    _, evaluator = services
    ev, _ = evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1,
                                                       settings=EvaluationSettings(**QUICK)))
    holdout = next(d for d in imported.datasets if d.role == "holdout")
    assert ev.dataset_sha256 == holdout.sha256
    # A blob changed on disk is caught by its hash, and nothing is recorded.
    blob = evaluator.artifacts.path_for(holdout.sha256)
    blob.chmod(0o644)
    blob.write_text(blob.read_text().replace("NE", "SW", 1))
    with pytest.raises(KnownError, match="(?i)sha-256|corrupt|changed"):
        evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1,
                                                   settings=EvaluationSettings(**QUICK)))
    assert _evaluations(console) == 1


def test_evidence_is_write_once_in_the_database(console, services, dana, imported) -> None:
    _, evaluator = services
    evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1, settings=EvaluationSettings(**QUICK)))
    for statement in ("UPDATE evaluation SET gate_status = 'passed'", "DELETE FROM evaluation"):
        with pytest.raises(Exception, match="written once"):
            console.sql(statement)
    assert _evaluations(console) == 1


def _bad_holdouts(data, tmp):
    h = data["holdout"].drop(columns=["sex"])
    cases = {
        "missing": (h.drop(columns=["age"]), {}, "age"),
        "extra": (h.assign(branch="x"), {"target": "default"},
                  "neither model inputs nor the target.*branch"),
        "no_target": (h.assign(branch="x"), {}, "Cannot tell which holdout column is the true "
                                                "label: candidates default, branch"),
        "nan_target": (h.assign(default=h["default"].astype(float).where(h.index % 7 > 0)), {},
                       "target column 'default' has \\d+ missing"),
        "infinite": (h.assign(income=h["income"].where(h.index % 9 > 0, np.inf)), {},
                     "infinite values: income"),
        "one_class": (h.assign(default=1), {}, "only one class"),
        "unknown_sensitive": (h, {"sensitive": ("gender",)}, "column 'gender' is not in"),
        "wrong_task": (h, {"task": "regression"}, "classification model; it cannot be evaluated "
                                                  "with regression"),
        "unknown_labels": (h.assign(default=h["default"] + 5), {}, "labels the model does not "
                                                                    "know"),
    }
    out = {}
    for name, (frame, extra, message) in cases.items():
        path = tmp / f"{name}.csv"
        frame.to_csv(path, index=False)
        out[name] = (path, extra, message)
    return out


def test_bad_holdouts_are_refused_clearly_and_record_nothing(
        console, services, dana, data, imported, tmp_path) -> None:
    _, evaluator = services
    before = (len(console.events()), console.sql("SELECT count(*) FROM dataset")[0][0])
    for name, (path, extra, message) in _bad_holdouts(data, tmp_path).items():
        with pytest.raises((InvalidInput, DatasetRejected), match=message) as caught:
            evaluator.evaluate(dana, EvaluationRequest(
                "Retail PD", 1, path, EvaluationSettings(**QUICK, **extra)))
        assert caught.value.message, name
    assert _evaluations(console) == 0
    assert (len(console.events()), console.sql("SELECT count(*) FROM dataset")[0][0]) == before


def test_a_sensitive_feature_with_one_group_is_refused(console, services, dana, data,
                                                       imported, tmp_path) -> None:
    _, evaluator = services
    path = tmp_path / "one_group.csv"
    data["holdout"].assign(sex="f").to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="(?i)one group|single group|only one"):
        evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1, path, EvaluationSettings(
            sensitive=("sex",), **QUICK)))
    assert _evaluations(console) == 0


def test_gates_follow_the_store_settings_of_the_models_tier(console, services, dana, data,
                                                            imported) -> None:
    _, evaluator = services
    req = EvaluationRequest("Retail PD", 1, settings=EvaluationSettings(**QUICK))
    first, _ = evaluator.evaluate(dana, req)
    auc_gate = next(r for r in first.evidence["gates"]["results"] if r["gate"] == "min_roc_auc")
    assert auc_gate["threshold"] == 0.70 and auc_gate["passed"] is True
    console.settings.set(console.admin, "gates.min_roc_auc.tier2", "0.999", reason="stricter")
    second, _ = evaluator.evaluate(dana, req)
    auc_gate = next(r for r in second.evidence["gates"]["results"] if r["gate"] == "min_roc_auc")
    assert (auc_gate["threshold"], auc_gate["passed"]) == (0.999, False)
    assert second.evidence["gates"]["status"] == "failed" and second.gate_status == "failed"


def test_permissions_and_unknown_versions(console, services, dana, imported) -> None:
    _, evaluator = services
    eve = console.add_user("eve", [Role.EXECUTIVE])
    with pytest.raises(PermissionDenied):
        evaluator.evaluate(eve, EvaluationRequest("Retail PD", 1))
    with pytest.raises(NotFound, match="no version 7; it has 1"):
        evaluator.evaluate(dana, EvaluationRequest("Retail PD", 7))
    with pytest.raises(NotFound, match="no model named"):
        evaluator.evaluations(dana, "Nope", 1)


def test_a_regression_model_gets_regression_metrics_and_refuses_classification(
        console, services, dana, data, tmp_path) -> None:
    importer, evaluator = services
    importer.import_version(dana, ImportRequest(model="Spend", artifact=data["folder"] /
                                                "reg.skops"))
    frame = data["holdout"][["income", "age"]].assign(spend=lambda f: f.income * 0.01 + f.age)
    frame.to_csv(tmp_path / "spend.csv", index=False)
    ev, _ = evaluator.evaluate(dana, EvaluationRequest("Spend", 1, tmp_path / "spend.csv",
                                                       EvaluationSettings(**QUICK)))
    assert ev.kind == "regression" and ev.evidence["metrics"]["r2"] == pytest.approx(1.0)
    assert ev.evidence["gates"]["note"] is not None  # no tier: the strictest gates apply
    with pytest.raises(InvalidInput, match="regression model; it cannot be evaluated with "
                                           "classification"):
        evaluator.evaluate(dana, EvaluationRequest("Spend", 1, tmp_path / "spend.csv",
                                                   EvaluationSettings(task="classification",
                                                                      **QUICK)))


def test_cancel_records_nothing(console, services, dana, imported) -> None:
    _, evaluator = services
    token = CancelToken()
    token.cancel()
    with pytest.raises(KnownError, match="Cancelled"):
        evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1,
                                                   settings=EvaluationSettings(**QUICK)),
                           cancel=token)
    assert _evaluations(console) == 0


def test_a_pickle_is_never_unpickled_for_evaluation() -> None:
    from core.validation.predictor import load_predictor

    with pytest.raises(ArtifactRejected, match="does not unpickle"):
        load_predictor(b"\x80\x04K\x01.", "pickle")


def test_tampered_evidence_is_detected_on_read(console, services, dana, imported, store_url) -> None:
    _, evaluator = services
    ev, _ = evaluator.evaluate(dana, EvaluationRequest("Retail PD", 1,
                                                       settings=EvaluationSettings(**QUICK)))
    # Someone with database access removes the guard and edits the evidence.
    console.sql("DROP TRIGGER evaluation_no_update" if store_url.startswith("sqlite")
                else "DROP TRIGGER evaluation_write_once ON evaluation")
    tampered = json.loads(console.sql("SELECT evidence FROM evaluation")[0][0])
    tampered["metrics"]["roc_auc"] = 0.99
    console.sql("UPDATE evaluation SET evidence = :e", e=canonical_json(tampered))
    with pytest.raises(InvalidInput, match="no longer matches its recorded hash"):
        evaluator.get(dana, ev.id)


@pytest.mark.parametrize("text,expected", [("Retail PD@2", ("Retail PD", 2)),
                                           ("a:b@3", ("a:b", 3)), ("Wine:1", ("Wine", 1))])
def test_version_references(text, expected) -> None:
    assert parse_version_ref(text) == expected


def test_a_bad_version_reference_says_the_form() -> None:
    with pytest.raises(InvalidInput, match="MODEL@VERSION"):
        parse_version_ref("Retail PD")
