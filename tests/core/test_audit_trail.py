"""The audit trail on SQLite and PostgreSQL: chained, append-only, verifiable, exportable."""

from __future__ import annotations

import csv
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exc

from storekit import ADMIN, WORKSTATION, drop_audit_triggers, make_console
from core import audit
from core.entities import AuditFilter
from core.errors import InvalidInput
from core.permissions import Role
from core.services.audit_trail import csv_cell, csv_uncell, verify_export
from core.store.orm import SqlStoreSetting

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _busy_trail(console) -> int:
    """A few ordinary events on top of the console's own; returns the number of events."""
    console.settings.set(console.admin, "auth.idle_lock_minutes", 20, reason="policy 7.2")
    dana = console.add_user("dana", [Role.DATA_SCIENTIST], display_name="Dana Scientist")
    console.auth.record_session_event(dana, "auth.signed_out")
    console.users.disable(console.admin, "dana", reason="left the bank")
    console.settings.set(console.admin, "auth.idle_lock_minutes", 25, reason="policy 7.3")
    return console.head()[0]


def _verify(console):
    with console.store.unit_of_work(None, write=False) as uow:
        return audit.verify(uow.session)


# -- the chain ------------------------------------------------------------------------------------


def test_events_are_chained_with_who_what_where_and_utc_time(console) -> None:
    before = datetime.now(UTC)
    n = _busy_trail(console)
    after = datetime.now(UTC)
    events = console.events()
    assert [e.seq for e in events] == list(range(1, n + 1))
    assert events[0].prev_hash == "0" * 64
    for prev, ev in zip(events, events[1:], strict=False):
        assert ev.prev_hash == prev.hash
        assert ev.ts >= prev.ts
    assert console.head() == (n, events[-1].hash)
    raw_ts = [r[0] for r in console.sql("select ts from audit_event order by seq")]
    assert all(TS_RE.match(t) for t in raw_ts), raw_ts
    assert all(e.ts.tzinfo == UTC for e in events)
    created = console.events("user.created")[-1]
    assert created.object_id == "dana"
    assert before - timedelta(seconds=5) <= created.ts <= after + timedelta(seconds=5)
    assert (created.actor, created.role, created.workstation) == (ADMIN, "administrator",
                                                                  WORKSTATION)
    assert json.loads(created.new_values) == {"display_name": "Dana Scientist", "email": None,
                                              "roles": ["data_scientist"]}
    disabled = console.events("user.disabled")[-1]
    assert disabled.reason == "left the bank"
    assert json.loads(disabled.old_values) == {"disabled": False}
    signed_out = console.events("auth.signed_out")[-1]
    assert (signed_out.actor, signed_out.role) == ("dana", "data_scientist")


@pytest.mark.postgres
def test_postgres_time_is_utc_whatever_the_server_zone(pg_url, hasher) -> None:
    from sqlalchemy import create_engine, text

    from core.store.opening import open_store

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        db = conn.execute(text("select current_database()")).scalar_one()
        conn.execute(text(f"alter database \"{db}\" set timezone to 'Pacific/Kiritimati'"))
    engine.dispose()
    store = open_store(pg_url, create=True, workstation=WORKSTATION)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("show timezone")).scalar_one() == "Pacific/Kiritimati"
        console = make_console(store, hasher)
        now = datetime.now(UTC)
        for ev in console.events():
            assert abs(ev.ts - now) < timedelta(minutes=1), ev
    finally:
        store.dispose()


def test_verify_reports_an_intact_trail_and_is_itself_audited(console) -> None:
    n = _busy_trail(console)
    report, changes = console.trail.verify(console.admin)
    assert report.ok and report.count == n and report.first_bad_seq is None
    assert f"{n:,} events" in report.message
    assert changes.audit
    ev = console.events("audit.verified")[-1]
    assert ev.seq == n + 1 and ev.actor == ADMIN
    assert json.loads(ev.new_values) == {"intact": True, "events": n, "first_bad_seq": None,
                                         "problem": None}


# -- the database refuses rewrites ----------------------------------------------------------------


def test_update_and_delete_of_events_are_refused_by_the_database(console) -> None:
    n = _busy_trail(console)
    for statement in ("update audit_event set reason = 'nothing to see' where seq = 2",
                      "delete from audit_event where seq = 2",
                      "delete from audit_event"):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            console.sql(statement)
    if not console.store.is_sqlite:
        with pytest.raises(exc.DBAPIError, match="append-only"):
            console.sql("truncate audit_event")
    assert _verify(console).ok and console.head()[0] == n


def test_audit_head_cannot_go_backwards_or_disappear(console) -> None:
    n = _busy_trail(console)
    with pytest.raises(exc.DBAPIError, match="append-only"):
        console.sql("update audit_head set last_seq = last_seq - 2")
    with pytest.raises(exc.DBAPIError, match="append-only"):
        console.sql("delete from audit_head")
    assert console.head()[0] == n


# -- tampering is found and named -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "expression"),
    [
        ("reason", "'left the bank.'"),
        ("actor", "'root.admio'"),
        ("ts", "replace(ts, 'Z', 'Y')"),
        ("new_values", "replace(new_values, '25', '26')"),
        ("workstation", "'ws-test-02'"),
    ],
)
def test_one_altered_field_is_named(console, column, expression) -> None:
    _busy_trail(console)
    target = console.events("user.disabled")[-1].seq if column != "new_values" else \
        console.events("setting.changed")[-1].seq
    drop_audit_triggers(console.store)
    console.sql(f"update audit_event set {column} = {expression} where seq = :s", s=target)
    report = _verify(console)
    assert not report.ok
    assert (report.problem, report.first_bad_seq) == ("altered", target)
    assert f"#{target}" in report.message


def test_a_removed_event_is_named(console) -> None:
    n = _busy_trail(console)
    drop_audit_triggers(console.store)
    console.sql("delete from audit_event where seq = 4")
    report = _verify(console)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "removed", 4)
    assert "#4 is missing" in report.message
    assert report.count == 3 and n > 5


def test_reordered_events_are_named(console) -> None:
    _busy_trail(console)
    drop_audit_triggers(console.store)
    # Swap #4 and #5 through a temporary number, as someone hiding the order of events would.
    console.sql("update audit_event set seq = -1 where seq = 4")
    console.sql("update audit_event set seq = 4 where seq = 5")
    console.sql("update audit_event set seq = 5 where seq = -1")
    report = _verify(console)
    assert not report.ok and report.first_bad_seq == 4
    assert report.problem == "reordered"
    assert "#4 is out of order" in report.message


def test_an_altered_event_with_a_rewritten_hash_is_named(console) -> None:
    _busy_trail(console)
    target = console.events("user.disabled")[-1]
    drop_audit_triggers(console.store)
    row = console.sql("select " + ", ".join(audit.FIELDS) + " from audit_event where seq = :s",
                      s=target.seq)[0]
    forged = list(row)
    forged[10] = "routine clean-up"  # reason
    forged[12] = audit.event_hash(forged)
    console.sql("update audit_event set reason = :r, hash = :h where seq = :s",
                r=forged[10], h=forged[12], s=target.seq)
    report = _verify(console)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "altered", target.seq)


def test_events_removed_from_the_end_are_found(console) -> None:
    n = _busy_trail(console)
    drop_audit_triggers(console.store)
    console.sql("delete from audit_event where seq >= :s", s=n - 1)
    report = _verify(console)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", n - 1)
    assert f"#{n - 1} to #{n}" in report.message
    # The service reports it and records that it did.
    service_report, _ = console.trail.verify(console.admin)
    assert service_report.first_bad_seq == n - 1
    assert json.loads(console.events("audit.verified")[-1].new_values)["intact"] is False


# -- a change and its event are one transaction ---------------------------------------------------


def test_an_error_in_a_unit_of_work_keeps_neither_change_nor_event(console) -> None:
    before = console.head()
    with pytest.raises(RuntimeError, match="boom"):
        with console.store.unit_of_work(console.admin) as uow:
            uow.session.add(SqlStoreSetting(key="auth.idle_lock_minutes", value="40",
                                            updated_at=datetime.now(UTC)))
            uow.record("setting.changed", "setting", "auth.idle_lock_minutes",
                       new={"value": 40}, reason="test")
            uow.session.flush()
            raise RuntimeError("boom")
    assert console.head() == before
    assert console.settings.get("auth.idle_lock_minutes") == 15


def test_a_change_whose_audit_event_fails_is_not_saved(console, monkeypatch) -> None:
    before = console.head()

    def broken_append(*_args, **_kwargs):
        raise RuntimeError("audit writer failed")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError, match="audit writer failed"):
        console.users.add(console.admin, "ghost", "Ghost User", [Role.EXECUTIVE])
    monkeypatch.undo()
    assert "ghost" not in [u.username for u in console.users.list(console.admin)]
    assert console.head() == before


# -- concurrency ----------------------------------------------------------------------------------


def test_concurrent_writers_keep_one_contiguous_chain(console) -> None:
    keys = {"auth.max_failed_sign_ins": (6, 7), "auth.idle_lock_minutes": (16, 17),
            "auth.min_password_length": (13, 14), "auth.one_time_code_hours": (48, 49)}
    rounds = 25 if not console.store.is_sqlite else 15
    start = console.head()[0]

    def writer(key: str) -> None:
        a, b = keys[key]
        for i in range(rounds):
            console.settings.set(console.admin, key, a if i % 2 == 0 else b, reason=f"round {i}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(writer, k) for k in keys]:
            f.result()
    events = console.events()
    assert [e.seq for e in events] == list(range(1, start + 4 * rounds + 1))
    assert len(console.events("setting.changed")) == 4 * rounds
    assert all(a.ts <= b.ts for a, b in zip(events, events[1:], strict=False))
    report = _verify(console)
    assert report.ok and report.count == start + 4 * rounds


# -- reading --------------------------------------------------------------------------------------


def test_pages_are_newest_first_with_a_keyset_cursor(console) -> None:
    n = _busy_trail(console)
    seen, cursor = [], None
    while True:
        page = console.trail.page(console.admin, before_seq=cursor, limit=3)
        seen.extend(e.seq for e in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(n, 0, -1))
    users_only = console.trail.page(console.admin, AuditFilter(action="user."))
    assert {e.action for e in users_only.items} == {"user.created", "user.password_set",
                                                    "user.disabled"}
    by_dana = console.trail.page(console.admin, AuditFilter(actor="dana"))
    assert [e.action for e in by_dana.items] == ["auth.signed_out", "auth.signed_in",
                                                 "user.password_set"]
    with pytest.raises(InvalidInput):
        console.trail.page(console.admin, limit=0)


# -- exports --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_verifies_on_its_own(console, tmp_path, fmt) -> None:
    n = _busy_trail(console)
    path = tmp_path / f"trail.{fmt}"
    count, _ = console.trail.export(console.admin, path, fmt)
    assert count == n
    report = verify_export(path)
    assert report.ok and report.count == n, report.message
    assert not list(tmp_path.glob(".*partial"))
    if console.store.url.password:  # the export names the store, never its password
        assert console.store.url.password not in path.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(path.read_text(encoding="utf-8"))["store"] == console.store.location
    ev = console.events("audit.exported")[-1]
    assert json.loads(ev.new_values) == {"format": fmt, "events": n, "file": path.name}


def test_a_tampered_json_export_is_named(console, tmp_path) -> None:
    n = _busy_trail(console)
    path = tmp_path / "trail.json"
    console.trail.export(console.admin, path, "json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["head"]["last_seq"] == n

    altered = json.loads(json.dumps(data))
    altered["events"][4]["reason"] = "nothing happened"
    path.write_text(json.dumps(altered), encoding="utf-8")
    report = verify_export(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "altered", 5)

    cut = json.loads(json.dumps(data))
    del cut["events"][-1]
    path.write_text(json.dumps(cut), encoding="utf-8")
    report = verify_export(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", n)

    holed = json.loads(json.dumps(data))
    del holed["events"][2]
    path.write_text(json.dumps(holed), encoding="utf-8")
    assert (verify_export(path).problem, verify_export(path).first_bad_seq) == ("removed", 3)


def test_a_tampered_csv_export_is_named(console, tmp_path) -> None:
    _busy_trail(console)
    path = tmp_path / "trail.csv"
    console.trail.export(console.admin, path, "csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[3][5] = "user.deleted"  # the action of event #3
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    report = verify_export(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "altered", 3)


def test_something_else_is_not_taken_for_an_export(tmp_path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="not a Charter audit export"):
        verify_export(path)
    other = tmp_path / "other.json"
    other.write_text('{"format": "something"}')
    with pytest.raises(InvalidInput, match="not a Charter audit export"):
        verify_export(other)


FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "'quoted already",
            '=cmd|" /C calc"!A0']


def test_csv_export_never_hands_a_spreadsheet_a_formula(console, tmp_path) -> None:
    evil = console.add_user("mallory", [Role.EXECUTIVE], display_name=FORMULAS[0])
    assert evil.display_name == FORMULAS[0]
    for i, reason in enumerate(FORMULAS):
        if i % 2 == 0:
            console.users.disable(console.admin, "mallory", reason=reason)
        else:
            console.users.enable(console.admin, "mallory", reason=reason)
    console.settings.set(console.admin, "auth.idle_lock_minutes", 9, reason="line one\nline, two")
    path = tmp_path / "trail.csv"
    console.trail.export(console.admin, path, "csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in {"=", "+", "-", "@", "\t", "\r"}]
    reasons = [row[10] for row in rows[1:]]
    for formula in FORMULAS:
        assert "'" + formula in reasons
    assert [csv_uncell(r) for r in reasons if r.startswith("'")] == FORMULAS
    assert "line one\nline, two" in reasons
    # The display name travels inside the JSON of new_values and comes back unchanged.
    created = [row for row in rows[1:] if row[5] == "user.created" and row[7] == "mallory"][0]
    assert json.loads(csv_uncell(created[9]))["display_name"] == FORMULAS[0]
    report = verify_export(path)
    assert report.ok, report.message


@pytest.mark.parametrize("value", FORMULAS + ["\tTAB", "\rCR", "plain", "", "a=b"])
def test_csv_cell_round_trips(value) -> None:
    cell = csv_cell(value)
    assert cell[:1] not in {"=", "+", "-", "@", "\t", "\r"}
    assert csv_uncell(cell) == value
    assert csv_cell(None) == ""


def test_export_to_an_unwritable_place_says_so(console, tmp_path) -> None:
    before = console.head()
    with pytest.raises(InvalidInput, match="Cannot write"):
        console.trail.export(console.admin, tmp_path / "no" / "such" / "dir" / "t.csv", "csv")
    assert console.head() == before
    with pytest.raises(InvalidInput, match="Unknown export format"):
        console.trail.export(console.admin, tmp_path / "t.xlsx", "xlsx")


def test_no_code_or_password_ever_reaches_the_trail(console) -> None:
    issued = console.users.add(console.admin, "olga", "Olga", [Role.VALIDATOR])
    console.auth.set_password_with_code("olga", issued.code, "a long enough secret phrase")
    reset = console.users.reset_password(console.admin, "olga", reason="forgot it")
    dump = json.dumps([list(r) for r in console.sql("select * from audit_event")])
    for secret in (issued.code, reset.code, "a long enough secret phrase",
                   issued.code.replace("-", "")):
        assert secret not in dump
    hashes = console.sql("select password_hash, one_time_code_hash from user_account "
                         "where username = 'olga'")[0]
    assert hashes[0] is None and hashes[1].startswith("$argon2id$")
