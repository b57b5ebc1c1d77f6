"""The approval workflow on SQLite and PostgreSQL: lifecycle, tier policy, segregation of duties,
findings, signatures bound to what was signed, and the two-managers race."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from storekit import USER_PASSWORD

from core.errors import AuthenticationFailed, InvalidInput, KnownError, PermissionDenied
from core.permissions import Role
from core.registry.artifact_store import ArtifactStore
from core.services.auth import AuthService
from core.services.documentation import DocumentationService
from core.services.findings import FindingsService
from core.services.importer import ImportRequest, ImportService
from core.services.workflow import VersionChanged, WorkflowService

PW = USER_PASSWORD


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rnd = np.random.default_rng(2)
    frame = pd.DataFrame({"income": rnd.normal(50, 10, 300), "age": rnd.integers(20, 70, 300)})
    folder = tmp_path_factory.mktemp("workflow")
    for i in range(3):  # three different artifacts, for several versions
        y = (frame["income"] + rnd.normal(0, 5 + i, 300) > 50).astype(int)
        sio.dump(LogisticRegression().fit(frame, y), folder / f"m{i}.skops")
    return folder


@pytest.fixture
def team(console):
    return {
        "dana": console.add_user("dana", [Role.DATA_SCIENTIST], display_name="Dana Scientist"),
        "victor": console.add_user("victor", [Role.VALIDATOR], display_name="Victor Val"),
        "cora": console.add_user("cora", [Role.COMPLIANCE], display_name="Cora Comp"),
        "max": console.add_user("max", [Role.MANAGER], display_name="Max Manager"),
        "mia": console.add_user("mia", [Role.MANAGER], display_name="Mia Manager"),
    }


@pytest.fixture
def kit(console, hasher, tmp_path):
    artifacts = ArtifactStore(tmp_path / "artifacts")
    auth = AuthService(console.store, hasher)
    return {"import": ImportService(console.store, artifacts),
            "docs": DocumentationService(console.store, artifacts),
            "flow": WorkflowService(console.store, artifacts, auth),
            "findings": FindingsService(console.store), "artifacts": artifacts}


def _version(kit, team, model_file, *, name="Cards PD", tier=1, artifact=0):
    version, _ = kit["import"].import_version(team["dana"], ImportRequest(
        model=name, artifact=model_file / f"m{artifact}.skops",
        model_fields={"risk_tier": tier}))
    kit["docs"].generate(team["dana"], name, version.number)
    return version.number


def _state(kit, team, name="Cards PD", number=1) -> str:
    from core.services.inventory import InventoryService

    return next(v.state for v in InventoryService(kit["flow"].store).versions(team["dana"], name)
                if v.number == number)


def test_tier_1_path_with_findings_signatures_and_audit(console, kit, team, model_file) -> None:
    flow, findings = kit["flow"], kit["findings"]
    n = _version(kit, team, model_file)
    flow.transition(team["dana"], "Cards PD", n, "submit", reason="ready", password=PW)
    flow.transition(team["victor"], "Cards PD", n, "start_validation", reason="taking it")
    finding, _ = findings.record(team["victor"], "Cards PD", n, title="Thin-file segment",
                                 description="AUC 0.61 on thin files", severity="high",
                                 owner="dana", due_date=date.today() + timedelta(days=30))
    flow.transition(team["victor"], "Cards PD", n, "validate", reason="sound", password=PW)
    flow.transition(team["cora"], "Cards PD", n, "review", reason="compliant", password=PW)
    with pytest.raises(InvalidInput, match="1 high-severity finding.*Thin-file"):
        flow.transition(team["max"], "Cards PD", n, "approve", reason="go", password=PW)
    assert _state(kit, team) == "validated"
    other = console.add_user("otto", [Role.DATA_SCIENTIST])
    with pytest.raises(PermissionDenied, match="only its owner"):
        findings.remediate(other, finding.id, "done")
    findings.remediate(team["dana"], finding.id, "Added a thin-file override rule")
    with pytest.raises(PermissionDenied):
        findings.close(team["dana"], finding.id, reason="mine")
    findings.close(team["victor"], finding.id, reason="override reviewed")
    outcome, _ = flow.transition(team["max"], "Cards PD", n, "approve", reason="go", password=PW)
    assert outcome.state == "approved" and outcome.signature.meaning == "approved"
    signatures = flow.signatures(team["cora"], "Cards PD", n)
    assert [(g.meaning, g.signer, g.valid) for g in signatures] == [
        ("authored", "dana", True), ("validated", "victor", True), ("reviewed", "cora", True),
        ("approved", "max", True)]
    doc = kit["docs"].documents(team["dana"], "Cards PD", n)[0]
    assert signatures[-1].printed_name == "Max Manager"
    assert signatures[-1].documentation_sha256 == doc.pdf_sha256
    approved = json.loads(console.events("version.approve")[-1].new_values)
    assert approved["artifact_sha256"] == signatures[-1].artifact_sha256
    # Five password checks: four signatures and the approval refused for the open finding,
    # which is itself audited.
    assert len(console.events("auth.reauthenticated")) == 5
    refused = json.loads(console.events("version.transition_refused")[-1].new_values)
    assert refused["step"] == "approve" and "high-severity" in refused["why"]
    # The PDF generated now prints the findings and the sign-offs, and the signatures hold.
    kit["docs"].generate(team["cora"], "Cards PD", n)
    assert all(g.valid for g in flow.signatures(team["cora"], "Cards PD", n))


def test_segregation_of_duties(console, kit, team, model_file) -> None:
    flow = kit["flow"]
    both = console.add_user("vic2", [Role.VALIDATOR, Role.MANAGER], role=Role.VALIDATOR)
    author = console.add_user("dan2", [Role.DATA_SCIENTIST, Role.MANAGER],
                              role=Role.DATA_SCIENTIST)
    kit["import"].import_version(author, ImportRequest(model="Own", artifact=model_file /
                                                       "m1.skops", model_fields={"risk_tier": 2}))
    kit["docs"].generate(author, "Own", 1)
    flow.transition(author, "Own", 1, "submit", reason="ready", password=PW)
    flow.transition(both, "Own", 1, "start_validation", reason="mine")
    flow.transition(both, "Own", 1, "validate", reason="fine", password=PW)
    as_manager = console.auth.switch_role(both, Role.MANAGER)
    with pytest.raises(PermissionDenied, match="You validated this version"):
        flow.transition(as_manager, "Own", 1, "approve", reason="x", password=PW)
    with pytest.raises(PermissionDenied, match="You authored this version"):
        flow.transition(console.auth.switch_role(author, Role.MANAGER), "Own", 1, "approve",
                        reason="x", password=PW)
    refused = [json.loads(e.new_values) for e in console.events("version.transition_refused")]
    assert [r["step"] for r in refused] == ["approve", "approve"]
    with pytest.raises(PermissionDenied):  # administrators never sign
        flow.transition(console.admin, "Own", 1, "approve", reason="x", password=PW)
    assert _state(kit, team, "Own") == "validated"


def test_wrong_password_counts_toward_lockout_and_changes_nothing(console, kit, team,
                                                                  model_file) -> None:
    n = _version(kit, team, model_file)
    with pytest.raises(AuthenticationFailed):
        kit["flow"].transition(team["dana"], "Cards PD", n, "submit", reason="r",
                               password="not my password")
    assert console.sql("SELECT failed_sign_ins FROM user_account WHERE username='dana'") == [(1,)]
    assert _state(kit, team) == "draft"
    assert console.sql("SELECT count(*) FROM signature") == [(0,)]


def test_tier_1_needs_compliance_review_and_tier_3_only_approval(kit, team, model_file) -> None:
    flow = kit["flow"]
    n = _version(kit, team, model_file)
    flow.transition(team["dana"], "Cards PD", n, "submit", reason="r", password=PW)
    with pytest.raises(InvalidInput, match="Tier 1 needs validation before approval"):
        flow.transition(team["max"], "Cards PD", n, "approve", reason="r", password=PW)
    flow.transition(team["victor"], "Cards PD", n, "start_validation", reason="r")
    flow.transition(team["victor"], "Cards PD", n, "validate", reason="r", password=PW)
    with pytest.raises(InvalidInput, match="compliance review signature"):
        flow.transition(team["max"], "Cards PD", n, "approve", reason="r", password=PW)
    _version(kit, team, model_file, name="Low", tier=3, artifact=1)
    flow.transition(team["dana"], "Low", 1, "submit", reason="r", password=PW)
    outcome, _ = flow.transition(team["max"], "Low", 1, "approve", reason="r", password=PW)
    assert outcome.state == "approved"


def test_an_artifact_altered_on_disk_voids_signatures_and_blocks_approval(
        console, kit, team, model_file) -> None:
    flow = kit["flow"]
    n = _version(kit, team, model_file, tier=2)
    flow.transition(team["dana"], "Cards PD", n, "submit", reason="r", password=PW)
    flow.transition(team["victor"], "Cards PD", n, "start_validation", reason="r")
    flow.transition(team["victor"], "Cards PD", n, "validate", reason="r", password=PW)
    sha = console.sql("SELECT artifact_sha256 FROM model_version")[0][0]
    blob = kit["artifacts"].path_for(sha)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    with pytest.raises(KnownError, match="(?i)sha-256|corrupt|changed"):
        flow.transition(team["max"], "Cards PD", n, "approve", reason="r", password=PW)
    assert _state(kit, team) == "validated"
    validated = next(g for g in flow.signatures(team["max"], "Cards PD", n)
                     if g.meaning == "validated")
    assert not validated.valid and "artifact file changed" in validated.invalid_reason


def test_changed_documentation_voids_the_validation_signature(kit, team, model_file) -> None:
    flow = kit["flow"]
    n = _version(kit, team, model_file, tier=2)
    flow.transition(team["dana"], "Cards PD", n, "submit", reason="r", password=PW)
    flow.transition(team["victor"], "Cards PD", n, "start_validation", reason="r")
    flow.transition(team["victor"], "Cards PD", n, "validate", reason="r", password=PW)
    # The owner rewrites the limitations: the documentation generated now says something else.
    from core.services.inventory import InventoryService

    InventoryService(kit["flow"].store).update(team["dana"], "Cards PD", {
        "limitations": "Not for thin files"}, reason="after validation")
    kit["docs"].generate(team["dana"], "Cards PD", n)
    validated = next(g for g in flow.signatures(team["max"], "Cards PD", n)
                     if g.meaning == "validated")
    assert not validated.valid and validated.invalid_reason == \
        "the documentation changed after signing"
    with pytest.raises(InvalidInput, match="valid validation signature"):
        flow.transition(team["max"], "Cards PD", n, "approve", reason="r", password=PW)


def test_bad_findings_are_refused(kit, team, model_file) -> None:
    n = _version(kit, team, model_file)
    findings = kit["findings"]
    for kwargs, message in (
            ({"severity": "critical"}, "Severity must be one of high, medium, low"),
            ({"owner": "nobody"}, "no user named 'nobody'"),
            ({"due_date": date.today() - timedelta(days=1)}, "in the past"),
            ({"title": "  "}, "needs a title")):
        args = {"title": "t", "description": "d", "severity": "low", "owner": "dana", **kwargs}
        with pytest.raises(InvalidInput, match=message):
            findings.record(team["victor"], "Cards PD", n, **args)
    with pytest.raises(PermissionDenied):
        findings.record(team["dana"], "Cards PD", n, title="t", description="d",
                        severity="low", owner="dana")
    assert findings.for_version(team["dana"], "Cards PD", n) == []


def _calendar(console, hasher):
    from core.services.calendar import CalendarService

    return CalendarService(console.store, AuthService(console.store, hasher))


def test_revalidation_falls_due_by_tier_policy(console, hasher, kit, team, model_file) -> None:
    flow, calendar = kit["flow"], _calendar(console, hasher)
    _version(kit, team, model_file, name="Low", tier=3)
    flow.transition(team["dana"], "Low", 1, "submit", reason="r", password=PW)
    outcome, _ = flow.transition(team["max"], "Low", 1, "approve", reason="r", password=PW)
    approved_at = outcome.signature.signed_at
    assert calendar.revalidation_due(team["cora"], now=approved_at) == []
    soon = calendar.revalidation_due(team["cora"],
                                     now=approved_at + timedelta(days=36 * 30.4 - 20))
    assert [(r.model, r.version, r.overdue) for r in soon] == [("Low", 1, False)]
    late = calendar.revalidation_due(team["cora"], now=approved_at + timedelta(days=37 * 31))
    assert late[0].overdue and late[0].due.year == approved_at.year + 3
    assert late[0].basis == "approved in Charter"


def test_a_validation_before_charter_starts_the_clock_until_charter_approves(
        console, hasher, kit, team, model_file) -> None:
    flow, calendar = kit["flow"], _calendar(console, hasher)
    _version(kit, team, model_file, name="Legacy", tier=2)
    validated = date.today() - timedelta(days=25 * 31)
    record, _ = calendar.record_prior_validation(
        team["victor"], "Legacy", validated_on=validated, reference="MRM-2024-017",
        validated_by="Model Risk (before Charter)", reason="Onboarding the portfolio",
        password=PW)
    assert calendar.prior_validations(team["dana"], "Legacy") == [record]
    due = calendar.revalidation_due(team["cora"])
    assert [(r.model, r.version, r.tier, r.overdue) for r in due] == [("Legacy", None, 2, True)]
    assert "MRM-2024-017" in due[0].basis and due[0].due.date() < date.today()
    event = console.events("model.prior_validation_recorded")[-1]
    assert json.loads(event.new_values)["validated_on"] == validated.isoformat()
    with pytest.raises(Exception, match="recorded once"):
        console.sql("UPDATE prior_validation SET validated_on = '2099-01-01'")
    # An approval in Charter restarts the clock: the prior record no longer counts.
    flow.transition(team["dana"], "Legacy", 1, "submit", reason="r", password=PW)
    flow.transition(team["victor"], "Legacy", 1, "start_validation", reason="r")
    flow.transition(team["victor"], "Legacy", 1, "validate", reason="r", password=PW)
    flow.transition(team["max"], "Legacy", 1, "approve", reason="r", password=PW)
    assert calendar.revalidation_due(team["cora"]) == []


def test_bad_prior_validations_are_refused_and_change_nothing(console, hasher, kit, team,
                                                              model_file) -> None:
    calendar = _calendar(console, hasher)
    _version(kit, team, model_file, name="Legacy", tier=2)
    good = {"validated_on": date.today() - timedelta(days=30), "reference": "R-1",
            "validated_by": "MRM", "reason": "onboarding", "password": PW}
    with pytest.raises(PermissionDenied, match="validator or compliance"):
        calendar.record_prior_validation(team["dana"], "Legacy", **good)
    for change, message in (({"validated_on": date.today() + timedelta(days=1)}, "and today"),
                            ({"validated_on": date(1980, 1, 1)}, "between 1990"),
                            ({"reference": " "}, "report's reference"),
                            ({"validated_by": ""}, "who validated"),
                            ({"reason": ""}, "a reason"),
                            ({"password": ""}, "password")):
        with pytest.raises(InvalidInput, match=message):
            calendar.record_prior_validation(team["cora"], "Legacy", **{**good, **change})
    with pytest.raises(AuthenticationFailed):
        calendar.record_prior_validation(team["cora"], "Legacy", **{**good, "password": "no"})
    assert console.sql("SELECT failed_sign_ins FROM user_account WHERE username='cora'") == [(1,)]
    with pytest.raises(InvalidInput, match="--within-days"):
        calendar.revalidation_due(team["cora"], within_days=-1)
    assert console.sql("SELECT count(*) FROM prior_validation") == [(0,)]
    assert console.events("model.prior_validation_recorded") == []


def test_two_managers_approving_at_once_exactly_one_applies(console, kit, team,
                                                            model_file) -> None:
    flow = kit["flow"]
    rounds = 15
    for i in range(rounds):
        name = f"Race {i}"
        _version(kit, team, model_file, name=name, tier=3, artifact=i % 3)
        flow.transition(team["dana"], name, 1, "submit", reason="r", password=PW)
        results: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def approve(who: str) -> None:
            barrier.wait()
            try:
                results[who] = flow.transition(team[who], name, 1, "approve", reason="go",
                                               password=PW)[0].state
            except KnownError as err:  # noqa: PERF203
                results[who] = err

        threads = [threading.Thread(target=approve, args=(w,)) for w in ("max", "mia")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        outcomes = sorted(results.values(), key=str)
        assert outcomes.count("approved") == 1, outcomes
        loser = next(o for o in outcomes if o != "approved")
        assert isinstance(loser, VersionChanged) and "approved meanwhile" in loser.message
    assert console.sql("SELECT count(*) FROM signature WHERE meaning = 'approved'") == [(rounds,)]


def test_policy_exceptions_need_a_manager_a_password_and_an_expiry(console, kit, team, hasher,
                                                                   model_file) -> None:
    from core.services.workflow import ExceptionService

    exceptions = ExceptionService(console.store, AuthService(console.store, hasher))
    n = _version(kit, team, model_file)
    soon = date.today() + timedelta(days=10)
    with pytest.raises(PermissionDenied):
        exceptions.grant(team["victor"], "Cards PD", n, until=soon, reason="r", password=PW)
    for until, message in ((date.today(), "from tomorrow"),
                           (date.today() + timedelta(days=400), "at most a year")):
        with pytest.raises(InvalidInput, match=message):
            exceptions.grant(team["max"], "Cards PD", n, until=until, reason="r", password=PW)
    with pytest.raises(AuthenticationFailed):
        exceptions.grant(team["max"], "Cards PD", n, until=soon, reason="r", password="nope")
    granted, _ = exceptions.grant(team["max"], "Cards PD", n, until=soon,
                                  reason="Regulatory deadline; validation booked", password=PW)
    assert not granted.expired
    later = exceptions.exceptions(team["cora"], today=soon + timedelta(days=1))
    assert [(e.id, e.expired) for e in later] == [(granted.id, True)]
    assert json.loads(console.events("policy.exception_granted")[-1].new_values)[
        "expires_on"] == soon.isoformat()
    with pytest.raises(Exception, match="written once"):
        console.sql("UPDATE policy_exception SET expires_on = '2099-01-01'")
    # Once the version is decided the exception has ended: no longer flagged as expired.
    kit["flow"].transition(team["dana"], "Cards PD", n, "submit", reason="r", password=PW)
    kit["flow"].transition(team["max"], "Cards PD", n, "reject", reason="r", password=PW)
    [ended] = exceptions.exceptions(team["cora"], today=soon + timedelta(days=1))
    assert (ended.version_state, ended.expired) == ("rejected", False)
