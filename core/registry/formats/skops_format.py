"""skops files: audited against Charter's trusted types, then loaded and described.

Two checks, both before any object is built: every scikit-learn type the file names must be on
:data:`CHARTER_TRUSTED_TYPES` (skops alone trusts every scikit-learn estimator), and skops' own
audit with ``trusted=CHARTER_TRUSTED_TYPES`` covers functions, numpy and other types.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from typing import Any

from core.registry.formats.errors import ArtifactRejected
from core.registry.formats.trusted import CHARTER_TRUSTED_TYPES

SKOPS_HINT = ("Ask for these types to be reviewed and added to Charter's trusted list "
              "(core/registry/formats/trusted.py), or have the model's author export it without "
              "them (for example without custom functions).")


def read_schema(data: bytes, name: str) -> dict[str, Any]:
    """The file's ``schema.json``; raises ArtifactRejected if the file is no sound skops file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad} is damaged")
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError) as exc:
        raise ArtifactRejected(
            f"{name} is not a readable skops file ({exc}); it may be truncated or corrupt.",
            hint="Copy the file again or ask its author to export it again with skops.io.dump."
        ) from None
    if not isinstance(schema, dict) or "protocol" not in schema:
        raise ArtifactRejected(f"{name} has no skops schema; it is not a skops file.")
    return schema


def untrusted_types(data: bytes, schema: dict[str, Any]) -> list[str]:
    """Every type the file needs that Charter's list does not trust (reported, never trusted)."""
    import skops.io as sio

    allowed = set(CHARTER_TRUSTED_TYPES)
    named: set[str] = set()
    _walk(schema, named)
    found = {n for n in named if n.startswith("sklearn.") and n not in allowed}
    found |= {t for t in sio.get_untrusted_types(data=data) if t not in allowed}
    return sorted(found)


def _walk(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
            out.add(f"{node['__module__']}.{node['__class__']}")
        if node.get("__loader__") in ("FunctionNode", "TypeNode", "MethodNode") and isinstance(
                node.get("content"), dict):
            content = node["content"]
            if isinstance(content.get("__module__"), str) and isinstance(
                    content.get("__class__"), str):
                out.add(f"{content['__module__']}.{content['__class__']}")
        for value in node.values():
            _walk(value, out)
    elif isinstance(node, list):
        for value in node:
            _walk(value, out)


def load_trusted(data: bytes, name: str) -> tuple[Any, dict[str, Any], list[str]]:
    """(model, schema, warnings raised while loading). Raises ArtifactRejected."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    schema = read_schema(data, name)
    refused = untrusted_types(data, schema)
    if refused:
        raise _untrusted(name, refused)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = sio.loads(data, trusted=list(CHARTER_TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:  # the checks above should have caught it
        raise _untrusted(name, [str(exc)]) from None
    except Exception as exc:  # a damaged file fails inside skops/numpy in many ways
        raise ArtifactRejected(
            f"{name} could not be loaded as a skops file: {type(exc).__name__}: {exc}",
            hint="It may be corrupt or written by an incompatible skops version; ask its author "
                 "to export it again.") from None
    return model, schema, [f"While loading: {w.message}" for w in caught]


def _untrusted(name: str, types: list[str]) -> ArtifactRejected:
    shown = ", ".join(types[:20]) + (f" and {len(types) - 20} more" if len(types) > 20 else "")
    err = ArtifactRejected(f"{name} needs types that Charter does not trust: {shown}. "
                           "Nothing was loaded.", hint=SKOPS_HINT)
    err.untrusted_types = types
    return err


def recorded_versions(schema: dict[str, Any]) -> dict[str, str]:
    """scikit-learn and skops versions the file was written with."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            content = node.get("content")
            if isinstance(content, dict) and "_sklearn_version" in content:
                value = content["_sklearn_version"]
                raw = value.get("content") if isinstance(value, dict) else value
                try:
                    found.add(str(json.loads(raw)) if isinstance(raw, str) else str(raw))
                except ValueError:
                    found.add(str(raw))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    out = {"skops": str(schema.get("_skops_version", "unknown")),
           "skops_protocol": str(schema.get("protocol"))}
    if found:
        out["scikit-learn"] = ", ".join(sorted(found))
    return out


def describe_skops(data: bytes, name: str) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(model facts, library versions, warnings) of a skops file's bytes."""
    import sklearn

    from core.registry.formats.sklearn_describe import describe_estimator

    model, schema, notes = load_trusted(data, name)
    if not hasattr(model, "get_params"):
        raise ArtifactRejected(f"{name} holds a {type(model).__name__}, not a scikit-learn model.")
    facts = describe_estimator(model)
    versions = recorded_versions(schema)
    recorded = versions.get("scikit-learn")
    if recorded and recorded != sklearn.__version__:
        notes.append(f"The model was saved with scikit-learn {recorded}; Charter runs "
                     f"{sklearn.__version__}. Predictions may differ; evaluate it before use.")
    return facts, versions, notes
