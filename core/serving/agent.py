"""``charter-agent``: serves a release's model versions over HTTP, routes each request by the
approved policy, and logs every request durably before answering.

    charter-agent serve --release DIR --log-dir DIR [--host 127.0.0.1] [--port 8080]
    charter-agent verify LOGDIR

Endpoints: the Open Inference Protocol v2 REST API (``/v2/health/live``, ``/v2/health/ready``,
``/v2/models/{model}``, ``/v2/models/{model}/ready``, ``/v2/models/{model}/infer``, and
``/v2/models/{model}/versions/{n}/infer``, which asks version ``model@n`` itself, bypassing the
routing: the console's parity check after a deployment uses it), a plain ``POST /predict``
taking JSON records, and ``GET /metrics`` (Prometheus text).

Each record is routed on its own (:mod:`core.serving.routing`), checked against the schema of
the version it routes to (:mod:`core.serving.inputs`) and predicted with it. The request's log
entry (answered or refused) is appended to the prediction log (:mod:`core.serving.predlog`) and
the answer is sent only once the entry is on disk; if the log cannot be written the agent
answers 503 and serves nothing unlogged. Shadow versions predict after the answer is sent and
are logged as separate entries (``shadow_of``). SIGHUP reloads the release folder (a release
that fails to load leaves the current one serving); SIGTERM stops accepting, finishes the
requests in flight and closes the log. Nothing here imports the rest of ``core``.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.serving import AGENT_VERSION
from core.serving.http import HttpServer, Request, Response, json_response
from core.serving.inputs import (
    MAX_BODY_BYTES,
    MAX_ROWS,
    InputError,
    parse_json,
    records_from_predict,
    records_from_v2,
)
from core.serving.metrics import Metrics
from core.serving.predlog import LogUnavailable, PredictionLog
from core.serving.release import LoadedVersion, Release, ReleaseError, load_release
from core.serving.routing import PolicyError, Route, RoutingPolicy

_log = logging.getLogger("charter.agent")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_V2_TYPES = {"number": "FP64", "integer": "INT64", "boolean": "BOOL", "category": "BYTES",
             "text": "BYTES", "datetime": "BYTES"}


class Batcher:
    """Predicts, in one call, the rows of every request that reached this version in the same
    turn of the event loop: a model's per-call overhead (input validation, a DataFrame) is paid
    once for all of them instead of once per request."""

    def __init__(self, version: LoadedVersion) -> None:
        self.version = version
        self.pending: list[tuple[list[tuple[Any, ...]], asyncio.Future[list[dict[str, Any]]]]] = []

    def predict(self, rows: list[tuple[Any, ...]]) -> asyncio.Future[list[dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.pending:
            loop.call_soon(self._flush)
        self.pending.append((rows, fut))
        return fut

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            outputs = self.version.predict([row for rows, _ in batch for row in rows])
        except Exception as err:  # noqa: BLE001 - each waiting request reports it
            for _, fut in batch:
                fut.set_exception(err)
            return
        start = 0
        for rows, fut in batch:
            fut.set_result(outputs[start:start + len(rows)])
            start += len(rows)


@dataclass(frozen=True)
class Served:
    """One loaded release and its policy; requests keep the one they started with."""

    release: Release
    policy: RoutingPolicy
    models: dict[str, list[str]]  # model name -> version refs served
    batchers: dict[str, Batcher]
    # per version: the request fields only the policy reads (a sticky customer id, a field a
    # condition tests), dropped before that version's schema check
    routing_only: dict[str, frozenset[str]]

    @property
    def name(self) -> str:
        return self.release.name

    def inputs(self, ref: str, records: Sequence[Mapping[str, Any]],
               idx: Sequence[int]) -> list[Mapping[str, Any]]:
        drop = self.routing_only.get(ref)
        if not drop:
            return [records[i] for i in idx]
        return [{k: v for k, v in records[i].items() if k not in drop} for i in idx]


def load_served(folder: Path) -> Served:
    """Load and cross-check a release; raises ReleaseError."""
    release = load_release(folder)
    try:
        policy = RoutingPolicy.from_json(release.policy_text)
    except PolicyError as err:
        raise ReleaseError(f"The routing policy is not valid: {err}") from None
    for ref, sha in policy.versions().items():
        version = release.versions.get(ref)
        if version is None:
            why = release.refused.get(ref, "it is not in the release")
            if ref == policy.default:
                raise ReleaseError(f"The policy's default version {ref} cannot be served: "
                                   f"{why}")
            _log.error("version %s is routed to but not served: %s", ref, why)
        elif version.sha256 != sha:
            raise ReleaseError(f"The policy approves {ref} with SHA-256 {sha}, but the release "
                               f"holds {version.sha256}.")
    models: dict[str, list[str]] = {}
    for ref in release.versions:
        models.setdefault(ref.rsplit("@", 1)[0], []).append(ref)
    fields = policy.request_fields
    return Served(release, policy, models,
                  {ref: Batcher(v) for ref, v in release.versions.items()},
                  {ref: fields - set(v.schema.names) for ref, v in release.versions.items()})


def _identity(headers: Mapping[str, str], peer: str) -> tuple[str, str]:
    """(request id, caller): the client's X-Request-Id if well-formed, else a new one; the
    X-Charter-Caller header, else the peer address."""
    rid = headers.get("x-request-id", "")
    rid = rid if _REQUEST_ID.fullmatch(rid) else uuid.uuid4().hex
    return rid, headers.get("x-charter-caller", "")[:128] or peer


class Agent:
    def __init__(self, release_dir: Path, log_dir: Path, *, max_body: int = MAX_BODY_BYTES,
                 max_rows: int = MAX_ROWS) -> None:
        self.release_dir = release_dir
        self.max_body = max_body
        self.max_rows = max_rows
        self.metrics = Metrics()
        self.served = load_served(release_dir)
        self.loop = asyncio.get_running_loop()
        self._durable = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tie = itertools.count()
        self._failure: LogUnavailable | None = None
        self.log = PredictionLog(log_dir, on_durable=self._on_durable)
        self._durable = self.log.last_durable_seq
        self.server = HttpServer(self.handle, max_body=max_body, refused=self._refused)

    # -- durability ----------------------------------------------------------------------------
    def _on_durable(self, seq: int, failure: LogUnavailable | None) -> None:
        self.loop.call_soon_threadsafe(self._advance, seq, failure)

    def _advance(self, seq: int, failure: LogUnavailable | None) -> None:
        self._durable = max(self._durable, seq)
        while self._waiting and self._waiting[0][0] <= self._durable:
            _, _, fut = heapq.heappop(self._waiting)
            if not fut.done():
                fut.set_result(None)
        if failure is not None:
            self._failure = failure
            self.metrics.log_failed()
            for _, _, fut in self._waiting:
                if not fut.done():
                    fut.set_exception(LogUnavailable(failure.reason, errno=failure.errno))
            self._waiting.clear()

    async def logged(self, entry: dict[str, Any]) -> None:
        """Append ``entry`` and return once it is on disk; raises LogUnavailable."""
        seq = self.log.append(entry, wait=False)
        self.metrics.log_appended()
        if seq <= self._durable:
            return
        fut = self.loop.create_future()
        heapq.heappush(self._waiting, (seq, next(self._tie), fut))
        await fut

    # -- requests ------------------------------------------------------------------------------
    async def handle(self, req: Request) -> Response:
        rid, caller = _identity(req.headers, req.peer)
        path, method = req.path, req.method
        if path == "/predict" or (path.startswith("/v2/models/") and path.endswith("/infer")):
            if method != "POST":
                return await self._error(req, rid, caller, 405, f"{path} takes POST.")
            return await self._predict(req, rid, caller)
        if method != "GET":
            return await self._error(req, rid, caller, 405 if self._known(path) else 404,
                                     f"{method} {path} is not served.")
        if path == "/v2/health/live":
            return json_response(200, {"live": True}, **{"X-Request-Id": rid})
        if path == "/v2/health/ready":
            if self._failure is not None:
                return json_response(503, {"ready": False, "error": "the prediction log "
                                           f"cannot be written: {self._failure.reason}"},
                                     **{"X-Request-Id": rid})
            return json_response(200, {"ready": True, "release": self.served.name},
                                 **{"X-Request-Id": rid})
        if path == "/metrics":
            return Response(200, self.metrics.text().encode(), "text/plain; version=0.0.4",
                            {"X-Request-Id": rid})
        if path.startswith("/v2/models/"):
            parts = path[len("/v2/models/"):].split("/")
            served = self.served
            if parts[0] in served.models and parts[1:] in ([], ["ready"]):
                if parts[1:] == ["ready"]:
                    return json_response(200, {"name": parts[0], "ready": True},
                                         **{"X-Request-Id": rid})
                return json_response(200, self._metadata(served, parts[0]),
                                     **{"X-Request-Id": rid})
        return await self._error(req, rid, caller, 404, f"Nothing is served at {path}.")

    @staticmethod
    def _known(path: str) -> bool:
        return path in ("/v2/health/live", "/v2/health/ready", "/metrics") \
            or path.startswith("/v2/models/")

    def _metadata(self, served: Served, model: str) -> dict[str, Any]:
        first = served.release.versions[served.models[model][0]]
        outputs = ([{"name": "value", "datatype": "FP64", "shape": [-1]}]
                   if first.task == "regression" else
                   [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                    {"name": "probabilities", "datatype": "FP64",
                     "shape": [-1, len(first.classes)]}])
        return {"name": model, "versions": served.models[model], "platform": "charter-agent",
                "inputs": [{"name": f.name, "datatype": _V2_TYPES[f.kind], "shape": [-1]}
                           for f in first.schema.features],
                "outputs": outputs}

    async def _predict(self, req: Request, rid: str, caller: str) -> Response:
        started = time.perf_counter()
        served = self.served
        v2 = req.path != "/predict"
        model = req.path[len("/v2/models/"):-len("/infer")] if v2 else None
        pinned = None  # /v2/models/{model}/versions/{n}/infer: that version, no routing
        if model is not None and "/versions/" in model:
            model, _, number = model.partition("/versions/")
            pinned = f"{model}@{number}"
        records: Sequence[Mapping[str, Any]] = ()
        routes: list[Route] = []
        outputs: list[dict[str, Any]] = []
        status, error, field = 200, None, None
        try:
            if v2 and model not in served.models:
                raise InputError(404, f"No model named {model!r} is served here.")
            if pinned is not None and pinned not in served.release.versions:
                raise InputError(404, f"Version {pinned} is not served here; this release "
                                      f"serves {', '.join(served.models[model])}.")
            body = parse_json(req.body, max_bytes=self.max_body)
            if v2:
                names = served.release.versions[pinned or served.models[model][0]].schema.names
                records = records_from_v2(body, names, max_rows=self.max_rows)
            else:
                records = records_from_predict(body, max_rows=self.max_rows)
            routes = ([Route(pinned, (), "pinned", None)] * len(records) if pinned else
                      [served.policy.route(r, rid) for r in records])
            outputs = await self._answer(served, records, routes, model)
        except InputError as err:
            status, error, field = err.status, err.message, err.field
        except Exception as err:  # noqa: BLE001 - a model failure is answered and logged
            _log.exception("request %s: the model failed", rid)
            status, error = 500, f"The model failed on this request ({type(err).__name__})."
            outputs = []
        latency = time.perf_counter() - started
        versions = sorted({o["version"] for o in outputs})
        entry = {"request_id": rid, "endpoint": req.path, "caller": caller, "status": status,
                 "route": [{"rule": r.rule, "bucket": r.bucket, "sticky": r.sticky}
                           for r in routes],
                 "versions": versions,
                 "artifact_sha256": {v: served.release.versions[v].sha256 for v in versions},
                 "inputs": list(records), "outputs": outputs,
                 "latency_ms": round(latency * 1000, 3), "error": error}
        try:
            try:
                await self.logged(entry)
            except ValueError:  # a model answered NaN or infinity: refuse, never log a lie
                status, field, versions, outputs = 500, None, [], []
                error = "The model's output is not a finite number; nothing was answered."
                _log.error("request %s: non-finite model output", rid)
                await self.logged({**entry, "status": status, "error": error,
                                   "outputs": [], "versions": [], "artifact_sha256": {}})
        except LogUnavailable as err:
            self.metrics.observe("-", 503, latency)
            return json_response(503, {"error": "The prediction log cannot be written "
                                       f"({err.reason}); nothing is served unlogged.",
                                       "field": None, "request_id": rid},
                                 **{"X-Request-Id": rid})
        for v in versions or ["-"]:
            self.metrics.observe(v, status, latency)
        if status != 200:
            return json_response(status, {"error": error, "field": field, "request_id": rid},
                                 **{"X-Request-Id": rid})
        body = (self._v2_body(model, rid, outputs) if v2 else
                {"request_id": rid, "predictions": outputs})
        resp = json_response(200, body, **{"X-Request-Id": rid})
        if any(r.shadows for r in routes):
            resp.after = lambda: self.loop.call_soon(self._shadows, served, rid, records,
                                                     routes)
        return resp

    async def _answer(self, served: Served, records: Sequence[Mapping[str, Any]],
                      routes: Sequence[Route], model: str | None) -> list[dict[str, Any]]:
        """Predict each record with the version its route names; outputs in request order."""
        groups: dict[str, list[int]] = {}
        for i, route in enumerate(routes):
            groups.setdefault(route.live, []).append(i)
        outputs: list[dict[str, Any]] = [{}] * len(records)
        for ref, idx in groups.items():
            version = served.release.versions.get(ref)
            if version is None or (model is not None and not ref.startswith(model + "@")):
                raise InputError(503, f"The policy routes record {idx[0]} to {ref}, which "
                                      "this agent does not serve; ask IT to redeploy.")
            rows = version.schema.check(served.inputs(ref, records, idx), idx)
            for i, out in zip(idx, await served.batchers[ref].predict(rows), strict=True):
                outputs[i] = {"version": ref, **out}
        return outputs

    @staticmethod
    def _run(served: Served, version: LoadedVersion, records: Sequence[Mapping[str, Any]],
             idx: list[int]) -> list[dict[str, Any]]:
        rows = version.schema.check(served.inputs(version.ref, records, idx), idx)
        return version.predict(rows)

    @staticmethod
    def _v2_body(model: str | None, rid: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(outputs)
        versions = sorted({o["version"] for o in outputs})
        if "value" in outputs[0]:
            tensors = [{"name": "value", "datatype": "FP64", "shape": [n],
                        "data": [o["value"] for o in outputs]}]
        else:
            labels = [o["label"] for o in outputs]
            kind = ("INT64" if all(isinstance(x, int) and not isinstance(x, bool)
                                   for x in labels) else "BYTES")
            classes = list(outputs[0]["probabilities"])
            tensors = [{"name": "label", "datatype": kind, "shape": [n],
                        "data": labels if kind == "INT64" else [str(x) for x in labels]},
                       {"name": "probabilities", "datatype": "FP64",
                        "shape": [n, len(classes)],
                        "data": [o["probabilities"].get(c) for o in outputs for c in classes],
                        "parameters": {"classes": classes}}]
        return {"model_name": model, "model_version": ",".join(versions), "id": rid,
                "outputs": tensors}

    def _shadows(self, served: Served, rid: str, records: Sequence[Mapping[str, Any]],
                 routes: Sequence[Route]) -> None:
        """Shadow predictions, after the live answer: logged, never returned."""
        groups: dict[str, list[int]] = {}
        for i, route in enumerate(routes):
            for ref in route.shadows:
                groups.setdefault(ref, []).append(i)
        for ref, idx in groups.items():
            version = served.release.versions.get(ref)
            started = time.perf_counter()
            try:
                if version is None:
                    raise InputError(503, f"shadow version {ref} is not served")
                outputs, error = self._run(served, version, records, idx), None
            except InputError as err:
                outputs, error = [], err.message
            entry = {"shadow_of": rid, "version": ref, "records": idx, "outputs": outputs,
                     "error": error, "artifact_sha256": version.sha256 if version else None,
                     "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
            try:
                self.log.append(entry, wait=False)
            except LogUnavailable:
                return

    async def _error(self, req: Request | None, rid: str, caller: str, status: int,
                     message: str) -> Response:
        entry = {"request_id": rid, "endpoint": req.path if req else None, "caller": caller,
                 "status": status, "route": [], "versions": [], "artifact_sha256": {},
                 "inputs": [], "outputs": [], "latency_ms": 0.0, "error": message}
        try:
            await self.logged(entry)
        except LogUnavailable:
            status, message = 503, "The prediction log cannot be written."
        self.metrics.observe("-", status, 0.0)
        return json_response(status, {"error": message, "field": None, "request_id": rid},
                             **{"X-Request-Id": rid})

    async def _refused(self, req: Request | None, status: int, message: str,
                       peer: str) -> Response:
        """A request refused while it was read (no body): logged like any other."""
        rid, caller = _identity(req.headers if req is not None else {}, peer)
        return await self._error(req, rid, caller, status, message)

    # -- lifecycle -----------------------------------------------------------------------------
    async def reload(self) -> None:
        try:
            served = await self.loop.run_in_executor(None, load_served, self.release_dir)
        except ReleaseError as err:
            _log.error("reload refused, still serving %s: %s", self.served.name, err)
            return
        self.served = served
        _log.info("now serving release %s", served.name)


def _trust_checked_inputs() -> None:
    """scikit-learn checks every input for NaN and infinity on each call; the agent's schema
    check has already refused them (and a non-finite output is refused after), so that second
    pass, a third of a small model's per-call cost, is switched off in the agent process."""
    import sklearn

    sklearn.set_config(assume_finite=True)


async def serve(args: argparse.Namespace) -> int:
    _trust_checked_inputs()
    try:
        agent = Agent(Path(args.release), Path(args.log_dir), max_body=args.max_body_bytes,
                      max_rows=args.max_rows)
    except (ReleaseError, LogUnavailable) as err:
        print(f"charter-agent: {err}", file=sys.stderr)
        return 1
    port = await agent.server.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(agent.reload()))
    _log.info("serving release %s on %s:%d", agent.served.name, args.host, port)
    if args.ready_file:
        tmp = Path(args.ready_file + ".tmp")
        tmp.write_text(json.dumps({"port": port, "pid": os.getpid(),
                                   "release": agent.served.name}))
        os.replace(tmp, args.ready_file)
    await stop.wait()
    agent.server.close()
    await agent.server.drain(timeout=10.0)
    agent.log.close()
    _log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="charter-agent", description="Serve a release of approved model versions over HTTP, "
        "logging every request durably before answering; or verify a prediction log.")
    parser.add_argument("--version", action="version", version=f"charter-agent {AGENT_VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("serve", help="serve a release over HTTP")
    sp.add_argument("--release", required=True, help="the release folder")
    sp.add_argument("--log-dir", required=True, help="the prediction log's folder")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8080)
    sp.add_argument("--ready-file", help="write {port, pid, release} here once listening")
    sp.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    sp.add_argument("--max-rows", type=int, default=MAX_ROWS)
    sp = sub.add_parser("verify", help="check a prediction log's hash chain")
    sp.add_argument("log_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "verify":
        from core.serving.predlog_verify import verify

        report = verify(Path(args.log_dir))
        print(report.describe())
        return 0 if report.ok else 1
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
