"""The offline agent kit end to end: built once for this machine, checked file by file, installed
by its own install.sh in a network namespace with no network, and run with its
charter-agentctl exactly as a server's administrator would.

Installing needs root (``unshare --net``): these tests fail, never skip, without it. The first
run on a machine downloads the runtime's wheels (about 75 MB) into
~/.cache/charter-test-cache/wheelhouse; later runs build offline from there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serving.agentkit import (
    call,
    check_predictions,
    make_release,
    point,
    policy_text,
    records,
    train_models,
)

from core.deploy.kit import (
    Kit,
    KitError,
    ServerPlatform,
    agent_wheel_name,
    build_kit,
    local_platform,
    parse_platform_probe,
    platform_probe_command,
)
from core.serving import AGENT_VERSION

REPO = Path(__file__).resolve().parents[2]
WHEEL_CACHE = Path.home() / ".cache" / "charter-test-cache" / "wheelhouse"  # as tests/conftest.py
EPOCH = 1_790_000_000  # SOURCE_DATE_EPOCH of the session's kit: 2026-09-21T14:13:20Z
# What a server's shell has: no venv, no pyenv shims, none of the test run's variables.
SERVER_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "HOME": "/root", "LANG": "C.UTF-8"}
RUNTIME_PACKAGES = {"numpy", "pandas", "scikit-learn", "scipy", "joblib", "threadpoolctl",
                    "skops"}


def _run(cmd: list[str], *, offline: bool = False,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run as on the server (from /, with a plain PATH and none of this run's variables);
    ``offline`` in a new network namespace with no interface up."""
    if offline:
        cmd = ["unshare", "--net", *cmd]
    return subprocess.run(cmd, env=SERVER_ENV, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the agent kit's install tests must run as root: they install in a network "
                    "namespace of their own (unshare --net) to prove nothing is downloaded",
                    pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """A live process (a zombie, left to a PID 1 that does not reap, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s*Z", status, re.M)


def _copy_kit(kit_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / kit_dir.name
    shutil.copytree(kit_dir, dest, symlinks=True)
    return dest


def _rewrite_manifest(kit_dir: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Edit KIT.json as build_kit writes it (one field a line, sorted keys)."""
    path = kit_dir / "KIT.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    platform = local_platform()
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(EPOCH)
    try:
        return build_kit(tmp_path_factory.mktemp("kit"), platform,
                         cache_dir=WHEEL_CACHE / f"{platform.python}-{platform.machine}")
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


@pytest.fixture(scope="session")
def kit_dir(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit unpacked with tar, as on a server. Tests that alter it work on a copy."""
    where = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["tar", "-xzf", str(kit.path), "-C", str(where)], check=True)
    (top,) = where.iterdir()
    return top


@pytest.fixture(scope="session")
def installed(kit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ROOT after install.sh ran with no network. The agent, if a test left it running, is
    stopped at the end."""
    _require_root()
    probe = _run(["cat", "/proc/net/dev"], offline=True)
    assert probe.returncode == 0, probe.stderr
    interfaces = [line.split(":")[0].strip() for line in probe.stdout.splitlines()[2:]]
    assert interfaces == ["lo"], f"unshare --net left interfaces: {interfaces}"
    root = tmp_path_factory.mktemp("server") / "charter-agent"
    done = _run(["sh", str(kit_dir / "install.sh"), str(root), "--port", str(_free_port()),
                 "--no-systemd"], offline=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"charter-agent runtime {AGENT_VERSION} installed in " \
                                           f"{root.resolve()}"
    yield root
    _run([str(root / "bin" / "charter-agentctl"), "stop"])
    pidfile = root / "run" / "agent.pid"
    if pidfile.exists() and _alive(int(pidfile.read_text())):
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


# ---- the kit's contents --------------------------------------------------------------------------


def test_kit_json_lists_every_file_with_its_sha256(kit: Kit, kit_dir: Path) -> None:
    cp = "cp" + kit.platform.python.replace(".", "")
    assert kit.path.name == f"charter-agent-kit-{AGENT_VERSION}-{cp}-{kit.platform.machine}.tar.gz"
    assert kit.sha256 == hashlib.sha256(kit.path.read_bytes()).hexdigest()
    manifest = json.loads((kit_dir / "KIT.json").read_text())
    assert manifest["format"] == "charter-agent-kit/1"
    assert manifest["agent_version"] == kit.agent_version == AGENT_VERSION
    assert (manifest["python"], manifest["machine"]) == (kit.platform.python,
                                                         kit.platform.machine)
    assert manifest["built_at"] == "2026-09-21T14:13:20Z"
    # the wheels need at most the glibc this machine has
    floor = tuple(map(int, manifest["glibc_min"].split(".")))
    assert floor <= tuple(map(int, kit.platform.glibc.split(".")))

    on_disk = {str(p.relative_to(kit_dir)) for p in kit_dir.rglob("*") if p.is_file()}
    assert on_disk - {"KIT.json"} == set(manifest["files"]) == set(kit.files)
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((kit_dir / name).read_bytes()).hexdigest() == digest, name
    assert manifest["files"] == kit.files
    wheels = {n.split("/")[1].split("-")[0].lower().replace("_", "-")
              for n in manifest["files"] if n.startswith("wheels/")}
    # the pinned top level, what they need at run time (derived by pip), pip and the agent
    assert RUNTIME_PACKAGES | {"pip", "charter-agent", "python-dateutil"} <= wheels
    lock = dict(re.findall(r"^([a-z0-9-]+)==(\S+)$", (REPO / "installers" / "requirements.lock")
                           .read_text(), re.M))
    for name in manifest["files"]:
        if name.startswith("wheels/") and "charter_agent" not in name and "pip-" not in name:
            dist, version = name.split("/")[1].split("-")[:2]
            assert lock[dist.lower().replace("_", "-")] == version, name

    with tarfile.open(kit.path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and names[0] == kit_dir.name
    assert {m.mtime for m in members} == {EPOCH}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "root", "root")}
    modes = {m.name.split("/", 1)[-1]: m.mode for m in members if m.isfile()}
    assert modes.pop("install.sh") == modes.pop("charter-agentctl") == 0o755
    assert set(modes.values()) == {0o644}


def test_agent_wheel_holds_only_the_serving_package(kit_dir: Path) -> None:
    wheel = kit_dir / "wheels" / agent_wheel_name(AGENT_VERSION)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        files = {n: zf.read(n) for n in names}
        stamps = {zi.date_time for zi in zf.infolist()}
    info = f"charter_agent-{AGENT_VERSION}.dist-info"
    code = sorted(n for n in names if not n.startswith(info))
    assert code == ["core/__init__.py"] + sorted(
        f"core/serving/{p.name}" for p in (REPO / "core" / "serving").glob("*.py"))
    assert files["core/__init__.py"] != (REPO / "core" / "__init__.py").read_bytes()
    for name in code[1:]:
        assert files[name] == (REPO / name).read_bytes(), name
    assert stamps == {(1980, 1, 1, 0, 0, 0)}

    assert sorted(n for n in names if n.startswith(info)) == [
        f"{info}/{n}" for n in ("METADATA", "RECORD", "WHEEL", "entry_points.txt")]
    record = files[f"{info}/RECORD"].decode().splitlines()
    assert record[-1] == f"{info}/RECORD,,"
    assert len(record) == len(names)
    for line in record[:-1]:
        name, digest, size = line.split(",")
        data = files[name]
        assert digest == "sha256=" + base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).rstrip(b"=").decode(), name
        assert int(size) == len(data)
    metadata = files[f"{info}/METADATA"].decode()
    lock = (REPO / "installers" / "requirements.lock").read_text()
    requires = re.findall(r"^Requires-Dist: (\S+)==(\S+)$", metadata, re.M)
    assert {n for n, _ in requires} == RUNTIME_PACKAGES
    for name, version in requires:
        assert f"\n{name}=={version}\n" in lock
    assert f"Version: {AGENT_VERSION}" in metadata
    assert b"Tag: py3-none-any" in files[f"{info}/WHEEL"]
    assert b"charter-agent = core.serving.agent:main" in files[f"{info}/entry_points.txt"]


def test_building_again_gives_the_same_bytes(kit: Kit, kit_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    started = time.monotonic()
    again = build_kit(tmp_path, kit.platform, cache_dir=WHEEL_CACHE / (
        f"{kit.platform.python}-{kit.platform.machine}"))
    assert time.monotonic() - started < 60, "a build from the wheel cache should take seconds"
    assert again.files == kit.files
    assert again.sha256 == kit.sha256
    with tarfile.open(again.path) as tar:
        member = tar.extractfile(f"{kit_dir.name}/wheels/{agent_wheel_name(AGENT_VERSION)}")
        assert member is not None
        assert member.read() == (kit_dir / "wheels" / agent_wheel_name(AGENT_VERSION)).read_bytes()


def test_an_empty_wheelhouse_is_refused_with_what_to_do(tmp_path: Path) -> None:
    empty = tmp_path / "wheelhouse"
    empty.mkdir()
    with pytest.raises(KitError) as caught:
        build_kit(tmp_path / "out", local_platform(), wheelhouse=empty)
    message = str(caught.value)
    assert str(empty) in message
    assert re.search(r"lacks (numpy|pandas|scikit-learn|scipy|joblib|threadpoolctl|skops|pip) ",
                     message), message
    assert "PyPI" in message and "Copy the wheels" in message
    assert not list((tmp_path / "out").glob("*.tar.gz"))


def test_the_platform_probe_reads_a_server(tmp_path: Path) -> None:
    done = subprocess.run(platform_probe_command(), env=SERVER_ENV, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert parse_platform_probe("Welcome to the bank's server\n" + done.stdout) \
        == local_platform()
    assert parse_platform_probe('{"python": "3.12", "machine": "arm64", "glibc": null}') \
        == ServerPlatform("3.12", "aarch64", None)
    with pytest.raises(KitError, match="did not answer the platform probe"):
        parse_platform_probe("bash: python3: command not found\n")


# ---- installing it with no network ---------------------------------------------------------------


def test_install_without_network_gives_a_working_runtime(installed: Path, kit_dir: Path) -> None:
    root = installed
    done = _run([str(root / "runtime" / "bin" / "charter-agent"), "--version"])
    assert done.returncode == 0 and done.stdout.strip() == f"charter-agent {AGENT_VERSION}"
    done = _run([str(root / "bin" / "charter-agentctl"), "version"])
    assert done.stdout.strip() == f"charter-agent {AGENT_VERSION}"
    assert (root / "runtime").is_symlink()
    assert (root / "runtime" / "KIT.json").read_bytes() == (kit_dir / "KIT.json").read_bytes()
    assert all((root / d).is_dir() for d in ("releases", "log", "run"))
    conf = (root / "agent.conf").read_text()
    assert re.fullmatch(r"PORT=\d+\nHOST=127\.0\.0\.1\n", conf), conf
    assert os.access(root / "bin" / "charter-agentctl", os.X_OK)
    # the runtime runs from the kit's wheels alone: the agent's own package and nothing of the
    # console (core/__init__.py is the one-line stand-in)
    done = _run([str(root / "runtime" / "bin" / "python"), "-c",
                 "import core, core.serving.agent, sklearn, skops; print(core.__doc__)"])
    assert done.returncode == 0, done.stderr
    assert "only the core.serving package ships" in done.stdout


def test_installing_the_same_kit_again_changes_nothing(installed: Path, kit_dir: Path) -> None:
    before = (os.readlink(installed / "runtime"), sorted(os.listdir(installed / "runtimes")),
              (installed / "agent.conf").read_text())
    done = _run(["sh", str(kit_dir / "install.sh"), str(installed), "--no-systemd"],
                offline=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already installed" in done.stdout and "nothing to change" in done.stdout
    assert done.stdout.splitlines()[-1].startswith(f"charter-agent runtime {AGENT_VERSION} ")
    assert (os.readlink(installed / "runtime"), sorted(os.listdir(installed / "runtimes")),
            (installed / "agent.conf").read_text()) == before


def test_a_tampered_kit_is_refused_and_the_runtime_kept(installed: Path, kit_dir: Path,
                                                        tmp_path: Path) -> None:
    before = os.readlink(installed / "runtime")
    bad = _copy_kit(kit_dir, tmp_path)
    wheel = next((bad / "wheels").glob("joblib-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    wheel.write_bytes(bytes(data))
    done = _run(["sh", str(bad / "install.sh"), str(installed), "--no-systemd"], offline=True)
    assert done.returncode == 1
    assert f"wheels/{wheel.name}: FAILED" in done.stderr
    assert "do not match KIT.json" in done.stderr and "nothing was installed" in done.stderr
    assert os.readlink(installed / "runtime") == before
    assert _run([str(installed / "runtime" / "bin" / "charter-agent"), "--version"]).returncode == 0

    # a wheel slipped in beside the listed ones is refused too
    shutil.copy(kit_dir / "wheels" / wheel.name, wheel)
    (bad / "wheels" / "numpy-9.9.9-py3-none-any.whl").write_bytes(b"not from the kit")
    done = _run(["sh", str(bad / "install.sh"), str(installed), "--no-systemd"], offline=True)
    assert done.returncode == 1
    assert "does not list: wheels/numpy-9.9.9-py3-none-any.whl" in done.stderr
    assert os.readlink(installed / "runtime") == before


def test_a_kit_for_another_python_is_refused(kit_dir: Path, tmp_path: Path) -> None:
    other = _copy_kit(kit_dir, tmp_path)
    _rewrite_manifest(other, lambda m: m.update(python="3.10"))
    root = tmp_path / "root"
    done = _run(["sh", str(other / "install.sh"), str(root), "--no-systemd"], offline=True)
    assert done.returncode == 1
    here = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          env=SERVER_ENV, capture_output=True, text=True).stdout.strip()
    assert re.search(rf"this kit is for Python 3\.10, but \S+python3 is Python {here};",
                     done.stderr), done.stderr
    assert "Build a kit for this server's Python" in done.stderr
    assert not root.exists()


def test_a_failed_install_leaves_the_runtime_in_use(installed: Path, kit_dir: Path,
                                                    tmp_path: Path) -> None:
    """A kit that verifies but cannot install (a wheel left out when it was built) stops
    before the switch: the old runtime stays, the half-made one is removed."""
    before = (os.readlink(installed / "runtime"), sorted(os.listdir(installed / "runtimes")))
    broken = _copy_kit(kit_dir, tmp_path)
    gone = next((broken / "wheels").glob("tzdata-*.whl"))
    gone.unlink()
    _rewrite_manifest(broken, lambda m: m["files"].pop(f"wheels/{gone.name}"))
    done = _run(["sh", str(broken / "install.sh"), str(installed), "--no-systemd"],
                offline=True)
    assert done.returncode == 1, done.stdout
    assert "pip could not install charter-agent from the kit" in done.stderr
    assert "tzdata" in done.stderr
    assert "the runtime in use, if any, is untouched" in done.stderr
    assert (os.readlink(installed / "runtime"), sorted(os.listdir(installed / "runtimes"))) \
        == before
    assert not (installed / "runtime.new").exists()


# ---- running it with charter-agentctl ------------------------------------------------------------


def test_agentctl_starts_serves_reloads_and_stops(installed: Path, tmp_path: Path) -> None:
    root, ctl = installed, str(installed / "bin" / "charter-agentctl")
    port = int(re.search(r"PORT=(\d+)", (root / "agent.conf").read_text()).group(1))
    models = train_models(tmp_path)
    for name, ref in (("r1", "pd@1"), ("r2", "pd@2")):
        v = models[ref]
        make_release(root / "releases" / name, [v], policy_text([v], ref), name=name)
    (root / "releases" / "not-a-release").mkdir()

    if (root / "current").is_symlink():
        (root / "current").unlink()
    done = _run([ctl, "start"])
    assert done.returncode == 1 and "no release is deployed yet" in done.stderr

    # an agent that cannot start: its own words reach the administrator
    os.symlink("releases/not-a-release", root / "current")
    done = _run([ctl, "start"], timeout=120)
    assert done.returncode == 1
    assert "exited before it was ready" in done.stderr and "manifest.json" in done.stderr
    assert _run([ctl, "status"]).returncode == 3

    point(root / "current", Path("releases/r1"))
    try:
        done = _run([ctl, "start"], timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"port {port}, release r1" in done.stdout
        pid = int((root / "run" / "agent.pid").read_text())
        status = _run([ctl, "status"])
        assert status.returncode == 0
        assert json.loads(status.stdout) == {"running": True, "pid": pid, "port": port,
                                             "release": "releases/r1"}
        assert "already running" in _run([ctl, "start"]).stdout

        recs = records(5, seed=3)
        reply = call(port, "POST", "/predict", {"records": recs})
        assert reply.status == 200, reply.text
        assert {p["version"] for p in reply.json["predictions"]} == {"pd@1"}
        check_predictions(reply.json["predictions"], recs, models)
        assert call(port, "GET", "/v2/health/ready").json == {"ready": True, "release": "r1"}

        point(root / "current", Path("releases/r2"))
        done = _run([ctl, "reload"], timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "now serving release r2" in done.stdout
        assert call(port, "GET", "/v2/health/ready").json == {"ready": True, "release": "r2"}
        reply = call(port, "POST", "/predict", {"records": recs})
        assert {p["version"] for p in reply.json["predictions"]} == {"pd@2"}
        assert json.loads(_run([ctl, "status"]).stdout)["release"] == "releases/r2"

        # a folder that is no release is not even sent; one the agent refuses to load (its
        # policy altered after approval) is reported with the agent's words; r2 serves on
        point(root / "current", Path("releases/not-a-release"))
        done = _run([ctl, "reload"], timeout=120)
        assert done.returncode == 1 and "is not a release folder" in done.stderr
        shutil.copytree(root / "releases" / "r1", root / "releases" / "r1-altered")
        policy = root / "releases" / "r1-altered" / "policy.json"
        policy.write_text(policy.read_text().replace('"version": 1', '"version": 2'))
        point(root / "current", Path("releases/r1-altered"))
        started = time.monotonic()
        done = _run([ctl, "reload"], timeout=120)
        assert done.returncode == 1
        assert "still serves release r2, not r1" in done.stderr
        assert "reload refused" in done.stderr and "SHA-256" in done.stderr
        assert time.monotonic() - started < 20, "the refusal is read from the agent's output"
        assert call(port, "GET", "/v2/health/ready").json["release"] == "r2"
        point(root / "current", Path("releases/r2"))

        done = _run([ctl, "stop"], timeout=60)
        assert done.returncode == 0 and f"stopped: pid {pid}" in done.stdout
        assert not _alive(pid)
        assert not (root / "run" / "agent.pid").exists()
        status = _run([ctl, "status"])
        assert status.returncode == 3
        assert json.loads(status.stdout) == {"running": False, "pid": None, "port": port,
                                             "release": "releases/r2"}
        assert "not running" in _run([ctl, "stop"]).stdout
        # every request it answered is in its log, and the chain holds
        verified = _run([str(root / "runtime" / "bin" / "charter-agent"), "verify",
                         str(root / "log")])
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        _run([ctl, "stop"], timeout=60)


# ---- upgrading (last: it replaces the session's runtime) ----------------------------------------


def test_a_new_kit_switches_the_runtime_in_one_step(installed: Path, kit_dir: Path,
                                                    tmp_path: Path) -> None:
    old = os.readlink(installed / "runtime")
    newer = _copy_kit(kit_dir, tmp_path)
    _rewrite_manifest(newer, lambda m: m.update(built_at="2026-12-01T00:00:00Z"))
    done = _run(["sh", str(newer / "install.sh"), str(installed), "--no-systemd"], offline=True)
    assert done.returncode == 0, done.stdout + done.stderr
    new = os.readlink(installed / "runtime")
    assert new != old and new.startswith(f"runtimes/{AGENT_VERSION}-")
    # the old runtime stays beside the new one (an agent may still run from it)
    assert sorted(os.listdir(installed / "runtimes")) == sorted(
        [Path(old).name, Path(new).name])
    assert not (installed / "runtime.new").exists()
    assert (installed / "runtime" / "KIT.json").read_bytes() == \
        (newer / "KIT.json").read_bytes()
    # scripts in the new venv name its final path, so the switched link runs
    done = _run([str(installed / "bin" / "charter-agentctl"), "version"])
    assert done.returncode == 0 and done.stdout.strip() == f"charter-agent {AGENT_VERSION}"
