"""Helpers for the agent's end-to-end tests: trained models, release folders, a running
``charter-agent`` subprocess, and small HTTP calls over loopback.

The agent runs exactly as on a server: ``python -m core.serving.agent serve`` in its own
process, found through the ready file it writes once it listens.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.serving.predlog import read_from
from core.serving.release import write_release

ROOT = Path(__file__).resolve().parents[2]
FEATURES = tuple(f"f{i}" for i in range(20))
SCHEMA = [{"name": name, "kind": "number"} for name in FEATURES]
READY_TIMEOUT = 60.0


# ---- models and releases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One trained model version: its ref, skops file, the fitted model and its hash."""

    ref: str
    path: Path
    model: Any
    sha256: str

    def spec(self) -> dict[str, Any]:
        """This version as :func:`write_release` takes it."""
        import skops.io as sio

        return {"ref": self.ref, "artifact": self.path, "task": "binary", "classes": [0, 1],
                "input_schema": SCHEMA, "trusted_types": sio.get_untrusted_types(file=self.path)}

    def proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame([[r[n] for n in FEATURES] for r in records], columns=FEATURES)
        return self.model.predict_proba(frame)


def train_models(folder: Path) -> dict[str, Version]:
    """Three binary classifiers on the same 20 numeric features, far enough apart that the
    version that answered shows in the probabilities: ``pd@1`` scaler + logistic regression,
    ``pd@2`` a shallow tree (the canary), ``pd@3`` a strongly regularised regression (the
    shadow)."""
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    rnd = np.random.default_rng(7)
    x = pd.DataFrame(rnd.normal(size=(600, len(FEATURES))), columns=FEATURES)
    y = ((x["f0"] + 0.6 * x["f1"] - 0.4 * x["f2"] + rnd.normal(0, 0.5, len(x))) > 0).astype(int)
    fitted = {
        "pd@1": make_pipeline(StandardScaler(), LogisticRegression(C=1.0)),
        "pd@2": make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3,
                                                                       random_state=0)),
        "pd@3": make_pipeline(StandardScaler(), LogisticRegression(C=0.002)),
    }
    out = {}
    for ref, model in fitted.items():
        model.fit(x, y)
        path = folder / f"{ref.replace('@', '-')}.skops"
        sio.dump(model, path)
        out[ref] = Version(ref, path, model, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Version]:
    return train_models(tmp_path_factory.mktemp("models"))


def policy_text(versions: Sequence[Version], default: str, *, rules: Sequence[Mapping] = (),
                **extra: Any) -> str:
    """A charter.routing/1 document over ``versions``. The routing module wants at least one
    rule; without ``rules`` a rule that never matches stands in."""
    doc = {"format": "charter.routing/1", "policy_id": "pd", "version": 1,
           "versions": [{"name": v.ref, "sha256": v.sha256} for v in versions],
           "rules": list(rules) or [{"name": "never", "when": "false", "target": default}],
           "default": default, **extra}
    return json.dumps(doc)


def make_release(folder: Path, versions: Sequence[Version], policy: str, *,
                 name: str) -> Path:
    write_release(folder, [v.spec() for v in versions], policy, release=name,
                  created_by="tests")
    return folder


def records(n: int, seed: int = 0, **fixed: Any) -> list[dict[str, Any]]:
    """``n`` records of the 20 features (rounded to keep bodies small), ``fixed`` overriding."""
    rnd = np.random.default_rng(seed)
    return [{**{name: round(float(v), 4) for name, v in zip(FEATURES, row, strict=True)},
             **fixed} for row in rnd.normal(size=(n, len(FEATURES)))]


# ---- the agent ----------------------------------------------------------------------------------


class AgentFailed(Exception):
    pass


class Agent:
    """A ``charter-agent serve`` subprocess. Start with :func:`running_agent`."""

    _starts = 0

    def __init__(self, release: Path, log_dir: Path, args: Sequence[str],
                 preexec_fn: Callable[[], None] | None, workdir: Path) -> None:
        Agent._starts += 1
        self.release, self.log_dir, self.workdir = release, log_dir, workdir
        self.ready_file = workdir / f"ready-{Agent._starts}.json"
        self.stderr_path = workdir / f"agent-{Agent._starts}.stderr"
        cmd = [sys.executable, "-m", "core.serving.agent", "serve", "--release", str(release),
               "--log-dir", str(log_dir), "--host", "127.0.0.1", "--port", "0",
               "--ready-file", str(self.ready_file), *args]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, preexec_fn=preexec_fn,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.ready: dict[str, Any] = {}
        self.port = 0

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AgentFailed(f"the agent exited with {self.proc.returncode} before it was "
                                  f"ready:\n{self.stderr()}")
            try:
                self.ready = json.loads(self.ready_file.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
                continue
            self.port = int(self.ready["port"])
            assert self.ready["pid"] == self.proc.pid
            return
        raise AgentFailed(f"no ready file after {timeout:.0f} s:\n{self.stderr()}")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
        return call(self.port, method, path, body, **kw)

    def predict(self, recs: Any, **kw: Any) -> Reply:
        return call(self.port, "POST", "/predict", {"records": recs}, **kw)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AgentFailed(f"the agent ignored SIGTERM for {timeout:.0f} s:\n"
                                  f"{self.stderr()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextmanager
def running_agent(release: Path, log_dir: Path, *args: str, workdir: Path,
                  preexec_fn: Callable[[], None] | None = None) -> Iterator[Agent]:
    """Start the agent, wait for its ready file, and always stop it (SIGTERM, then SIGKILL)."""
    agent = Agent(release, log_dir, args, preexec_fn, workdir)
    try:
        agent.wait_ready()
        yield agent
    finally:
        if agent.proc.poll() is None:
            agent.proc.send_signal(signal.SIGTERM)
            try:
                agent.proc.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()


def verify(log_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.serving.agent", "verify", str(log_dir)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)


def log_entries(log_dir: Path) -> list[dict[str, Any]]:
    return list(read_from(log_dir, 1))


def by_request(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The live (non-shadow) entry of each request id; a request id logged twice as live is a
    failure."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.get("shadow_of") is None:
            assert e["request_id"] not in out, f"request {e['request_id']} logged twice"
            out[e["request_id"]] = dict(e)
    return out


# ---- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


def read_reply(conn: http.client.HTTPConnection) -> Reply:
    resp = conn.getresponse()
    data = resp.read()
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                 data.decode("utf-8", errors="replace"))


def call(port: int, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         headers: Mapping[str, str] | None = None, timeout: float = 30.0,
         conn: http.client.HTTPConnection | None = None) -> Reply:
    """One request; ``body`` is sent as JSON, ``raw`` as is. A fresh connection unless
    ``conn`` is given (which is then left open for keep-alive)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = raw if raw is not None else (None if body is None
                                               else json.dumps(body).encode())
        hdrs = dict(headers or {})
        if payload is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=payload, headers=hdrs)
        return read_reply(conn)
    finally:
        if own:
            conn.close()


def post_without_length(port: int, path: str, *,
                        headers: Mapping[str, str] | None = None) -> Reply:
    """A POST with neither Content-Length nor Transfer-Encoding (http.client would add one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        return read_reply(conn)
    finally:
        conn.close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---- checks shared by the tests ----------------------------------------------------------------


def single_release(folder: Path, models: dict[str, Version], *, ref: str = "pd@1",
                   name: str = "r1") -> Path:
    v = models[ref]
    return make_release(folder, [v], policy_text([v], ref), name=name)


def check_predictions(preds: Sequence[Mapping[str, Any]], recs: Sequence[Mapping[str, Any]],
                      models: dict[str, Version]) -> None:
    """Each prediction is what the version it names computes for its record."""
    assert len(preds) == len(recs)
    for pred, rec in zip(preds, recs, strict=True):
        expected = models[pred["version"]].proba([rec])[0]
        got = [pred["probabilities"]["0"], pred["probabilities"]["1"]]
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-12), (pred, expected)
        assert pred["label"] == int(np.argmax(expected))


def check_logged(entry: Mapping[str, Any], reply: Reply, recs: Sequence[Mapping]) -> None:
    """The live log entry says what the caller was told."""
    assert entry["status"] == reply.status
    assert entry["inputs"] == list(recs)
    preds = reply.json["predictions"]
    assert entry["outputs"] == preds
    assert entry["versions"] == sorted({p["version"] for p in preds})
    assert entry["error"] is None


def assert_verifies(log_dir: Path) -> None:
    done = verify(log_dir)
    assert done.returncode == 0, done.stdout + done.stderr


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the Prometheus sample ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', key))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


class Load:
    """``threads`` clients sending /predict continuously on keep-alive connections, recording
    each answered request id (and when it was sent and answered)."""

    def __init__(self, port: int, threads: int, rows: int = 1, prefix: str = "load") -> None:
        self.port, self.rows, self.prefix = port, rows, prefix
        self.answered: dict[str, tuple[float, float, str]] = {}  # rid -> (sent, got, version)
        self.failures: list[str] = []  # non-200 answers
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, t: int) -> None:
        bodies = [json.dumps({"records": records(self.rows, seed=1000 * t + i)}).encode()
                  for i in range(20)]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i, rid = 0, "-"
        try:
            while not self.stop.is_set():
                rid = f"{self.prefix}-{t}-{i}"
                sent = time.monotonic()
                try:
                    conn.request("POST", "/predict", body=bodies[i % len(bodies)],
                                 headers={"X-Request-Id": rid,
                                          "Content-Type": "application/json"})
                    r = read_reply(conn)
                except (OSError, http.client.HTTPException):
                    return  # the agent is gone, or closed this connection
                i += 1
                with self.lock:
                    if r.status == 200 and r.request_id == rid:
                        self.answered[rid] = (sent, time.monotonic(),
                                              r.json["predictions"][0]["version"])
                    else:
                        self.failures.append(f"{rid}: {r.status} {r.text[:200]}")
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.failures.append(f"{rid}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def count(self) -> int:
        with self.lock:
            return len(self.answered)

    def join(self, timeout: float = 30) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"


def limit_file_size(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping every file the agent writes at ``limit`` bytes: a full disk
    for the log, with EFBIG instead of a SIGXFSZ death."""
    def apply() -> None:  # runs in the child between fork and exec
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def point(link: Path, target: Path) -> None:
    """Repoint the symlink ``link`` at ``target`` atomically, as a deployment would."""
    tmp = link.with_name(link.name + ".new")
    os.symlink(target, tmp)
    os.replace(tmp, link)
