"""Routing policies: drafted, approved by another manager with the password, deployed, and a
canary moved through its approved steps to 100% or aborted back to the stable version, on the
real server."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from deploykit import MODEL, PW, World

from core.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from core.services.deployments import DeploymentRefused


def document(w: World, version: int, *, candidate_weight: int = 5) -> str:
    from core.deploy.bundle import version_ref

    shas = {v.number: v.artifact_sha256 for v in w.svc.inventory.versions(w.ivan, MODEL)}
    v1, v2 = version_ref(MODEL, 1), version_ref(MODEL, 2)
    return json.dumps({
        "format": "charter.routing/1", "policy_id": "retail-pd", "version": version,
        "versions": [{"name": v1, "sha256": shas[1]}, {"name": v2, "sha256": shas[2]}],
        "sticky_key": "customer_id",
        "rules": [{"name": "canary", "when": "true",
                   "target": [{"version": v1, "weight": 100 - candidate_weight},
                              {"version": v2, "weight": candidate_weight}]}],
        "default": v1})


PLAN = {"rule": "canary", "stable": "retail-pd@1", "candidate": "retail-pd@2",
        "steps": [5, 50, 100]}


def run(w: World, release) -> object:  # noqa: ANN001
    done, _ = w.svc.deployments.run(w.ivan, release.release_id)
    return done


def split(w: World, n: int = 400) -> Counter:
    rows = w.holdout.iloc[:1][["income", "age", "utilisation"]].to_dict("records")
    counts: Counter = Counter()
    with w.session() as ssh:
        for key in range(n):
            status, body = w.http("POST", "/predict",
                                  {"records": [{**rows[0], "customer_id": f"c{key}"}]},
                                  ssh=ssh)
            assert status == 200, body
            counts[body["predictions"][0]["version"]] += 1
    return counts


def test_a_canary_moves_through_its_approved_steps_and_aborts(world: World) -> None:
    w = world
    policies = w.svc.policies
    record, _ = policies.draft(w.ivan, document(w, 1), canary=PLAN)
    assert record.state == "draft" and record.canary["steps"] == [5, 50, 100]
    with pytest.raises(DeploymentRefused, match="a manager must approve it"):
        w.svc.deployments.request_policy(w.ivan, "retail-pd", 1, w.server)
    with pytest.raises(PermissionDenied):
        policies.decide(w.ivan, "retail-pd", 1, approve=True, reason="x", password=PW)
    with pytest.raises(AuthenticationFailed):
        policies.decide(w.people["max"], "retail-pd", 1, approve=True, reason="x",
                        password="wrong")
    approved, _ = policies.decide(w.people["max"], "retail-pd", 1, approve=True,
                                  reason="canary agreed at the model risk committee",
                                  password=PW)
    assert approved.state == "approved" and approved.decided_by == "max"

    release, _ = w.svc.deployments.request_policy(w.ivan, "retail-pd", 1, w.server,
                                                  reason="start canary")
    done = run(w, release)
    assert done.state == "serving" and done.kind == "canary" and done.canary_step == 5
    assert set(done.parity) == {"retail-pd@1", "retail-pd@2"}  # both versions checked
    at5 = split(w)
    assert 0 < at5["retail-pd@2"] < 0.15 * sum(at5.values())
    # a customer keeps their version while the canary grows: sticky by customer_id
    moves = []
    for percent in (50, 100):
        release, _ = w.svc.deployments.request_canary(w.ivan, w.server, "advance",
                                                      reason=f"metrics fine, go {percent}")
        done = run(w, release)
        assert done.state == "serving" and done.canary_step == percent
        moves.append(split(w))
    assert 0.35 < moves[0]["retail-pd@2"] / 400 < 0.65
    assert moves[1] == Counter({"retail-pd@2": 400})
    with pytest.raises(DeploymentRefused, match="already at 100%"):
        w.svc.deployments.request_canary(w.ivan, w.server, "advance", reason="more")
    release, _ = w.svc.deployments.request_canary(w.ivan, w.server, "abort",
                                                  reason="complaints from collections")
    done = run(w, release)
    assert done.state == "serving" and done.canary_step == 0
    assert split(w, 50) == Counter({"retail-pd@1": 50})
    served = json.loads((w.root / "current" / "policy.json").read_text())
    assert served["rules"][0]["target"] == "retail-pd@1"


def test_bad_policies_are_refused_with_what_is_wrong(world: World) -> None:
    w = world
    good = json.loads(document(w, 7))
    for change, words in (
            ({"default": "retail-pd@3"}, "not approved|draft"),
            ({"versions": [{"name": "retail-pd@1", "sha256": "0" * 64},
                           good["versions"][1]]}, "names artifact"),
            ({"rules": [{"name": "x", "when": "age >", "target": "retail-pd@1"}]},
             "not valid"),
            ({"format": "other"}, "not valid")):
        doc = {**good, **change}
        if "retail-pd@3" in json.dumps(change):
            doc["versions"] = good["versions"] + [{"name": "retail-pd@3", "sha256": "1" * 64}]
        with pytest.raises(InvalidInput, match=words):
            w.svc.policies.draft(w.ivan, json.dumps(doc))
    with pytest.raises(InvalidInput, match="rising whole percentages"):
        w.svc.policies.draft(w.ivan, json.dumps(good), canary={**PLAN, "steps": [50, 5]})
    with pytest.raises(InvalidInput, match="must split between"):
        w.svc.policies.draft(w.ivan, json.dumps(good),
                             canary={**PLAN, "candidate": "retail-pd@1"})
    with pytest.raises(PermissionDenied):
        w.svc.policies.draft(w.people["max"], json.dumps(good))
    assert not [p for p in w.svc.policies.policies(w.ivan) if p.version == 7]
