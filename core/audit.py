"""The audit trail: the one writer, the chain verifier and the exports.

Each event's hash is SHA-256 over the canonical JSON array

    [seq, ts, actor, role, workstation, action, object_type, object_id,
     old_values, new_values, reason, prev_hash]

(UTF-8, no spaces, ``ensure_ascii=False``; ``old_values``/``new_values`` are the stored JSON text,
absent values are ``null``), and ``prev_hash`` is the previous event's hash, or 64 zeros for the
first. ``audit_head`` keeps the last sequence number and hash so that events removed from the end
are detected too. The README repeats this so that an export can be re-verified outside Charter.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.entities import AuditEvent, VerifyReport
from core.store.orm import SqlAuditEvent, SqlAuditHead
from core.store.uow import PendingEvent
from core.tasks import CancelToken, ProgressFn, no_progress
from core.timeutil import from_iso

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "actor", "role", "workstation", "action", "object_type", "object_id",
          "old_values", "new_values", "reason", "prev_hash", "hash")
_T = SqlAuditEvent.__table__
_COLUMNS = [_T.c[name] for name in FIELDS]


def canonical_json(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


_sha256 = hashlib.sha256
if c_make_encoder is not None:
    # The C encoder made once gives json.dumps(..., separators=(",", ":"), ensure_ascii=False)
    # byte for byte at half the cost: verifying a million events is mostly this call.
    _encode = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, False)

    def _dumps(values: list[Any]) -> str:
        return "".join(_encode(values, 0))
else:  # pragma: no cover - CPython always has _json
    _dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def event_hash(row: Sequence[Any]) -> str:
    """Hash of one event given its first twelve fields in FIELDS order (prev_hash last)."""
    return _sha256(_dumps(list(row[:12])).encode("utf-8")).hexdigest()


def db_now_iso(session: Session) -> str:
    """The database's clock, as the fixed-width ISO UTC text the trail stores."""
    if session.get_bind().dialect.name == "sqlite":
        raw = session.execute(text("select strftime('%Y-%m-%dT%H:%M:%f', 'now')")).scalar_one()
        return f"{raw}000Z"
    return session.execute(
        text("""select to_char(clock_timestamp() at time zone 'UTC',
                               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""")
    ).scalar_one()


def append(session: Session, events: Iterable[PendingEvent], workstation: str) -> int:
    """Write events as the next links of the chain, in the caller's transaction.

    The only code that inserts into ``audit_event``. Holding the ``audit_head`` row lock
    (PostgreSQL) or the write lock (SQLite, ``BEGIN IMMEDIATE``) serialises writers so sequence
    numbers and links never fork. Returns the last sequence number written.
    """
    head_q = select(SqlAuditHead.last_seq, SqlAuditHead.last_hash).where(SqlAuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        head_q = head_q.with_for_update()
    seq, prev = session.execute(head_q).one()
    ts = db_now_iso(session)
    rows = []
    for ev in events:
        seq += 1
        fields = [seq, ts, ev.actor, ev.role, workstation, ev.action, ev.object_type,
                  ev.object_id, canonical_json(ev.old), canonical_json(ev.new), ev.reason, prev]
        prev = event_hash(fields)
        rows.append(dict(zip(FIELDS, [*fields, prev], strict=True)))
    if rows:
        session.execute(_T.insert(), rows)
        session.execute(
            update(SqlAuditHead).where(SqlAuditHead.id == 1).values(last_seq=seq, last_hash=prev)
        )
    return seq


def to_entity(row: Sequence[Any]) -> AuditEvent:
    values = dict(zip(FIELDS, row, strict=True))
    values["ts"] = from_iso(values["ts"])
    return AuditEvent(**values)


def head(session: Session) -> tuple[int, str]:
    seq, last = session.execute(
        select(SqlAuditHead.last_seq, SqlAuditHead.last_hash).where(SqlAuditHead.id == 1)
    ).one()
    return int(seq), last


def iter_rows(session: Session, batch: int = 20_000) -> Iterator[Sequence[Any]]:
    """Every event in sequence order, streamed, as plain tuples in FIELDS order.

    Straight from the driver's cursor (a named, server-side one on PostgreSQL): the columns are
    text and integers, and SQLAlchemy's row objects would add half again to the time a
    million-event verify takes."""
    sql = f"select {', '.join(FIELDS)} from audit_event order by seq"
    dbapi = session.connection().connection.driver_connection
    if session.get_bind().dialect.name == "postgresql":
        cursor = dbapi.cursor(name="charter_audit_rows")
        cursor.itersize = batch
    else:
        cursor = dbapi.cursor()
        cursor.arraysize = batch
    try:
        cursor.execute(sql)
        while part := cursor.fetchmany(batch):
            yield from part
    finally:
        # A verifier that stops at the first bad event leaves the rest unread: close the
        # cursor now, not whenever the garbage collector finds it.
        cursor.close()


def links(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[int, str, str, str]]:
    """(seq, prev_hash, stored hash, recomputed hash) for full rows in FIELDS order."""
    for row in rows:
        yield row[0], row[11], row[12], event_hash(row)


def verify_rows(
    rows: Iterable[Sequence[Any]],
    head_link: tuple[int, str] | None,
    *,
    find_by_hash=None,  # noqa: ANN001 - callable(hash) -> seq | None, for naming reorders
    recheck=None,  # noqa: ANN001 - callable(seq) -> hash from the full row, see _sqlite_links
    total: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """Check a chain and name the first event that was altered, removed or reordered.

    ``rows`` are links as :func:`links` makes them, from the store or from an export, so both
    are verified by the same code.
    """
    prev_seq, prev_hash = 0, GENESIS
    count = 0
    for seq, linked_to, stored, computed in rows:
        expected = prev_seq + 1
        if seq != expected:
            span = f"#{expected}" if seq == expected + 1 else f"#{expected} to #{seq - 1}"
            return VerifyReport(
                False, count, prev_hash if count else None, expected, "removed",
                f"Event {span} is missing: removed from the trail (the chain jumps from "
                f"#{prev_seq} to #{seq}).",
            )
        if linked_to != prev_hash:
            other = find_by_hash(linked_to) if find_by_hash else None
            if other is not None and other != prev_seq:
                return VerifyReport(
                    False, count, prev_hash, seq, "reordered",
                    f"Event #{seq} is out of order: it was written after the event now stored "
                    f"as #{other}, not after #{prev_seq}.",
                )
            bad = prev_seq if prev_seq else seq
            return VerifyReport(
                False, count, prev_hash, bad, "altered",
                f"Event #{bad} was altered: the link to it from event #{seq} no longer matches "
                "(its content and hash were rewritten).",
            )
        if computed != stored and (recheck is None or recheck(seq) != stored):
            return VerifyReport(
                False, count, prev_hash, seq, "altered",
                f"Event #{seq} was altered: its content no longer matches its hash.",
            )
        prev_seq, prev_hash = seq, stored
        count += 1
        if count % 50_000 == 0:
            progress(count, total)
            if cancel is not None:
                cancel.check()
    progress(count, total)
    if head_link is not None:
        head_seq, head_hash = head_link
        if head_seq > prev_seq:
            span = f"#{prev_seq + 1}" if head_seq == prev_seq + 1 else (
                f"#{prev_seq + 1} to #{head_seq}")
            return VerifyReport(
                False, count, prev_hash, prev_seq + 1, "truncated",
                f"Event {span} removed from the end of the trail (the last event recorded was "
                f"#{head_seq}).",
            )
        if head_seq != prev_seq or head_hash != prev_hash:
            return VerifyReport(
                False, count, prev_hash, prev_seq, "altered",
                f"The trail's head record does not match its last event #{prev_seq}.",
            )
    return VerifyReport(True, count, prev_hash if count else None, message=(
        f"The audit trail is intact: {count:,} events, every link verified."))


def _sqlite_links(session: Session, batch: int = 20_000) -> Iterator[tuple[int, str, str, str]]:
    """Links with the hash material built by SQLite's json_array, in C.

    SQLite writes the same compact JSON as :func:`event_hash` (checked in the tests, non-ASCII
    and control characters included), which halves a million-event verify. Should the two ever
    differ for some value, ``verify`` recomputes that event in Python before calling it altered,
    so a difference costs time, never a false alarm.
    """
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(f"select seq, prev_hash, hash, json_array({', '.join(FIELDS[:12])}) "
                       "from audit_event order by seq")
        sha = _sha256
        while part := cursor.fetchmany(batch):
            for seq, linked_to, stored, material in part:
                yield seq, linked_to, stored, sha(material.encode("utf-8")).hexdigest()
    finally:
        cursor.close()


def verify(session: Session, *, progress: ProgressFn = no_progress,
           cancel: CancelToken | None = None) -> VerifyReport:
    """Verify the whole chain in the store (read-only)."""
    head_link = head(session)

    def find_by_hash(h: str) -> int | None:
        return session.execute(select(_T.c.seq).where(_T.c.hash == h).limit(1)).scalar()

    def recheck(seq: int) -> str:
        row = session.execute(select(*_COLUMNS).where(_T.c.seq == seq)).one()
        return event_hash(row)

    if session.get_bind().dialect.name == "sqlite":
        rows, again = _sqlite_links(session), recheck
    else:
        rows, again = links(iter_rows(session)), None
    return verify_rows(rows, head_link, find_by_hash=find_by_hash, recheck=again,
                       total=head_link[0], progress=progress, cancel=cancel)
