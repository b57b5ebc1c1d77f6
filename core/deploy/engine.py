"""The steps that put a release on a server, and take it back off.

Server layout (the offline kit's install.sh creates it)::

    ROOT/runtime/bin/charter-agent     the agent runtime
    ROOT/bin/charter-agentctl          start | stop | reload | status (systemd or plain)
    ROOT/releases/<id>/                one folder per release; <id>.partial while uploading
    ROOT/current -> releases/<id>      what the agent serves; switched by an atomic rename
    ROOT/log/                          the prediction log

A deployment: preflight, upload to ``releases/<id>.partial`` over SFTP, verify every file's
SHA-256 on the server (``sha256sum -c``), rename, switch ``current``, reload the agent, wait
until its health endpoint names the new release, then the parity check: the reference rows
each version answered at evaluation are sent to that version on the server and the answers
compared within the recorded tolerance. A failure before the switch leaves the old release
serving untouched (the partial folder is removed); a failure after it switches back to the
previous release and reloads (rollback). Every step is reported to ``record`` as it ends.
The console reaches the agent's HTTP port only through the SSH connection (direct-tcpip).
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.deploy.ssh_errors import SshError

# The agent needs this much free space beyond the release itself (logs, a new segment).
DISK_MARGIN_BYTES = 64 * 1024 * 1024
HEALTH_TIMEOUT_S = 60.0
SUMS = "SHA256SUMS"


class Remote(Protocol):
    """What the engine needs from an SSH session (core.deploy.ssh.Session)."""

    def run(self, argv: list[str], *, timeout: float = ..., check: bool = ...
            ) -> tuple[int, str, str]: ...
    def upload(self, local: Path, remote: str, *, progress: Any = ..., cancel: Any = ...
               ) -> None: ...
    def http(self, port: int, method: str, path: str, body: bytes | None = ...,
             headers: dict[str, str] | None = ..., timeout: float = ...
             ) -> tuple[int, dict[str, str], bytes]: ...


class DeployFailed(Exception):
    """A step failed; ``step`` names it and ``message`` says what happened and what to do."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


class Cancelled(DeployFailed):
    def __init__(self) -> None:
        super().__init__("cancel", "Cancelled before the switch; the server still serves the "
                                   "release it served before.")


@dataclass(frozen=True)
class Layout:
    root: str

    @property
    def releases(self) -> str:
        return f"{self.root}/releases"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    @property
    def ctl(self) -> str:
        return f"{self.root}/bin/charter-agentctl"

    @property
    def agent(self) -> str:
        return f"{self.root}/runtime/bin/charter-agent"

    def release(self, release_id: str) -> str:
        return f"{self.releases}/{release_id}"


@dataclass(frozen=True)
class Reference:
    """What one version answered at evaluation for its reference rows."""

    ref: str  # model@n as the release names it
    rows: list[dict[str, Any]]
    outputs: list[Any]  # per row: probabilities in ``classes`` order, or a value
    classes: list[Any] | None
    tolerance: float


@dataclass
class Outcome:
    state: str  # serving, failed, rolled_back, cancelled
    error: str | None = None
    failed_step: str | None = None
    parity: dict[str, Any] = field(default_factory=dict)
    previous: str | None = None


Record = Callable[[str, str, str, float | None], None]  # step, status, detail, seconds


def release_files(folder: Path) -> list[Path]:
    """Every file of a local release folder, manifest last (so a partial upload never holds a
    manifest that names files not there yet)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SUMS)
    return sorted(files, key=lambda p: p.name == "manifest.json")


def write_sums(folder: Path) -> Path:
    import hashlib

    lines = []
    for p in release_files(folder):
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        lines.append(f"{digest}  {p.relative_to(folder).as_posix()}\n")
    out = folder / SUMS
    out.write_text("".join(lines), encoding="ascii")
    return out


class Engine:
    """Runs the steps on one connected server. ``record`` receives each step's end; ``progress``
    (step, done, total) moves the bar; ``cancel``, once set, stops the work before the switch
    (also in the middle of uploading a file)."""

    def __init__(self, remote: Remote, layout: Layout, agent_port: int, *, record: Record,
                 progress: Callable[[str, int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.remote = remote
        self.layout = layout
        self.port = agent_port
        self.record = record
        self.progress = progress or (lambda step, done, total: None)
        self.cancel = cancel or threading.Event()

    # -- small helpers ---------------------------------------------------------------------------
    def sh(self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = True
           ) -> tuple[int, str, str]:
        return self.remote.run(list(argv), timeout=timeout, check=check)

    def _step(self, name: str, fn: Callable[[], str]) -> str:
        started = time.monotonic()
        try:
            detail = fn()
        except DeployFailed as err:
            self.record(name, "failed", err.message, time.monotonic() - started)
            raise
        except SshError as err:
            if self.cancel.is_set():  # the upload stopped because cancel was pressed
                raise Cancelled() from None
            message = getattr(err, "message", str(err))
            self.record(name, "failed", message, time.monotonic() - started)
            raise DeployFailed(name, message) from None
        self.record(name, "ok", detail, time.monotonic() - started)
        return detail

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def serving_target(self) -> str | None:
        """The release folder ``current`` points at (its id), or None."""
        code, out, _ = self.sh(["readlink", self.layout.current], check=False)
        return out.strip().rsplit("/", 1)[-1] or None if code == 0 else None

    def health(self, expect: str, timeout: float | None = None) -> str:
        """Wait until the agent answers ready for release ``expect``."""
        timeout = HEALTH_TIMEOUT_S if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                status, _, body = self.remote.http(self.port, "GET", "/v2/health/ready",
                                                   timeout=5.0)
                text = body.decode("utf-8", "replace")
                if status == 200 and json.loads(text).get("release") == expect:
                    return f"ready, serving {expect}"
                last = f"HTTP {status}: {text[:200]}"
            except (OSError, ValueError, SshError) as err:
                last = getattr(err, "message", str(err))
            if time.monotonic() > deadline:
                raise DeployFailed("health", f"The agent did not report release {expect} "
                                             f"ready within {timeout:.0f} s (last: {last}).")
            time.sleep(0.25)

    def reload(self) -> str:
        code, out, err = self.sh([self.layout.ctl, "status"], check=False)
        action = "reload" if code == 0 else "start"
        code, out, err = self.sh([self.layout.ctl, action], timeout=120.0, check=False)
        if code != 0:
            raise DeployFailed("reload", f"charter-agentctl {action} failed (exit {code}): "
                                         f"{(err or out).strip()[-400:]}")
        return f"agent {action}ed"

    def switch(self, release_id: str | None) -> str:
        """Point ``current`` at ``release_id`` atomically (rename of a new link), or remove it."""
        cur = self.layout.current
        if release_id is None:
            self.sh(["rm", "-f", cur])
            return "no release is current"
        tmp = f"{cur}.new"
        self.sh(["ln", "-sfn", f"releases/{release_id}", tmp])
        self.sh(["mv", "-Tf", tmp, cur])
        return f"current -> releases/{release_id}"

    # -- the steps -------------------------------------------------------------------------------
    def preflight(self, size: int) -> str:
        code, out, err = self.sh([self.layout.agent, "--version"], check=False)
        if code != 0:
            raise DeployFailed("preflight", "The agent runtime is not installed in "
                                            f"{self.layout.root} ({(err or out).strip()[:200]}). "
                                            "Install it first: charter server install-runtime.")
        version = out.strip()
        _, df, _ = self.sh(["df", "-Pk", self.layout.releases])
        free = int(df.strip().splitlines()[-1].split()[3]) * 1024
        need = size + DISK_MARGIN_BYTES
        if free < need:
            raise DeployFailed("preflight", f"The server has {free / 2**20:,.0f} MiB free in "
                                            f"{self.layout.releases}; this release needs "
                                            f"{need / 2**20:,.0f} MiB. Free space (old releases "
                                            "can be removed) and deploy again.")
        return f"{version}; {free / 2**20:,.0f} MiB free"

    def upload(self, folder: Path, release_id: str) -> str:
        partial = self.layout.release(release_id) + ".partial"
        files = [*release_files(folder), folder / SUMS]
        total = sum(p.stat().st_size for p in files)
        # a deployment cut off before (a dropped connection) may have left its partial folder
        self.sh(["find", self.layout.releases, "-mindepth", "1", "-maxdepth", "1", "-name",
                 "*.partial", "-exec", "rm", "-rf", "{}", "+"])
        dirs = sorted({str(p.parent.relative_to(folder)) for p in files} - {"."})
        self.sh(["mkdir", "-p", partial, *(f"{partial}/{d}" for d in dirs)])
        done = 0
        for p in files:
            self._check_cancel()
            base = done
            self.remote.upload(p, f"{partial}/{p.relative_to(folder).as_posix()}",
                               progress=lambda d, t, b=base: self.progress("upload", b + d,
                                                                           total),
                               cancel=self.cancel)
            done += p.stat().st_size
        return f"{len(files)} files, {total / 2**20:,.1f} MiB to {partial}"

    def verify(self, release_id: str) -> str:
        partial = self.layout.release(release_id) + ".partial"
        code, out, err = self.sh(["sh", "-c", f"cd {shlex.quote(partial)} && "
                                  f"sha256sum --strict -c {SUMS}"], check=False)
        if code != 0:
            bad = [line for line in (out + err).splitlines() if "FAILED" in line
                   or "No such" in line][:5]
            raise DeployFailed("verify", "The upload arrived corrupted: "
                               + ("; ".join(bad) or (err or out).strip()[-300:])
                               + ". Nothing was switched; deploy again.")
        return f"{len(out.splitlines())} files match their SHA-256"

    def parity(self, release_id: str, references: Sequence[Reference]) -> dict[str, Any]:
        results = {}
        for ref in references:
            results[ref.ref] = self._parity_one(release_id, ref)
        failed = {k: v for k, v in results.items() if not v["passed"]}
        if failed:
            raise DeployFailed("parity", "The deployed agent does not answer as validated: "
                               + "; ".join(f"{k}: {v['summary']}" for k, v in failed.items()))
        return results

    def _parity_one(self, release_id: str, ref: Reference) -> dict[str, Any]:
        model, _, number = ref.ref.rpartition("@")
        status, _, raw = self.remote.http(
            self.port, "POST", f"/v2/models/{model}/versions/{number}/infer",
            _v2_body(ref.rows),
            headers={"Content-Type": "application/json", "X-Charter-Caller": "charter-parity",
                     "X-Request-Id": f"parity-{release_id}-{number}"[:64]}, timeout=30.0)
        text = raw.decode("utf-8", "replace")
        if status != 200:
            return {"passed": False, "rows": len(ref.rows), "tolerance": ref.tolerance,
                    "summary": f"HTTP {status}: {text[:300]}"}
        got = _v2_outputs(json.loads(text), ref.classes)
        diffs = [_max_diff(g, e) for g, e in zip(got, ref.outputs, strict=False)]
        worst = max(diffs, default=0.0)
        passed = len(got) == len(ref.outputs) and worst <= ref.tolerance
        return {"passed": passed, "rows": len(ref.rows), "tolerance": ref.tolerance,
                "max_abs_difference": worst,
                "summary": (f"{len(ref.rows)} rows, largest difference {worst:.3g} "
                            f"(tolerance {ref.tolerance:g})")}


    # -- whole operations -------------------------------------------------------------------
    def deploy(self, folder: Path, release_id: str, references: Sequence[Reference]) -> Outcome:
        """Upload, verify, switch, reload, check health and parity; roll back on failure."""
        size = sum(p.stat().st_size for p in release_files(folder))
        write_sums(folder)
        previous = None
        partial = self.layout.release(release_id) + ".partial"
        try:
            self._step("preflight", lambda: self.preflight(size))
            previous = self.serving_target()
            self._check_cancel()
            self._step("upload", lambda: self.upload(folder, release_id))
            self._check_cancel()
            self._step("verify", lambda: self.verify(release_id))
            self._check_cancel()
            self._step("rename", lambda: self._rename(partial, release_id))
        except DeployFailed as err:
            self._discard(partial)
            state = "cancelled" if isinstance(err, Cancelled) else "failed"
            if isinstance(err, Cancelled):
                self.record("cancel", "info", err.message, None)
            return Outcome(state, err.message, err.step, previous=previous)
        return self._switch_and_check(release_id, previous, references)

    def rollback_to(self, release_id: str, references: Sequence[Reference]) -> Outcome:
        """Serve an earlier release still on the server: its files verified again first."""
        folder = self.layout.release(release_id)
        previous = None
        try:
            previous = self.serving_target()
            if previous == release_id:
                raise DeployFailed("verify", f"{release_id} is already being served.")
            self._step("verify", lambda: self._verify_folder(folder, release_id))
        except DeployFailed as err:
            return Outcome("failed", err.message, err.step, previous=previous)
        return self._switch_and_check(release_id, previous, references)

    def _rename(self, partial: str, release_id: str) -> str:
        self.sh(["mv", "-T", partial, self.layout.release(release_id)])
        return f"releases/{release_id}"

    def _verify_folder(self, folder: str, release_id: str) -> str:
        code, out, err = self.sh(["sh", "-c", f"cd {shlex.quote(folder)} && "
                                  f"sha256sum --strict -c {SUMS}"], check=False)
        if code != 0:
            raise DeployFailed("verify", f"Release {release_id} on the server no longer "
                                         f"matches its hashes or is gone: "
                                         f"{(out + err).strip()[-300:]}")
        return f"{len(out.splitlines())} files match their SHA-256"

    def _switch_and_check(self, release_id: str, previous: str | None,
                          references: Sequence[Reference]) -> Outcome:
        parity: dict[str, Any] = {}
        try:
            self._step("switch", lambda: self.switch(release_id))
            self._step("reload", self.reload)
            self._step("health", lambda: self.health(release_id))

            def check() -> str:
                parity.update(self.parity(release_id, references))
                return "; ".join(f"{k}: {v['summary']}" for k, v in parity.items()) \
                    or "no reference rows recorded"
            self._step("parity", check)
        except DeployFailed as err:
            return self._roll_back(release_id, previous, err, parity)
        return Outcome("serving", parity=parity, previous=previous)

    def _roll_back(self, release_id: str, previous: str | None, err: DeployFailed,
                   parity: dict[str, Any]) -> Outcome:
        def back() -> str:
            self.switch(previous)
            if previous is None:
                self.sh([self.layout.ctl, "stop"], timeout=60.0, check=False)
                return "no earlier release: the agent is stopped"
            self.reload()
            self.health(previous)
            return f"serving {previous} again"
        try:
            self._step("rollback", back)
        except DeployFailed as again:
            return Outcome("failed", f"{err.message} The automatic rollback failed too: "
                                     f"{again.message} Check the server and roll back by "
                                     "hand (charter rollback).", err.step, parity, previous)
        return Outcome("rolled_back", err.message, err.step, parity, previous)

    def _discard(self, partial: str) -> None:
        try:
            self.sh(["rm", "-rf", partial], check=False)
        except SshError:
            pass  # the connection is gone; the next deployment clears it first


def _v2_body(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The reference rows as one OIP v2 tensor per input (any value type)."""
    names = list(rows[0]) if rows else []
    inputs = []
    for name in names:
        values = [r[name] for r in rows]
        if all(isinstance(v, bool) for v in values):
            kind = "BOOL"
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            kind = "FP64"
        else:
            kind = "BYTES"
        inputs.append({"name": name, "shape": [len(rows)], "datatype": kind, "data": values})
    return json.dumps({"inputs": inputs}).encode()


def _v2_outputs(body: Mapping[str, Any], classes: Sequence[Any] | None) -> list[Any]:
    tensors = {t["name"]: t for t in body.get("outputs", [])}
    if classes is None:
        return list(tensors["value"]["data"])
    proba = tensors["probabilities"]
    n, k = proba["shape"]
    order = [str(c) for c in proba.get("parameters", {}).get("classes", classes)]
    index = [order.index(str(c)) for c in classes]
    data = proba["data"]
    return [[data[i * k + j] for j in index] for i in range(n)]


def _max_diff(got: Any, expected: Any) -> float:
    if isinstance(expected, list):
        return max((abs(float(g) - float(e)) for g, e in zip(got, expected, strict=True)),
                   default=0.0)
    return abs(float(got) - float(expected))
