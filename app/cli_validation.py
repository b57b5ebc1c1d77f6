"""`charter evaluate` and `charter report documentation`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli import emit
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal
from core.entities_validation import Evaluation


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    sp = sub.add_parser(
        "evaluate", parents=[signed],
        help="evaluate a model version on holdout data and record the evidence",
        description="Runs metrics, segments, latency, SHAP explanations, fairness and the "
                    "acceptance gates of the model's risk tier, and records the result as an "
                    "immutable evaluation bound to the artifact and holdout hashes.")
    sp.set_defaults(func=cmd_evaluate)
    sp.add_argument("version", metavar="MODEL@VERSION", help="for example 'Screening classifier@2'")
    sp.add_argument("--holdout", type=Path, metavar="FILE", help="CSV or Parquet holdout (default: "
                    "the holdout dataset registered with the version)")
    sp.add_argument("--target", metavar="COLUMN", help="the true label column (default: the "
                    "model's output name, 'target', or the one column that is not an input)")
    sp.add_argument("--sensitive", nargs="+", default=[], metavar="COL",
                    help="sensitive features to measure fairness by (may be non-inputs)")
    sp.add_argument("--segment", dest="segments", nargs="+", default=[], metavar="COL",
                    help="features to segment metrics by (default: categorical inputs and the "
                         "two most important features)")
    sp.add_argument("--threshold", type=float, default=0.5,
                    help="score at or above which a row is predicted positive (default 0.5)")
    sp.add_argument("--positive-label", metavar="LABEL",
                    help="the positive (favourable) class (default: the model's last class)")
    sp.add_argument("--favourable-label", metavar="LABEL",
                    help="the outcome fairness counts as favourable, e.g. 0 for 'no default' "
                         "(default: the positive label)")
    sp.add_argument("--task", choices=["classification", "regression"],
                    help="insist on a task; refused if the model is of the other kind")
    sp.add_argument("--shap-rows", type=int, default=2000, metavar="N",
                    help="rows to explain with SHAP (default 2000)")
    sp.add_argument("--explain-seconds", type=float, default=30.0, metavar="S",
                    help="time budget for explanations; the sample shrinks to fit (default 30)")
    sp.add_argument("--explain-row", dest="local_rows", type=int, action="append", default=[],
                    metavar="ROW", help="a holdout row (0-based) to explain locally (repeat)")
    sp.add_argument("--no-explain", action="store_true", help="skip SHAP explanations")
    sp.add_argument("--quiet", action="store_true", help="no progress on standard error")

    report = sub.add_parser("report", help="generate reports").add_subparsers(
        dest="report_command", metavar="KIND", required=True)
    sp = report.add_parser("documentation", parents=[signed],
                           help="the model documentation PDF of a version, from its evidence")
    sp.set_defaults(func=cmd_report_documentation)
    sp.add_argument("version", metavar="MODEL@VERSION")
    sp.add_argument("--output", "-o", type=Path, required=True, metavar="FILE.pdf")
    sp.add_argument("--evaluation", type=int, metavar="ID",
                    help="the evaluation to document (default: the version's newest)")


def _progress(args: argparse.Namespace):  # noqa: ANN202
    if args.quiet or args.json or not sys.stderr.isatty():
        return lambda _d, _t: None
    last = [-1]

    def show(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 0
        if pct != last[0]:
            last[0] = pct
            print(f"\revaluating… {pct:3d}%", end="" if pct < 100 else "\n", file=sys.stderr)
    return show


def evaluation_json(ev: Evaluation) -> dict[str, Any]:
    from core.services.evaluation import headline

    e = ev.evidence
    return {
        "evaluation": ev.id, "model": ev.model_name, "version": ev.version_number,
        "kind": ev.kind, "artifact_sha256": ev.artifact_sha256,
        "dataset_sha256": ev.dataset_sha256, "evidence_sha256": ev.evidence_sha256,
        "created_at": ev.created_at, "created_by": ev.created_by,
        "metrics": headline(e), "gates": e["gates"],
        "weakest_segments": e["segments"]["weakest"],
        "explanations": {k: e["explanations"].get(k) for k in (
            "method", "sample_rows", "approximate", "approximation_note", "skipped")
            if k in e["explanations"]},
        "top_features": [g["feature"] for g in e["explanations"].get("global_importance", [])[:5]],
        "fairness": (e.get("fairness") or {}).get("worst") or (e.get("fairness") or {}).get(
            "skipped"),
        "latency_ms": e["latency"]["single_row_ms"], "warnings": e["warnings"],
    }


def evaluation_text(ev: Evaluation) -> str:
    e = ev.evidence
    summary = evaluation_json(ev)
    lines = [f"Evaluation {ev.id} of {ev.model_name} version {ev.version_number} ({ev.kind}) on "
             f"{e['holdout']['name']} ({e['holdout']['rows']:,} rows)",
             "  " + "   ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in summary["metrics"].items())]
    gates = e["gates"]
    lines.append(f"  Gates (tier {gates['tier_used']}): {gates['status'].upper()}")
    for g in gates["results"]:
        mark = {True: "pass", False: "FAIL", None: "n/a "}[g["passed"]]
        value = "-" if g["value"] is None else f"{g['value']:.4g}"
        lines.append(f"    [{mark}] {g['label']}: {value} (needs {g['op']} {g['threshold']:g})"
                     + (f"  {g['note']}" if g["note"] else ""))
    if gates.get("note"):
        lines.append(f"  {gates['note']}")
    for w in summary["weakest_segments"]:
        lines.append(f"  Weak segment: {w['feature']} = {w['segment']} ({w['count']} rows): "
                     f"{w['metric']} {w['value']:.4f}")
    if summary["top_features"]:
        ex = e["explanations"]
        lines.append(f"  SHAP ({ex['method']}, {ex['sample_rows']:,} rows): "
                     + ", ".join(summary["top_features"]))
        if ex.get("approximation_note"):
            lines.append(f"  {ex['approximation_note']}")
    lines += [f"  Warning: {w}" for w in e["warnings"]]
    lines.append(f"  Evidence SHA-256 {ev.evidence_sha256}")
    return "\n".join(lines)


@_signed
def cmd_evaluate(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import EvaluationRequest, parse_version_ref
    from core.validation.evaluate import EvaluationSettings

    model, number = parse_version_ref(args.version)
    settings = EvaluationSettings(
        target=args.target, task=args.task, sensitive=tuple(args.sensitive),
        segments=tuple(args.segments), threshold=args.threshold,
        positive_label=args.positive_label, favourable_label=args.favourable_label,
        shap_rows=args.shap_rows,
        explain_budget_s=args.explain_seconds, local_rows=tuple(args.local_rows),
        explain=not args.no_explain)
    evaluation, _ = svc.evaluations.evaluate(
        me, EvaluationRequest(model, number, args.holdout, settings), progress=_progress(args))
    emit(args, evaluation_json(evaluation), evaluation_text(evaluation))


@_signed
def cmd_report_documentation(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    record, _ = svc.documentation.export(me, model, number, args.output,
                                         evaluation_id=args.evaluation)
    emit(args, {"documentation": record.id, "model": record.model_name,
                "version": record.version_number, "file": str(args.output),
                "pdf_sha256": record.pdf_sha256, "pages": record.pages,
                "evaluation": record.evaluation_id, "generated_at": record.generated_at},
         f"Wrote {args.output} ({record.pages} pages), documentation {record.id} of "
         f"{record.model_name} version {record.version_number}; PDF SHA-256 {record.pdf_sha256}"
         + ("" if record.evaluation_id else "\nNo evaluation is recorded for this version yet; "
            "the performance sections say so. Run charter evaluate first."))
