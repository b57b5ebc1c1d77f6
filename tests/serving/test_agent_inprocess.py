"""The agent's request handling in process, for cases a live server cannot easily provoke: a
model whose output is not a finite number is answered 500 and logged as refused, never
logged with a value JSON cannot hold."""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings

import numpy as np
import pandas as pd

from core.serving.agent import Agent
from core.serving.http import Request
from core.serving.predlog import read_from
from core.serving.predlog_verify import verify
from core.serving.release import write_release


def test_a_non_finite_model_output_is_refused_and_logged(tmp_path) -> None:  # noqa: ANN001
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
    model = LinearRegression().fit(x, [0.0, 1.0, 2.0])
    model.coef_ = np.array([1e300, 0.0])  # a = 1e10 now overflows to infinity
    sio.dump(model, tmp_path / "m.skops")
    sha = hashlib.sha256((tmp_path / "m.skops").read_bytes()).hexdigest()
    policy = json.dumps({"format": "charter.routing/1", "policy_id": "y", "version": 1,
                         "versions": [{"name": "y@1", "sha256": sha}], "rules": [],
                         "default": "y@1"})
    write_release(tmp_path / "rel", [{
        "ref": "y@1", "artifact": tmp_path / "m.skops", "task": "regression", "classes": [],
        "input_schema": [{"name": "a", "kind": "number"}, {"name": "b", "kind": "number"}],
        "trusted_types": sio.get_untrusted_types(file=tmp_path / "m.skops")}],
        policy, release="r", created_by="t")

    async def run() -> list:
        agent = Agent(tmp_path / "rel", tmp_path / "log")
        answers = []
        for rid, a in (("bad-1", 1e10), ("ok-1", 1.0)):
            body = json.dumps({"records": [{"a": a, "b": 1.0}]}).encode()
            resp = await agent.handle(Request("POST", "/predict", {"x-request-id": rid},
                                              body, "test"))
            answers.append((resp.status, json.loads(resp.body)))
        agent.log.close()
        return answers

    with warnings.catch_warnings():  # numpy's overflow warning is the point of the test
        warnings.simplefilter("ignore", RuntimeWarning)
        (bad_status, bad), (ok_status, ok) = asyncio.run(run())
    assert bad_status == 500 and "not a finite number" in bad["error"]
    assert ok_status == 200 and ok["predictions"][0]["version"] == "y@1"
    entries = list(read_from(tmp_path / "log", 1))
    assert [(e["request_id"], e["status"], e["outputs"]) for e in entries][0] == (
        "bad-1", 500, [])
    assert entries[1]["request_id"] == "ok-1" and entries[1]["status"] == 200
    assert verify(tmp_path / "log").ok
