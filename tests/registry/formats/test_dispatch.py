"""What is not a model is refused with the accepted formats; importing the package is cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.errors import NotFound
from core.registry.formats import ArtifactRejected, describe_artifact


@pytest.mark.parametrize("name, content", [
    ("empty.skops", b""),
    ("notes.txt", b"just some text\n"),
    ("data.csv", b"a,b\n1,2\n"),
    ("random.bin", bytes(range(7, 200))),
    ("archive.zip", None),
])
def test_unknown_content_is_refused_listing_formats(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)

    with pytest.raises(ArtifactRejected) as caught:
        describe_artifact(path)

    message = str(caught.value)
    for fmt in (".skops", ".onnx", "MLflow model folder", "pickle/joblib", "trust decision"):
        assert fmt in message


def test_folder_that_is_no_mlflow_model_is_refused(tmp_path):
    with pytest.raises(ArtifactRejected, match="without an MLmodel file"):
        describe_artifact(tmp_path)


def test_missing_file():
    with pytest.raises(NotFound):
        describe_artifact(__import__("pathlib").Path("/nonexistent/model.skops"))


def test_importing_the_package_loads_no_ml_library():
    code = ("import sys, json, core.registry.formats; print(json.dumps(sorted(m for m in "
            "('sklearn', 'skops', 'onnx', 'onnxruntime', 'skl2onnx', 'joblib', 'numpy', "
            "'pandas', 'pyarrow', 'yaml') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
