"""`charter import`, `charter models list|show` and `charter artifact trust`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import emit
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal
from core.entities_registry import DATASET_ROLES, Model, ModelFilter, ModelVersion
from core.errors import InvalidInput


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    sp = sub.add_parser("import", parents=[signed],
                        help="import a model artifact (and its datasets) as a new version",
                        description="Import a model artifact as the next version of a model "
                        "(created if new). Formats: .skops, .onnx, an MLflow model folder or "
                        "zip; pickle/joblib only after `charter artifact trust`.")
    sp.set_defaults(func=cmd_import)
    sp.add_argument("artifact", type=Path)
    sp.add_argument("--model", required=True, help="model name in the inventory")
    for role in DATASET_ROLES:
        sp.add_argument(f"--{role}", type=Path, metavar="FILE", help=f"{role} dataset (CSV or "
                        "Parquet)")
    sp.add_argument("--metadata", type=Path, metavar="YAML", help="model fields, metrics, "
                    "code reference and label in a YAML file")
    sp.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                    help="an inventory field for a new model (repeatable)")
    sp.add_argument("--metric", action="append", default=[], metavar="NAME=NUMBER",
                    help="a metric supplied with the artifact (repeatable)")
    sp.add_argument("--code-ref", default="", help="code reference (commit, tag, path)")
    sp.add_argument("--label", default="", help="a version label such as 2.1.0")
    sp.add_argument("--discard-datasets", action="store_true",
                    help="keep only the datasets' fingerprints, descriptions and profiles, not "
                    "the raw files (validation needs the holdout file again then)")

    models = sub.add_parser("models", help="the model inventory").add_subparsers(
        dest="models_command", metavar="ACTION", required=True)
    sp = models.add_parser("list", parents=[signed], help="list models")
    sp.set_defaults(func=cmd_models_list)
    sp.add_argument("--search", help="text in the name, purpose or owner")
    sp.add_argument("--status")
    sp.add_argument("--tier", type=int, choices=[1, 2, 3])
    sp.add_argument("--owner")
    sp = models.add_parser("show", parents=[signed], help="a model with its versions")
    sp.set_defaults(func=cmd_models_show)
    sp.add_argument("name")

    sp = models.add_parser("edit", parents=[signed], help="change inventory fields and the "
                           "documentation texts (limitations, monitoring_plan)")
    sp.set_defaults(func=cmd_models_edit)
    sp.add_argument("name")
    sp.add_argument("--field", action="append", default=[], required=True, metavar="KEY=VALUE",
                    help="a field to set (repeat); e.g. limitations=... or risk_tier=1")
    sp.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    art = sub.add_parser("artifact", help="artifact trust decisions").add_subparsers(
        dest="artifact_command", metavar="ACTION", required=True)
    sp = art.add_parser("trust", parents=[signed], help="record that a pickle/joblib file may "
                        "be inspected in the sandbox (validators)")
    sp.set_defaults(func=cmd_artifact_trust)
    sp.add_argument("artifact", type=Path)
    sp.add_argument("--reason", required=True)
    sp = art.add_parser("convert", parents=[signed], help="convert a trusted pickle/joblib "
                        "model to skops, in the sandbox (validators)")
    sp.set_defaults(func=cmd_artifact_convert)
    sp.add_argument("artifact", type=Path)
    sp.add_argument("--output", "-o", type=Path, required=True, metavar="FILE.skops")


def artifact_store(svc: Services) -> Any:
    """The artifact store of ``svc`` (see app.container.artifact_store_for)."""
    return svc.artifacts


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {item!r} must look like KEY=VALUE.")
        out[key.strip()] = value.strip()
    return out


def _metadata(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InvalidInput(f"Cannot read the metadata file {path}: {err}.") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping (fields:, metrics:, code_ref:, label:).")
    unknown = set(data) - {"fields", "metrics", "code_ref", "label"}
    if unknown:
        raise InvalidInput(f"{path} has unknown keys: {', '.join(sorted(map(str, unknown)))}.",
                           hint="Use fields:, metrics:, code_ref: and label:.")
    return data


def model_json(m: Model) -> dict[str, Any]:
    d = {k: getattr(m, k) for k in m.__dataclass_fields__}
    d["missing_fields"] = m.missing_fields()
    return d


def version_json(v: ModelVersion) -> dict[str, Any]:
    d = {k: getattr(v, k) for k in v.__dataclass_fields__ if k != "datasets"}
    d["datasets"] = [{"role": ds.role, "name": ds.name, "sha256": ds.sha256, "rows": ds.rows,
                      "format": ds.format, "has_profile": ds.has_profile} for ds in v.datasets]
    return d


@_signed
def cmd_import(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.importer import ImportRequest, ImportService

    meta = _metadata(args.metadata)
    fields = {**(meta.get("fields") or {}), **_pairs(args.field, "--field")}
    metrics = {**(meta.get("metrics") or {}), **_pairs(args.metric, "--metric")}
    datasets = [(getattr(args, role), role) for role in DATASET_ROLES if getattr(args, role)]
    importer = ImportService(svc.store, artifact_store(svc))
    version, _ = importer.import_version(me, ImportRequest(
        model=args.model, artifact=args.artifact, datasets=datasets, model_fields=fields,
        code_reference=args.code_ref or str(meta.get("code_ref") or ""),
        label=args.label or str(meta.get("label") or ""), metrics=metrics,
        keep_datasets=not args.discard_datasets))
    emit(args, version_json(version),
         f"Imported {version.model_name} version {version.number} ({version.artifact_format}, "
         f"SHA-256 {version.artifact_sha256}) with {len(version.datasets)} dataset(s).")


@_signed
def cmd_models_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.inventory import InventoryService

    inv = InventoryService(svc.store)
    flt = ModelFilter(text=args.search, status=args.status, risk_tier=args.tier, owner=args.owner)
    models, cursor = [], None
    while True:
        page = inv.page(me, flt, after_name=cursor, limit=500)
        models += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    lines = [f"{'MODEL':<32} {'TIER':<4} {'STATUS':<15} {'VERSIONS':>8}  OWNER"]
    lines += [f"{m.name[:32]:<32} {m.risk_tier or '-':<4} {m.status:<15} {m.version_count:>8}  "
              f"{m.business_owner}" for m in models]
    emit(args, [model_json(m) for m in models], "\n".join(lines))


@_signed
def cmd_models_show(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.inventory import InventoryService

    inv = InventoryService(svc.store)
    model = inv.get(me, args.name)
    versions = inv.versions(me, args.name)
    missing = model.missing_fields()
    lines = [f"{model.name}  (tier {model.risk_tier or '-'}, {model.status})",
             f"Owner: {model.business_owner or '-'}   Developer: {model.developer or '-'}",
             f"Purpose: {model.purpose or '-'}",
             "Inventory complete." if not missing else "Missing: " + ", ".join(missing)]
    for v in versions:
        lines.append(f"  v{v.number} {v.label or ''} {v.artifact_format} {v.artifact_sha256[:12]}"
                     f"… by {v.author} at {v.created_at:%Y-%m-%d %H:%M}Z [{v.state}]")
    emit(args, {"model": model_json(model), "versions": [version_json(v) for v in versions]},
         "\n".join(lines))


@_signed
def cmd_models_edit(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    model, changes = svc.inventory.update(me, args.name, _pairs(args.field, "--field"),
                                          reason=args.reason)
    emit(args, model_json(model), f"Updated {model.name}." if changes.audit
         else f"{model.name} already had those values; nothing changed.")


@_signed
def cmd_artifact_trust(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.importer import ImportService

    ImportService(svc.store, artifact_store(svc)).trust_pickle(
        me, args.artifact, reason=args.reason)
    emit(args, {"artifact": str(args.artifact), "trusted": True},
         f"Recorded the trust decision for {args.artifact.name}.")


@_signed
def cmd_artifact_convert(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.importer import ImportService

    ImportService(svc.store, artifact_store(svc)).convert_pickle(me, args.artifact, args.output)
    emit(args, {"artifact": str(args.artifact), "skops": str(args.output)},
         f"Converted {args.artifact.name} to {args.output}; import that file instead.")
