"""What a review package holds, as the entities the console's screens show.

A verified :class:`~core.workflow.review_package.ReviewPackage` carries its findings,
signatures, evaluation and audit extract as JSON values. Its hashes prove the members were not
changed after export, not that the values are well formed (there is no key infrastructure:
anyone can build a self-consistent package), so every value is read defensively here and a
package whose content cannot be shown is refused with InvalidInput, never shown half-read.
No Qt in this module: it runs on the worker thread too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

from core.entities import AuditEvent
from core.entities_validation import Evaluation
from core.entities_workflow import Finding, Signature
from core.errors import InvalidInput
from core.timeutil import from_iso
from core.workflow.review_package import ReviewPackage, thaw


@dataclass(frozen=True)
class ReviewContents:
    package: ReviewPackage
    evaluation: Evaluation | None
    gates: dict[str, Any]  # the evaluation evidence's "gates": status, results, tier_used...
    findings: tuple[Finding, ...]
    signatures: tuple[Signature, ...]
    events: tuple[AuditEvent, ...]
    links_checked: int  # prev_hash links between consecutive events
    exported_at: datetime | None


def parse_time(value: Any) -> datetime | None:
    """An ISO time from the package, or None when it is missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return from_iso(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _finding(d: Mapping[str, Any], model: str, number: int) -> Finding:
    return Finding(id=d["id"], version_id=d.get("version_id", 0), model_name=model,
                   version_number=number, title=_text(d["title"]),
                   description=_text(d.get("description")), severity=_text(d["severity"]),
                   owner=_text(d.get("owner")), due_date=_date(d.get("due_date")),
                   status=_text(d["status"]), remediation=_text(d.get("remediation")),
                   created_by=_text(d.get("created_by")),
                   created_at=parse_time(d.get("created_at")),
                   closed_by=_opt(d.get("closed_by")), closed_at=parse_time(d.get("closed_at")))


def _signature(d: Mapping[str, Any], model: str, number: int) -> Signature:
    return Signature(id=d["id"], version_id=d.get("version_id", 0), model_name=model,
                     version_number=number, meaning=_text(d["meaning"]),
                     signer=_text(d["signer"]), printed_name=_text(d.get("printed_name")),
                     role=_text(d.get("role")), reason=_text(d.get("reason")),
                     signed_at=parse_time(d.get("signed_at")),
                     artifact_sha256=_text(d.get("artifact_sha256")),
                     documentation_sha256=_opt(d.get("documentation_sha256")),
                     documentation_source_sha256=_opt(d.get("documentation_source_sha256")),
                     valid=d.get("valid") is True, invalid_reason=_opt(d.get("invalid_reason")))


def _event(d: Mapping[str, Any]) -> AuditEvent:
    ts = parse_time(d["ts"])
    if ts is None:
        raise ValueError(f"audit event #{d['seq']} has no readable time")
    return AuditEvent(seq=d["seq"], ts=ts, actor=_opt(d["actor"]),
                      role=_opt(d["role"]), workstation=_text(d["workstation"]),
                      action=_text(d["action"]), object_type=_text(d["object_type"]),
                      object_id=_text(d["object_id"]), old_values=_opt(d["old_values"]),
                      new_values=_opt(d["new_values"]), reason=_opt(d["reason"]),
                      prev_hash=_text(d["prev_hash"]), hash=_text(d["hash"]))


def _evaluation(d: Mapping[str, Any] | None, model: str, number: int) -> Evaluation | None:
    if d is None:
        return None
    return Evaluation(id=d.get("id"), version_id=0, model_name=model, version_number=number,
                      artifact_sha256=_text(d.get("artifact_sha256")),
                      dataset_sha256=_text(d.get("dataset_sha256")), kind=_text(d.get("kind")),
                      gate_status=_text(d.get("gate_status")
                                        or (d.get("evidence") or {}).get("gates", {})
                                        .get("status")),
                      evidence=thaw(d.get("evidence")),
                      evidence_sha256=_text(d.get("evidence_sha256")),
                      created_at=parse_time(d.get("created_at")), created_by=_text(d.get("created_by")))


def _gates(evaluation: Evaluation | None) -> dict[str, Any]:
    gates = (evaluation.evidence or {}).get("gates") if evaluation else None
    if gates is None:
        return {}
    if not isinstance(gates, dict) or not isinstance(gates.get("results") or [], list):
        raise TypeError("the evaluation's gates are not a table of results")
    for result in gates.get("results") or []:
        if not isinstance(result, dict) or not all(
                result.get(k) is None or (isinstance(result[k], (int, float))
                                          and not isinstance(result[k], bool))
                for k in ("threshold", "value")):
            raise ValueError("a gate result is not a rule with numbers")
    return gates


def review_contents(package: ReviewPackage) -> ReviewContents:
    """The package's content as entities. Raises InvalidInput when a value is missing or of a
    kind Charter never writes."""
    model, number = package.model, package.version
    evidence = package.evidence
    try:
        events = tuple(_event(e) for e in package.audit_events)
        evaluation = _evaluation(evidence.get("evaluation"), model, number)
        contents = ReviewContents(
            package=package, evaluation=evaluation, gates=_gates(evaluation),
            findings=tuple(_finding(f, model, number) for f in evidence.get("findings") or ()),
            signatures=tuple(_signature(s, model, number)
                             for s in evidence.get("signatures") or ()),
            events=events,
            links_checked=sum(b.seq == a.seq + 1 for a, b in pairwise(events)),
            exported_at=parse_time(package.manifest.get("created_at")))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise InvalidInput(f"{package.path.name} passed verification but its content cannot be "
                           f"shown ({type(err).__name__}: {err}).",
                           hint="Ask for the package to be exported again from the store.") \
            from None
    return contents
