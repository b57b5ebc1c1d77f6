"""Importing model versions end to end on SQLite and PostgreSQL, with real scikit-learn models."""

from __future__ import annotations

import json
import pickle

import pytest
from sqlalchemy import text

from core.errors import AlreadyExists, InvalidInput, KnownError, PermissionDenied
from core.permissions import Role
from core.registry.artifact_store import ArtifactStore
from core.services.importer import ImportRequest, ImportService
from core.services.inventory import InventoryService


@pytest.fixture(scope="module")
def credit_model(tmp_path_factory):
    """A small credit-style pipeline (one categorical feature), its skops file and data."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rnd = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"income": rnd.normal(50_000, 12_000, n).round(2),
                          "age": rnd.integers(18, 80, n),
                          "region": rnd.choice(["NE", "SW", "MW"], n)})
    y = (frame["income"] / 50_000 + rnd.normal(0, 0.3, n) > 1).astype(int)
    pipe = Pipeline([("prep", ColumnTransformer([
        ("num", StandardScaler(), ["income", "age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])])),
        ("clf", LogisticRegression(max_iter=200))]).fit(frame, y)
    folder = tmp_path_factory.mktemp("credit")
    sio.dump(pipe, folder / "model.skops")
    train = frame.assign(default=y)
    train.iloc[:300].to_csv(folder / "train.csv", index=False)
    train.iloc[300:].to_csv(folder / "holdout.csv", index=False)
    train.iloc[300:].drop(columns=["age"]).to_csv(folder / "no_age.csv", index=False)
    with open(folder / "model.pkl", "wb") as fh:
        pickle.dump(pipe, fh)
    return folder


@pytest.fixture
def importer(console, tmp_path):
    return ImportService(console.store, ArtifactStore(tmp_path / "artifacts"))


@pytest.fixture
def dana(console):
    return console.add_user("dana", [Role.DATA_SCIENTIST])


def _request(folder, **extra):
    return ImportRequest(model="Retail PD", artifact=folder / "model.skops",
                         datasets=[(folder / "train.csv", "training"),
                                   (folder / "holdout.csv", "holdout")],
                         model_fields={"risk_tier": 1, "business_owner": "Retail Risk"},
                         code_reference="git:abc123", metrics={"auc": 0.81}, **extra)


def test_import_records_version_lineage_datasets_profile_and_audit(console, importer, dana,
                                                                  credit_model) -> None:
    version, _ = importer.import_version(dana, _request(credit_model))
    assert (version.number, version.artifact_format, version.author) == (1, "skops", "dana")
    assert [f["name"] for f in version.input_schema] == ["income", "age", "region"]
    assert {d.role for d in version.datasets} == {"training", "holdout"}
    training = next(d for d in version.datasets if d.role == "training")
    assert version.training_dataset_sha256 == training.sha256 and training.rows == 300
    assert training.has_profile and version.metrics == {"auc": 0.81}
    assert version.artifact_sha256 in importer.artifacts
    assert all(d.stored and d.sha256 in importer.artifacts for d in version.datasets)
    with console.store.unit_of_work(None, write=False) as uow:
        profile = json.loads(uow.session.execute(text(
            "select profile from dataset where sha256 = :s"), {"s": training.sha256}).scalar())
    assert set(profile["features"]) == {"income", "age", "region"}
    assert InventoryService(console.store).reference_profile(dana, training.sha256) == profile
    actions = [e.action for e in console.events()][-4:]
    assert actions == ["model.created", "dataset.registered", "dataset.registered",
                       "version.created"]
    model = InventoryService(console.store).get(dana, "Retail PD")
    assert model.version_count == 1 and model.risk_tier == 1


def test_duplicate_version_and_schema_disagreement_change_nothing(console, importer, dana,
                                                                 credit_model) -> None:
    importer.import_version(dana, _request(credit_model))
    before = len(console.events())
    with pytest.raises(AlreadyExists, match="already version 1"):
        importer.import_version(dana, _request(credit_model))
    bad = ImportRequest(model="Other PD", artifact=credit_model / "model.skops",
                        datasets=[(credit_model / "no_age.csv", "holdout")])
    with pytest.raises(KnownError, match="(?s)Holdout dataset no_age.csv: the dataset disagrees.*'age'"):
        importer.import_version(dana, bad)
    assert len(console.events()) == before
    with pytest.raises(KnownError):
        InventoryService(console.store).get(dana, "Other PD")


def test_unknown_format_is_refused_naming_the_accepted_ones(console, importer, dana,
                                                           tmp_path) -> None:
    junk = tmp_path / "model.txt"
    junk.write_text("not a model")
    before = len(console.events())
    with pytest.raises(KnownError, match="skops"):
        importer.import_version(dana, ImportRequest(model="Junk", artifact=junk))
    assert len(console.events()) == before


def test_pickle_needs_a_validators_trust_decision(console, importer, dana, credit_model) -> None:
    req = ImportRequest(model="Legacy PD", artifact=credit_model / "model.pkl")
    with pytest.raises(KnownError, match="trust"):
        importer.import_version(dana, req)
    with pytest.raises(PermissionDenied):
        importer.trust_pickle(dana, credit_model / "model.pkl", reason="mine")
    victor = console.add_user("victor", [Role.VALIDATOR])
    importer.trust_pickle(victor, credit_model / "model.pkl", reason="built by our team, CR-12")
    ev = console.events("artifact.trusted")[-1]
    assert (ev.actor, ev.reason) == ("victor", "built by our team, CR-12")
    version, _ = importer.import_version(dana, req)
    assert version.artifact_format == "pickle" and version.number == 1
    importer.convert_pickle(victor, credit_model / "model.pkl", credit_model / "conv.skops")
    assert console.events("artifact.converted")[-1].actor == "victor"
    converted, _ = importer.import_version(dana, ImportRequest(
        model="Legacy PD", artifact=credit_model / "conv.skops"))
    assert (converted.artifact_format, converted.number) == ("skops", 2)


def test_versions_are_immutable_and_retired_models_take_none(console, importer, dana,
                                                             credit_model) -> None:
    version, _ = importer.import_version(dana, _request(credit_model))
    with console.store.engine.connect() as conn, pytest.raises(Exception, match="immutable"):
        conn.execute(text("update model_version set artifact_sha256 = 'x' where id = :i"),
                     {"i": version.id})
    InventoryService(console.store).retire(dana, "Retail PD", reason="replaced")
    with pytest.raises(InvalidInput, match="retired"):
        importer.import_version(dana, _request(credit_model, label="2"))


def test_an_artifact_far_larger_than_memory_is_refused_before_it_is_read(console, importer,
                                                                         dana, tmp_path) -> None:
    huge = tmp_path / "huge.skops"
    with open(huge, "wb") as fh:  # sparse: 6 GiB on paper, nothing on disk
        fh.truncate(6 << 30)
    before = len(console.events())
    with pytest.raises(InvalidInput, match="6.0 GiB"):
        importer.import_version(dana, ImportRequest(model="Huge", artifact=huge))
    assert len(console.events()) == before


def test_an_mlflow_folder_holding_a_pickle_is_trusted_by_its_folder_hash(console, importer, dana,
                                                                        credit_model, tmp_path
                                                                        ) -> None:
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes((credit_model / "model.pkl").read_bytes())
    (folder / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: "
        "cloudpickle\n    sklearn_version: 1.9.1\n")
    (folder / "requirements.txt").write_text("scikit-learn==1.9.1\n")
    req = ImportRequest(model="MLflow PD", artifact=folder)
    with pytest.raises(KnownError, match="trust"):
        importer.import_version(dana, req)
    victor = console.add_user("victor", [Role.VALIDATOR])
    importer.trust_pickle(victor, folder, reason="vendor package reviewed, VR-7")
    version, _ = importer.import_version(dana, req)
    assert version.artifact_format == "mlflow"
    (folder / "model.pkl").write_bytes((credit_model / "model.pkl").read_bytes() + b"\x00")
    with pytest.raises(KnownError, match="trust"):  # a changed file is a different decision
        importer.import_version(dana, ImportRequest(model="MLflow PD", artifact=folder,
                                                    label="2"))
