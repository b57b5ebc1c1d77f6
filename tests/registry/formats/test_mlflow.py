"""MLflow model folders (and zips of them), written by hand as MLflow lays them out."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import joblib
import pytest

from core.registry.archives import ArchiveRejected
from core.registry.formats import ArtifactRejected, describe_artifact, folder_sha256

SIGNATURE_INPUTS = json.dumps(
    [{"type": "double", "name": n, "required": True}
     for n in ("income", "debt_ratio", "age", "utilisation")]
    + [{"type": "string", "name": "housing", "required": True}])
SIGNATURE_OUTPUTS = json.dumps([{"type": "long", "required": True}])


def _mlmodel(model_file: str, serialization: str) -> str:
    return f"""artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: {model_file}
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: {model_file}
    serialization_format: {serialization}
    sklearn_version: 1.9.1
mlflow_version: 2.17.2
model_size_bytes: 4321
model_uuid: 5f0c2a8e0b8d4a4f9d1c7e3b2a1f0e9d
run_id: 0a1b2c3d4e5f
signature:
  inputs: '{SIGNATURE_INPUTS}'
  outputs: '{SIGNATURE_OUTPUTS}'
  params: null
utc_time_created: '2025-01-15 10:20:30.123456'
"""


def _folder(root: Path, model_bytes: bytes, model_file: str, serialization: str) -> Path:
    folder = root / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(_mlmodel(model_file, serialization))
    (folder / model_file).write_bytes(model_bytes)
    (folder / "requirements.txt").write_text(
        "mlflow==2.17.2\nscikit-learn==1.9.1\nskops==0.16.0\n# a comment\nnumpy>=2.0\n")
    (folder / "python_env.yaml").write_text(
        "python: 3.11.7\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n")
    return folder


@pytest.fixture
def skops_folder(tmp_path, pipeline_skops) -> Path:
    return _folder(tmp_path, pipeline_skops.read_bytes(), "model.skops", "skops")


def test_folder_with_skops_model_and_signature(skops_folder):
    desc = describe_artifact(skops_folder)

    assert desc.format == "mlflow"
    assert desc.sha256 == folder_sha256(skops_folder)[0]
    assert desc.model_type == "sklearn.pipeline.Pipeline"
    assert desc.classes == ("0", "1")
    housing = next(f for f in desc.input_schema if f.name == "housing")
    assert housing.kind == "category" and housing.categories == ("mortgage", "own", "rent")
    assert desc.library_versions["mlflow"] == "2.17.2"
    assert desc.library_versions["scikit-learn"] == "1.9.1"
    assert desc.library_versions["python"] == "3.11.7"
    assert desc.library_versions["numpy"] == "2.0"
    assert desc.details["flavors"] == ["python_function", "sklearn"]
    assert desc.details["serialization_format"] == "skops"


def test_folder_hash_is_deterministic_and_sees_every_file(skops_folder, tmp_path):
    first = folder_sha256(skops_folder)[0]
    copy = shutil.copytree(skops_folder, tmp_path / "elsewhere")
    assert folder_sha256(copy)[0] == first  # independent of where the folder lies
    (copy / "requirements.txt").write_text("mlflow==2.17.2\n")
    assert folder_sha256(copy)[0] != first


def test_signature_only_when_the_model_has_no_names(tmp_path, credit_frame):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame, y = credit_frame
    model = LogisticRegression().fit(frame.drop(columns="housing").to_numpy(), y)
    folder = _folder(tmp_path, sio.dumps(model), "model.skops", "skops")

    desc = describe_artifact(folder)

    assert [f.name for f in desc.input_schema] == ["x0", "x1", "x2", "x3"]
    assert any("signature's inputs" in w for w in desc.warnings)


def test_zipped_folder(skops_folder, tmp_path):
    import hashlib

    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(skops_folder.iterdir()):
            zf.write(file, f"model/{file.name}")

    desc = describe_artifact(archive)

    assert desc.format == "mlflow"
    assert desc.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert desc.details["folder_sha256"] == folder_sha256(skops_folder)[0]
    assert desc.classes == ("0", "1")


def test_zip_with_path_traversal_is_refused(skops_folder, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(skops_folder / "MLmodel", "MLmodel")
        zf.writestr("../escaped.txt", "x")

    with pytest.raises(ArchiveRejected, match=r"'\.\.'"):
        describe_artifact(archive)
    assert not (tmp_path / "escaped.txt").exists()


def test_pickled_model_needs_trust(tmp_path, credit_pipeline):
    import io

    buf = io.BytesIO()
    joblib.dump(credit_pipeline, buf)
    folder = _folder(tmp_path, buf.getvalue(), "model.pkl", "cloudpickle")

    with pytest.raises(ArtifactRejected, match="MLflow model model.*can run code when loaded"):
        describe_artifact(folder)

    desc = describe_artifact(folder, trusted_pickle=True)
    assert desc.format == "mlflow" and desc.classes == ("0", "1")
    assert desc.details["serialization_format"] == "cloudpickle"
    assert desc.details["sandbox"]["network_isolated"] in (True, False)


def test_unsupported_flavour_is_refused(tmp_path):
    folder = tmp_path / "torch"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  pytorch:\n    model_data: data\n")

    with pytest.raises(ArtifactRejected, match="flavours pytorch"):
        describe_artifact(folder)


def test_model_file_outside_the_folder_is_refused(tmp_path, pipeline_skops):
    folder = _folder(tmp_path, b"", "model.skops", "skops")
    (folder / "MLmodel").write_text(
        _mlmodel("model.skops", "skops").replace("pickled_model: model.skops",
                                                 f"pickled_model: ../{pipeline_skops.name}"))

    with pytest.raises(ArtifactRejected, match="outside the model folder"):
        describe_artifact(folder)
