"""Reading, verifying and exporting the audit trail (compliance officers, administrators)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from sqlalchemy import and_, select

from core import audit
from core.entities import AuditEvent, AuditFilter, Changes, Page, Principal, VerifyReport
from core.errors import InvalidInput
from core.permissions import Action, require
from core.store.orm import SqlAuditEvent
from core.store.uow import Store
from core.tasks import CancelToken, ProgressFn, no_progress
from core.timeutil import to_iso, utcnow

# Every action name written so far, for filters and the README. Later features add theirs.
KNOWN_ACTIONS: dict[str, str] = {
    "store.created": "A store was created",
    "store.upgraded": "The store's schema was upgraded",
    "auth.signed_in": "Signed in",
    "auth.sign_in_failed": "Sign-in failed",
    "auth.reauthenticated": "Password re-entered",
    "auth.session_locked": "Console locked after inactivity",
    "auth.signed_out": "Signed out",
    "auth.role_switched": "Switched role",
    "user.created": "User created",
    "user.password_set": "User chose a password with a one-time code",
    "user.password_changed": "User changed their password",
    "user.password_reset": "Password reset by an administrator",
    "user.roles_changed": "Roles changed",
    "user.disabled": "User disabled",
    "user.enabled": "User enabled",
    "user.locked": "Account locked after failed sign-ins",
    "user.unlocked": "Account unlocked",
    "setting.changed": "Store setting changed",
    "model.created": "Model added to the inventory",
    "model.updated": "Inventory record changed (incl. retiring)",
    "dataset.registered": "Dataset registered",
    "version.created": "Model version imported",
    "artifact.trusted": "Pickle artifact trusted by a validator",
    "artifact.converted": "Trusted pickle converted to skops",
    "audit.verified": "Audit trail verified",
    "audit.exported": "Audit trail exported",
    "review.exported": "Review package exported",
    "review.comments_imported": "Review response imported (comments)",
    "review.import_refused": "Review response refused",
}

EXPORT_FORMAT = "charter-audit-export/1"
_T = SqlAuditEvent.__table__
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: object) -> str:
    """Text for a CSV cell that a spreadsheet will not run as a formula.

    A cell starting with ``= + - @``, a tab, a carriage return or ``'`` gets one leading ``'``;
    removing one leading ``'`` from such a cell gives the stored value back exactly.
    """
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


class AuditTrailService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def page(self, principal: Principal, flt: AuditFilter | None = None, *,
             before_seq: int | None = None, limit: int = 200) -> Page[AuditEvent]:
        """Events newest first, one keyset page (``before_seq`` = the previous page's cursor)."""
        require(principal.role, Action.AUDIT_READ)
        if not 1 <= limit <= 10_000:
            raise InvalidInput("A page holds 1 to 10,000 events.")
        flt = flt or AuditFilter()
        conds = []
        if before_seq is not None:
            conds.append(_T.c.seq < before_seq)
        if flt.actor:
            conds.append(_T.c.actor == flt.actor)
        if flt.action:
            if flt.action.endswith("."):
                conds.append(_T.c.action.startswith(flt.action, autoescape=True))
            else:
                conds.append(_T.c.action == flt.action)
        if flt.object_type:
            conds.append(_T.c.object_type == flt.object_type)
        if flt.object_id:
            conds.append(_T.c.object_id == flt.object_id)
        if flt.since:
            conds.append(_T.c.ts >= to_iso(flt.since))
        if flt.until:
            conds.append(_T.c.ts < to_iso(flt.until))
        q = select(*audit._COLUMNS).order_by(_T.c.seq.desc()).limit(limit + 1)
        if conds:
            q = q.where(and_(*conds))
        with self.store.unit_of_work(principal, write=False) as uow:
            rows = uow.session.execute(q).all()
        items = [audit.to_entity(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, items[-1].seq if more and items else None)

    def head(self, principal: Principal) -> tuple[int, str]:
        """(number of events, newest hash): cheap, for the status bar."""
        require(principal.role, Action.AUDIT_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return audit.head(uow.session)

    def verify(self, principal: Principal, *, progress: ProgressFn = no_progress,
               cancel: CancelToken | None = None) -> tuple[VerifyReport, Changes]:
        """Check the whole chain; the result is itself recorded. Audit: ``audit.verified``."""
        require(principal.role, Action.AUDIT_VERIFY)
        with self.store.unit_of_work(principal, write=False) as uow:
            report = audit.verify(uow.session, progress=progress, cancel=cancel)
        with self.store.unit_of_work(principal) as uow:
            uow.record("audit.verified", "audit_trail", "chain", new={
                "intact": report.ok, "events": report.count,
                "first_bad_seq": report.first_bad_seq, "problem": report.problem})
        return report, Changes(audit=True)

    def export(self, principal: Principal, path: Path, fmt: str, *,
               progress: ProgressFn = no_progress,
               cancel: CancelToken | None = None) -> tuple[int, Changes]:
        """Write the whole trail with its hashes to ``path`` (``csv`` or ``json``), written to a
        temporary file and renamed, so a cancelled export leaves nothing behind.
        Audit: ``audit.exported``."""
        require(principal.role, Action.AUDIT_EXPORT)
        if fmt not in {"csv", "json"}:
            raise InvalidInput(f"Unknown export format {fmt!r}; choose csv or json.")
        path = Path(path)
        tmp = path.with_name(f".{path.name}.partial")
        try:
            with self.store.unit_of_work(principal, write=False) as uow:
                head_seq, head_hash = audit.head(uow.session)
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    writer = _CsvOut(fh) if fmt == "csv" else _JsonOut(
                        fh, head_seq, head_hash, self.store.location)
                    count = 0
                    for row in audit.iter_rows(uow.session):
                        writer.row(row)
                        count += 1
                        if count % 20_000 == 0:
                            progress(count, head_seq)
                            if cancel is not None:
                                cancel.check()
                    writer.close()
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as err:
            raise InvalidInput(f"Cannot write {path}: {err.strerror}.",
                               hint="Choose a folder you can write to, with free space.") from None
        finally:
            tmp.unlink(missing_ok=True)
        progress(count, head_seq)
        with self.store.unit_of_work(principal) as uow:
            uow.record("audit.exported", "audit_trail", "chain",
                       new={"format": fmt, "events": count, "file": path.name})
        return count, Changes(audit=True)


class _CsvOut:
    def __init__(self, fh) -> None:  # noqa: ANN001
        self.w = csv.writer(fh)
        self.w.writerow(audit.FIELDS)

    def row(self, row) -> None:  # noqa: ANN001
        self.w.writerow([csv_cell(v) for v in row])

    def close(self) -> None:
        return None


class _JsonOut:
    def __init__(self, fh, head_seq: int, head_hash: str, location: str) -> None:  # noqa: ANN001
        self.fh = fh
        self.first = True
        header = {
            "format": EXPORT_FORMAT,
            "exported_at": to_iso(utcnow()),
            "store": location,
            "hash": "sha256 over canonical JSON [seq, ts, actor, role, workstation, action, "
                    "object_type, object_id, old_values, new_values, reason, prev_hash]",
            "head": {"last_seq": head_seq, "last_hash": head_hash},
        }
        fh.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "events": [\n')

    def row(self, row) -> None:  # noqa: ANN001
        if not self.first:
            self.fh.write(",\n")
        self.first = False
        self.fh.write(json.dumps(dict(zip(audit.FIELDS, row, strict=True)), ensure_ascii=False))

    def close(self) -> None:
        self.fh.write("\n]}\n")


def verify_export(path: Path) -> VerifyReport:
    """Verify an exported trail (JSON or CSV) with no store: the same checks as ``verify``."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != EXPORT_FORMAT:
                raise InvalidInput(f"{path} is not a Charter audit export.")
            rows = [tuple(ev[f] for f in audit.FIELDS) for ev in data["events"]]
            head = (data["head"]["last_seq"], data["head"]["last_hash"])
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if tuple(header or ()) != audit.FIELDS:
                    raise InvalidInput(f"{path} is not a Charter audit export (wrong columns).")
                rows = [_csv_row(r) for r in reader]
            head = None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InvalidInput(f"Cannot read the export {path}: {err}.") from None
    by_hash = {r[12]: r[0] for r in rows}
    return audit.verify_rows(audit.links(rows), head, find_by_hash=by_hash.get, total=len(rows))


def _csv_row(cells: list[str]) -> tuple:
    values: list[object] = [csv_uncell(c) for c in cells]
    values[0] = int(values[0])  # seq
    # Empty cells are absent values (CSV cannot tell "" from None; Charter never stores "").
    return tuple(v if v != "" else None for v in values)
