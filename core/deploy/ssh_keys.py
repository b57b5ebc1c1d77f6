"""Keys for the SSH transport: reading a server's host key at enrolment, the pinned key, the
user's private key file; and the TCP connection every SSH session starts with."""

from __future__ import annotations

import base64
import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization

from core.deploy.ssh_errors import AuthenticationFailed, PassphraseRequired, Unreachable

# Host key algorithms in order of preference; paramiko negotiates the first one the server has.
PREFERRED_HOST_KEYS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                       "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256")


@dataclass(frozen=True)
class HostKey:
    """A server's public host key, as pinned in the store."""

    key_type: str  # e.g. "ssh-ed25519"
    key_b64: str  # base64 of the public key blob

    @property
    def fingerprint(self) -> str:
        """OpenSSH style ``SHA256:<base64 without padding>``, as ``ssh-keygen -lf`` prints it."""
        digest = hashlib.sha256(base64.b64decode(self.key_b64)).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def to_paramiko(self) -> paramiko.PKey:
        return paramiko.PKey.from_type_string(self.key_type, base64.b64decode(self.key_b64))

    @classmethod
    def from_paramiko(cls, key: paramiko.PKey) -> HostKey:
        return cls(key.get_name(), key.get_base64())

    @classmethod
    def from_openssh(cls, line: str) -> HostKey:
        """Parse ``"ssh-ed25519 AAAA... comment"`` (a ``.pub`` file or known_hosts fields)."""
        key_type, key_b64 = line.split()[:2]
        return cls.from_paramiko(cls(key_type, key_b64).to_paramiko())  # validates the blob


def open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with keepalive on. Raises :class:`Unreachable`."""
    address = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise Unreachable(f"The server name {host} could not be resolved ({exc.strerror}). "
                          "Check the name, or use the server's IP address.") from exc
    except (TimeoutError, socket.timeout) as exc:
        raise Unreachable(f"The server at {address} did not answer within {timeout:g} s. Check "
                          "that it is running and that a firewall lets SSH through.") from exc
    except ConnectionRefusedError as exc:
        raise Unreachable(f"The server at {address} refused the connection: nothing listens on "
                          "that port. Check the port and that the SSH service runs.") from exc
    except OSError as exc:
        raise Unreachable(f"The server at {address} cannot be reached ({exc.strerror or exc}). "
                          "Check the address and the network between you.") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def fetch_host_key(host: str, port: int, *, timeout: float = 10.0) -> HostKey:
    """Read the server's host key without logging in (ed25519 when the server has one).

    Used once at enrolment; a person compares the fingerprint with the one the server's
    administrator reads out (``ssh-keygen -lf``). Raises :class:`Unreachable`.
    """
    sock = open_socket(host, port, timeout)
    transport = paramiko.Transport(sock)
    try:
        options = transport.get_security_options()
        options.key_types = [k for k in PREFERRED_HOST_KEYS if k in options.key_types]
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        return HostKey.from_paramiko(transport.get_remote_server_key())
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise Unreachable(f"The server at {host}:{port} accepted the connection but the SSH "
                          f"handshake failed ({exc or type(exc).__name__}). Check that this is "
                          "the server's SSH port.") from exc
    finally:
        transport.close()
        sock.close()


def load_private_key(path: str, passphrase: str | None) -> paramiko.PKey:
    """Load a private key file (OpenSSH or PEM). Raises :class:`PassphraseRequired` (missing or
    wrong passphrase) or :class:`AuthenticationFailed` (unreadable, not a key)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AuthenticationFailed(f"The SSH key file {path} cannot be read ({exc.strerror}). "
                                   "Check the path in the server's settings.") from exc
    encrypted = False
    loaders = (serialization.load_ssh_private_key, serialization.load_pem_private_key)
    for load in loaders:
        try:
            load(data, password=None)
            break
        except TypeError:  # "password-protected, but password was not given"
            encrypted = True
            break
        except (ValueError, serialization.UnsupportedAlgorithm):
            continue
    if encrypted and not passphrase:
        raise PassphraseRequired(
            f"The SSH key {path} is protected by a passphrase and none was given. Enter it; "
            "Charter keeps it in the operating system's keyring.", key_path=path, wrong=False)
    try:
        # bytes: from_path hands the password to cryptography, which refuses str.
        password = passphrase.encode("utf-8") if encrypted and passphrase else None
        return paramiko.PKey.from_path(path, password=password)
    except (paramiko.SSHException, ValueError, TypeError) as exc:
        if encrypted:
            raise PassphraseRequired(
                f"The passphrase for the SSH key {path} is wrong. Enter it again; Charter keeps "
                "it in the operating system's keyring and will replace the stored one.",
                key_path=path, wrong=True) from exc
        raise AuthenticationFailed(f"The file {path} is not an SSH private key Charter can use "
                                   "(ed25519, ECDSA or RSA). Choose the right key file.") from exc


def agent_has_keys() -> bool:
    """Whether the SSH agent named by ``SSH_AUTH_SOCK`` runs and holds at least one key."""
    agent = paramiko.Agent()
    try:
        return bool(agent.get_keys())
    finally:
        agent.close()
