"""SSH transport to on-premises servers (paramiko): pinned host keys, commands, SFTP, and HTTP to
services on the server's loopback through ``direct-tcpip`` channels.

Nothing here reads ``~/.ssh/known_hosts``, ``~/.ssh/config`` or ``~/.ssh/id_*``: a server's host
key is pinned at enrolment (:func:`fetch_host_key`, confirmed by a person out of band) and the key
file or agent comes from the server's record. Errors are the classes of
:mod:`core.deploy.ssh_errors`, re-exported here.
"""

from __future__ import annotations

import shlex
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko

from core.deploy import ssh_http
from core.deploy.ssh_errors import (
    AuthenticationFailed, Cancelled, ConnectionLost, DiskFull, HostKeyMismatch, OperationTimedOut,
    PassphraseRequired, PortClosed, RemoteCommandFailed, RemoteFileError, SshError, Unreachable,
)
from core.deploy.ssh_keys import HostKey, agent_has_keys, fetch_host_key, load_private_key, open_socket
from core.tasks import CancelToken

__all__ = [
    "AuthenticationFailed", "Cancelled", "ConnectionLost", "DiskFull", "HostKey", "HostKeyMismatch",
    "OperationTimedOut", "PassphraseRequired", "PortClosed", "RemoteCommandFailed",
    "RemoteFileError", "Session", "SshError", "Target", "Unreachable", "connect", "fetch_host_key",
    "load_private_key",
]

KEEPALIVE_S = 15
CLOSE_WAIT_S = 1.0
UPLOAD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Target:
    """Where and how to log in. ``key_path`` None: only the SSH agent (``use_agent`` True)."""

    host: str
    port: int
    user: str
    host_key: HostKey  # pinned
    key_path: str | None = None
    use_agent: bool = False

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def connect(target: Target, passphrase: str | None = None, timeout: float = 10.0, *,
            io_timeout: float = 60.0) -> Session:
    """Connect and log in, refusing any host key but the pinned one.

    ``timeout`` bounds the TCP connect, the handshake and authentication; ``io_timeout`` bounds
    each wait for the server during SFTP operations. Raises :class:`Unreachable`,
    :class:`HostKeyMismatch`, :class:`AuthenticationFailed` (:class:`PassphraseRequired`).
    """
    pkey = load_private_key(target.key_path, passphrase) if target.key_path else None
    if pkey is None and not target.use_agent:
        raise AuthenticationFailed(f"No SSH key file is set for {target.address} and the SSH "
                                   "agent is not enabled. Choose a key file or enable the agent.")
    if pkey is None and not agent_has_keys():
        raise AuthenticationFailed("The SSH agent is not running or holds no keys. Start it and "
                                   "add the deployment key (ssh-add), or choose a key file.")
    client = paramiko.SSHClient()
    # Only the pinned key is known; RejectPolicy refuses anything else. Never known_hosts.
    name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    pinned = target.host_key.to_paramiko()
    client.get_host_keys().add(name, pinned.get_name(), pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sock = open_socket(target.host, target.port, timeout)
    try:
        client.connect(target.host, target.port, username=target.user, pkey=pkey, sock=sock,
                       timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                       channel_timeout=timeout, allow_agent=target.use_agent,
                       look_for_keys=False)
    except Exception as exc:
        client.close()
        sock.close()
        error = _connect_error(target, exc)
        if error is None:
            raise
        raise error from exc
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(KEEPALIVE_S)
    return Session(client, target, io_timeout=io_timeout, sock=sock)


def _connect_error(target: Target, exc: Exception) -> SshError | None:
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyMismatch(target.address, expected=target.host_key.fingerprint,
                               offered=HostKey.from_paramiko(exc.key).fingerprint)
    if isinstance(exc, paramiko.AuthenticationException) or (
            isinstance(exc, paramiko.SSHException) and "No authentication methods" in str(exc)):
        how = f"the key {target.key_path}" if target.key_path else "the SSH agent's keys"
        return AuthenticationFailed(
            f"The server at {target.address} did not accept {how} for user {target.user}. Check "
            "that the public key is in that user's authorized_keys on the server.")
    if isinstance(exc, (paramiko.SSHException, EOFError, OSError)):
        return Unreachable(f"The SSH handshake with {target.address} failed ({exc or type(exc).__name__}). "
                           "Check that this is the server's SSH port and try again.")
    return None


def _is_cancelled(cancel: threading.Event | CancelToken | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else cancel.cancelled


class Session:
    """A logged-in connection. Use as a context manager; :meth:`close` is idempotent."""

    def __init__(self, client: paramiko.SSHClient, target: Target, *, io_timeout: float = 60.0,
                 sock: socket.socket | None = None) -> None:
        self._client = client
        self._sock = sock
        self.target = target
        self.io_timeout = io_timeout
        self._sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SFTP session and the connection; never raises, even on a dead connection."""
        sftp, self._sftp = self._sftp, None
        if sftp is not None and self.alive:
            try:
                sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass
        transport = self._client.get_transport()
        if self._sock is not None and transport is not None and transport.is_active():
            # paramiko never says goodbye: half-close so the server sees an orderly end of
            # stream and closes its side, instead of a reset on unread data.
            try:
                self._sock.shutdown(socket.SHUT_WR)
                transport.join(CLOSE_WAIT_S)
            except OSError:
                pass
        self._client.close()

    @property
    def alive(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise self._lost("start a new operation")
        return transport

    def _lost(self, what: str) -> ConnectionLost:
        return ConnectionLost(f"The connection to {self.target.address} was lost while trying to "
                              f"{what}. Check the network and the server, then try again.")

    @contextmanager
    def _guard(self, what: str, path: str | None = None) -> Iterator[None]:
        """Translate paramiko and socket failures during ``what`` into the module's errors."""
        try:
            yield
        except SshError:
            raise
        except (TimeoutError, socket.timeout) as exc:
            if not self.alive:
                raise self._lost(what) from exc
            raise OperationTimedOut(f"The server at {self.target.address} stopped answering while "
                                    f"trying to {what}. Check its load and network, then try "
                                    "again.") from exc
        except (EOFError, ConnectionError, paramiko.SSHException) as exc:
            if self.alive and isinstance(exc, paramiko.SSHException):
                raise SshError(f"The server at {self.target.address} refused to {what} ({exc}). "
                               "Check the server's SSH configuration.") from exc
            raise self._lost(what) from exc
        except OSError as exc:  # SFTP status replies arrive as IOError
            if not self.alive or path is None:
                raise self._lost(what) from exc
            reason = exc.strerror or (exc.args[0] if exc.args else type(exc).__name__)
            raise RemoteFileError(f"The server at {self.target.address} could not {what}: "
                                  f"{reason}. Check the path and its permissions on the server.",
                                  path=path, errno=exc.errno) from exc

    # -- commands ----------------------------------------------------------------------------

    def run(self, argv: list[str], *, timeout: float = 60.0, check: bool = True,
            stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run ``argv`` on the server (quoted with ``shlex.join``; no shell text is spliced).

        Returns (exit status, stdout, stderr); exit status -1 when the command died of a signal.
        Raises :class:`RemoteCommandFailed` (``check`` and status != 0), :class:`OperationTimedOut`,
        :class:`ConnectionLost`.
        """
        if not argv:
            raise ValueError("argv must name a program")
        program = PurePosixPath(argv[0]).name
        out: list[bytes] = []
        err: list[bytes] = []
        with self._guard(f"run {program}"):
            channel = self._transport().open_session(timeout=self.io_timeout)
            try:
                channel.exec_command(shlex.join(argv))
                if stdin:
                    # Sent before any output is read: meant for small inputs. A command that
                    # answers a large input with a large output times out here, not hangs.
                    channel.settimeout(timeout)
                    channel.sendall(stdin)
                channel.shutdown_write()
                deadline = time.monotonic() + timeout
                while True:
                    # The exit status can arrive before the last of stderr; EOF comes after both.
                    finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
                    while channel.recv_ready():
                        out.append(channel.recv(65536))
                    while channel.recv_stderr_ready():
                        err.append(channel.recv_stderr(65536))
                    if finished:
                        break
                    if not self.alive:
                        raise self._lost(f"run {program}")
                    if time.monotonic() > deadline:
                        raise OperationTimedOut(
                            f"The command {program} on {self.target.address} did not finish within "
                            f"{timeout:g} s; Charter stopped waiting for it. Check the server.")
                    channel.status_event.wait(0.01)
                status = channel.recv_exit_status()
            finally:
                channel.close()
        stdout = b"".join(out).decode("utf-8", "replace")
        stderr = b"".join(err).decode("utf-8", "replace")
        if check and status != 0:
            raise RemoteCommandFailed(self.target.address, program, status, stderr)
        return status, stdout, stderr

    # -- files (SFTP) ------------------------------------------------------------------------

    def _files(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            with self._guard("open an SFTP session"):
                self._sftp = paramiko.SFTPClient.from_transport(self._transport())
                assert self._sftp is not None
                self._sftp.get_channel().settimeout(self.io_timeout)
        return self._sftp

    def upload(self, local: Path, remote: str, *, progress: Callable[[int, int], None] | None = None,
               cancel: threading.Event | CancelToken | None = None) -> None:
        """Copy ``local`` to ``remote`` (overwritten), calling ``progress(done, total)`` per chunk.

        Cancelling raises :class:`Cancelled` and leaves a partial ``remote`` behind: upload to a
        temporary name and :meth:`rename` it when complete. Raises :class:`DiskFull`,
        :class:`RemoteFileError`, :class:`ConnectionLost`, :class:`OperationTimedOut`.
        """
        total = Path(local).stat().st_size
        done = 0
        sftp = self._files()
        with Path(local).open("rb") as source, self._write_guard(remote, total):
            remote_file = sftp.open(remote, "wb")
            try:
                remote_file.set_pipelined(True)
                while chunk := source.read(UPLOAD_CHUNK):
                    if _is_cancelled(cancel):
                        raise Cancelled(f"The upload to {self.target.address} was cancelled; the "
                                        f"partial file {remote} was left on the server.")
                    remote_file.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            finally:
                self._close_file(remote_file)
            # paramiko drops the status of pipelined writes still in flight at close, so a
            # write refused at the end (a full disk) would go unnoticed: check the size.
            arrived = sftp.stat(remote).st_size
            if arrived != total:
                raise OSError(None, f"only {arrived} of {total} bytes arrived")

    def put_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        """Write ``data`` to ``remote`` (overwritten, not atomically) with permissions ``mode``."""
        sftp = self._files()
        with self._write_guard(remote, len(data)):
            remote_file = sftp.open(remote, "wb")
            try:
                remote_file.write(data)  # not pipelined: every write's status is checked
            finally:
                self._close_file(remote_file)
            sftp.chmod(remote, mode)

    def _close_file(self, remote_file: paramiko.SFTPFile) -> None:
        if self.alive:
            remote_file.close()
            return
        # Dead connection: do not wait for replies, or paramiko retries (and fails) in __del__.
        remote_file.set_pipelined(False)
        try:
            remote_file.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass

    @contextmanager
    def _write_guard(self, remote: str, size: int) -> Iterator[None]:
        """:meth:`_guard` for writes, telling a full disk from other failures (SFTP v3 reports
        ENOSPC as a bare "Failure")."""
        try:
            with self._guard(f"write {remote}", path=remote):
                yield
        except RemoteFileError as exc:
            folder = str(PurePosixPath(remote).parent)
            free = self._free_bytes(folder)
            if free is not None and free < max(size, 1024 * 1024):
                raise DiskFull(f"The server at {self.target.address} has no room left in {folder} "
                               f"({free} bytes free; writing {remote} needs {size}). Free space "
                               "on the server or choose another deployment directory.",
                               path=remote, errno=exc.errno) from exc
            raise

    def _free_bytes(self, folder: str) -> int | None:
        try:
            status, out, _ = self.run(["df", "-P", "-k", "--", folder], check=False, timeout=15)
            return int(out.splitlines()[-1].split()[3]) * 1024 if status == 0 else None
        except (SshError, ValueError, IndexError):
            return None

    def read_bytes(self, remote: str) -> bytes:
        with self._guard(f"read {remote}", path=remote):
            with self._files().open(remote, "rb") as remote_file:
                remote_file.prefetch()
                return remote_file.read()

    def rename(self, old: str, new: str) -> None:
        """Rename atomically, replacing ``new`` if it exists (posix-rename@openssh.com)."""
        with self._guard(f"rename {old} to {new}", path=old):
            self._files().posix_rename(old, new)

    def exists(self, remote: str) -> bool:
        with self._guard(f"look at {remote}", path=remote):
            try:
                self._files().stat(remote)
            except FileNotFoundError:
                return False
        return True

    def listdir(self, remote: str) -> list[str]:
        with self._guard(f"list {remote}", path=remote):
            return sorted(self._files().listdir(remote))

    def mkdir_p(self, remote: str, mode: int = 0o755) -> None:
        """Create ``remote`` and its missing parents, like ``mkdir -p``."""
        path = PurePosixPath(remote)
        sftp = self._files()
        for folder in [*reversed(path.parents), path]:
            with self._guard(f"create the folder {folder}", path=str(folder)):
                try:
                    if stat.S_ISDIR(sftp.stat(str(folder)).st_mode or 0):
                        continue
                except FileNotFoundError:
                    sftp.mkdir(str(folder), mode)
                    continue
            raise RemoteFileError(f"The server at {self.target.address} has a file where the "
                                  f"folder {folder} should be. Remove or rename it.", path=str(folder))

    def remove_tree(self, remote: str) -> None:
        """Delete ``remote`` and everything under it (``rm -rf``); refuses short paths."""
        if len(PurePosixPath(remote).parts) < 3 or not remote.startswith("/"):
            raise ValueError(f"refusing to delete {remote!r}: give an absolute path two levels deep")
        self.run(["rm", "-rf", "--", remote], timeout=self.io_timeout)

    # -- HTTP to the server's loopback --------------------------------------------------------

    def http(self, port: int, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 request to 127.0.0.1:``port`` on the server, through a ``direct-tcpip``
        channel (no port is opened on the server). Returns (status, headers with lower-case
        names, body). Raises :class:`PortClosed`, :class:`OperationTimedOut`,
        :class:`ConnectionLost`, :class:`SshError` (forwarding forbidden, garbled answer)."""
        what = f"reach port {port} on the server"
        with self._guard(what):
            try:
                channel = self._transport().open_channel(
                    "direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0), timeout=timeout)
            except paramiko.ChannelException as exc:
                if exc.code == paramiko.common.OPEN_FAILED_CONNECT_FAILED:
                    raise PortClosed(f"Nothing answers on port {port} of the server at "
                                     f"{self.target.address}. Check that the service on that port "
                                     "(normally the Charter agent) is running.") from exc
                raise SshError(f"The server at {self.target.address} does not allow forwarding to "
                               f"port {port} ({exc.text}). Ask its administrator to set "
                               "'AllowTcpForwarding local' for the deployment account.") from exc
            try:
                channel.settimeout(timeout)
                return ssh_http.exchange(channel, method, port, path, body, headers)
            except ssh_http.MalformedResponse as exc:
                if not self.alive:
                    raise self._lost(what) from exc
                raise SshError(f"The service on port {port} of {self.target.address} did not give "
                               f"a valid HTTP answer ({exc}). Check that it is the Charter agent.") from exc
            finally:
                channel.close()
