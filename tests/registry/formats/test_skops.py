"""skops files: described through Charter's trusted types; anything else refused."""

from __future__ import annotations

import json

import pytest
import skops.io as sio

from core.registry.formats import (
    CHARTER_TRUSTED_TYPES, ArtifactDescription, ArtifactRejected, describe_artifact)


def _double(x):  # a custom function: code Charter has not reviewed
    return x * 2


def test_pipeline_schema_classes_and_hyperparameters(pipeline_skops):
    import hashlib

    desc = describe_artifact(pipeline_skops)

    assert desc.format == "skops"
    assert desc.sha256 == hashlib.sha256(pipeline_skops.read_bytes()).hexdigest()
    assert desc.model_type == "sklearn.pipeline.Pipeline"
    assert desc.task == "classification" and desc.classes == ("0", "1")
    schema = {f.name: f for f in desc.input_schema}
    assert list(schema) == ["income", "debt_ratio", "age", "utilisation", "housing"]
    assert schema["housing"].kind == "category"
    assert schema["housing"].categories == ("mortgage", "own", "rent")
    assert schema["income"].kind == "number" and schema["income"].categories is None
    assert desc.output_schema[0]["categories"] == ["0", "1"]
    assert desc.hyperparameters["model__C"] == 0.5
    assert desc.hyperparameters["model__max_iter"] == 200
    assert desc.hyperparameters["pre__categories__handle_unknown"] == "ignore"
    assert desc.library_versions["scikit-learn"] == __import__("sklearn").__version__
    assert desc.library_versions["skops"] == __import__("skops").__version__
    assert desc.warnings == ()


def test_description_round_trips_through_json(pipeline_skops):
    desc = describe_artifact(pipeline_skops)
    again = ArtifactDescription.from_dict(json.loads(desc.to_json()))
    assert again == desc


def test_regressor_with_trees(regressor, tmp_path):
    path = tmp_path / "reg.skops"
    sio.dump(regressor, path)

    desc = describe_artifact(path)

    assert desc.task == "regression" and desc.classes is None
    assert [f.name for f in desc.input_schema][:3] == ["age", "sex", "bmi"]
    assert desc.output_schema == ({"name": "prediction", "kind": "number"},)
    assert desc.hyperparameters["max_iter"] == 10


def test_custom_function_is_refused_naming_it(credit_frame, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame, y = credit_frame
    model = make_pipeline(FunctionTransformer(_double), LogisticRegression()).fit(
        frame.drop(columns="housing"), y)
    path = tmp_path / "custom.skops"
    sio.dump(model, path)

    with pytest.raises(ArtifactRejected) as caught:
        describe_artifact(path)

    assert f"{__name__}._double" in str(caught.value)
    assert "trusted list" in str(caught.value)  # says how to proceed
    assert caught.value.code == "artifact_rejected"


def test_sklearn_type_outside_charters_list_is_refused(credit_frame, tmp_path):
    from sklearn.neighbors import KNeighborsClassifier  # skops trusts it; Charter does not

    frame, y = credit_frame
    path = tmp_path / "knn.skops"
    sio.dump(KNeighborsClassifier().fit(frame.drop(columns="housing"), y), path)

    with pytest.raises(ArtifactRejected, match="KNeighborsClassifier"):
        describe_artifact(path)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_skops_is_refused(pipeline_skops, tmp_path, damage):
    data = bytearray(pipeline_skops.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
    path = tmp_path / "model.skops"
    path.write_bytes(bytes(data))

    with pytest.raises(ArtifactRejected, match="truncated or corrupt|could not be loaded"):
        describe_artifact(path)


def test_every_trusted_type_exists_in_this_scikit_learn():
    import importlib

    missing = []
    for name in CHARTER_TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        if not isinstance(getattr(importlib.import_module(module), attr, None), type):
            missing.append(name)
    assert missing == []
