"""Servers: enrolment with a pinned host key, preflight checks, and the agent runtime installed
from the offline kit over SSH.

Enrolment is two steps, so a person confirms the host key out of band: :meth:`scan` fetches
the key and shows its fingerprint; :meth:`enrol` fetches it again and records the server only
if it is still the fingerprint the person confirmed. From then on every connection refuses any
other key (paramiko's RejectPolicy with only the pinned key loaded); a refusal is audited
(``server.host_key_refused``) and raises a high alert. A key passphrase goes to the OS keyring
(``ssh-passphrase:<server>``), never to the store.
"""

from __future__ import annotations

import json
import re
import shlex
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from core.deploy.engine import Layout
from core.deploy.ssh_errors import HostKeyMismatch, SshError
from core.entities import Changes, Principal
from core.entities_deploy import Check, Preflight, Server
from core.errors import InvalidInput, NotFound
from core.permissions import Action, require
from core.services.auth import AuthService
from core.services.inventory import check_text
from core.store.orm_deploy import SqlAlert, SqlRelease, SqlServer
from core.store.uow import Store, UnitOfWork
from core.timeutil import utcnow

if TYPE_CHECKING:  # paramiko loads only when a server is reached
    from core.deploy.ssh import HostKey, Session

CHANGES = Changes(kinds=frozenset({"deployment"}), audit=True)
PASSPHRASE = "ssh-passphrase"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,255}")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
MIN_FREE_BYTES = 512 * 1024 * 1024


def server_entity(row: SqlServer, serving: SqlRelease | None = None) -> Server:
    return Server(
        id=row.id, name=row.name, host=row.host, port=row.port, username=row.username,
        key_path=row.key_path, use_agent=bool(row.use_agent), fingerprint=row.fingerprint,
        root=row.root, agent_port=row.agent_port, description=row.description,
        enrolled_by=row.enrolled_by, enrolled_at=row.enrolled_at,
        last_check=json.loads(row.last_check) if row.last_check else None,
        last_check_at=row.last_check_at,
        serving=serving.release_id if serving else None,
        serving_since=serving.finished_at if serving else None,
        serving_versions=tuple(json.loads(serving.versions)) if serving else ())


def server_row(s: DbSession, name: str) -> SqlServer:
    row = s.execute(select(SqlServer).where(SqlServer.name == name)).scalar_one_or_none()
    if row is None:
        known = s.execute(select(SqlServer.name).order_by(SqlServer.name)).scalars().all()
        raise NotFound(f"No server named {name!r} is enrolled"
                       + (f"; enrolled: {', '.join(known)}." if known else "; enrol one first "
                          "(charter server enrol)."))
    return row


def serving_release(s: DbSession, server_id: int) -> SqlRelease | None:
    return s.execute(select(SqlRelease).where(
        SqlRelease.server_id == server_id, SqlRelease.state == "serving").order_by(
        SqlRelease.id.desc()).limit(1)).scalar_one_or_none()


def raise_alert(uow: UnitOfWork, kind: str, severity: str, subject_type: str, subject: str,
                message: str) -> SqlAlert:
    row = SqlAlert(kind=kind, severity=severity, subject_type=subject_type, subject=subject,
                   message=message, state="open", raised_at=utcnow())
    uow.session.add(row)
    uow.session.flush()
    uow.record("alert.raised", "alert", str(row.id), new={
        "kind": kind, "severity": severity, "subject": f"{subject_type} {subject}",
        "message": message})
    return row


class ServerService:
    def __init__(self, store: Store, auth: AuthService) -> None:
        self.store = store
        self.auth = auth

    # -- enrolment -------------------------------------------------------------------------------
    def scan(self, principal: Principal, host: str, port: int = 22) -> HostKey:
        """The host key ``host:port`` offers now, for the person to confirm out of band."""
        require(principal.role, Action.SERVER_ENROL)
        from core.deploy.ssh import fetch_host_key

        host, port = _address(host, port)
        return fetch_host_key(host, port)

    def enrol(self, principal: Principal, *, name: str, host: str, port: int = 22,
              username: str, key_path: str | None, use_agent: bool = False,
              fingerprint: str, root: str, agent_port: int = 8080,
              passphrase: str | None = None, description: str = "") -> tuple[Server, Changes]:
        """Record a server whose host key has the ``fingerprint`` the person confirmed.

        Raises PermissionDenied (IT only), InvalidInput (a bad field, a name in use, a key that
        changed since it was confirmed), Unreachable, SecretsUnavailable (a passphrase with no
        OS keyring). Audit: ``server.enrolled``."""
        require(principal.role, Action.SERVER_ENROL)
        name = (name or "").strip()
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"Server name {name!r}: use 1-64 letters, digits, '.', '_' or "
                               "'-', starting with a letter or digit.")
        host, port = _address(host, port)
        username = (username or "").strip()
        if not _USER.fullmatch(username):
            raise InvalidInput(f"User {username!r} is not a valid login name on a server.")
        if not key_path and not use_agent:
            raise InvalidInput("Give a private key file, or authenticate with an SSH agent.")
        if key_path and not Path(key_path).expanduser().is_file():
            raise InvalidInput(f"The key file {key_path} does not exist on this workstation.")
        root = (root or "").strip()
        if not PurePosixPath(root).is_absolute() or ".." in PurePosixPath(root).parts \
                or len(root) > 200 or not re.fullmatch(r"[A-Za-z0-9/._-]+", root):
            raise InvalidInput(f"The deployment folder {root!r} must be an absolute path on the "
                               "server made of letters, digits, '/', '.', '_' and '-'.")
        if not 1024 <= agent_port <= 65535:
            raise InvalidInput(f"The agent port must be between 1024 and 65535; got "
                               f"{agent_port}.")
        description = check_text("description", description or "")
        from core.deploy.ssh import fetch_host_key

        offered = fetch_host_key(host, port)
        if offered.fingerprint != (fingerprint or "").strip():
            raise InvalidInput(
                f"The server now offers host key {offered.fingerprint}, not the "
                f"{fingerprint or '(none)'} you confirmed. Nothing was enrolled: confirm the "
                "fingerprint with the server's administrator and scan again.")
        with self.store.unit_of_work(principal) as uow:
            if uow.session.execute(select(SqlServer.id).where(
                    SqlServer.name == name)).first():
                raise InvalidInput(f"A server named {name} is already enrolled.")
            if passphrase:
                from core.secrets import store_secret

                store_secret(PASSPHRASE, name, passphrase)
            row = SqlServer(name=name, host=host, port=port, username=username,
                            key_path=str(Path(key_path).expanduser()) if key_path else None,
                            use_agent=int(use_agent), host_key_type=offered.key_type,
                            host_key=offered.key_b64, fingerprint=offered.fingerprint,
                            root=root.rstrip("/") or "/", agent_port=agent_port,
                            description=description, enrolled_by=principal.username,
                            enrolled_at=utcnow())
            uow.session.add(row)
            uow.session.flush()
            uow.record("server.enrolled", "server", name, new={
                "address": f"{username}@{host}:{port}", "host_key": offered.fingerprint,
                "key": "ssh agent" if use_agent and not key_path else row.key_path,
                "passphrase": "in the OS keyring" if passphrase else "none",
                "root": row.root, "agent_port": agent_port})
            return server_entity(row), CHANGES

    # -- reading ---------------------------------------------------------------------------------
    def servers(self, principal: Principal) -> list[Server]:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            rows = uow.session.execute(select(SqlServer).where(
                SqlServer.retired_at.is_(None)).order_by(SqlServer.name)).scalars().all()
            return [server_entity(r, serving_release(uow.session, r.id)) for r in rows]

    def server(self, principal: Principal, name: str) -> Server:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            row = server_row(uow.session, name)
            return server_entity(row, serving_release(uow.session, row.id))

    # -- connecting ------------------------------------------------------------------------------
    def open_session(self, principal: Principal, server: Server) -> Session:
        """An SSH session to ``server`` with its pinned host key. A different key is refused,
        audited and alerted before HostKeyMismatch reaches the caller."""
        from core.deploy.ssh import HostKey, Target, connect

        passphrase = None
        if server.key_path:
            from core.secrets import SecretsUnavailable, load_secret

            try:
                passphrase = load_secret(PASSPHRASE, server.name)
            except SecretsUnavailable:
                passphrase = None  # a key without a passphrase still works; one with says so
        with self.store.unit_of_work(principal, write=False) as uow:
            row = server_row(uow.session, server.name)
            key = HostKey(row.host_key_type, row.host_key)
        target = Target(server.host, server.port, server.username, key,
                        key_path=server.key_path, use_agent=server.use_agent)
        try:
            return connect(target, passphrase)
        except HostKeyMismatch as err:
            self._host_key_refused(principal, server, err)
            raise

    def _host_key_refused(self, principal: Principal, server: Server,
                          err: HostKeyMismatch) -> None:
        with self.store.unit_of_work(principal) as uow:
            uow.record("server.host_key_refused", "server", server.name, reason=err.message,
                       new={"pinned": err.expected, "offered": err.offered})
            raise_alert(uow, "host_key_mismatch", "high", "server", server.name,
                        f"{server.name} ({server.host}:{server.port}) offered host key "
                        f"{err.offered} instead of the pinned {err.expected}; the connection "
                        "was refused. Confirm with the server's administrator before "
                        "re-enrolling it.")

    # -- preflight -------------------------------------------------------------------------------
    def check(self, principal: Principal, name: str) -> tuple[Preflight, Changes]:
        """Reachable, host key, Python, free disk, agent runtime and its version, what is
        served. Recorded on the server (``last_check``) and audited (``server.checked``)."""
        require(principal.role, Action.SERVER_ENROL)
        server = self.server(principal, name)
        try:
            with self.open_session(principal, server) as ssh:
                report = preflight(ssh, server)
        except SshError as err:
            report = Preflight(server.name, (Check("connection", False, err.message),))
        with self.store.unit_of_work(principal) as uow:
            row = server_row(uow.session, name)
            row.last_check = json.dumps(report.to_json(), sort_keys=True)
            row.last_check_at = utcnow()
            uow.record("server.checked", "server", name, new={
                "ok": report.ok, "failed": [c.name for c in report.checks if c.ok is False]})
        return report, CHANGES

    # -- runtime ---------------------------------------------------------------------------------
    def install_runtime(self, principal: Principal, name: str, *, kit: Path | None = None,
                        wheelhouse: Path | None = None,
                        progress: Callable[[str], None] | None = None) -> tuple[Preflight,
                                                                                  Changes]:
        """Upload the offline kit (built here for the server's Python and machine unless
        ``kit`` is given) and run its install.sh; nothing on the server needs the internet.
        Audit: ``server.runtime_installed``."""
        require(principal.role, Action.SERVER_ENROL)
        say = progress or (lambda text: None)
        server = self.server(principal, name)
        layout = Layout(server.root)
        with self.open_session(principal, server) as ssh, \
                tempfile.TemporaryDirectory(prefix="charter-kit.") as tmp:
            from core.deploy import kit as kits

            _, out, _ = ssh.run(["python3", *kits.platform_probe_command()[1:]])
            platform = kits.parse_platform_probe(out)
            if kit is None:
                say(f"building the agent kit for Python {platform.python} on "
                    f"{platform.machine}")
                built = kits.build_kit(Path(tmp), platform, wheelhouse=wheelhouse,
                                       progress=say)
                kit, kit_sha = built.path, built.sha256
            else:
                import hashlib

                kit_sha = hashlib.sha256(Path(kit).read_bytes()).hexdigest()
            with tarfile.open(kit) as tar:
                top = tar.getnames()[0].split("/", 1)[0]
            remote_dir = f"{layout.root}/kits/{kit_sha[:16]}"
            ssh.run(["mkdir", "-p", remote_dir])
            say(f"uploading {Path(kit).name} ({Path(kit).stat().st_size / 2**20:,.1f} MiB)")
            ssh.upload(Path(kit), f"{remote_dir}/kit.tar.gz")
            ssh.run(["tar", "-xzf", f"{remote_dir}/kit.tar.gz", "-C", remote_dir])
            say("installing on the server (no network needed)")
            code, out, err = ssh.run(["sh", f"{remote_dir}/{top}/install.sh", layout.root,
                                      "--port", str(server.agent_port)], timeout=900.0,
                                     check=False)
            if code != 0:
                raise InvalidInput(f"The kit's install.sh failed on {name} (exit {code}): "
                                   f"{(err or out).strip()[-600:]}",
                                   hint="The server's previous runtime, if any, is unchanged.")
            report = preflight(ssh, server)
        with self.store.unit_of_work(principal) as uow:
            row = server_row(uow.session, name)
            row.last_check = json.dumps(report.to_json(), sort_keys=True)
            row.last_check_at = utcnow()
            uow.record("server.runtime_installed", "server", name, new={
                "kit_sha256": kit_sha, "runtime": report.runtime_version,
                "python": platform.python, "machine": platform.machine})
        return report, CHANGES


def _address(host: str, port: int) -> tuple[str, int]:
    host = (host or "").strip()
    if not _HOST.fullmatch(host):
        raise InvalidInput(f"Host {host!r} is not a host name or IP address.")
    if not 1 <= int(port) <= 65535:
        raise InvalidInput(f"SSH port must be between 1 and 65535; got {port}.")
    return host, int(port)


def preflight(ssh: Session, server: Server) -> Preflight:
    from core.deploy import kit as kits

    layout = Layout(server.root)
    checks = [Check("connection", True, f"{server.address}, host key {server.fingerprint}")]
    platform = None
    code, out, err = ssh.run(["python3", *kits.platform_probe_command()[1:]], check=False)
    if code == 0:
        p = kits.parse_platform_probe(out)
        platform = {"python": p.python, "machine": p.machine, "glibc": p.glibc}
        usable = tuple(int(x) for x in p.python.split(".")) >= (3, 11)
        checks.append(Check("python", usable, f"Python {p.python} on {p.machine}"
                            + ("" if usable else "; the agent runtime needs Python 3.11 or "
                               "newer (its pinned numpy does)")))
    else:
        checks.append(Check("python", False, "python3 is not installed on the server: "
                                             f"{(err or out).strip()[:200]}"))
    probe = ("d=" + shlex.quote(layout.root) + "; while [ ! -e \"$d\" ]; do "
             "d=$(dirname \"$d\"); done; df -Pk \"$d\" | tail -1")
    code, out, _ = ssh.run(["sh", "-c", probe], check=False)
    try:
        free = int(out.split()[3]) * 1024
        checks.append(Check("disk", free >= MIN_FREE_BYTES,
                            f"{free / 2**30:,.1f} GiB free under {layout.root}"
                            + ("" if free >= MIN_FREE_BYTES else
                               f"; at least {MIN_FREE_BYTES / 2**20:,.0f} MiB needed")))
    except (IndexError, ValueError):
        checks.append(Check("disk", False, f"df gave no answer: {out.strip()[:200]}"))
    code, out, err = ssh.run([layout.agent, "--version"], check=False)
    runtime = out.strip() if code == 0 else None
    checks.append(Check("runtime", runtime is not None,
                        runtime or "not installed: charter server install-runtime"))
    serving = None
    if runtime:
        code, out, _ = ssh.run([layout.ctl, "status"], check=False)
        try:
            status = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            status = {}
        serving = status.get("release")
        checks.append(Check("agent", None if not serving else bool(status.get("running")),
                            f"running, serving {serving}" if status.get("running") else
                            ("stopped" + (f"; current release {serving}" if serving else
                                          "; nothing deployed yet"))))
    return Preflight(server.name, tuple(checks), platform, runtime, serving)
