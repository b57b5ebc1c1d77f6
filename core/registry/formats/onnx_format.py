"""ONNX models: parsed and checked with ``onnx``, opened with onnxruntime on the CPU."""

from __future__ import annotations

from typing import Any

from core.registry.formats.errors import ArtifactRejected

_NUMBER = {"float", "double", "float16", "bfloat16"}
_INTEGER = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
_PASS_THROUGH = {"Gather", "Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
ONNX_HINT = "Copy the file again, or ask its author to export it again (for example with skl2onnx)."


def looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto starts with field 1 (ir_version, a varint): byte 0x08."""
    return head[:1] == b"\x08"


def _kind(onnx_type: str) -> str:
    elem = onnx_type.removeprefix("tensor(").removesuffix(")")
    if elem in _NUMBER:
        return "number"
    if elem in _INTEGER:
        return "integer"
    if elem == "bool":
        return "boolean"
    if elem == "string":
        return "category"
    return "unknown"


def describe_onnx(data: bytes, name: str) -> dict[str, Any]:
    """Facts for :func:`description.from_model_facts` plus ``library_versions`` and ``details``.

    Raises ArtifactRejected for a truncated, corrupt or invalid model, or one that keeps its
    weights in external files (only self-contained models are accepted).
    """
    import onnx
    import onnxruntime as ort

    try:
        model = onnx.load_model_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf DecodeError, ValidationError, ...
        raise ArtifactRejected(f"{name} is not a valid ONNX model ({type(exc).__name__}: "
                               f"{str(exc).strip()[:300]}); it may be truncated or corrupt.",
                               hint=ONNX_HINT) from None
    external = [t.name for t in model.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise ArtifactRejected(f"{name} keeps weights in external files ({', '.join(external[:5])}"
                               "); Charter accepts only self-contained ONNX models.",
                               hint="Export the model again without external data.")
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ArtifactRejected(f"onnxruntime cannot run {name}: {str(exc).strip()[:300]}",
                               hint="Export it with an opset this onnxruntime supports.") from None

    notes: list[str] = []
    categories = _category_values(model)
    inputs = []
    for arg in session.get_inputs():
        shape = list(arg.shape)
        spec: dict[str, Any] = {"name": arg.name, "kind": _kind(arg.type)}
        if spec["kind"] == "unknown":
            spec["kind"] = "text"
            notes.append(f"Input {arg.name!r} has type {arg.type}, which Charter cannot check.")
        if arg.name in categories:
            spec["categories"] = categories[arg.name]
        width = shape[1] if len(shape) == 2 else None
        if isinstance(width, int) and width > 1:
            notes.append(f"Input {arg.name!r} is one tensor of {width} columns ({arg.type}); the "
                         "ONNX file does not name the columns.")
        inputs.append(spec)
    outputs = [{"name": o.name, "kind": _kind(o.type), "type": o.type, "shape": [
        d if isinstance(d, int) else None for d in o.shape]} for o in session.get_outputs()]

    classes = _class_labels(model)
    if classes is not None:
        task = "classification"
    elif len(outputs) == 1 and outputs[0]["kind"] == "number":
        task = "regression"
    else:
        task = "unknown"
    producer = model.producer_name or "unknown producer"
    versions = {"onnx_ir_version": str(model.ir_version)}
    for opset in model.opset_import:
        versions[f"opset {opset.domain or 'ai.onnx'}"] = str(opset.version)
    if model.producer_name:
        versions[model.producer_name] = model.producer_version or "unknown"
    metadata = {p.key: p.value[:200] for p in model.metadata_props}
    return {
        "model_type": f"onnx: {producer} / {model.graph.name or 'unnamed graph'}",
        "task": task, "classes": classes, "input_schema": inputs, "output_schema": outputs,
        "hyperparameters": metadata, "warnings": notes, "library_versions": versions,
        "details": {"producer": producer, "producer_version": model.producer_version,
                    "graph": model.graph.name, "domain": model.domain,
                    "model_version": model.model_version},
    }


def _attribute(node: Any, name: str) -> list | None:
    import onnx

    for attr in node.attribute:
        if attr.name == name:
            value = onnx.helper.get_attribute_value(attr)
            return [v.decode() if isinstance(v, bytes) else v for v in value]
    return None


def _category_values(model: Any) -> dict[str, list[str]]:
    """Graph inputs that reach a OneHotEncoder node through reshaping only: their categories."""
    graph_inputs = {i.name: i for i in model.graph.input}
    producer = {out: node for node in model.graph.node for out in node.output}
    out: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type != "OneHotEncoder" or not node.input:
            continue
        source, steps = node.input[0], 0
        while source not in graph_inputs and source in producer and steps < 6:
            up = producer[source]
            if up.op_type not in _PASS_THROUGH or not up.input:
                break
            source, steps = up.input[0], steps + 1
        dims = graph_inputs[source].type.tensor_type.shape.dim if source in graph_inputs else []
        if source in graph_inputs and (len(dims) < 2 or dims[1].dim_value in (0, 1)):
            cats = _attribute(node, "cats_strings") or _attribute(node, "cats_int64s")
            if cats:
                out.setdefault(source, []).extend(str(c) for c in cats)
    return out


def _class_labels(model: Any) -> list[str] | None:
    for node in model.graph.node:
        if node.domain == "ai.onnx.ml" and node.op_type in (
                "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier", "ZipMap"):
            labels = _attribute(node, "classlabels_strings") or _attribute(
                node, "classlabels_ints") or _attribute(node, "classlabels_int64s")
            if labels:
                return [str(v) for v in labels]
    return None
