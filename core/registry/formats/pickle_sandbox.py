"""Inspect a pickle/joblib model in a restricted child process; never unpickle it here.

Loading a pickle runs whatever code its author put in it. Charter does it only after a
validator's recorded trust decision, and even then only in :mod:`sandbox_inspect`, a separate
Python process with resource limits, no inherited descriptors but the pickle on stdin, an empty
working folder, the ``nobody`` user and (as root, where ``unshare`` works) no network. Without
root the child still runs with its limits but as the console's user, and the description says
the network was not isolated. What the child reports is untrusted data and is validated like any
input; a converted skops file is loaded again here through the trusted types before it is kept.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.registry.formats.errors import ArtifactRejected
from core.registry.formats.sandbox_inspect import NOBODY, RESULT_MARK
from core.tasks import CancelToken

DEFAULT_TIMEOUT = 60.0
PICKLE_HINT = ("Prefer a skops export (skops.io.dump) from the model's author. If the pickle "
               "must be used, a validator records a trust decision first (charter import "
               "--trust-pickle --reason ...); Charter then inspects it in a restricted "
               "subprocess and can convert it to skops.")
_BOOT = "from core.registry.formats.sandbox_inspect import main; main()"


def looks_like_pickle(head: bytes) -> bool:
    """Pickle protocol 2+ (``0x80 <protocol>``) or a joblib-compressed file (zlib/gzip/...)."""
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return True
    return head[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda") or head.startswith(
        (b"ZF", b"\x1f\x8b", b"\xfd7zXZ", b"BZh", b"\x04\x22\x4d\x18"))


def refuse_untrusted(name: str) -> ArtifactRejected:
    return ArtifactRejected(
        f"{name} is a pickle/joblib file, which can run code when loaded; a validator must "
        "record a trust decision first (charter import --trust-pickle --reason ...). Nothing was "
        "loaded.", hint=PICKLE_HINT)


@functools.cache
def sandbox_prefix() -> tuple[tuple[str, ...], bool]:
    """(command prefix, network isolated) for starting the inspector.

    As root: ``unshare -n`` (own, empty network namespace) and ``setpriv`` (start as ``nobody``,
    no new privileges), each where it works here. Without ``setpriv`` the inspector drops to
    ``nobody`` itself; without root neither is possible and the child keeps the user's rights.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return (), False
    prefix: list[str] = []
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if unshare and _works([unshare, "-n", "true"]):
        prefix += [unshare, "-n"]
    network = bool(prefix)
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--no-new-privs"] if setpriv else []
    if drop and _works([*prefix, *drop, "true"]):
        prefix += drop
    return tuple(prefix), network


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def run_sandbox(data: bytes, name: str, *, mode: str = "describe",
                timeout: float = DEFAULT_TIMEOUT, cancel: CancelToken | None = None,
                memory_bytes: int = 2 << 30) -> dict[str, Any]:
    """Run the inspector on ``data``; return its result dict. Raises ArtifactRejected, Cancelled."""
    if sys.platform == "win32":
        raise ArtifactRejected(f"{name} cannot be inspected here: the pickle sandbox needs Linux "
                               "or macOS.", hint=PICKLE_HINT)
    prefix, network = sandbox_prefix()
    work = Path(tempfile.mkdtemp(prefix="charter-sandbox-"))
    try:
        cwd = work / "cwd"
        cwd.mkdir()
        if os.geteuid() == 0:
            os.chown(cwd, NOBODY, NOBODY)
        source = work / "input"
        source.write_bytes(data)
        os.chmod(source, 0o600)  # the child reads it through stdin only
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "CHARTER_SANDBOX_AS": str(memory_bytes),
               "CHARTER_SANDBOX_CPU": str(max(1, int(timeout) + 1)),
               "CHARTER_SANDBOX_FSIZE": str(max(64 << 20, 4 * len(data) + (16 << 20)))}
        cmd = [*prefix, sys.executable, "-I", "-c", _BOOT, mode]
        with open(source, "rb") as stdin, open(work / "out", "wb") as out, \
                open(work / "err", "wb") as err:
            proc = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=err, cwd=cwd, env=env,
                                    close_fds=True, start_new_session=True)
            code = _wait(proc, timeout, cancel, name)
        stdout = (work / "out").read_bytes()
        stderr = (work / "err").read_bytes().decode("utf-8", "replace")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = _parse(stdout)
    if result is None or code != 0:
        how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        raise ArtifactRejected(f"Inspecting {name} in the sandbox failed: the inspector {how}."
                               f"{_tail(stderr)}", hint=PICKLE_HINT)
    if "error" in result:
        raise ArtifactRejected(f"Inspecting {name} in the sandbox failed: {result['error']}"
                               f"{_tail(stderr)}", hint=PICKLE_HINT)
    result["network_isolated"] = network
    return result


def _wait(proc: subprocess.Popen, timeout: float, cancel: CancelToken | None, name: str) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.cancelled:
            _kill(proc)
            cancel.check()
        if time.monotonic() > deadline:
            _kill(proc)
            raise ArtifactRejected(
                f"Inspecting {name} did not finish within {timeout:g} s, so it was stopped. A "
                "model pickle loads in seconds; this one may loop forever on purpose.",
                hint=PICKLE_HINT)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _parse(stdout: bytes) -> dict[str, Any] | None:
    lines = [ln for ln in stdout.decode("utf-8", "replace").splitlines()
             if ln.startswith(RESULT_MARK)]
    if not lines:
        return None
    try:
        value = json.loads(lines[-1][len(RESULT_MARK):])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _tail(stderr: str, lines: int = 8) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-lines:])
    return f"\nLast lines it wrote:\n{tail}" if tail else ""
