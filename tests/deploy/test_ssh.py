"""The SSH transport against a real OpenSSH server (tests/sshd_server.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from sshd_server import SshdServer, free_port, keygen

from core import errors
from core.deploy import ssh
from core.deploy.ssh import HostKey, Target


def remote_sha256(sshd: SshdServer, path: Path) -> str:
    proc = sshd.run_in_server(["sha256sum", str(path)])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[0]


# -- host keys ---------------------------------------------------------------------------------


def test_fetch_host_key_prefers_ed25519_and_matches_ssh_keygen(sshd: SshdServer) -> None:
    key = ssh.fetch_host_key(sshd.host, sshd.port, timeout=5)

    # The server also has an ECDSA host key (listed first in its config); ed25519 is preferred.
    assert key.key_type == "ssh-ed25519"
    listed = subprocess.run(["ssh-keygen", "-lf", str(sshd.host_key_pub_path("ed25519"))],
                            capture_output=True, text=True, check=True).stdout.split()
    assert key.fingerprint == listed[1]
    assert key == sshd.host_key
    assert key.to_paramiko().get_base64() == key.key_b64


def test_changed_host_key_is_refused_naming_both_fingerprints(sshd: SshdServer, ssh_target: Target) -> None:
    old = ssh_target.host_key.fingerprint
    sshd.regenerate_host_key()
    new = sshd.host_key.fingerprint
    assert new != old

    with pytest.raises(ssh.HostKeyMismatch) as caught:
        ssh.connect(ssh_target, timeout=5)

    assert (caught.value.expected, caught.value.offered) == (old, new)
    assert old in caught.value.message and new in caught.value.message
    assert "re-enrol" in caught.value.message
    # Re-enrolled with the new key, it connects again.
    with ssh.connect(dataclasses.replace(ssh_target, host_key=sshd.host_key), timeout=5) as session:
        assert session.run(["true"])[0] == 0


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa", "rsa"])  # rsa: a type it does not offer
def test_a_key_the_server_does_not_have_is_refused(sshd: SshdServer, ssh_target: Target,
                                                     tmp_path: Path, key_type: str) -> None:
    stranger = keygen(tmp_path / "stranger", key_type)
    pinned = HostKey.from_openssh(stranger.with_suffix(".pub").read_text())

    with pytest.raises(ssh.HostKeyMismatch) as caught:
        ssh.connect(dataclasses.replace(ssh_target, host_key=pinned), timeout=5)

    assert caught.value.expected == pinned.fingerprint
    assert caught.value.offered in (sshd.host_key.fingerprint, sshd.host_key_of("ecdsa").fingerprint)


def test_the_servers_other_host_key_type_can_be_pinned(sshd: SshdServer, ssh_target: Target) -> None:
    target = dataclasses.replace(ssh_target, host_key=sshd.host_key_of("ecdsa"))
    assert target.host_key.key_type.startswith("ecdsa-")
    with ssh.connect(target, timeout=5) as session:
        assert session.run(["echo", "ok"])[1] == "ok\n"


# -- commands ----------------------------------------------------------------------------------


def test_run_returns_status_stdout_and_stderr(ssh_target: Target) -> None:
    with ssh.connect(ssh_target, timeout=5) as session:
        status, out, err = session.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
        assert (status, out, err) == (3, "out\n", "err\n")
        assert session.run(["cat"], stdin=b"line one\nline two\n")[1] == "line one\nline two\n"
        assert session.run(["id", "-un"])[1].strip() == ssh_target.user


def test_failing_command_raises_with_its_stderr(ssh_target: Target) -> None:
    with ssh.connect(ssh_target, timeout=5) as session:
        with pytest.raises(ssh.RemoteCommandFailed) as caught:
            session.run(["sh", "-c", "echo 'disk on fire' >&2; exit 7"])
        assert caught.value.exit_status == 7
        assert caught.value.stderr == "disk on fire\n"
        assert "exit status 7" in caught.value.message and "disk on fire" in caught.value.message
        # The session survives a failed command.
        assert session.run(["true"])[0] == 0


def test_arguments_reach_the_remote_command_literally(sshd: SshdServer, ssh_target: Target) -> None:
    marker = sshd.root / "injected"
    args = ["two words", "it's", '"double"', f"$(touch {marker})", f"`touch {marker}`",
            f"; touch {marker}", "back\\slash", "new\nline", "*", "$HOME", ""]
    with ssh.connect(ssh_target, timeout=5) as session:
        _, out, _ = session.run(["printf", "%s\\0", *args])
    assert out.split("\0")[:-1] == args
    assert not marker.exists()


def test_a_command_that_runs_too_long_times_out(ssh_target: Target) -> None:
    with ssh.connect(ssh_target, timeout=5) as session:
        started = time.monotonic()
        with pytest.raises(ssh.OperationTimedOut, match="did not finish within 0.5 s"):
            session.run(["sleep", "3"], timeout=0.5)
        assert time.monotonic() - started < 3
        assert session.run(["echo", "still here"])[1] == "still here\n"


# -- files -------------------------------------------------------------------------------------


@pytest.fixture
def five_mb(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 123))
    return path


def test_upload_reports_progress_and_arrives_intact(sshd: SshdServer, ssh_target: Target, five_mb: Path) -> None:
    remote = sshd.root / "upload" / "bundle.bin"
    calls: list[tuple[int, int]] = []
    total = five_mb.stat().st_size
    with ssh.connect(ssh_target, timeout=5) as session:
        session.mkdir_p(str(remote.parent))
        session.upload(five_mb, str(remote), progress=lambda done, of: calls.append((done, of)))

    assert calls[-1] == (total, total)
    assert all(of == total for _, of in calls)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})
    assert len(calls) > 10
    assert remote_sha256(sshd, remote) == hashlib.sha256(five_mb.read_bytes()).hexdigest()


def test_cancelled_upload_raises_and_leaves_a_partial_file(sshd: SshdServer, ssh_target: Target,
                                                          five_mb: Path) -> None:
    remote = sshd.root / "cancelled.bin"
    cancel = threading.Event()
    total = five_mb.stat().st_size

    def progress(done: int, _total: int) -> None:
        if done >= 1024 * 1024:
            cancel.set()

    with ssh.connect(ssh_target, timeout=5) as session:
        with pytest.raises(ssh.Cancelled) as caught:
            session.upload(five_mb, str(remote), progress=progress, cancel=cancel)
        assert isinstance(caught.value, errors.Cancelled)
        assert str(remote) in caught.value.message
        size = session.run(["stat", "-c", "%s", str(remote)])[1]
    assert 1024 * 1024 <= int(size) < total


def test_small_files_folders_and_renames(sshd: SshdServer, ssh_target: Target) -> None:
    base = sshd.root / "releases"
    with ssh.connect(ssh_target, timeout=5) as session:
        session.mkdir_p(f"{base}/r1/model")
        session.mkdir_p(f"{base}/r1/model")  # again: no error
        assert session.exists(f"{base}/r1/model") and not session.exists(f"{base}/r2")

        session.put_bytes(b'{"v": 1}', f"{base}/r1/manifest.json.tmp", mode=0o600)
        session.put_bytes(b'{"v": 0}', f"{base}/r1/manifest.json")
        session.rename(f"{base}/r1/manifest.json.tmp", f"{base}/r1/manifest.json")  # replaces

        assert session.read_bytes(f"{base}/r1/manifest.json") == b'{"v": 1}'
        assert session.listdir(f"{base}/r1") == ["manifest.json", "model"]
        assert session.run(["stat", "-c", "%a", f"{base}/r1/manifest.json"])[1].strip() == "600"

        with pytest.raises(ssh.RemoteFileError) as missing:
            session.read_bytes(f"{base}/r1/absent")
        assert missing.value.path == f"{base}/r1/absent"
        with pytest.raises(ssh.RemoteFileError, match="has a file where the folder"):
            session.mkdir_p(f"{base}/r1/manifest.json/sub")

        session.remove_tree(f"{base}/r1")
        assert session.listdir(str(base)) == []
    assert not (base / "r1").exists()


def test_writes_to_a_full_disk_say_so(sshd: SshdServer, ssh_target: Target, tmp_path: Path) -> None:
    # 3 MB: few enough SFTP writes that paramiko never looks at their replies before closing.
    bundle = tmp_path / "bundle.bin"
    bundle.write_bytes(os.urandom(3_000_000))
    small = sshd.small_disk("small", 1)
    with ssh.connect(ssh_target, timeout=5) as session:
        with pytest.raises(ssh.DiskFull) as caught:
            session.upload(bundle, str(small / "bundle.bin"))
        assert "no room left" in caught.value.message and str(small) in caught.value.message
        session.run(["rm", str(small / "bundle.bin")])

        with pytest.raises(ssh.DiskFull):
            session.put_bytes(bundle.read_bytes(), str(small / "policy.json"))
        assert session.run(["true"])[0] == 0


# -- HTTP to the server's loopback --------------------------------------------------------------

AGENT_STANDIN = r"""
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"alpha-", b"beta"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        body = b'{"status": "ok"}'
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Token", self.headers.get("X-Token", ""))
        self.end_headers()
        self.wfile.write(body[::-1])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_http_reaches_a_service_on_the_servers_loopback(sshd: SshdServer, ssh_target: Target) -> None:
    port = free_port()
    python = shutil.which("python3") or sys.executable
    sshd.spawn_in_server([python, "-c", AGENT_STANDIN, str(port)])
    with ssh.connect(ssh_target, timeout=5) as session:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, headers, body = session.http(port, "GET", "/health", timeout=5)
                break
            except ssh.PortClosed:
                assert time.monotonic() < deadline, "the stand-in agent did not start"
                time.sleep(0.05)
        assert (status, body) == (200, b'{"status": "ok"}')
        assert headers["content-type"] == "application/json"

        assert session.http(port, "GET", "/nope")[0] == 404
        assert session.http(port, "GET", "/chunked")[2] == b"alpha-beta"
        status, headers, body = session.http(port, "POST", "/predict", body=b"123",
                                             headers={"X-Token": "t0k"})
        assert (status, headers["x-seen-token"], body) == (201, "t0k", b"321")

    if sshd.in_namespace:
        # The service is on the server's loopback only: not reachable from here directly.
        with pytest.raises(OSError):
            socket.create_connection((sshd.host, port), timeout=2).close()


def test_http_to_a_closed_port_says_nothing_answers(ssh_target: Target) -> None:
    with ssh.connect(ssh_target, timeout=5) as session:
        port = free_port()
        with pytest.raises(ssh.PortClosed, match=f"Nothing answers on port {port}"):
            session.http(port, "GET", "/health", timeout=5)
        assert session.run(["true"])[0] == 0


def test_http_to_a_service_that_never_answers_times_out(sshd: SshdServer, ssh_target: Target) -> None:
    port = free_port()
    python = shutil.which("python3") or sys.executable
    sshd.spawn_in_server([python, "-c", "import socket, sys, time; s = socket.create_server(('127.0.0.1', "
                          "int(sys.argv[1]))); c = s.accept(); time.sleep(60)", str(port)])
    with ssh.connect(ssh_target, timeout=5) as session:
        deadline = time.monotonic() + 10
        while True:
            started = time.monotonic()
            try:
                session.http(port, "GET", "/health", timeout=1)
            except ssh.PortClosed:
                assert time.monotonic() < deadline, "the silent service did not start"
                time.sleep(0.05)
                continue
            except ssh.OperationTimedOut as exc:
                assert f"port {port}" in exc.message
                break
            pytest.fail("a service that never answers gave an HTTP response")
        assert time.monotonic() - started < 3
        assert session.run(["true"])[0] == 0


# -- authentication ------------------------------------------------------------------------------


def test_a_key_the_server_does_not_know_is_refused(sshd: SshdServer, ssh_target: Target) -> None:
    unknown = sshd.generate_client_key("unknown_ed25519", authorize=False)
    with pytest.raises(ssh.AuthenticationFailed) as caught:
        ssh.connect(dataclasses.replace(ssh_target, key_path=str(unknown)), timeout=5)
    assert not isinstance(caught.value, ssh.PassphraseRequired)
    assert "authorized_keys" in caught.value.message and sshd.user in caught.value.message


def test_a_missing_key_file_is_an_authentication_error(ssh_target: Target, tmp_path: Path) -> None:
    with pytest.raises(ssh.AuthenticationFailed, match="cannot be read"):
        ssh.connect(dataclasses.replace(ssh_target, key_path=str(tmp_path / "nope")), timeout=5)


def test_passphrase_protected_key(sshd: SshdServer, ssh_target: Target) -> None:
    passphrase = "correct horse battery"
    target = dataclasses.replace(ssh_target, key_path=str(sshd.client_key_with_passphrase(passphrase)))

    with ssh.connect(target, passphrase=passphrase, timeout=5) as session:
        assert session.run(["echo", "in"])[1] == "in\n"

    with pytest.raises(ssh.PassphraseRequired) as wrong:
        ssh.connect(target, passphrase="incorrect horse", timeout=5)
    assert wrong.value.wrong and "wrong" in wrong.value.message and "keyring" in wrong.value.message
    assert "incorrect horse" not in str(wrong.value)

    with pytest.raises(ssh.PassphraseRequired) as missing:
        ssh.connect(target, timeout=5)
    assert not missing.value.wrong and "none was given" in missing.value.message
    assert isinstance(missing.value, ssh.AuthenticationFailed)


@pytest.fixture
def agent_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield sock
    finally:
        agent.terminate()
        agent.wait(5)


def test_ssh_agent_authentication(sshd: SshdServer, ssh_target: Target, agent_socket: Path) -> None:
    agent_only = dataclasses.replace(ssh_target, key_path=None, use_agent=True)
    with pytest.raises(ssh.AuthenticationFailed, match="agent is not running or holds no keys"):
        ssh.connect(agent_only, timeout=5)

    subprocess.run(["ssh-add", str(sshd.client_key_path)], check=True, capture_output=True,
                   env={**os.environ, "SSH_AUTH_SOCK": str(agent_socket)})
    with ssh.connect(agent_only, timeout=5) as session:
        assert session.run(["id", "-un"])[1].strip() == sshd.user

    # The agent is only used when the server's record says so.
    unknown = sshd.generate_client_key("unknown2_ed25519", authorize=False)
    with pytest.raises(ssh.AuthenticationFailed):
        ssh.connect(dataclasses.replace(ssh_target, key_path=str(unknown)), timeout=5)
    with ssh.connect(dataclasses.replace(ssh_target, key_path=str(unknown), use_agent=True), timeout=5):
        pass
    with pytest.raises(ssh.AuthenticationFailed, match="agent is not enabled"):
        ssh.connect(dataclasses.replace(ssh_target, key_path=None), timeout=5)


# -- the network failing ---------------------------------------------------------------------------


def test_nothing_listening_is_unreachable_at_once(ssh_target: Target) -> None:
    target = dataclasses.replace(ssh_target, host="127.0.0.1", port=free_port())
    started = time.monotonic()
    with pytest.raises(ssh.Unreachable, match="refused the connection"):
        ssh.connect(target, timeout=3)
    assert time.monotonic() - started < 3
    with pytest.raises(ssh.Unreachable):
        ssh.fetch_host_key(target.host, target.port, timeout=3)


def test_a_server_that_never_answers_is_unreachable_within_the_timeout(ssh_target: Target) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never speaks
        target = dataclasses.replace(ssh_target, host="127.0.0.1", port=silent.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(ssh.Unreachable):
            ssh.connect(target, timeout=1)
        assert time.monotonic() - started < 4


def test_an_unknown_name_is_unreachable(ssh_target: Target) -> None:
    with pytest.raises(ssh.Unreachable, match="could not be resolved"):
        ssh.connect(dataclasses.replace(ssh_target, host="charter-test.invalid"), timeout=3)


def test_connection_cut_mid_upload_is_connection_lost(sshd: SshdServer, ssh_target: Target,
                                                      five_mb: Path) -> None:
    proxy = sshd.proxy()
    target = dataclasses.replace(ssh_target, host=proxy.host, port=proxy.port)
    outcome: list[BaseException | None] = []
    done_bytes: list[int] = []

    def upload() -> None:
        try:
            with ssh.connect(target, timeout=5, io_timeout=10) as session:
                proxy.cut_after(2 * 1024 * 1024)  # about 40 % into the upload
                session.upload(five_mb, str(sshd.root / "cut.bin"),
                               progress=lambda done, _: done_bytes.append(done))
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=upload, daemon=True)
    worker.start()
    worker.join(30)
    proxy.close()
    assert not worker.is_alive(), "the upload hung after the connection was cut"
    assert isinstance(outcome[0], ssh.ConnectionLost), "".join(traceback.format_exception(outcome[0]))
    assert "was lost" in outcome[0].message
    assert proxy.cuts >= 1 and done_bytes and done_bytes[-1] < five_mb.stat().st_size


def test_the_server_has_no_route_out(sshd: SshdServer) -> None:
    if not sshd.in_namespace:
        pytest.fail("the server runs in its own network namespace only as root; run the tests as root")
    proc = sshd.run_in_server(["python3", "-c",
                               "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"])
    assert proc.returncode != 0
    assert "Network is unreachable" in proc.stderr
