"""What waits for whom: the workflow inbox per role, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from storekit import USER_PASSWORD as PW
from test_workflow import _version, kit, model_file, team  # noqa: F401 - fixtures

from core.errors import PermissionDenied
from core.permissions import Role
from core.services.importer import ImportRequest


def _wanted(kit, who) -> list[tuple[str, int, str | None, int | None]]:  # noqa: F811
    return [(i.model, i.version, i.step, i.finding_id) for i in kit["flow"].inbox(who)]


def test_inbox_follows_a_tier_1_version_through_every_role(console, kit, team,  # noqa: F811
                                                            model_file) -> None:  # noqa: F811
    flow, findings = kit["flow"], kit["findings"]
    dana, victor, cora, mx = team["dana"], team["victor"], team["cora"], team["max"]
    n = _version(kit, team, model_file)
    assert _wanted(kit, dana) == [("Cards PD", n, "submit", None)]
    assert _wanted(kit, victor) == _wanted(kit, cora) == _wanted(kit, mx) == []

    flow.transition(dana, "Cards PD", n, "submit", reason="ready", password=PW)
    assert _wanted(kit, dana) == []
    [item] = flow.inbox(victor)
    assert (item.step, item.state, item.tier) == ("start_validation", "submitted", 1)
    assert item.since.tzinfo is not None
    assert _wanted(kit, mx) == []  # tier 1 needs validation first

    flow.transition(victor, "Cards PD", n, "start_validation", reason="mine")
    finding, _ = findings.record(victor, "Cards PD", n, title="Thin files", description="d",
                                 severity="high", owner="dana",
                                 due_date=date.today() + timedelta(days=9))
    assert _wanted(kit, victor) == [("Cards PD", n, "validate", None)]
    assert _wanted(kit, dana) == [("Cards PD", n, None, finding.id)]
    findings.remediate(dana, finding.id, "fixed")
    assert _wanted(kit, dana) == []
    assert ("Cards PD", n, None, finding.id) in _wanted(kit, victor)
    findings.close(victor, finding.id, reason="accepted")

    flow.transition(victor, "Cards PD", n, "validate", reason="sound", password=PW)
    assert _wanted(kit, victor) == []
    assert _wanted(kit, cora) == [("Cards PD", n, "review", None)]
    assert _wanted(kit, mx) == []  # the compliance review is still missing

    flow.transition(cora, "Cards PD", n, "review", reason="fine", password=PW)
    assert _wanted(kit, cora) == []
    assert _wanted(kit, mx) == [("Cards PD", n, "approve", None)]
    assert _wanted(kit, team["mia"]) == [("Cards PD", n, "approve", None)]
    flow.transition(mx, "Cards PD", n, "approve", reason="go", password=PW)
    assert all(_wanted(kit, team[u]) == [] for u in team)


def test_manager_sees_tier_3_from_submitted_but_never_their_own(console, kit, team,  # noqa: F811
                                                                 model_file) -> None:  # noqa: F811
    flow = kit["flow"]
    n = _version(kit, team, model_file, name="Small", tier=3)
    flow.transition(team["dana"], "Small", n, "submit", reason="ready", password=PW)
    assert _wanted(kit, team["max"]) == [("Small", n, "approve", None)]
    both = console.add_user("pat", [Role.DATA_SCIENTIST, Role.MANAGER],
                            role=Role.DATA_SCIENTIST)
    kit["import"].import_version(both, ImportRequest(model="Own", artifact=model_file /
                                                     "m1.skops", model_fields={"risk_tier": 3}))
    flow.transition(both, "Own", 1, "submit", reason="ready", password=PW)
    as_manager = console.auth.switch_role(both, Role.MANAGER)
    assert [i.model for i in flow.inbox(as_manager)] == ["Small"]
    assert sorted(i.model for i in flow.inbox(team["mia"])) == ["Own", "Small"]


def test_manager_inbox_says_when_open_high_findings_block_approval(  # noqa: F811
        console, kit, team, model_file) -> None:  # noqa: F811
    flow, findings = kit["flow"], kit["findings"]
    n = _version(kit, team, model_file, name="Mid", tier=2)
    flow.transition(team["dana"], "Mid", n, "submit", reason="ready", password=PW)
    flow.transition(team["victor"], "Mid", n, "start_validation", reason="mine")
    high, _ = findings.record(team["victor"], "Mid", n, title="Leakage in the target window",
                              description="d", severity="high", owner="dana")
    flow.transition(team["victor"], "Mid", n, "validate", reason="sound", password=PW)
    [item] = flow.inbox(team["max"])
    assert item.step == "reject"
    assert item.wanted == (f"Reject, or wait: 1 open high-severity finding(s) block approval "
                           f"(#{high.id} Leakage in the target window)")
    findings.remediate(team["dana"], high.id, "window moved")
    assert flow.inbox(team["max"])[0].step == "reject"  # remediated is not closed
    findings.close(team["victor"], high.id, reason="accepted")
    assert [(i.step, i.wanted) for i in flow.inbox(team["max"])] == [
        ("approve", "Approve or reject for use")]


def test_finding_owners_are_for_validators_only(console, kit, team) -> None:  # noqa: F811
    owners = dict(kit["flow"].finding_owners(team["victor"]))
    assert owners["dana"] == "Dana Scientist"
    with pytest.raises(PermissionDenied):
        kit["flow"].finding_owners(team["dana"])
    assert kit["flow"].inbox(console.admin) == []
