"""The SQLite fast path of verify builds the hash material in SQL; it must agree with Python's."""

from __future__ import annotations

import sqlite3

from core import audit
from core.store.uow import Store

TRICKY = ["plain", "é ü 中文 ﬁ", "\u2028 line sep \u2029", "tab\there", "new\nline\r", 'q"uote',
          "back\\slash", "ctl\x01\x1f\x7f", "/slash</script>", "😀 astral", "", " lead",
          "=HYPERLINK(\"x\")", "null", "0", "-1"]


def test_sqlite_json_array_matches_the_python_hash_material() -> None:
    db = sqlite3.connect(":memory:")
    for value in TRICKY:
        row = [123, "2026-11-23T10:00:00.000000Z", value, None, value, "a", "t", value,
               '{"k":"%s"}' % value.replace("\\", "\\\\").replace('"', '\\"'), None, value,
               "0" * 64]
        in_sql = db.execute("select json_array(" + ", ".join("?" * 12) + ")", row).fetchone()[0]
        assert in_sql == audit._dumps(row), repr(value)


def test_tricky_text_in_events_verifies_on_sqlite(sqlite_url) -> None:
    from core.store.opening import open_store

    store: Store = open_store(sqlite_url, create=True)
    with store.unit_of_work(None) as uow:
        for value in TRICKY:
            uow.record("user.created", "user", value or "empty", actor=value or None,
                       new={"display_name": value, "n": 12345678901234567}, reason=value or None)
    with store.unit_of_work(None, write=False) as uow:
        report = audit.verify(uow.session)
    assert report.ok, report.message
    assert report.count == len(TRICKY) + 1


def test_fast_path_falls_back_to_python_before_calling_an_event_altered(sqlite_url,
                                                                     monkeypatch) -> None:
    from core.store.opening import open_store

    store = open_store(sqlite_url, create=True)
    with store.unit_of_work(None) as uow:
        uow.record("user.created", "user", "x", actor=None)
    real = audit._sqlite_links

    def skewed(session, batch=20_000):  # noqa: ANN001, ANN202 - as if SQLite wrote other JSON
        for seq, linked, stored, _ in real(session, batch):
            yield seq, linked, stored, "f" * 64

    monkeypatch.setattr(audit, "_sqlite_links", skewed)
    with store.unit_of_work(None, write=False) as uow:
        assert audit.verify(uow.session).ok
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("drop trigger audit_event_no_update")
        db.execute("update audit_event set object_id = 'y' where seq = 2")
    with store.unit_of_work(None, write=False) as uow:
        report = audit.verify(uow.session)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 2, "altered")


def test_links_of_the_fast_and_the_plain_path_agree(sqlite_url) -> None:
    n = 3
    from core.store.opening import open_store

    store = open_store(sqlite_url, create=True)
    with store.unit_of_work(None) as uow:
        for i in range(n):
            uow.record("setting.changed", "setting", f"k{i}", actor=None, new={"value": i})
    with store.unit_of_work(None, write=False) as uow:
        fast = list(audit._sqlite_links(uow.session))
        slow = list(audit.links(audit.iter_rows(uow.session)))
    assert fast == slow and len(fast) == n + 1
