"""`charter submit|start-validation|request-changes|validate|review|approve|reject`,
`charter signatures`, `charter findings ...` and `charter exception ...`."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from app.cli import emit, read_secret
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal
from core.errors import InvalidInput
from core.services.findings import STATUSES, FindingFilter, is_overdue, today
from core.workflow.lifecycle import SEVERITIES, TRANSITIONS

STEPS = {"submit": "submit", "start-validation": "start_validation",
         "request-changes": "request_changes", "validate": "validate", "review": "review",
         "approve": "approve", "reject": "reject"}


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    for command, step in STEPS.items():
        t = TRANSITIONS[step]
        signs = " (an electronic signature: the password is asked again)" if t.meaning else ""
        extra = (" (offline review packages: charter review export|open|respond|import)"
                 if command == "review" else "")
        sp = sub.add_parser(command, parents=[signed], help=t.label.lower() + signs + extra)
        sp.set_defaults(func=cmd_transition, step=step)
        sp.add_argument("version", metavar="MODEL@VERSION")
        sp.add_argument("--reason", required=True, help="why (recorded with the step)")
        sp.add_argument("--expect-state", metavar="STATE",
                        help="refuse if the version is no longer in this state")

    sp = sub.add_parser("signatures", parents=[signed],
                        help="a version's signatures, each checked against what it signed")
    sp.set_defaults(func=cmd_signatures)
    sp.add_argument("version", metavar="MODEL@VERSION")

    exc = sub.add_parser("exception", help="policy exceptions: use before sign-off, with an "
                         "expiry").add_subparsers(dest="exception_command", metavar="ACTION",
                                                  required=True)
    sp = exc.add_parser("grant", parents=[signed], help="let a version be used before its "
                        "sign-offs until a date (managers; the password is asked again)")
    sp.set_defaults(func=cmd_exception_grant)
    sp.add_argument("version", metavar="MODEL@VERSION")
    sp.add_argument("--until", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    sp.add_argument("--reason", required=True)
    sp = exc.add_parser("list", parents=[signed], help="every exception, expired ones flagged")
    sp.set_defaults(func=cmd_exception_list)

    findings = sub.add_parser("findings", help="validation findings").add_subparsers(
        dest="findings_command", metavar="ACTION", required=True)
    sp = findings.add_parser("add", parents=[signed], help="record a finding (validators)")
    sp.set_defaults(func=cmd_findings_add)
    sp.add_argument("version", metavar="MODEL@VERSION")
    sp.add_argument("--title", required=True)
    sp.add_argument("--description", default="")
    sp.add_argument("--severity", required=True, choices=SEVERITIES)
    sp.add_argument("--owner", required=True, metavar="USER", help="who must answer it")
    sp.add_argument("--due", type=date.fromisoformat, metavar="YYYY-MM-DD")
    sp = findings.add_parser("list", parents=[signed], help="a version's findings, --mine, or "
                             "with no version every model's findings, filtered")
    sp.set_defaults(func=cmd_findings_list)
    sp.add_argument("version", nargs="?", metavar="MODEL@VERSION")
    sp.add_argument("--mine", action="store_true", help="open findings I own")
    sp.add_argument("--status", action="append", choices=STATUSES,
                    help="only this status (repeat for several)")
    sp.add_argument("--severity", action="append", choices=SEVERITIES,
                    help="only this severity (repeat for several)")
    sp.add_argument("--owner", metavar="USER", help="only findings this user owns")
    sp.add_argument("--model", metavar="TEXT", help="only models whose name contains TEXT")
    sp.add_argument("--overdue", action="store_true",
                    help="only findings not closed and past their due date (UTC)")
    sp.add_argument("--by-due", action="store_true",
                    help="order by due date (no date last) instead of newest first")
    sp = findings.add_parser("remediate", parents=[signed], help="answer a finding you own")
    sp.set_defaults(func=cmd_findings_remediate)
    sp.add_argument("finding", type=int, metavar="ID")
    sp.add_argument("--text", required=True, help="what was done")
    sp = findings.add_parser("close", parents=[signed], help="close a finding (validators)")
    sp.set_defaults(func=cmd_findings_close)
    sp.add_argument("finding", type=int, metavar="ID")
    sp.add_argument("--reason", required=True)


def _as_json(f: Any) -> dict[str, Any]:
    return {k: getattr(f, k) for k in f.__dataclass_fields__}


@_signed
def cmd_transition(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    step = TRANSITIONS[args.step]
    password = None
    if step.meaning is not None:
        password = read_secret(args, f"Password again, to sign as {me.username} "
                                     f"({step.meaning}): ")
    outcome, _ = svc.workflow.transition(me, model, number, args.step, reason=args.reason,
                                         password=password, expected_state=args.expect_state)
    sig = outcome.signature
    emit(args, {"model": outcome.model, "version": outcome.version, "state": outcome.state,
                "signature": None if sig is None else _as_json(sig)},
         f"{outcome.model} version {outcome.version} is now {outcome.state}."
         + (f" Signed ({sig.meaning}) by {sig.printed_name} at {sig.signed_at:%Y-%m-%d %H:%M} "
            f"UTC, bound to artifact {sig.artifact_sha256[:12]}… and documentation "
            f"{(sig.documentation_sha256 or '-')[:12]}…" if sig else ""))


@_signed
def cmd_signatures(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    sigs = svc.workflow.signatures(me, model, number)
    lines = [f"{g.signed_at:%Y-%m-%d %H:%M}Z  {g.meaning:<9} {g.printed_name} ({g.signer}, "
             f"{g.role})  {'valid' if g.valid else 'NOT VALID: ' + (g.invalid_reason or '')}"
             for g in sigs] or ["No signatures yet."]
    emit(args, [_as_json(g) for g in sigs], "\n".join(lines))


@_signed
def cmd_findings_add(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    f, _ = svc.findings.record(me, model, number, title=args.title,
                               description=args.description, severity=args.severity,
                               owner=args.owner, due_date=args.due)
    emit(args, _as_json(f), f"Recorded finding #{f.id} ({f.severity}) for {f.owner}.")


@_signed
def cmd_findings_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    filtered = bool(args.status or args.severity or args.owner or args.model or args.overdue
                    or args.by_due)
    if filtered and (args.mine or args.version):
        raise InvalidInput("--status, --severity, --owner, --model, --overdue and --by-due "
                           "list across all models; leave out MODEL@VERSION and --mine.")
    on = today()
    if args.mine:
        found = svc.findings.owned_by(me, me.username)
    elif args.version:
        found = svc.findings.for_version(me, *parse_version_ref(args.version))
    else:
        found = svc.findings.portfolio(me, FindingFilter(
            statuses=frozenset(args.status or ()), severities=frozenset(args.severity or ()),
            owner=args.owner, model=args.model, overdue=args.overdue,
            order="due" if args.by_due else "newest"), on=on)
    lines = [f"#{f.id:<4} {f.severity:<6} {f.status:<10} {f.model_name} v{f.version_number}: "
             f"{f.title} (owner {f.owner}"
             + (f", due {f.due_date.isoformat()}" if f.due_date else "")
             + (", OVERDUE" if is_overdue(f, on) else "") + ")"
             for f in found] or ["No findings."]
    emit(args, [{**_as_json(f), "overdue": is_overdue(f, on)} for f in found],
         "\n".join(lines))


@_signed
def cmd_findings_remediate(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    f, _ = svc.findings.remediate(me, args.finding, args.text)
    emit(args, _as_json(f), f"Finding #{f.id} is remediated; a validator closes it.")


@_signed
def cmd_findings_close(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    f, _ = svc.findings.close(me, args.finding, reason=args.reason)
    emit(args, _as_json(f), f"Finding #{f.id} is closed.")


@_signed
def cmd_exception_grant(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    from core.services.evaluation import parse_version_ref

    model, number = parse_version_ref(args.version)
    password = read_secret(args, f"Password again, to approve the exception as {me.username}: ")
    exc, _ = svc.exceptions.grant(me, model, number, until=args.until, reason=args.reason,
                                  password=password)
    emit(args, _as_json(exc), f"Exception #{exc.id}: {exc.model} version {exc.version} may "
         f"be used until {exc.expires_on.isoformat()}.")


@_signed
def cmd_exception_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    found = svc.exceptions.exceptions(me)
    lines = [f"#{e.id:<4} {'EXPIRED' if e.expired else 'active':<8} until "
             f"{e.expires_on.isoformat()}  {e.model} v{e.version} (granted by {e.granted_by})"
             for e in found] or ["No policy exceptions."]
    emit(args, [_as_json(e) for e in found], "\n".join(lines))
