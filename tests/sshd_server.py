"""A throwaway OpenSSH server for the test suite, and a fault-injecting TCP proxy in front of it.

The server is Debian's ``/usr/sbin/sshd`` with its own configuration, host keys (ECDSA and
ed25519, made by ``ssh-keygen``) and authorized_keys, all in a fresh /tmp/charter-sshd.XXXXXXXX.
Only public-key authentication is on; SFTP is ``internal-sftp``; local forwarding is allowed (the
console reaches the serving agent through ``direct-tcpip``).

As root the server runs in its own network namespace with no route out: a veth pair with a /30
joins it to the test process, which connects to the namespace's address. sshd is started with
``nsenter --net=/run/netns/NAME`` rather than ``ip netns exec``: the latter also gives the process
a private mount namespace, and a tmpfs mounted later (:meth:`SshdServer.small_disk`) would then
be invisible to sshd when / is not a shared mount. Not root: sshd listens on 127.0.0.1 on a free
port and the current user logs in.
"""

from __future__ import annotations

import atexit
import getpass
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from core.deploy.ssh import HostKey

SSHD = "/usr/sbin/sshd"
START_TIMEOUT_S = 10
SETUP_HINT = "Install it with `./installers/dev.sh setup` as root (it installs openssh-server)."


class SshdUnavailable(RuntimeError):
    """sshd or ssh-keygen is missing, or the requested facility needs root."""


def find_tools() -> dict[str, str]:
    tools = {"sshd": SSHD if os.access(SSHD, os.X_OK) else None}
    for name in ("ssh-keygen", "ssh-agent", "ssh-add"):
        tools[name] = shutil.which(name)
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        raise SshdUnavailable(f"{', '.join(missing)} not found (sshd must be at {SSHD}). {SETUP_HINT}")
    if os.geteuid() == 0:
        for name, package in (("ip", "iproute2"), ("nsenter", "util-linux"), ("mount", "mount")):
            tools[name] = shutil.which(name)
            if tools[name] is None:
                raise SshdUnavailable(
                    f"{name} not found: as root the test sshd runs in its own network namespace. "
                    f"Install it with `apt-get install -y --no-install-recommends {package}`.")
    return {k: v for k, v in tools.items() if v}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def keygen(path: Path, key_type: str = "ed25519", passphrase: str = "", comment: str = "charter-test") -> Path:
    """A new key pair at ``path`` / ``path.pub`` (mode 0600), replacing any old one."""
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    _run(["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-C", comment, "-f", str(path)])
    path.chmod(0o600)
    return path


def _abort(sock: socket.socket) -> None:
    """Close with a TCP reset, not an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """A TCP forwarder on 127.0.0.1 in front of the server, able to cut connections midway.

    :meth:`cut_after` resets every connection (existing and new) once it has carried ``n`` bytes
    from client to server, counted per connection from its start.
    """

    host = "127.0.0.1"

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._cut_after: int | None = None
        self._closed = threading.Event()
        self.connections = 0
        self.cuts = 0
        threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True).start()

    def cut_after(self, n_bytes: int | None) -> None:
        self._cut_after = n_bytes

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _abort(client)
            return
        upstream.settimeout(None)
        peer = {client: upstream, upstream: client}
        open_ends = [client, upstream]
        sent_up = 0
        try:
            while open_ends and not self._closed.is_set():
                readable, _, _ = select.select(open_ends, [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        open_ends.remove(sock)
                        peer[sock].shutdown(socket.SHUT_WR)
                        continue
                    limit = self._cut_after
                    if sock is client and limit is not None and sent_up + len(data) >= limit:
                        upstream.sendall(data[: max(0, limit - sent_up)])
                        self.cuts += 1
                        return
                    if sock is client:
                        sent_up += len(data)
                    peer[sock].sendall(data)
        except OSError:
            pass
        finally:
            _abort(client)
            _abort(upstream)


class SshdServer:
    """One throwaway sshd. ``start()`` / ``stop()`` run and stop the daemon; ``close()`` removes
    everything (namespace, mounts, files). Also a context manager."""

    def __init__(self) -> None:
        self.tools = find_tools()
        self.as_root = os.geteuid() == 0
        self.in_namespace = self.as_root
        self.user = getpass.getuser()
        tag = secrets.token_hex(3)
        self.netns: str | None = f"charter-{tag}" if self.in_namespace else None
        self._veth_host = f"chv{tag}h"
        self._veth_ns = f"chv{tag}n"
        # A random /30 in 10.201.0.0/16, so parallel runs rarely collide.
        block = secrets.randbelow(256 * 64) * 4
        self._net = f"10.201.{block // 256}.{block % 256}"
        self.host = f"10.201.{block // 256}.{block % 256 + 2}" if self.in_namespace else "127.0.0.1"
        self.port = 22 if self.in_namespace else 0
        self.base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._mounts: list[Path] = []
        self._children: list[subprocess.Popen] = []
        self._proxies: list[FaultProxy] = []
        self._passphrase_keys: dict[str, Path] = {}
        self._prepared = False
        self._netns_created = False

    # -- paths ---------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        assert self.base is not None, "server not started"
        return self.base / name

    @property
    def root(self) -> Path:
        """The 'server' directory where deployments live."""
        return self._path("srv")

    @property
    def client_key_path(self) -> Path:
        return self._path("client_ed25519")

    def host_key_pub_path(self, key_type: str = "ed25519") -> Path:
        return self._path(f"ssh_host_{key_type}_key.pub")

    @property
    def host_key(self) -> HostKey:
        """The server's ed25519 host key (what a client that prefers ed25519 is offered)."""
        return HostKey.from_openssh(self.host_key_pub_path("ed25519").read_text())

    def host_key_of(self, key_type: str) -> HostKey:
        return HostKey.from_openssh(self.host_key_pub_path(key_type).read_text())

    # -- set-up --------------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="charter-sshd.", dir="/tmp"))
        self.root.mkdir()
        self._path("authorized_keys").touch(mode=0o600)
        self._make_host_keys()
        self.generate_client_key("client_ed25519")
        if self.as_root:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.in_namespace:
            self._make_namespace()
        self._prepared = True

    def _make_host_keys(self) -> None:
        for key_type in ("ecdsa", "ed25519"):
            keygen(self._path(f"ssh_host_{key_type}_key"), key_type, comment="charter-test-host")

    def _make_namespace(self) -> None:
        ns, vh, vn = self.netns, self._veth_host, self._veth_ns
        assert ns is not None
        head, last = self._net.rsplit(".", 1)
        host_side, ns_side = f"{head}.{int(last) + 1}", f"{head}.{int(last) + 2}"
        try:
            _run(["ip", "netns", "add", ns])
        except RuntimeError as exc:
            raise SshdUnavailable(f"Could not create a network namespace for the test sshd (root "
                                  f"without CAP_SYS_ADMIN/CAP_NET_ADMIN, e.g. an unprivileged "
                                  f"container?): {exc}") from exc
        self._netns_created = True
        _run(["ip", "link", "add", vh, "type", "veth", "peer", "name", vn])
        _run(["ip", "link", "set", vn, "netns", ns])
        _run(["ip", "addr", "add", f"{host_side}/30", "dev", vh])
        _run(["ip", "link", "set", vh, "up"])
        for argv in (["ip", "addr", "add", f"{ns_side}/30", "dev", vn], ["ip", "link", "set", vn, "up"],
                     ["ip", "link", "set", "lo", "up"]):
            _run(self._in_ns(argv))

    def _in_ns(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv] if self.in_namespace else argv

    def _write_config(self) -> Path:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {self._path('ssh_host_ecdsa_key')}",
            f"HostKey {self._path('ssh_host_ed25519_key')}",
            f"PidFile {self._path('sshd.pid')}",
            f"AuthorizedKeysFile {self._path('authorized_keys')}",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "AllowTcpForwarding local",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
        ]
        config = self._path("sshd_config")
        config.write_text("\n".join(lines) + "\n")
        return config

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SshdServer:
        try:
            if not self._prepared:
                atexit.register(self.close)
                self._prepare()
            if not self.port:  # loopback: a free port, kept across restarts
                self.port = free_port()
            config = self._write_config()
            _run([SSHD, "-t", "-f", str(config)])
            with self._path("sshd.log").open("ab") as log:
                self._proc = subprocess.Popen(self._in_ns([SSHD, "-D", "-e", "-f", str(config)]),
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited with status {self._proc.returncode}\n{self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd on {self.host}:{self.port} not ready after "
                                   f"{START_TIMEOUT_S} s\n{self._log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Stop sshd and remove the namespace, mounts and files. Safe to call twice."""
        for proxy in self._proxies:
            proxy.close()
        for child in self._children:
            if child.poll() is None:
                child.kill()
            child.communicate()  # reaps it and closes any pipes
        self._children.clear()
        self.stop()
        for mount in reversed(self._mounts):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        self._mounts.clear()
        if self._netns_created:
            # Whatever the tests left running on the "server" (daemons started over SSH) dies
            # with it. Deleting the namespace destroys the veth end in it, and with it the pair.
            pids = subprocess.run(["ip", "netns", "pids", str(self.netns)], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", str(self.netns)], capture_output=True)
            subprocess.run(["ip", "link", "del", self._veth_host], capture_output=True)
            self._netns_created = False
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        self._prepared = False

    def __enter__(self) -> SshdServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- keys ----------------------------------------------------------------------------------

    def generate_client_key(self, name: str, *, passphrase: str = "", authorize: bool = True,
                            key_type: str = "ed25519") -> Path:
        """A new client key pair in the server's directory, added to authorized_keys if asked."""
        path = keygen(self._path(name), key_type, passphrase=passphrase, comment=f"charter-test-{name}")
        if authorize:
            with self._path("authorized_keys").open("a") as f:
                f.write(path.with_name(path.name + ".pub").read_text())
        return path

    def client_key_with_passphrase(self, passphrase: str) -> Path:
        if passphrase not in self._passphrase_keys:
            name = f"client_pp{len(self._passphrase_keys)}_ed25519"
            self._passphrase_keys[passphrase] = self.generate_client_key(name, passphrase=passphrase)
        return self._passphrase_keys[passphrase]

    def regenerate_host_key(self) -> None:
        """Restart sshd with new host keys (a 'reinstalled' server, or an impostor)."""
        self.stop()
        self._make_host_keys()
        self.start()

    # -- inside the server ---------------------------------------------------------------------

    def run_in_server(self, argv: list[str], *, timeout: float = 30,
                      input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the server's network namespace (never raises on a non-zero status)."""
        return subprocess.run(self._in_ns(argv), capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def spawn_in_server(self, argv: list[str], **popen_kw) -> subprocess.Popen:
        """Start ``argv`` in the server's namespace in the background; killed at :meth:`close`."""
        child = subprocess.Popen(self._in_ns(argv), stdin=subprocess.DEVNULL, **popen_kw)
        self._children.append(child)
        return child

    def small_disk(self, path: str, size_mb: int) -> Path:
        """Mount a tmpfs of ``size_mb`` MiB at ``root/path`` (unmounted at close): writes beyond
        it fail with ENOSPC. Needs root."""
        if not self.as_root:
            raise SshdUnavailable("small_disk mounts a tmpfs and needs root; run the tests as root.")
        target = self.root / path
        target.mkdir(parents=True, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "charter-test", str(target)])
        self._mounts.append(target)
        return target

    def proxy(self) -> FaultProxy:
        proxy = FaultProxy(self.host, self.port)
        self._proxies.append(proxy)
        return proxy

    # -- diagnostics ---------------------------------------------------------------------------

    def log_text(self) -> str:
        if self.base is None or not self._path("sshd.log").exists():
            return ""
        return self._path("sshd.log").read_text(errors="replace")

    def _log_tail(self, lines: int = 40) -> str:
        return "sshd log (tail):\n" + "\n".join(self.log_text().splitlines()[-lines:])
