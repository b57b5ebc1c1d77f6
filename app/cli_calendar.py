"""`charter due` (the compliance calendar) and `charter prior-validation record|list`
(validations a model had before Charter, which start its revalidation clock)."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from app.cli import emit, read_secret
from app.cli_commands import _signed
from app.container import Services
from core.entities import Principal


def _as_json(item: Any) -> dict[str, Any]:
    return {k: getattr(item, k) for k in item.__dataclass_fields__}


def add_parsers(sub: Any, signed: argparse.ArgumentParser) -> None:
    sp = sub.add_parser("due", parents=[signed], help="models due or overdue for revalidation, "
                        "and expired policy exceptions")
    sp.set_defaults(func=cmd_due)
    sp.add_argument("--within-days", type=int, default=30)

    prior = sub.add_parser("prior-validation", help="validations done before Charter (they "
                           "start the revalidation clock)").add_subparsers(
        dest="prior_command", metavar="ACTION", required=True)
    sp = prior.add_parser("record", parents=[signed], help="record a model's last validation "
                          "before Charter (validators, compliance; the password is asked again)")
    sp.set_defaults(func=cmd_prior_record)
    sp.add_argument("model")
    sp.add_argument("--on", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD",
                    dest="validated_on", help="the date the validation report was signed off")
    sp.add_argument("--reference", required=True, help="the validation report's reference")
    sp.add_argument("--validated-by", required=True, help="the team or firm that validated")
    sp.add_argument("--reason", required=True)
    sp = prior.add_parser("list", parents=[signed], help="a model's recorded prior validations")
    sp.set_defaults(func=cmd_prior_list)
    sp.add_argument("model")


@_signed
def cmd_due(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    rows = svc.calendar.revalidation_due(me, within_days=args.within_days)
    expired = [e for e in svc.exceptions.exceptions(me) if e.expired]
    lines = [f"{'OVERDUE' if r.overdue else 'due':<8} {r.due:%Y-%m-%d}  {r.model} "
             + (f"v{r.version}" if r.version is not None else "(no approval in Charter)")
             + f" (tier {r.tier}; {r.basis})" for r in rows] or [
        f"Nothing due for revalidation within {args.within_days} days."]
    lines += [f"EXPIRED  {e.expires_on.isoformat()}  policy exception #{e.id}: {e.model} "
              f"v{e.version} (granted by {e.granted_by})" for e in expired]
    emit(args, {"revalidation": [_as_json(r) for r in rows],
                "expired_exceptions": [_as_json(e) for e in expired]}, "\n".join(lines))


@_signed
def cmd_prior_record(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    password = read_secret(args, f"Password again, to record the validation as {me.username}: ")
    record, _ = svc.calendar.record_prior_validation(
        me, args.model, validated_on=args.validated_on, reference=args.reference,
        validated_by=args.validated_by, reason=args.reason, password=password)
    emit(args, _as_json(record),
         f"Recorded: {record.model} was validated on {record.validated_on.isoformat()} by "
         f"{record.validated_by} (report {record.reference}). `charter due` shows when it "
         "is due again.")


@_signed
def cmd_prior_list(args, svc: Services, me: Principal) -> None:  # noqa: ANN001
    rows = svc.calendar.prior_validations(me, args.model)
    lines = [f"{r.validated_on.isoformat()}  {r.validated_by} (report {r.reference}); recorded "
             f"by {r.recorded_by} at {r.recorded_at:%Y-%m-%d %H:%M}Z: {r.reason}"
             for r in rows] or [f"No validation before Charter is recorded for {args.model}."]
    emit(args, [_as_json(r) for r in rows], "\n".join(lines))
