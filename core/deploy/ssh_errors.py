"""Errors of the SSH transport (:mod:`core.deploy.ssh`).

Each one is a :class:`core.errors.KnownError`: the server, the network or the user's key failed
and a person can act on it. ``.message`` is a complete sentence that says what went wrong and
what to do next. No message contains a passphrase, a private key or command arguments (which may
carry secrets); commands are named by their program only.
"""

from __future__ import annotations

from core import errors


class SshError(errors.KnownError):
    """Root of the SSH transport's errors."""

    code = "ssh_error"


class Unreachable(SshError):
    """The name does not resolve, nothing answers, the connection is refused or times out."""

    code = "ssh_unreachable"


class HostKeyMismatch(SshError):
    """The server offered a host key other than the one pinned when it was enrolled."""

    code = "ssh_host_key_mismatch"

    def __init__(self, address: str, *, expected: str, offered: str) -> None:
        super().__init__(
            f"The server at {address} offered host key {offered}, but {expected} was pinned when "
            "it was enrolled. The connection was refused: someone may be intercepting it, or the "
            "server was reinstalled. Confirm the new fingerprint with the server's administrator "
            "and re-enrol it."
        )
        self.address = address
        self.expected = expected
        self.offered = offered


class AuthenticationFailed(SshError):
    """The server did not accept the key (or agent keys), or the key file cannot be used."""

    code = "ssh_authentication_failed"


class PassphraseRequired(AuthenticationFailed):
    """The private key file is encrypted and its passphrase is missing (``wrong`` False) or
    wrong (``wrong`` True). The caller asks for it and keeps it in the OS keyring."""

    code = "ssh_passphrase_required"

    def __init__(self, message: str, *, key_path: str, wrong: bool) -> None:
        super().__init__(message)
        self.key_path = key_path
        self.wrong = wrong


class ConnectionLost(SshError):
    """The connection dropped in the middle of an operation."""

    code = "ssh_connection_lost"


class OperationTimedOut(SshError):
    """The connection is up but the server (or a command, or a forwarded service) did not answer
    in time."""

    code = "ssh_timed_out"


class RemoteCommandFailed(SshError):
    """A command on the server exited with a non-zero status (``exit_status`` -1: killed by a
    signal or no status reported)."""

    code = "ssh_command_failed"

    def __init__(self, address: str, program: str, exit_status: int, stderr: str) -> None:
        tail = stderr.strip()[-500:]
        detail = f" It said: {tail}" if tail else " It printed nothing on its error output."
        super().__init__(
            f"The command {program} on {address} failed with exit status {exit_status}.{detail} "
            "Check the server's state, or the deployment log, and try again."
        )
        self.program = program
        self.exit_status = exit_status
        self.stderr = stderr


class RemoteFileError(SshError):
    """An SFTP operation on a path was refused: no such file, permission denied, failure."""

    code = "ssh_remote_file_error"

    def __init__(self, message: str, *, path: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class DiskFull(RemoteFileError):
    """A write failed and the server's file system has (almost) no space left."""

    code = "ssh_disk_full"


class PortClosed(SshError):
    """Nothing listens on the requested port of the server's loopback interface."""

    code = "ssh_port_closed"


class Cancelled(SshError, errors.Cancelled):
    """The user cancelled the operation. Also a :class:`core.errors.Cancelled`, so the task
    facade treats it like any other cancellation."""

    code = "cancelled"
