"""One HTTP/1.1 exchange over an already open byte channel (an SSH ``direct-tcpip`` channel).

The console talks to the serving agent this way: the agent listens on the server's loopback
only, and the request travels inside the SSH connection, so no extra port is opened.
"""

from __future__ import annotations

import http.client
from typing import Any, Protocol

# Responses from the agent are JSON documents or small files; a cap keeps a confused server from
# filling the console's memory.
MAX_BODY_BYTES = 256 * 1024 * 1024


class ByteChannel(Protocol):
    def sendall(self, data: bytes) -> None: ...

    def makefile(self, *params: Any) -> Any: ...


class MalformedResponse(ValueError):
    """The bytes that came back are not an HTTP/1.x response."""


def build_request(
    method: str, port: int, path: str, body: bytes | None, headers: dict[str, str] | None
) -> bytes:
    if not path.startswith("/") or any(c in path for c in "\r\n "):
        raise ValueError(f"not an HTTP request path: {path!r}")
    if not method.isalpha():
        raise ValueError(f"not an HTTP method: {method!r}")
    fields = {"Host": f"127.0.0.1:{port}", "User-Agent": "charter-console", "Accept": "*/*"}
    for name, value in (headers or {}).items():
        if any(c in name + value for c in "\r\n") or ":" in name:
            raise ValueError(f"invalid HTTP header {name!r}")
        fields[name] = value
    # Set last, so a caller cannot contradict them.
    fields["Connection"] = "close"
    if body is not None or method.upper() in ("POST", "PUT", "PATCH"):
        fields["Content-Length"] = str(len(body or b""))
    head = f"{method.upper()} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return head.encode("latin-1") + b"\r\n" + (body or b"")


class _ChannelAsSocket:
    """What :class:`http.client.HTTPResponse` needs from a socket: ``makefile("rb")``."""

    def __init__(self, channel: ByteChannel) -> None:
        self._channel = channel

    def makefile(self, mode: str) -> Any:
        return self._channel.makefile(mode)


def exchange(
    channel: ByteChannel, method: str, port: int, path: str, body: bytes | None,
    headers: dict[str, str] | None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read its response (Content-Length, chunked or until close).

    Returns (status, headers with lower-case names, body). Raises :class:`MalformedResponse`;
    socket errors and timeouts from the channel propagate.
    """
    channel.sendall(build_request(method, port, path, body, headers))
    response = http.client.HTTPResponse(_ChannelAsSocket(channel), method=method.upper())  # type: ignore[arg-type]
    try:
        response.begin()
        length = response.length
        if length is not None and length > MAX_BODY_BYTES:
            raise MalformedResponse(f"response body of {length} bytes is too large")
        data = response.read(MAX_BODY_BYTES + 1) if length is None else response.read()
        if len(data) > MAX_BODY_BYTES:
            raise MalformedResponse("response body is too large")
    except (http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"{type(exc).__name__}: {exc}") from exc
    finally:
        response.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data
