"""The offline agent kit: everything a server with no internet needs to run ``charter-agent``.

A kit is one ``.tar.gz`` with a top folder holding ``KIT.json`` (what is inside, with the SHA-256
of every file), ``wheels/`` (the agent's own wheel, the pinned closure of its runtime
requirements for one Python and machine, and a pip wheel that installs them), ``install.sh``,
``charter-agentctl``, ``charter-agent.service`` and ``README.txt``. The scripts come from
``installers/agent-kit/``; ``install.sh`` needs nothing from outside the kit.

Wheels come from PyPI (or the index the user's pip is configured for) once, into a wheel cache,
so later builds for the same Python and machine run offline; a workstation with no internet
builds from a given wheelhouse folder instead. Nothing here writes the audit trail: the caller
records which kit (``Kit.sha256``) it sent where.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core import errors

KIT_FORMAT = "charter-agent-kit/1"
PIP_VERSION = "26.3"  # the pip that install.sh runs from its wheel on the server
# What the agent imports (core/serving); pip derives the rest of the closure from their metadata.
RUNTIME_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "threadpoolctl",
                        "skops")
REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = REPO_ROOT / "installers" / "requirements.lock"
TEMPLATES = REPO_ROOT / "installers" / "agent-kit"
SCRIPTS = ("install.sh", "charter-agentctl")  # mode 0755 in the kit
TEMPLATE_FILES = (*SCRIPTS, "charter-agent.service", "README.txt")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_AGENT_INIT = b'"""Charter\'s serving agent runtime: only the core.serving package ships."""\n'
_PROBE = ("import json, platform, sys; lib, ver = platform.libc_ver(); "
          "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], "
          "'machine': platform.machine(), 'glibc': ver if lib == 'glibc' and ver else None}))")
_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


class KitError(errors.KnownError):
    """The kit could not be built; the message says what failed and what to do."""

    code = "agent_kit"


@dataclass(frozen=True)
class ServerPlatform:
    """What a preflight learns from a server: its python3's version, machine and glibc."""

    python: str          # "3.11"
    machine: str         # "x86_64" / "aarch64"
    glibc: str | None    # "2.36"; None when the server's C library is not glibc or is unknown

    @property
    def cp_tag(self) -> str:
        return "cp" + self.python.replace(".", "")


@dataclass(frozen=True)
class Kit:
    path: Path                # the .tar.gz
    agent_version: str
    platform: ServerPlatform
    sha256: str               # of the tarball
    files: dict[str, str]     # name inside the kit's folder -> sha256 (also in KIT.json)


def local_platform() -> ServerPlatform:
    """The platform of the Python running this code."""
    import platform

    lib, ver = platform.libc_ver()
    machine = platform.machine().lower()
    return ServerPlatform(f"{sys.version_info.major}.{sys.version_info.minor}",
                          _MACHINE_ALIASES.get(machine, machine),
                          ver if lib == "glibc" and ver else None)


def platform_probe_command() -> list[str]:
    """argv to run on the server: its python3 prints one JSON line for
    :func:`parse_platform_probe`. Works on any Python 3."""
    return ["python3", "-c", _PROBE]


def parse_platform_probe(stdout: str) -> ServerPlatform:
    """The platform the probe's output describes; raises KitError on anything else."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and {"python", "machine", "glibc"} <= data.keys():
            machine = str(data["machine"]).lower()
            platform = ServerPlatform(str(data["python"]), _MACHINE_ALIASES.get(machine, machine),
                                      None if data["glibc"] is None else str(data["glibc"]))
            _check_platform(platform)
            return platform
    raise KitError(f"The server's python3 did not answer the platform probe (it printed "
                   f"{stdout.strip()[-300:]!r}). Check that Python 3 is installed on the server "
                   "as python3.")


def default_wheel_cache(platform: ServerPlatform) -> Path:
    """Where downloaded wheels are kept between builds: the user's cache folder."""
    from core.paths import cache_dir

    return cache_dir() / "wheelhouse" / f"{platform.python}-{platform.machine}"


def build_kit(out_dir: Path, platform: ServerPlatform, *, wheelhouse: Path | None = None,
              cache_dir: Path | None = None,
              progress: Callable[[str], None] | None = None) -> Kit:
    """Build the offline kit for ``platform`` into ``out_dir`` and return it.

    With ``wheelhouse``, wheels come only from that folder (no network). Otherwise they come from
    ``cache_dir`` (default :func:`default_wheel_cache`), which is filled from the package index
    the first time. Setting SOURCE_DATE_EPOCH fixes ``built_at`` and so makes the whole tarball
    reproducible; the agent's wheel is always reproducible. Raises KitError."""
    from core.serving import AGENT_VERSION

    say = progress or (lambda _msg: None)
    _check_platform(platform)
    pins = _runtime_pins()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    top = f"charter-agent-kit-{AGENT_VERSION}-{platform.cp_tag}-{platform.machine}"
    with tempfile.TemporaryDirectory(prefix=".kit-", dir=out_dir) as tmp:
        wheels = Path(tmp) / "wheels"
        _collect_wheels(wheels, platform, pins, wheelhouse, cache_dir, say)
        say("Building the agent's wheel")
        agent = agent_wheel(AGENT_VERSION, pins)
        (wheels / agent_wheel_name(AGENT_VERSION)).write_bytes(agent)
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
        built = int(epoch) if epoch.isdigit() else int(time.time())
        payload: dict[str, Path | bytes] = {f"wheels/{p.name}": p for p in wheels.iterdir()}
        payload.update({name: _template(name, AGENT_VERSION, top) for name in TEMPLATE_FILES})
        files = {name: _sha256(data) for name, data in sorted(payload.items())}
        glibc_min = _glibc_floor(name for name in files if name.startswith("wheels/"))
        manifest = {"format": KIT_FORMAT, "agent_version": AGENT_VERSION,
                    "python": platform.python, "machine": platform.machine,
                    "glibc_min": glibc_min, "pip": PIP_VERSION,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built)),
                    "files": files}
        payload["KIT.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        say("Writing the kit")
        path = out_dir / f"{top}.tar.gz"
        part = Path(tmp) / path.name
        _write_tar(part, top, payload, built)
        os.replace(part, path)
    return Kit(path, AGENT_VERSION, platform, _sha256(path), files)


# ---- wheels ------------------------------------------------------------------------------------


def _check_platform(p: ServerPlatform) -> None:
    for what, value, pattern in (("Python version", p.python, r"3\.\d{1,2}"),
                                 ("machine type", p.machine, r"[a-z0-9_]+"),
                                 ("glibc version", p.glibc or "2.17", r"2\.\d+")):
        if not re.fullmatch(pattern, value):
            raise KitError(f"The server's {what} {value!r} is not one Charter can build an agent "
                           "kit for.")


def _lock_pins() -> dict[str, str]:
    """Every pin of installers/requirements.lock, by normalised name."""
    try:
        text = LOCK_FILE.read_text(encoding="utf-8")
    except OSError as err:
        raise KitError(f"{LOCK_FILE} cannot be read ({err.strerror}); reinstall Charter.") from None
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version
            in re.findall(r"^\s*([A-Za-z0-9._-]+)\s*==\s*([^\s;#]+)", text, re.M)}


def _runtime_pins() -> dict[str, str]:
    """The agent's top-level requirements, pinned as in installers/requirements.lock."""
    pins = _lock_pins()
    missing = [n for n in RUNTIME_REQUIREMENTS if n not in pins]
    if missing:
        raise KitError(f"{LOCK_FILE} pins no version of {', '.join(missing)}; the kit cannot be "
                       "built from this installation of Charter.")
    return {n: pins[n] for n in RUNTIME_REQUIREMENTS}


def _pip_platforms(platform: ServerPlatform) -> list[str]:
    """Every manylinux tag the server's glibc runs (2.17 when it is not known)."""
    minor = int((platform.glibc or "2.17").split(".")[1])
    if minor < 17:
        raise KitError(f"The server's glibc {platform.glibc} is older than 2.17, the oldest the "
                       "agent's wheels support; the agent cannot run on it.")
    m = platform.machine
    return [f"manylinux2014_{m}", *(f"manylinux_2_{v}_{m}" for v in range(17, minor + 1))]


def _collect_wheels(dest: Path, platform: ServerPlatform, pins: dict[str, str],
                    wheelhouse: Path | None, cache_dir: Path | None,
                    say: Callable[[str], None]) -> None:
    """Copy into ``dest`` exactly the wheels of the pinned closure, resolved by pip."""
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        # the lock's other pins, so the closure's transitive packages are the tested versions
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in _lock_pins().items()
                                       if n not in pins))
        wanted = [f"{n}=={v}" for n, v in pins.items()] + [f"pip=={PIP_VERSION}"]
        args = ["download", "--only-binary=:all:", "--python-version", platform.python,
                "--implementation", "cp", "--abi", platform.cp_tag, "-c", str(constraints),
                *(a for p in _pip_platforms(platform) for a in ("--platform", p)), *wanted]
        where = f"Python {platform.python} on {platform.machine}"
        if wheelhouse is not None:
            say(f"Taking the wheels for {where} from {wheelhouse}")
            ok, out = _pip([*args, "--dest", str(dest)], offline_from=Path(wheelhouse))
            if not ok:
                package, detail = _problem(out)
                raise KitError(f"The wheelhouse {wheelhouse} lacks {package} for {where}: "
                               f"{detail} Copy the wheels into it (a Charter that reaches PyPI "
                               "keeps them in its wheel cache), or build the kit on a machine "
                               "that reaches PyPI.")
            return
        cache = Path(cache_dir) if cache_dir is not None else default_wheel_cache(platform)
        cache.mkdir(parents=True, exist_ok=True)
        say(f"Looking for the wheels for {where} in the cache {cache}")
        if _pip([*args, "--dest", str(dest)], offline_from=cache)[0]:
            return
        shutil.rmtree(dest, ignore_errors=True)
        say(f"Downloading the wheels for {where} (once; they are kept in {cache})")
        ok, out = _pip([*args, "--dest", str(cache)], offline_from=None, say=say)
        if not ok:
            package, detail = _problem(out)
            raise KitError(f"pip could not download {package} for {where}: {detail} Build the "
                           "kit on a machine that reaches PyPI, or give it a wheelhouse folder "
                           "with the wheels (--wheelhouse).")
        ok, out = _pip([*args, "--dest", str(dest)], offline_from=cache)
        if not ok:
            raise KitError(f"The wheels just downloaded into {cache} do not resolve: "
                           f"{_problem(out)[1]} Empty that folder and build the kit again.")


def _pip(args: list[str], *, offline_from: Path | None,
         say: Callable[[str], None] = lambda _msg: None) -> tuple[bool, list[str]]:
    """Run pip with this Python; whether it succeeded, and what it printed.

    Offline runs see no pip configuration (whose find-links or index would add wheels from
    elsewhere); online runs keep it, so a bank's own index, proxy and certificates apply."""
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check",
           "--no-input", "--progress-bar", "off"]
    if offline_from is not None:
        env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        cmd += ["--isolated", "--no-index", "--find-links", str(offline_from)]
    out: list[str] = []
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
    except OSError as err:
        raise KitError(f"pip cannot be run with {sys.executable}: {err.strerror}.") from None
    with proc:
        for line in proc.stdout or ():
            line = line.strip()
            if line and "is ignored: it is neither a file nor a directory" not in line:
                out = [*out[-199:], line]
                if line.startswith(("Collecting ", "Saved ", "Downloading ")):
                    say(line)
    if proc.returncode != 0 and any("No module named pip" in t for t in out):
        raise KitError(f"pip is not installed for {sys.executable}, so no kit can be built here.")
    return proc.returncode == 0, out


def _problem(out: list[str]) -> tuple[str, str]:
    """The package pip found no wheel of, and pip's own words for it. (A missing package that
    is pinned only by a constraint shows as a conflict with that constraint.)"""
    text = "\n".join(out)
    m = (re.search(r"satisfies the requirement ([A-Za-z0-9._-]+)", text)
         or re.search(r"\(constraint\) ([A-Za-z0-9._-]+)", text))
    said = [t.removeprefix("ERROR: ").rstrip(".") for t in out
            if (t.startswith("ERROR:") or "requested" in t or "depends on" in t)
            and "ResolutionImpossible" not in t]
    detail = "; ".join(said or out[-3:])[:700]
    return (m.group(1) if m else "some of the wheels"), detail + "."


def _glibc_floor(wheel_names: Iterable[str]) -> str | None:
    """The oldest glibc every wheel runs on (from their manylinux tags); None if all are pure."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    floors = []
    for name in wheel_names:
        tags = name.removesuffix(".whl").split("-")[-1].split(".")
        needs = [legacy.get(t.split("_")[0]) or tuple(map(int, m.groups())) for t in tags
                 if (m := re.match(r"manylinux_(\d+)_(\d+)_", t)) or t.split("_")[0] in legacy]
        if needs:
            floors.append(min(needs))
    return "%d.%d" % max(floors) if floors else None


# ---- the agent's own wheel ---------------------------------------------------------------------


def agent_wheel_name(version: str) -> str:
    return f"charter_agent-{version}-py3-none-any.whl"


def agent_wheel(version: str, pins: dict[str, str]) -> bytes:
    """The bytes of the ``charter-agent`` wheel: ``core/__init__.py`` (a one-line stand-in, not
    the console's) and ``core/serving/*.py``, with fixed timestamps so the same sources give the
    same bytes."""
    serving = REPO_ROOT / "core" / "serving"
    files = {"core/__init__.py": _AGENT_INIT}
    files.update({f"core/serving/{p.name}": p.read_bytes()
                  for p in sorted(serving.glob("*.py"))})
    info = f"charter_agent-{version}.dist-info"
    files[f"{info}/METADATA"] = "".join(
        ["Metadata-Version: 2.1\nName: charter-agent\n", f"Version: {version}\n",
         "Summary: Charter's serving agent: serves approved model releases and logs every "
         "prediction\nRequires-Python: >=3.11\n",
         *(f"Requires-Dist: {n}=={v}\n" for n, v in pins.items())]).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: charter (core.deploy.kit)\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = (b"[console_scripts]\n"
                                         b"charter-agent = core.serving.agent:main\n")
    digests = {n: base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
               for n, d in files.items()}
    record = "".join(f"{n},sha256={digests[n]},{len(d)}\n" for n, d in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zi = zipfile.ZipInfo(name, _ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o100644 << 16
            zi.create_system = 3
            zf.writestr(zi, data)
    return buf.getvalue()


# ---- the tarball -------------------------------------------------------------------------------


def _template(name: str, version: str, top: str) -> bytes:
    try:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
    except OSError as err:
        raise KitError(f"{TEMPLATES / name} cannot be read ({err.strerror}); reinstall "
                       "Charter.") from None
    return text.replace("@AGENT_VERSION@", version).replace("@KIT_FOLDER@", top).encode()


def _sha256(data: Path | bytes) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    with open(data, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_tar(path: Path, top: str, payload: dict[str, Path | bytes], mtime: int) -> None:
    """Sorted names, one mtime, root-owned, 0644 files and 0755 folders and scripts. (Level 6:
    the wheels are compressed already, and zlib is faster at 6 than at 1 on such data.)"""
    def info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(f"{top}/{name}".rstrip("/"))
        ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    with open(path, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime,
                          compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted([*payload, "", "wheels/"]):
            data = payload.get(name)
            if data is None:
                tar.addfile(info(name, tarfile.DIRTYPE, 0o755))
                continue
            mode = 0o755 if name in SCRIPTS else 0o644
            size = len(data) if isinstance(data, bytes) else data.stat().st_size
            with (io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")) as f:
                tar.addfile(info(name, tarfile.REGTYPE, mode, size), f)
