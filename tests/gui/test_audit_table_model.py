"""Audit table model: model contract, data(), keyset paging over >200 events, filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from core.entities import AuditFilter
from core.errors import KnownError
from core.timeutil import utcnow
from views.audit_table_model import (
    COL_ACTION,
    COL_ACTOR,
    COL_HASH,
    COL_NEW,
    COL_OBJECT,
    COL_ROLE,
    COL_SEQ,
    COL_TIME,
    EVENT_ROLE,
    HEADERS,
    PAGE_SIZE,
    ANONYMOUS_ACTOR,
    SYSTEM_ACTOR,
    AuditTableModel,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def admin(sign_in):  # noqa: ANN001, ANN201
    return sign_in("ada")


@pytest.fixture
def many_events(services, admin) -> int:  # noqa: ANN001
    """Add 450 events in one transaction through the one writer; returns the event count."""
    with services.store.unit_of_work(admin) as uow:
        for i in range(450):
            uow.record("auth.session_locked", "user", f"bulk-{i}", new={"n": i})
    return services.audit.head(admin)[0]


def test_model_contract_and_headers(qtbot, services, admin, many_events) -> None:  # noqa: ANN001
    model = AuditTableModel(services, admin)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    model.reload()
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(HEADERS))] == \
        list(HEADERS)
    assert model.columnCount() == 11
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == many_events


def test_data_of_newest_event(services, admin) -> None:  # noqa: ANN001
    model = AuditTableModel(services, admin)
    model.reload()
    newest = services.audit.page(admin, limit=1).items[0]

    def at(col: int, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.data(model.index(0, col), role)

    assert at(COL_SEQ) == str(newest.seq)
    assert at(COL_ACTION) == "auth.signed_in" == newest.action
    assert at(COL_ACTOR) == "ada"
    assert at(COL_ROLE) == "Administrator"
    assert at(COL_OBJECT) == "user:ada"
    assert at(COL_HASH) == newest.hash[:12]
    assert newest.hash in at(COL_HASH, Qt.ItemDataRole.ToolTipRole)
    assert at(COL_TIME).startswith(newest.ts.astimezone().strftime("%Y-%m-%d %H:%M"))
    assert at(COL_TIME).endswith(newest.ts.astimezone().strftime("%Z"))
    assert at(0, EVENT_ROLE) == newest
    # The store's first event was written by no one: shown as the system.
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    last = model.rowCount() - 1
    assert model.data(model.index(last, COL_SEQ)) == "1"
    assert model.data(model.index(last, COL_ACTOR)) == SYSTEM_ACTOR
    assert model.data(model.index(last, COL_ACTION)) == "store.created"


def test_failed_sign_ins_show_nobody_signed_in(services, admin) -> None:  # noqa: ANN001
    with pytest.raises(KnownError):
        services.auth.sign_in(admin.username, "not the password at all")
    model = AuditTableModel(services, admin)
    model.reload()
    assert model.data(model.index(0, COL_ACTION)) == "auth.sign_in_failed"
    assert model.data(model.index(0, COL_ACTOR)) == ANONYMOUS_ACTOR


def test_fetch_more_pages_by_keyset(services, admin, many_events) -> None:  # noqa: ANN001
    model = AuditTableModel(services, admin)
    model.reload()
    assert model.rowCount() == PAGE_SIZE == 200
    assert model.pages_fetched == 1
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 400
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    seqs = [e.seq for e in model.events]
    assert seqs == list(range(many_events, 0, -1))  # newest first, none twice, none missing
    assert model.pages_fetched == -(-many_events // PAGE_SIZE)
    assert not model.canFetchMore(QModelIndex())


def test_view_fetches_more_when_scrolled(qtbot, services, admin, many_events) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QTableView

    model = AuditTableModel(services, admin)
    model.reload()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 300)
    view.show()
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() > PAGE_SIZE)


def test_filters(services, admin, many_events) -> None:  # noqa: ANN001
    model = AuditTableModel(services, admin)
    model.reload(AuditFilter(actor="cora"))
    assert model.rowCount() > 0
    assert {model.data(model.index(r, COL_ACTOR)) for r in range(model.rowCount())} == {"cora"}
    model.reload(AuditFilter(action="user."))
    actions = {model.data(model.index(r, COL_ACTION)) for r in range(model.rowCount())}
    assert actions == {"user.created", "user.password_set"}
    model.reload(AuditFilter(object_type="user", object_id="bulk-7"))
    assert model.rowCount() == 1
    assert model.data(model.index(0, COL_NEW)) == '{"n":7}'
    model.reload(AuditFilter(since=utcnow() + timedelta(hours=1)))
    assert model.rowCount() == 0 and not model.canFetchMore(QModelIndex())
    model.reload(AuditFilter(until=utcnow() + timedelta(hours=1)))
    assert model.rowCount() == PAGE_SIZE
