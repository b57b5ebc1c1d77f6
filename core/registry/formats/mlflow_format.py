"""MLflow model folders: ``MLmodel`` (flavours, signature), requirements, and the model itself.

The sklearn flavour's model file is described through the same safe paths as a loose file: a
skops file through Charter's trusted types, a pickle/cloudpickle file only with a trust decision
and only in the sandbox. An ONNX flavour goes through the ONNX reader.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from core.registry.artifact_store import hash_file
from core.registry.formats.errors import ArtifactRejected
from core.tasks import CancelToken

_KINDS = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
          "boolean": "boolean", "string": "text", "datetime": "datetime"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-\[\],]+)\s*(?:==|===|>=|~=)\s*([^\s;#]+)")
_NAMES = {"sklearn": "scikit-learn"}


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / "MLmodel").is_file()


def find_model_folder(root: Path) -> Path | None:
    """``root`` or its single top-level sub-folder when it holds ``MLmodel`` (a zipped folder)."""
    if is_model_folder(root):
        return root
    subs = [p for p in root.iterdir() if p.is_dir()]
    return subs[0] if len(subs) == 1 and is_model_folder(subs[0]) else None


def folder_sha256(folder: Path, *, cancel: CancelToken | None = None) -> tuple[str, int]:
    """(fingerprint, total bytes) of a model folder, independent of where it lies.

    SHA-256 over one line per regular file, sorted by relative '/'-separated path:
    ``<relative path>\\0<SHA-256 of the file>\\n``. Links and special files are refused (a link
    could make the folder's content depend on files outside it).
    """
    entries, total = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath, name)
            rel = full.relative_to(folder).as_posix()
            if full.is_symlink() or not (full.is_dir() or full.is_file()):
                raise ArtifactRejected(f"The MLflow model folder holds {rel!r}, a link or special "
                                       "file; Charter accepts only plain files and folders.")
            if full.is_file():
                blob = hash_file(full, cancel=cancel)
                entries.append(f"{rel}\0{blob.sha256}\n")
                total += blob.size
    digest = hashlib.sha256("".join(sorted(entries)).encode("utf-8"))
    return digest.hexdigest(), total


def read_mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    try:
        meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ArtifactRejected(f"The MLmodel file in {folder.name} cannot be read: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("flavors"), dict):
        raise ArtifactRejected(f"The MLmodel file in {folder.name} lists no flavours; it is not "
                               "an MLflow model.")
    return meta


def model_file(folder: Path, relative: Any, flavour: str) -> Path:
    """The flavour's model file, refused if it points outside the folder."""
    if not isinstance(relative, str) or not relative:
        raise ArtifactRejected(f"The MLmodel's {flavour} flavour does not name its model file.")
    path = (folder / relative).resolve()
    outside = folder.resolve() not in path.parents
    if outside or not path.is_file() or (folder / relative).is_symlink():
        raise ArtifactRejected(f"The {flavour} flavour's model file {relative!r} is missing or "
                               "lies outside the model folder.")
    return path


def signature_schema(meta: dict[str, Any], notes: list[str]) -> tuple[list, list]:
    """(input specs, output dicts) from ``MLmodel``'s ``signature``; empty when there is none."""
    sig = meta.get("signature")
    if not isinstance(sig, dict):
        notes.append("The MLflow model has no signature.")
        return [], []
    return _columns(sig.get("inputs"), "input", notes), _columns(sig.get("outputs"), "output",
                                                                 notes)


def _columns(raw: Any, what: str, notes: list[str]) -> list[dict[str, Any]]:
    if not raw:
        return []
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
        assert isinstance(items, list)
    except (ValueError, AssertionError):
        notes.append(f"The signature's {what}s cannot be read.")
        return []
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "tensor":
            spec = item.get("tensor-spec", {})
            notes.append(f"The signature's {what} {i} is a tensor ({spec.get('dtype')}, shape "
                         f"{spec.get('shape')}), not named columns.")
            out.append({"name": str(item.get("name") or f"{what}_{i}"), "kind": "number"})
            continue
        kind = _KINDS.get(str(item.get("type")))
        if kind is None:
            notes.append(f"The signature's {what} {item.get('name')!r} has type "
                         f"{item.get('type')!r}; it is recorded as text.")
            kind = "text"
        out.append({"name": str(item.get("name") or f"{what}_{i}"), "kind": kind})
    return out


def requirements(folder: Path, meta: dict[str, Any]) -> dict[str, str]:
    """Library versions from MLmodel, requirements.txt, conda.yaml and python_env.yaml."""
    import yaml

    found: dict[str, str] = {}
    lines: list[str] = []
    req = folder / "requirements.txt"
    if req.is_file():
        lines += req.read_text(encoding="utf-8", errors="replace").splitlines()
    for name in ("conda.yaml", "python_env.yaml"):
        try:
            doc = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        if doc.get("python"):
            found["python"] = str(doc["python"])
        for dep in doc.get("dependencies") or []:
            if isinstance(dep, str):
                if dep.startswith("python="):
                    found.setdefault("python", dep.split("=", 1)[1])
                lines.append(dep.replace("=", "==", 1) if "==" not in dep and "=" in dep
                             and not dep.startswith(("-", "python")) else dep)
            elif isinstance(dep, dict):
                lines += [str(p) for p in dep.get("pip") or []]
    for line in lines:
        match = _REQ.match(line)
        if match:
            name = match.group(1).split("[")[0].lower()
            found.setdefault(_NAMES.get(name, name), match.group(2))
    if meta.get("mlflow_version"):
        found["mlflow"] = str(meta["mlflow_version"])
    flavors = meta["flavors"]
    pyfunc, sk = flavors.get("python_function") or {}, flavors.get("sklearn") or {}
    if isinstance(pyfunc, dict) and pyfunc.get("python_version"):
        found.setdefault("python", str(pyfunc["python_version"]))
    if isinstance(sk, dict) and sk.get("sklearn_version"):
        found.setdefault("scikit-learn", str(sk["sklearn_version"]))
    return found
