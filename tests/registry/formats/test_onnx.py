"""ONNX models (exported with skl2onnx) are described from their graph; damaged ones refused."""

from __future__ import annotations

import pytest

from core.registry.formats import ArtifactRejected, describe_artifact


@pytest.fixture(scope="module")
def onnx_bytes(credit_pipeline) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = [(n, FloatTensorType([None, 1])) for n in
              ("income", "debt_ratio", "age", "utilisation")]
    inputs.append(("housing", StringTensorType([None, 1])))
    return to_onnx(credit_pipeline, initial_types=inputs, target_opset=17).SerializeToString()


def test_onnx_inputs_outputs_and_classes(onnx_bytes, tmp_path):
    path = tmp_path / "credit.onnx"
    path.write_bytes(onnx_bytes)

    desc = describe_artifact(path)

    assert desc.format == "onnx"
    assert desc.model_type.startswith("onnx: skl2onnx")
    schema = {f.name: f for f in desc.input_schema}
    assert schema["income"].kind == "number"
    assert schema["housing"].kind == "category"
    assert set(schema["housing"].categories) == {"mortgage", "own", "rent"}
    assert [o["name"] for o in desc.output_schema] == ["output_label", "output_probability"]
    assert desc.task == "classification" and desc.classes == ("0", "1")
    assert desc.library_versions["opset ai.onnx"] == "17"
    assert "skl2onnx" in desc.library_versions


def test_onnx_found_by_content_whatever_its_name(onnx_bytes, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(onnx_bytes)
    assert describe_artifact(path).format == "onnx"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_onnx_is_refused(onnx_bytes, tmp_path, cut):
    path = tmp_path / "broken.onnx"
    path.write_bytes(onnx_bytes[: int(len(onnx_bytes) * cut)])

    with pytest.raises(ArtifactRejected, match="broken.onnx is not a valid ONNX model"):
        describe_artifact(path)
