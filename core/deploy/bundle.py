"""What a release carries, built on the console from the registry: each version's skops file,
the types it needs trusted, its input schema, task and classes, and the routing policy; plus
the reference rows the parity check sends (kept on the console, never shipped).

A version is named in releases and policies as ``<model slug>@<number>``: the model's name in
lower case with every run of other characters turned into ``-`` ("Retail PD" -> ``retail-pd``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.deploy.engine import Reference
from core.errors import InvalidInput

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def model_slug(name: str) -> str:
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:90]
    if not slug:
        raise InvalidInput(f"The model name {name!r} has no letters or digits to name it by "
                           "on a server; rename the model.")
    return slug


def version_ref(model: str, number: int) -> str:
    return f"{model_slug(model)}@{number}"


@dataclass(frozen=True)
class VersionPayload:
    ref: str
    model: str
    number: int
    sha256: str
    artifact: Path  # the verified skops file in the artifact store
    task: str  # binary, multiclass, regression
    classes: list[Any]
    input_schema: list[dict[str, Any]]
    trusted_types: list[str]
    reference: Reference

    def release_entry(self) -> dict[str, Any]:
        return {"ref": self.ref, "artifact": self.artifact, "task": self.task,
                "classes": self.classes, "input_schema": self.input_schema,
                "trusted_types": self.trusted_types}


def trusted_types_of(data: bytes, name: str) -> list[str]:
    """The types beyond skops' defaults that the file needs: every one must be on Charter's
    trusted list (else ArtifactRejected), and the agent trusts exactly these."""
    import skops.io as sio

    from core.registry.formats.skops_format import _untrusted, read_schema, untrusted_types

    refused = untrusted_types(data, read_schema(data, name))
    if refused:
        raise _untrusted(name, refused)
    return sorted(sio.get_untrusted_types(data=data))


def single_version_policy(payload: VersionPayload) -> str:
    """The policy of a plain deployment: every request to the one version. It needs no approval
    of its own: it routes only to a version that is itself approved."""
    from core.serving.routing import RoutingPolicy

    doc = {"format": "charter.routing/1", "policy_id": payload.ref.replace("@", "-v"),
           "version": 1, "description": f"All requests to {payload.model} "
                                        f"v{payload.number}.",
           "versions": [{"name": payload.ref, "sha256": payload.sha256}],
           "rules": [], "default": payload.ref}
    return RoutingPolicy.from_json(json.dumps(doc)).canonical_json()


def build_folder(dest: Path, payloads: Sequence[VersionPayload], policy_text: str, *,
                 release_id: str, created_by: str) -> dict[str, Any]:
    """Write the release folder ``dest`` (core.serving.release's layout); returns the manifest."""
    from core.serving.release import write_release

    return write_release(dest, [p.release_entry() for p in payloads], policy_text,
                         release=release_id, created_by=created_by)
