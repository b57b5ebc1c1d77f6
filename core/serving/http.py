"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length bodies, nothing else.

The agent needs little of HTTP and must ship with few dependencies to air-gapped servers, so it
parses requests itself: a request line, headers (bounded in count and size), and a body of
exactly ``Content-Length`` bytes (bounded; chunked uploads are refused with 411). Requests on a
connection are answered in order. The handler gets a :class:`Request` and returns a
:class:`Response`; an exception in it becomes a 500 that names nothing internal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 64
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
           422: "Unprocessable Entity", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}
_log = logging.getLogger("charter.agent")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    peer: str


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], Any] | None = None  # run once the response is written (shadows)


def json_response(status: int, value: Any, **headers: str) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":"),
                                       ensure_ascii=False).encode(), headers=headers)


class _Refused(Exception):
    """A request refused while it was read; ``request`` has its line and headers when they
    were read (so its request id and caller can be logged), without its body."""

    def __init__(self, status: int, message: str, request: Request | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.request = request


Handler = Callable[[Request], Awaitable[Response]]


async def _read_request(reader: asyncio.StreamReader, peer: str,
                        max_body: int) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if err.partial.strip():
            raise _Refused(400, "The request ended inside its headers.") from None
        return None  # the client closed between requests
    except asyncio.LimitOverrunError:
        raise _Refused(431, f"The request's headers exceed {MAX_HEADER_BYTES} bytes.") from None
    lines = head[:-4].split(b"\r\n")
    try:
        method, target, version = lines[0].decode("ascii").split(" ")
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "The request line is not 'METHOD PATH HTTP/1.1'.") from None
    if not version.startswith("HTTP/1."):
        raise _Refused(400, f"{version[:20]} is not supported; use HTTP/1.1.")
    if len(lines) - 1 > MAX_HEADERS:
        raise _Refused(431, f"The request has more than {MAX_HEADERS} headers.")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise _Refused(400, "A header line has no ':'.")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    request = Request(method, target.split("?", 1)[0], headers, b"", peer)
    if "transfer-encoding" in headers:
        raise _Refused(411, "Chunked bodies are not accepted; send Content-Length.", request)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _Refused(400, "Content-Length is not a number.", request)
        n = int(length)
        if n > max_body:
            raise _Refused(413, f"The body is {n:,} bytes; the limit is {max_body:,}. Send "
                                "fewer rows per request.", request)
        request.body = await reader.readexactly(n)
    elif method == "POST":
        raise _Refused(411, "A POST needs a Content-Length header.", request)
    return request


def _encode(resp: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}",
            f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}"]
    head += [f"{k}: {v}" for k, v in resp.headers.items()]
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp.body


class HttpServer:
    """Serves ``handler`` on ``host``:``port``; :meth:`close` stops accepting and
    :meth:`drain` waits for requests in flight."""

    def __init__(self, handler: Handler, *, max_body: int,
                 refused: Callable[[Request | None, int, str, str], Awaitable[Response]]) -> None:
        self.handler = handler
        self.max_body = max_body
        self.refused = refused  # builds (and logs) the answer to a request that failed parsing
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._connection, host, port,
                                                  limit=MAX_HEADER_BYTES, backlog=1024)
        return self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def drain(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            _log.warning("%d request(s) still in flight at shutdown", self.in_flight)
        for w in list(self._writers):
            w.close()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._writers.add(writer)
        try:
            while True:
                request = None
                try:
                    request = await _read_request(reader, peer_text, self.max_body)
                    if request is None:
                        return
                except _Refused as err:
                    self._begin()
                    try:
                        resp = await self.refused(err.request, err.status, err.message,
                                                  peer_text)
                        writer.write(_encode(resp, False))
                        await writer.drain()
                    finally:
                        self._end()
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                keep = request.headers.get("connection", "").lower() != "close"
                self._begin()
                try:
                    try:
                        resp = await self.handler(request)
                    except Exception:  # noqa: BLE001 - a bug must not kill the connection loop
                        _log.exception("unexpected error answering %s %s", request.method,
                                       request.path)
                        resp = json_response(500, {"error": "internal error; see the agent's "
                                                            "log"})
                    writer.write(_encode(resp, keep))
                    await writer.drain()
                finally:
                    self._end()
                if resp.after is not None:
                    resp.after()
                if not keep or self._server is None or not self._server.is_serving():
                    return
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _begin(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def _end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()
