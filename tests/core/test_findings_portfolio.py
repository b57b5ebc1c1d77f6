"""The portfolio's findings across every model, on SQLite and PostgreSQL: filters, the order,
"overdue" judged on a given day, the header counts, the CSV export (formula cells escaped,
audited) and who may list and export."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import numpy as np
import pytest

from core.errors import InvalidInput, PermissionDenied
from core.permissions import Role
from core.registry.artifact_store import ArtifactStore
from core.services.findings import FindingCounts, FindingFilter, FindingsService
from core.services.importer import ImportRequest, ImportService

TODAY = date.today()


@pytest.fixture(scope="module")
def artifacts_folder(tmp_path_factory):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rnd = np.random.default_rng(5)
    folder = tmp_path_factory.mktemp("portfolio")
    for i in range(2):
        x = rnd.normal(size=(120, 2))
        sio.dump(LogisticRegression().fit(x, (x[:, i] > 0).astype(int)), folder / f"m{i}.skops")
    return folder


@pytest.fixture
def portfolio(console, tmp_path, artifacts_folder):
    """Cards PD v1 and v2, Mortgage LGD v1, and five findings across them (ids 1..5):

    ====  ============  ========  ======  ===========  ==========  ====================
    id    version       severity  owner   due          status      title
    ====  ============  ========  ======  ===========  ==========  ====================
    1     Cards PD 1    high      dana    today+10     open        Thin-file segment
    2     Cards PD 2    medium    dana    today+3      remediated  Calibration drift
    3     Mortgage 1    low       erin    none         open        =HYPERLINK("x")
    4     Mortgage 1    high      erin    today+30     open        Collateral haircut
    5     Cards PD 1    high      dana    today+1      closed      Stale reference data
    ====  ============  ========  ======  ===========  ==========  ====================
    """
    team = {
        "dana": console.add_user("dana", [Role.DATA_SCIENTIST]),
        "erin": console.add_user("erin", [Role.DATA_SCIENTIST]),
        "victor": console.add_user("victor", [Role.VALIDATOR]),
        "cora": console.add_user("cora", [Role.COMPLIANCE]),
        "ed": console.add_user("ed", [Role.EXECUTIVE]),
        "ian": console.add_user("ian", [Role.IT]),
    }
    importer = ImportService(console.store, ArtifactStore(tmp_path / "artifacts"))
    for name, artifact in (("Cards PD", 0), ("Cards PD", 1), ("Mortgage LGD", 0)):
        importer.import_version(team["dana"], ImportRequest(
            name, artifacts_folder / f"m{artifact}.skops", model_fields={"risk_tier": 1}))
    svc = FindingsService(console.store)
    v = team["victor"]

    def add(model, number, title, severity, owner, due_days):
        due = TODAY + timedelta(days=due_days) if due_days is not None else None
        return svc.record(v, model, number, title=title, description=f"About {title}.",
                          severity=severity, owner=owner, due_date=due)[0].id

    add("Cards PD", 1, "Thin-file segment", "high", "dana", 10)
    add("Cards PD", 2, "Calibration drift", "medium", "dana", 3)
    add("Mortgage LGD", 1, '=HYPERLINK("x")', "low", "erin", None)
    add("Mortgage LGD", 1, "Collateral haircut", "high", "erin", 30)
    add("Cards PD", 1, "Stale reference data", "high", "dana", 1)
    svc.remediate(team["dana"], 2, "Recalibrated on 2024 data")
    svc.close(v, 5, reason="Reference refreshed")
    return svc, team


def ids(findings) -> list[int]:
    return [f.id for f in findings]


def test_lists_every_model_newest_first_with_model_and_version(portfolio) -> None:
    svc, team = portfolio
    found = svc.portfolio(team["cora"])
    assert ids(found) == [5, 4, 3, 2, 1]
    assert [(f.model_name, f.version_number) for f in found] == [
        ("Cards PD", 1), ("Mortgage LGD", 1), ("Mortgage LGD", 1), ("Cards PD", 2),
        ("Cards PD", 1)]
    assert found[3].remediation == "Recalibrated on 2024 data" and found[0].closed_by == "victor"


def test_filters_narrow_and_combine(portfolio) -> None:
    svc, team = portfolio
    me = team["victor"]

    def listed(**kw) -> list[int]:
        return ids(svc.portfolio(me, FindingFilter(**kw)))

    assert listed(statuses=frozenset({"open"})) == [4, 3, 1]
    assert listed(statuses=frozenset({"open", "remediated"})) == [4, 3, 2, 1]
    assert listed(severities=frozenset({"high"})) == [5, 4, 1]
    assert listed(severities=frozenset({"high"}), statuses=frozenset({"open"})) == [4, 1]
    assert listed(owner="erin") == [4, 3]
    assert listed(owner="nobody") == []
    assert svc.owners(me) == ["dana", "erin"]
    assert listed(model="mortgage") == [4, 3]  # any case
    assert listed(model="PD") == [5, 2, 1]
    assert listed(text="calib") == [2]  # title
    assert listed(text="lgd") == [4, 3]  # model name
    assert listed(text="%") == []  # a LIKE wildcard is matched literally
    assert listed(order="due") == [5, 2, 1, 4, 3]  # no due date last


def test_overdue_is_unresolved_and_past_due_on_the_given_day(portfolio) -> None:
    svc, team = portfolio
    me = team["cora"]
    only = FindingFilter(overdue=True)
    assert ids(svc.portfolio(me, only)) == []  # nothing is late today
    # In 5 days #2 (due +3, remediated but not closed) is late; #5 (due +1) is closed.
    assert ids(svc.portfolio(me, only, on=TODAY + timedelta(days=5))) == [2]
    # In 11 days #1 too; #3 has no due date and is never overdue.
    assert ids(svc.portfolio(me, only, on=TODAY + timedelta(days=11))) == [2, 1]
    assert ids(svc.portfolio(me, FindingFilter(overdue=True, severities=frozenset({"high"})),
                             on=TODAY + timedelta(days=11))) == [1]


def test_counts_for_the_header(portfolio) -> None:
    svc, team = portfolio
    assert svc.counts(team["ed"]) == FindingCounts(open=4, open_high=2, overdue=0)
    assert svc.counts(team["ed"], on=TODAY + timedelta(days=11)) == FindingCounts(
        open=4, open_high=2, overdue=2)
    svc.close(team["victor"], 4, reason="Haircut documented")
    assert svc.counts(team["ed"], on=TODAY + timedelta(days=40)) == FindingCounts(
        open=3, open_high=1, overdue=2)


def test_unknown_filter_values_are_refused(portfolio) -> None:
    svc, team = portfolio
    for flt, message in ((FindingFilter(statuses=frozenset({"pending"})), "Unknown status"),
                         (FindingFilter(severities=frozenset({"critical"})), "Unknown severity"),
                         (FindingFilter(order="oldest"), "Unknown order")):
        with pytest.raises(InvalidInput, match=message):
            svc.portfolio(team["victor"], flt)


def test_csv_export_escapes_formulas_and_is_audited(console, portfolio, tmp_path) -> None:
    svc, team = portfolio
    target = tmp_path / "findings.csv"
    count, changes = svc.export_csv(team["cora"], FindingFilter(owner="erin"), target,
                                    on=TODAY + timedelta(days=31))
    assert count == 2 and changes.audit
    with open(target, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["id"], r["model"], r["version"], r["overdue"]) for r in rows] == [
        ("4", "Mortgage LGD", "1", "yes"), ("3", "Mortgage LGD", "1", "no")]
    assert rows[1]["title"] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it
    assert rows[0]["due_date"] == (TODAY + timedelta(days=30)).isoformat()
    assert rows[0]["created_at"].endswith("Z") and rows[1]["due_date"] == ""
    event = console.events("findings.exported")[-1]
    assert event.actor == "cora" and not list(tmp_path.glob(".*.part"))
    recorded = json.loads(event.new_values)
    assert (recorded["findings"], recorded["file"], recorded["filter"]["owner"]) == (
        2, "findings.csv", "erin")


def test_every_role_reads_only_reporting_roles_export(portfolio, tmp_path) -> None:
    svc, team = portfolio
    for who in ("dana", "ed", "ian"):
        assert len(svc.portfolio(team[who])) == 5
        with pytest.raises(PermissionDenied, match="report.export"):
            svc.export_csv(team[who], None, tmp_path / f"{who}.csv")
        assert not (tmp_path / f"{who}.csv").exists()
    assert svc.export_csv(team["victor"], None, tmp_path / "v.csv")[0] == 5
