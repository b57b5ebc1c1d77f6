"""``describe_artifact`` and ``convert_pickle_to_skops``: the format layer's two use cases."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, NotFound
from core.files import write_atomically
from core.registry.archives import safe_extract
from core.registry.formats import mlflow_format as mlf
from core.registry.formats.description import ArtifactDescription, from_model_facts
from core.registry.formats.errors import ACCEPTED_FORMATS, ArtifactRejected
from core.registry.formats.onnx_format import describe_onnx, looks_like_onnx
from core.registry.formats.pickle_sandbox import (
    DEFAULT_TIMEOUT, looks_like_pickle, refuse_untrusted, run_sandbox)
from core.registry.formats.skops_format import describe_skops
from core.tasks import CancelToken, ProgressFn

_CHUNK = 1 << 20


def describe_artifact(path: Path, *, trusted_pickle: bool = False,
                      progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                      timeout: float = DEFAULT_TIMEOUT) -> ArtifactDescription:
    """Fingerprint and describe a model artifact, chosen by its content rather than its name.

    Accepts skops, ONNX, an MLflow model folder or a .zip/.tar.gz of one, and pickle/joblib
    only when ``trusted_pickle`` (the caller has recorded a validator's trust decision); a pickle
    is then inspected in a restricted subprocess, never loaded here. Writes no audit events (the
    importing service does). Raises ArtifactRejected (with what to do instead), NotFound,
    InvalidInput (unreadable file), Cancelled.
    """
    path = Path(path)
    if path.is_dir():
        return _describe_folder(path, trusted_pickle, cancel, timeout)
    data = _read(path, progress, cancel)
    return _describe_bytes(data, path, trusted_pickle, cancel, timeout)


def convert_pickle_to_skops(path: Path, dest: Path, *, cancel: CancelToken | None = None,
                            timeout: float = DEFAULT_TIMEOUT) -> ArtifactDescription:
    """Convert a trusted pickle to a skops file at ``dest``, in the sandbox.

    The caller must have recorded the trust decision. The skops bytes the sandbox returns are
    loaded again here through Charter's trusted types before ``dest`` is written (atomically); a
    model needing other types is refused and ``dest`` is not created. Returns the description of
    the new skops file. Raises ArtifactRejected, NotFound, InvalidInput, Cancelled.
    """
    path, dest = Path(path), Path(dest)
    data = _read(path, None, cancel)
    if not looks_like_pickle(data[:8]):
        raise ArtifactRejected(f"{path.name} is not a pickle/joblib file; only those are "
                               "converted to skops.")
    result = run_sandbox(data, path.name, mode="convert", timeout=timeout, cancel=cancel)
    import base64
    import binascii

    try:
        skops_bytes = base64.b64decode(str(result.get("skops", "")), validate=True)
    except (binascii.Error, ValueError):
        skops_bytes = b""
    if not skops_bytes:
        raise ArtifactRejected(f"The sandbox returned no skops file for {path.name}.")
    description = _skops(skops_bytes, dest.name)
    description = _replace(description, details={"converted_from_sha256":
                                                 hashlib.sha256(data).hexdigest()})
    write_atomically(dest, skops_bytes)
    return description


# ---- dispatch ------------------------------------------------------------------------------

def _describe_bytes(data: bytes, path: Path, trusted_pickle: bool, cancel: CancelToken | None,
                    timeout: float) -> ArtifactDescription:
    name, head = path.name, data[:8]
    if not data:
        raise _unknown(name, "it is empty")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, EOFError):
            if path.suffix.lower() != ".skops":
                raise _unknown(name, "it is a damaged .zip archive (truncated or corrupt)") \
                    from None
            return _skops(data, name)  # read_schema names the damage
        if "schema.json" in members:
            return _skops(data, name)
        if any(m == "MLmodel" or m.endswith("/MLmodel") for m in members):
            return _describe_archive(data, path, trusted_pickle, cancel, timeout)
        raise _unknown(name, "it is a .zip archive holding neither a skops model nor an "
                             "MLflow model")
    if looks_like_onnx(head) or path.suffix.lower() == ".onnx":
        if path.suffix.lower() == ".onnx" or not looks_like_pickle(head):
            return _onnx(data, name)
    if head.startswith((b"\x1f\x8b", b"\xfd7zXZ", b"BZh")) or data[257:262] == b"ustar":
        if path.suffix.lower() in (".gz", ".tgz", ".tar", ".xz", ".bz2") or data[257:262] \
                == b"ustar":
            return _describe_archive(data, path, trusted_pickle, cancel, timeout)
    if looks_like_pickle(head):
        if not trusted_pickle:
            raise refuse_untrusted(name)
        return _pickle(data, name, cancel, timeout)
    if path.suffix.lower() in (".skops",):
        return _skops(data, name)  # not a zip: read_schema names the damage
    raise _unknown(name, "its content is not a format Charter knows")


def _unknown(name: str, why: str) -> ArtifactRejected:
    return ArtifactRejected(f"{name} cannot be imported: {why}. Charter accepts "
                            f"{ACCEPTED_FORMATS}.",
                            hint="Export the model as skops (skops.io.dump) or ONNX.")


def _skops(data: bytes, name: str) -> ArtifactDescription:
    facts, versions, notes = describe_skops(data, name)
    return from_model_facts(facts, fmt="skops", sha256=hashlib.sha256(data).hexdigest(),
                            size=len(data), library_versions=versions, warnings=notes)


def _onnx(data: bytes, name: str) -> ArtifactDescription:
    facts = describe_onnx(data, name)
    return from_model_facts(facts, fmt="onnx", sha256=hashlib.sha256(data).hexdigest(),
                            size=len(data), library_versions=facts["library_versions"],
                            details=facts["details"])


def _pickle(data: bytes, name: str, cancel: CancelToken | None,
            timeout: float) -> ArtifactDescription:
    result = run_sandbox(data, name, mode="describe", timeout=timeout, cancel=cancel)
    facts = result.get("facts")
    if not isinstance(facts, dict):
        raise ArtifactRejected(f"The sandbox returned no description of {name}.")
    notes = ["Described from a pickle in a restricted subprocess after a trust decision; "
             "consider converting it to skops."]
    if not result["network_isolated"]:
        notes.append("The sandbox could not cut the subprocess off the network (needs root "
                     "and unshare).")
    sandbox = result.get("sandbox") if isinstance(result.get("sandbox"), dict) else {}
    try:
        return from_model_facts(facts, fmt="pickle", sha256=hashlib.sha256(data).hexdigest(),
                                size=len(data), warnings=notes,
                                details={"sandbox": {**sandbox, "network_isolated":
                                                     result["network_isolated"]}})
    except (InvalidInput, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactRejected(f"The sandbox's description of {name} is malformed: {exc}") \
            from None


def _describe_archive(data: bytes, path: Path, trusted_pickle: bool,
                      cancel: CancelToken | None, timeout: float) -> ArtifactDescription:
    with tempfile.TemporaryDirectory(prefix="charter-mlflow-") as tmp:
        extracted = safe_extract(path, Path(tmp) / "model")
        folder = mlf.find_model_folder(extracted.root)
        if folder is None:
            raise _unknown(path.name, "the archive holds no MLflow model folder (no MLmodel "
                                      "file at its top or in its one folder)")
        inner = _describe_folder(folder, trusted_pickle, cancel, timeout)
    details = {**inner.details, "archive": path.name, "folder_sha256": inner.sha256}
    return _replace(inner, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    details=details)


def _describe_folder(folder: Path, trusted_pickle: bool, cancel: CancelToken | None,
                     timeout: float) -> ArtifactDescription:
    if not mlf.is_model_folder(folder):
        raise _unknown(folder.name, "it is a folder without an MLmodel file")
    sha, size = mlf.folder_sha256(folder, cancel=cancel)
    meta = mlf.read_mlmodel(folder)
    flavors = meta["flavors"]
    notes: list[str] = []
    inputs, outputs = mlf.signature_schema(meta, notes)
    versions = mlf.requirements(folder, meta)
    details: dict[str, Any] = {"flavors": sorted(flavors), "run_id": meta.get("run_id"),
                               "utc_time_created": str(meta.get("utc_time_created", ""))}
    if isinstance(flavors.get("sklearn"), dict):
        sk = flavors["sklearn"]
        file = mlf.model_file(folder, sk.get("pickled_model"), "sklearn")
        data, fmt = file.read_bytes(), str(sk.get("serialization_format", "cloudpickle"))
        details["model_file"], details["serialization_format"] = file.name, fmt
        if fmt == "skops":
            inner = _skops(data, f"{folder.name}/{file.name}")
        elif not trusted_pickle:
            raise refuse_untrusted(f"The MLflow model {folder.name} ({file.name}, {fmt})")
        else:
            inner = _pickle(data, f"{folder.name}/{file.name}", cancel, timeout)
            details["sandbox"] = inner.details.get("sandbox")
    elif isinstance(flavors.get("onnx"), dict):
        file = mlf.model_file(folder, flavors["onnx"].get("data"), "onnx")
        inner = _onnx(file.read_bytes(), f"{folder.name}/{file.name}")
        details["model_file"] = file.name
    else:
        raise ArtifactRejected(
            f"The MLflow model {folder.name} has flavours {', '.join(sorted(flavors))}; Charter "
            "reads only the sklearn (skops or pickle) and onnx flavours.",
            hint="Log the model with mlflow.sklearn (serialization_format='skops') or "
                 "mlflow.onnx.")
    if inputs and inner.input_schema:
        signed, fitted = [f["name"] for f in inputs], [f.name for f in inner.input_schema]
        if signed != fitted:
            notes.append(f"The signature's inputs {signed} differ from the model's {fitted}; "
                         "the model's are recorded.")
    schema = inner.input_schema or tuple(_spec(f) for f in inputs)
    return _replace(inner, format="mlflow", sha256=sha, size=size, input_schema=schema,
                    output_schema=inner.output_schema or tuple(outputs),
                    library_versions={**inner.library_versions, **versions},
                    warnings=(*inner.warnings, *notes), details={**inner.details, **details})


def _spec(item: dict[str, Any]):
    from core.registry.datasets import FeatureSpec

    return FeatureSpec.from_dict(item)


def _replace(desc: ArtifactDescription, **changes: Any) -> ArtifactDescription:
    from dataclasses import replace

    return replace(desc, **changes)


def _read(path: Path, progress: ProgressFn | None, cancel: CancelToken | None) -> bytes:
    """The whole file, read once: the bytes hashed are exactly the bytes described."""
    try:
        with open(path, "rb") as src:
            total, chunks, done = os.fstat(src.fileno()).st_size, [], 0
            while chunk := src.read(_CHUNK):
                if cancel is not None:
                    cancel.check()
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, max(total, done))
    except FileNotFoundError:
        raise NotFound(f"The file {path} does not exist.") from None
    except OSError as exc:
        raise InvalidInput(f"The file {path} cannot be read: {exc.strerror or exc}.") from None
    return b"".join(chunks)
