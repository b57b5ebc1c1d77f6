"""charter-agent end to end: the real agent in its own process, spoken to over loopback HTTP.

Each test checks what a caller or an auditor would notice: the answers are the model's, every
request (answered or refused) is in the hash-chained log before it is answered, routing follows
the approved policy, and the agent survives SIGKILL, a full disk, SIGHUP and SIGTERM without
losing an answered request.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentkit
import numpy as np
import pytest
from agentkit import (
    FEATURES,
    ROOT,
    Agent,
    Load,
    Reply,
    assert_verifies,
    by_request,
    call,
    check_logged,
    check_predictions,
    limit_file_size,
    log_entries,
    make_release,
    metric,
    point,
    policy_text,
    post_without_length,
    records,
    running_agent,
    single_release,
    verify,
    wait_for,
)

from core.serving.routing import RoutingPolicy

models = agentkit.models  # the module-scoped fixture: three trained versions


# ---- /predict ------------------------------------------------------------------------------------


def test_predict_answers_like_the_model_and_logs_every_request(tmp_path: Path,
                                                               models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models), tmp_path / "log"
    sent: list[tuple[Reply, list[dict]]] = []
    with running_agent(release, log, workdir=tmp_path) as agent:
        one = records(1, seed=1)
        r = agent.predict(one, headers={"X-Request-Id": "single.req-1",
                                        "X-Charter-Caller": "loans-app"})
        assert r.status == 200 and r.request_id == "single.req-1"
        assert r.json["request_id"] == "single.req-1"
        assert [p["version"] for p in r.json["predictions"]] == ["pd@1"]
        check_predictions(r.json["predictions"], one, models)
        sent.append((r, one))

        batch = records(40, seed=2)
        r = agent.predict(batch)
        generated = r.request_id
        assert r.status == 200 and uuid.UUID(generated).version == 4
        assert r.json["request_id"] == generated
        proba = models["pd@1"].proba(batch)
        got = [[p["probabilities"]["0"], p["probabilities"]["1"]] for p in r.json["predictions"]]
        assert np.allclose(got, proba)
        assert [p["label"] for p in r.json["predictions"]] == list(proba.argmax(axis=1))
        sent.append((r, batch))

        # A bare list of records and a single bare record are accepted too.
        r = agent.call("POST", "/predict", batch[:3])
        check_predictions(r.json["predictions"], batch[:3], models)
        sent.append((r, batch[:3]))
        r = agent.call("POST", "/predict", batch[5])
        check_predictions(r.json["predictions"], batch[5:6], models)
        sent.append((r, batch[5:6]))
        assert len({reply.request_id for reply, _ in sent}) == len(sent)
        # An id that is not 1-64 of [A-Za-z0-9._-] is replaced, not echoed.
        r = agent.predict(batch[:1], headers={"X-Request-Id": "no spaces/allowed"})
        assert r.status == 200 and uuid.UUID(r.request_id).version == 4
        sent.append((r, batch[:1]))

        bad = dict(one[0])
        del bad["f4"]
        refused = agent.predict([bad], headers={"X-Request-Id": "refused-1"})
        assert refused.status == 422 and refused.request_id == "refused-1"
        assert refused.json["field"] == "f4" and refused.json["request_id"] == "refused-1"
        metrics = agent.call("GET", "/metrics")
        assert metrics.status == 200
        assert metric(metrics.text, "charter_requests_total", version="pd@1",
                      status="200") == len(sent)
        assert metric(metrics.text, "charter_log_appends_total") >= len(sent) + 1
        assert agent.stop() == 0

    entries = log_entries(log)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    logged = by_request(entries)
    assert set(logged) == {reply.request_id for reply, _ in sent} | {"refused-1"}
    for reply, recs in sent:
        entry = logged[reply.request_id]
        check_logged(entry, reply, recs)
        assert entry["endpoint"] == "/predict"
        assert entry["artifact_sha256"] == {"pd@1": models["pd@1"].sha256}
    assert logged["single.req-1"]["caller"] == "loans-app"
    assert logged[generated]["caller"].startswith("127.0.0.1")
    assert logged["refused-1"]["status"] == 422 and "f4" in logged["refused-1"]["error"]
    assert logged["refused-1"]["outputs"] in ([], None)
    assert_verifies(log)
    # ...and `verify` is not a rubber stamp: one changed byte in an entry fails it.
    (segment,) = sorted(log.glob("predlog-*.jsonl"))
    segment.write_bytes(segment.read_bytes().replace(b'"status":422', b'"status":200', 1))
    assert verify(log).returncode == 1


def test_an_unservable_release_or_bad_usage_stops_the_start(tmp_path: Path,
                                                            models: dict) -> None:
    release = single_release(tmp_path / "rel", models)
    (release / "policy.json").write_text(policy_text([models["pd@1"]], "pd@1") + " ")
    ready = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    agent = [sys.executable, "-m", "core.serving.agent"]
    done = subprocess.run([*agent, "serve", "--release", str(release), "--log-dir",
                           str(tmp_path / "log"), "--port", "0", "--ready-file", str(ready)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "policy" in done.stderr
    assert not ready.exists()
    done = subprocess.run([*agent, "serve", "--log-dir", str(tmp_path / "log")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--release" in done.stderr


# ---- Open Inference Protocol v2 -----------------------------------------------------------------


def test_open_inference_protocol_v2(tmp_path: Path, models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models, name="r-v2"), tmp_path / "log"
    recs = records(7, seed=3)
    proba = models["pd@1"].proba(recs)
    with running_agent(release, log, workdir=tmp_path) as agent:
        r = agent.call("GET", "/v2/health/live")
        assert (r.status, r.json) == (200, {"live": True}) and r.request_id
        r = agent.call("GET", "/v2/health/ready")
        assert (r.status, r.json) == (200, {"ready": True, "release": "r-v2"})
        assert agent.ready["release"] == "r-v2"

        meta = agent.call("GET", "/v2/models/pd")
        assert meta.status == 200
        assert meta.json["name"] == "pd" and meta.json["versions"] == ["pd@1"]
        assert meta.json["platform"] == "charter-agent"
        assert [i["name"] for i in meta.json["inputs"]] == list(FEATURES)
        assert all(i["datatype"] == "FP64" and i["shape"] == [-1] for i in meta.json["inputs"])
        assert {"label", "probabilities"} <= {o["name"] for o in meta.json["outputs"]}
        r = agent.call("GET", "/v2/models/pd/ready")
        assert (r.status, r.json) == (200, {"name": "pd", "ready": True})
        assert agent.call("GET", "/v2/models/other/ready").status == 404
        assert agent.call("GET", "/v2/models/other").status == 404

        per_feature = {"inputs": [{"name": f, "shape": [len(recs)], "datatype": "FP64",
                                   "data": [rec[f] for rec in recs]} for f in FEATURES]}
        one_tensor = {"inputs": [{"name": "x", "shape": [len(recs), len(FEATURES)],
                                  "datatype": "FP64",
                                  "data": [rec[f] for rec in recs for f in FEATURES]}]}
        nested = {"inputs": [{"name": "x", "shape": [len(recs), len(FEATURES)],
                              "datatype": "FP64",
                              "data": [[rec[f] for f in FEATURES] for rec in recs]}]}
        for n, body in enumerate((per_feature, one_tensor, nested)):
            rid = f"v2-{n}"
            r = agent.call("POST", "/v2/models/pd/infer", body, headers={"X-Request-Id": rid})
            assert r.status == 200, r.text
            assert r.request_id == rid
            assert (r.json["model_name"], r.json["model_version"], r.json["id"]) == \
                ("pd", "pd@1", rid)
            out = {t["name"]: t for t in r.json["outputs"]}
            assert [int(x) for x in out["label"]["data"]] == list(proba.argmax(axis=1))
            assert out["label"]["shape"] == [len(recs)]
            assert out["probabilities"]["shape"] == [len(recs), 2]
            assert np.allclose(np.array(out["probabilities"]["data"]).reshape(len(recs), 2),
                               proba)

        r = agent.call("POST", "/v2/models/other/infer", one_tensor,
                       headers={"X-Request-Id": "v2-unknown"})
        assert r.status == 404 and r.request_id == "v2-unknown"
        wrong = {"inputs": [{"name": "x", "shape": [len(recs), 19], "datatype": "FP64",
                             "data": [rec[f] for rec in recs for f in FEATURES[:19]]}]}
        r = agent.call("POST", "/v2/models/pd/infer", wrong, headers={"X-Request-Id": "v2-bad"})
        assert r.status == 422 and r.json["field"] == "x"
        assert agent.stop() == 0

    logged = by_request(log_entries(log))
    for n in range(3):
        entry = logged[f"v2-{n}"]
        assert entry["status"] == 200 and entry["endpoint"] == "/v2/models/pd/infer"
        assert entry["inputs"] == recs and entry["versions"] == ["pd@1"]
        assert np.allclose([[o["probabilities"]["0"], o["probabilities"]["1"]]
                            for o in entry["outputs"]], proba)
    assert logged["v2-unknown"]["status"] == 404 and logged["v2-bad"]["status"] == 422
    assert_verifies(log)


# ---- refusals ------------------------------------------------------------------------------------

MAX_BODY, MAX_ROWS = 16_384, 20


def _bad_cases(good: dict[str, float]) -> list[tuple[str, int, str | None, Any]]:
    """(name, expected status, expected field, how to send it) for each refusal."""
    missing = {k: v for k, v in good.items() if k != "f7"}
    extra = {**good, "customer": 12}
    text = {**good, "f3": "forty"}
    nan = json.dumps({"records": [good]}).replace(json.dumps(good["f5"]), "NaN", 1)
    assert "NaN" in nan
    big = json.dumps({"records": records(60, seed=9)}).encode()
    assert len(big) > MAX_BODY
    many = {"records": records(MAX_ROWS + 1, seed=10)}
    assert len(json.dumps(many)) < MAX_BODY
    return [
        ("missing", 422, "f7", ("POST", "/predict", {"records": [good, missing]}, None)),
        ("extra", 422, "customer", ("POST", "/predict", {"records": [extra]}, None)),
        ("string", 422, "f3", ("POST", "/predict", {"records": [text]}, None)),
        ("nan", 400, None, ("POST", "/predict", None, nan.encode())),
        ("malformed", 400, None, ("POST", "/predict", None, b'{"records": [{"f0": 1.0,')),
        ("body-too-big", 413, None, ("POST", "/predict", None, big)),
        ("too-many-rows", 413, None, ("POST", "/predict", many, None)),
        ("no-length", 411, None, "no-length"),
        ("unknown-path", 404, None, ("GET", "/nothing/here", None, None)),
        ("wrong-method", 405, None, ("GET", "/predict", None, None)),
        ("wrong-method-v2", 405, None, ("DELETE", "/v2/health/live", None, None)),
    ]


def test_bad_requests_are_refused_with_their_status_and_logged(tmp_path: Path,
                                                               models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models), tmp_path / "log"
    good = records(1, seed=4)[0]
    with running_agent(release, log, "--max-body-bytes", str(MAX_BODY), "--max-rows",
                       str(MAX_ROWS), workdir=tmp_path) as agent:
        for name, status, field, how in _bad_cases(good):
            rid = f"bad-{name}"
            if how == "no-length":
                r = post_without_length(agent.port, "/predict", headers={"X-Request-Id": rid})
            else:
                method, path, body, raw = how
                r = agent.call(method, path, body, raw=raw, headers={"X-Request-Id": rid})
                assert r.status == status, (name, r.status, r.text)
            assert r.json["error"], name
            assert r.json["field"] == field, (name, r.json)
            if field is not None:
                assert repr(field) in r.json["error"] or field in r.json["error"]
            assert r.json["request_id"] == rid and r.request_id == rid, (name, r.json)

        # Still healthy: a good single and a good batch at the row limit answer correctly.
        assert agent.call("GET", "/v2/health/ready").status == 200
        batch = records(MAX_ROWS, seed=5)
        for recs in ([good], batch):
            r = agent.predict(recs)
            assert r.status == 200, r.text
            check_predictions(r.json["predictions"], recs, models)
        assert agent.stop() == 0

    logged = by_request(log_entries(log))
    for name, status, _, _ in _bad_cases(good):
        entry = logged.get(f"bad-{name}")
        assert entry is not None, f"the refused request {name!r} is not in the log"
        assert entry["status"] == status and entry["error"], (name, entry)
        assert entry["outputs"] in ([], None)
    assert_verifies(log)


# ---- routing -------------------------------------------------------------------------------------

ROUTING_RULES = [
    {"name": "canary", "when": "f2 > 100",
     "target": [{"version": "pd@1", "weight": 50}, {"version": "pd@2", "weight": 50}],
     "sticky_key": "f1", "shadows": []},
    {"name": "positive-f0", "when": "f0 > 0", "target": "pd@1"},
]


@pytest.fixture(scope="module")
def routing(tmp_path_factory: pytest.TempPathFactory,
            models: dict) -> Iterator[tuple[Agent, Path, RoutingPolicy]]:
    """One agent for the routing tests: f0 > 0 -> pd@1, else pd@2 (default); f2 > 100 is a
    50/50 canary sticky by f1; pd@3 shadows every route but the canary."""
    tmp = tmp_path_factory.mktemp("routing")
    versions = [models["pd@1"], models["pd@2"], models["pd@3"]]
    text = policy_text(versions, "pd@2", rules=ROUTING_RULES, shadows=["pd@3"])
    release = make_release(tmp / "rel", versions, text, name="routing")
    with running_agent(release, tmp / "log", workdir=tmp) as agent:
        yield agent, tmp / "log", RoutingPolicy.from_json(text)


def test_a_rule_routes_each_record_and_the_log_names_the_rule(routing: tuple,
                                                              models: dict) -> None:
    agent, log, _ = routing
    recs = records(30, seed=6)
    assert {r["f0"] > 0 for r in recs} == {True, False}
    r = agent.predict(recs, headers={"X-Request-Id": "route-1"})
    assert r.status == 200, r.text
    preds = r.json["predictions"]
    assert [p["version"] for p in preds] == ["pd@1" if rec["f0"] > 0 else "pd@2"
                                             for rec in recs]
    check_predictions(preds, recs, models)
    entry = by_request(log_entries(log))["route-1"]
    check_logged(entry, r, recs)
    assert [x["rule"] for x in entry["route"]] == ["positive-f0" if rec["f0"] > 0 else "default"
                                                   for rec in recs]
    assert entry["artifact_sha256"] == {"pd@1": models["pd@1"].sha256,
                                        "pd@2": models["pd@2"].sha256}


def test_a_version_asked_by_number_bypasses_the_routing(routing: tuple, models: dict) -> None:
    """/v2/models/{model}/versions/{n}/infer: the parity check's way to reach one version,
    even one the policy only shadows; logged like any request, with the route "pinned"."""
    agent, log, _ = routing
    recs = records(9, seed=8)
    body = {"inputs": [{"name": "x", "shape": [len(recs), len(FEATURES)], "datatype": "FP64",
                        "data": [rec[f] for rec in recs for f in FEATURES]}]}
    r = agent.call("POST", "/v2/models/pd/versions/3/infer", body,
                   headers={"X-Request-Id": "pinned-1", "X-Charter-Caller": "charter-parity"})
    assert r.status == 200, r.text
    assert r.json["model_version"] == "pd@3"
    (_, proba) = r.json["outputs"]
    assert np.allclose(np.asarray(proba["data"]).reshape(len(recs), 2),
                       models["pd@3"].proba(recs), atol=0, rtol=0)
    entry = by_request(log_entries(log))["pinned-1"]
    assert entry["caller"] == "charter-parity" and entry["versions"] == ["pd@3"]
    assert {x["rule"] for x in entry["route"]} == {"pinned"}
    missing = agent.call("POST", "/v2/models/pd/versions/9/infer", body,
                         headers={"X-Request-Id": "pinned-2"})
    assert missing.status == 404 and "pd@9 is not served" in missing.json["error"]
    assert by_request(log_entries(log))["pinned-2"]["status"] == 404


def test_a_sticky_split_keeps_each_key_on_one_version(routing: tuple, models: dict) -> None:
    agent, log, policy = routing
    seen: dict[int, set[str]] = {}
    rids = []
    for rnd in range(3):
        for key in range(1, 25):
            rec = records(1, seed=100 * rnd + key, f1=key, f2=500.0)[0]
            rid = f"split-{rnd}-{key}"
            rids.append(rid)
            r = agent.predict([rec], headers={"X-Request-Id": rid})
            assert r.status == 200, r.text
            (pred,) = r.json["predictions"]
            check_predictions([pred], [rec], models)
            assert pred["version"] == policy.route(rec, rid).live
            seen.setdefault(key, set()).add(pred["version"])
    assert all(len(v) == 1 for v in seen.values()), seen
    assert set().union(*seen.values()) == {"pd@1", "pd@2"}
    logged = by_request(log_entries(log))
    buckets: dict[str, set[int]] = {}
    for rid in rids:
        (route,) = logged[rid]["route"]
        assert route["rule"] == "canary" and route["sticky"] == "key"
        buckets.setdefault(rid.rsplit("-", 1)[1], set()).add(route["bucket"])
    assert all(len(b) == 1 for b in buckets.values())
    # The canary rule lists no shadows: none is logged for these requests.
    assert not [e for e in log_entries(log) if e.get("shadow_of") in set(rids)]


def test_a_shadow_is_logged_and_never_answered(routing: tuple, models: dict) -> None:
    agent, log, _ = routing
    recs = records(12, seed=7)
    r = agent.predict(recs, headers={"X-Request-Id": "shadowed-1"})
    assert r.status == 200
    assert "pd@3" not in r.text
    assert {p["version"] for p in r.json["predictions"]} == {"pd@1", "pd@2"}
    check_predictions(r.json["predictions"], recs, models)

    def shadow_entries() -> list[dict]:
        return [e for e in log_entries(log) if e.get("shadow_of") == "shadowed-1"]

    (shadow,) = wait_for(shadow_entries, 10, "the shadow's log entry")
    live = by_request(log_entries(log))["shadowed-1"]
    assert shadow["seq"] > live["seq"]
    assert "pd@3" in (shadow.get("version"), *(shadow.get("versions") or ()))
    assert "pd@3" not in live["versions"]
    got = [[o["probabilities"]["0"], o["probabilities"]["1"]] for o in shadow["outputs"]]
    assert np.allclose(got, models["pd@3"].proba(recs))
    # ...and differs from what the caller got, so it is not the live answer logged twice.
    assert not np.allclose(got, [[p["probabilities"]["0"], p["probabilities"]["1"]]
                                 for p in r.json["predictions"]])


# ---- crashes and signals -------------------------------------------------------------------------


def test_sigkill_under_load_loses_no_answered_request(tmp_path: Path, models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models), tmp_path / "log"
    with running_agent(release, log, workdir=tmp_path) as agent:
        load = Load(agent.port, threads=8)
        try:
            started = time.monotonic()
            wait_for(lambda: load.count() >= 300 and time.monotonic() - started >= 2, 60,
                     "300 answers under load")
            agent.kill()
        finally:
            load.join()
    assert load.failures == []
    logged = by_request(log_entries(log))
    lost = [rid for rid in load.answered if rid not in logged]
    assert lost == [], f"{len(lost)} answered request(s) missing from the log"
    assert all(logged[rid]["status"] == 200 for rid in load.answered)
    assert_verifies(log)
    before = log_entries(log)

    with running_agent(release, log, workdir=tmp_path) as agent:
        r = agent.predict(records(1, seed=8), headers={"X-Request-Id": "after-restart"})
        assert r.status == 200
        assert agent.stop() == 0
    after = log_entries(log)
    assert after[:len(before)] == before
    assert by_request(after)["after-restart"]["seq"] > before[-1]["seq"]
    assert_verifies(log)


def test_a_log_that_cannot_be_written_turns_every_answer_into_503(tmp_path: Path,
                                                                  models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models), tmp_path / "log"
    answered, statuses = [], []
    with running_agent(release, log, workdir=tmp_path,
                       preexec_fn=limit_file_size(24_000)) as agent:
        conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30)
        try:
            for i in range(2000):
                r = call(agent.port, "POST", "/predict", {"records": records(1, seed=i)},
                         headers={"X-Request-Id": f"fill-{i}"}, conn=conn)
                statuses.append(r.status)
                if r.status == 200:
                    answered.append(r.request_id)
                else:
                    break
        finally:
            conn.close()
        assert statuses[-1] == 503, statuses[-5:]
        assert len(answered) >= 3 and set(statuses[:-1]) == {200}
        assert "log" in agent.call("POST", "/predict", records(1)).json["error"]
        after = [agent.predict(records(1, seed=5000 + i)).status for i in range(10)]
        after.append(agent.call("POST", "/v2/models/pd/infer", {"inputs": [
            {"name": "x", "shape": [1, 20], "datatype": "FP64", "data": [0.0] * 20}]}).status)
        assert after == [503] * len(after)
        ready = agent.call("GET", "/v2/health/ready")
        assert ready.status == 503 and ready.json["ready"] is False
        agent.stop()

    logged = by_request(log_entries(log))
    assert [rid for rid in answered if logged.get(rid, {}).get("status") != 200] == []

    # Without the limit the agent reopens the log (cutting a torn tail), serves, and verifies.
    with running_agent(release, log, workdir=tmp_path) as agent:
        r = agent.predict(records(1), headers={"X-Request-Id": "recovered"})
        assert r.status == 200
        assert agent.stop() == 0
    assert by_request(log_entries(log))["recovered"]["status"] == 200
    assert_verifies(log)


def test_sighup_switches_release_without_failing_a_request(tmp_path: Path,
                                                           models: dict) -> None:
    v1, v2 = models["pd@1"], models["pd@2"]
    make_release(tmp_path / "r1", [v1, v2], policy_text([v1, v2], "pd@1"), name="r1")
    make_release(tmp_path / "r2", [v1, v2], policy_text([v1, v2], "pd@2"), name="r2")
    # r3 would route to pd@1 again, but its policy was edited after approval.
    make_release(tmp_path / "r3", [v1, v2], policy_text([v1, v2], "pd@2"), name="r3")
    (tmp_path / "r3" / "policy.json").write_text(policy_text([v1, v2], "pd@1"))
    current = tmp_path / "current"
    os.symlink(tmp_path / "r1", current)
    probe = records(1, seed=11)

    def served() -> tuple[str, str]:
        r = call(agent.port, "POST", "/predict", {"records": probe})
        assert r.status == 200, r.text
        check_predictions(r.json["predictions"], probe, models)
        ready = call(agent.port, "GET", "/v2/health/ready")
        assert ready.status == 200
        return r.json["predictions"][0]["version"], ready.json["release"]

    with running_agent(current, tmp_path / "log", workdir=tmp_path) as agent:
        assert served() == ("pd@1", "r1")
        load = Load(agent.port, threads=2, prefix="hup")
        try:
            wait_for(lambda: load.count() >= 20, 30, "answers before the reload")
            point(current, tmp_path / "r2")
            agent.send(signal.SIGHUP)
            wait_for(lambda: served() == ("pd@2", "r2"), 30, "the new release to serve")
            n = load.count()
            wait_for(lambda: load.count() >= n + 20, 30, "answers after the reload")

            point(current, tmp_path / "r3")
            agent.send(signal.SIGHUP)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:  # nothing to wait for: r3 must never serve
                assert served() == ("pd@2", "r2")
        finally:
            load.join()
        assert agent.proc.poll() is None
        assert agent.stop() == 0
    assert load.failures == []
    per_thread: dict[str, list[tuple[float, str]]] = {}
    for rid, (sent, _, version) in load.answered.items():
        per_thread.setdefault(rid.split("-")[1], []).append((sent, version))
    for seq in per_thread.values():
        versions = [v for _, v in sorted(seq)]
        switch = versions.index("pd@2")
        assert switch > 0 and set(versions[:switch]) == {"pd@1"}
        assert set(versions[switch:]) == {"pd@2"}, "a request went back to the old release"
    assert_verifies(tmp_path / "log")


def test_sigterm_finishes_requests_in_flight_and_exits_0(tmp_path: Path, models: dict) -> None:
    release, log = single_release(tmp_path / "rel", models), tmp_path / "log"
    with running_agent(release, log, workdir=tmp_path) as agent:
        load = Load(agent.port, threads=6, rows=200, prefix="term")
        try:
            wait_for(lambda: load.count() >= 60, 60, "answers under load")
            signalled = time.monotonic()
            agent.send(signal.SIGTERM)
            assert agent.proc.wait(30) == 0, agent.stderr()
        finally:
            load.join()
    assert load.failures == []
    logged = by_request(log_entries(log))
    assert [rid for rid in load.answered if logged.get(rid, {}).get("status") != 200] == []
    in_flight = [rid for rid, (sent, got, _) in load.answered.items()
                 if sent < signalled < got]
    assert in_flight, "no request was in flight at SIGTERM; the test proved nothing"
    assert_verifies(log)
