"""Audit screen: verify (intact and tampered), export, filters, status bar."""

from __future__ import annotations

import json
import sqlite3

import pytest
from PySide6.QtCore import Qt

from core.services.audit_trail import verify_export
from views.audit_screen import AuditScreen
from views.audit_table_model import COL_ACTOR
from views.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def screen(qtbot, services, sign_in) -> AuditScreen:  # noqa: ANN001
    widget = AuditScreen(services, sign_in("cora"))
    widget.changes_made.connect(widget.on_changes)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def tamper(store_path, seq: int) -> None:  # noqa: ANN001
    db = sqlite3.connect(store_path)
    db.execute("DROP TRIGGER audit_event_no_update")
    db.execute("UPDATE audit_event SET reason = 'quietly edited' WHERE seq = ?", (seq,))
    db.commit()
    db.close()


def test_verify_intact_trail(qtbot, screen, services) -> None:  # noqa: ANN001
    with qtbot.waitSignal(screen.verified, timeout=10_000) as blocker:
        qtbot.mouseClick(screen.verify_button, Qt.MouseButton.LeftButton)
    report = blocker.args[0]
    assert report.ok
    assert screen.banner.isVisible() and screen.banner.objectName() == "bannerOk"
    assert f"intact: {report.count:,} events" in screen.banner.text()
    # The verification is itself audited and shows at the top after the refresh.
    assert screen.model.event_at(0).action == "audit.verified"


def test_verify_names_first_bad_event(qtbot, screen, store_path) -> None:  # noqa: ANN001
    tamper(store_path, 5)
    with qtbot.waitSignal(screen.verified, timeout=10_000) as blocker:
        screen.verify()
    report = blocker.args[0]
    assert not report.ok and report.first_bad_seq == 5
    assert screen.banner.objectName() == "bannerBad"
    assert "AUDIT TRAIL BROKEN at event #5" in screen.banner.text()
    assert report.message in screen.banner.text()


def test_status_bar_shows_verify_result(qtbot, services, sign_in, qsettings,  # noqa: ANN001
                                        store_path) -> None:
    tamper(store_path, 3)
    window = MainWindow(services, sign_in("cora"), qsettings=qsettings)
    qtbot.addWidget(window)
    audit = window.screens[1]
    with qtbot.waitSignal(audit.verified, timeout=10_000):
        audit.verify()
    label = window.status.audit_label
    assert "BROKEN at event #3" in label.text()
    assert label.objectName() == "auditBad"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_writes_a_verifiable_file(qtbot, screen, services, tmp_path, fmt) -> None:  # noqa: ANN001
    target = tmp_path / f"trail.{fmt}"
    count, _ = services.audit.head(screen.principal)
    with qtbot.waitSignal(screen.changes_made, timeout=10_000):
        screen.export(fmt, target)
    assert target.exists()
    assert verify_export(target).ok
    assert verify_export(target).count == count
    if fmt == "json":
        assert len(json.loads(target.read_text())["events"]) == count
    assert f"Exported {count:,} events" in screen.banner.text()
    assert screen.model.event_at(0).action == "audit.exported"


def test_filter_bar_applies_and_clears(qtbot, screen) -> None:  # noqa: ANN001
    bar = screen.filters
    total = screen.model.rowCount()
    bar.set_choice(bar.actor, "victor")
    qtbot.mouseClick(bar.apply_button, Qt.MouseButton.LeftButton)
    rows = screen.model.rowCount()
    assert 0 < rows < total
    assert {screen.model.data(screen.model.index(r, COL_ACTOR)) for r in range(rows)} == \
        {"victor"}
    bar.set_choice(bar.action, "user.")
    bar.apply()
    assert [e.action for e in screen.model.events] == ["user.password_set"]
    assert screen.model.filter.action == "user." and screen.model.filter.actor == "victor"
    qtbot.mouseClick(bar.clear_button, Qt.MouseButton.LeftButton)
    assert screen.model.rowCount() == total
    assert bar.actor.count() == 8  # "Any actor" and the seven demo users


def test_details_pane_shows_selected_event(screen) -> None:  # noqa: ANN001
    screen.table.selectRow(0)
    event = screen.model.event_at(0)
    text = screen.details.toPlainText()
    assert f"Event #{event.seq}" in text
    assert event.hash in text and event.prev_hash in text
