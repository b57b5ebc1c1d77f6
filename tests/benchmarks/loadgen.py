"""A minimal HTTP/1.1 keep-alive load generator: asyncio protocols over raw sockets.

Standard library only, so it runs in the project's venv without aiohttp or httpx. Each of
``connections`` connections keeps one request in flight (no pipelining); the requests are
pre-encoded bytes taken in turn from one shared list, so a mix (for example 10% malformed)
keeps its proportion exactly. After ``warmup`` seconds it measures for ``seconds``:
responses completed in the window, the latency of every request sent in it, per kind, and
the status codes. One process on one core pushes well over 10,000 tiny requests a second.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    kind: str          # "ok" or a malformed kind; latencies are kept per kind
    data: bytes        # the whole HTTP request


def http_request(host: str, port: int, path: str, body: bytes,
                 extra_headers: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra_headers}\r\n").encode("ascii") + body


@dataclass
class Result:
    seconds: float
    completed: int = 0                      # responses finished inside the window
    latencies: dict[str, list[float]] = field(default_factory=dict)   # kind -> seconds
    statuses: dict[str, Counter] = field(default_factory=dict)        # kind -> status counts
    transport_errors: Counter = field(default_factory=Counter)        # reason -> count
    # statuses counts a request sent and never answered (connection lost) as status 0
    unfinished: int = 0                     # in flight when the drain timed out

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds


class _Client(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.current: Request | None = None
        self.t0 = 0.0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        if not self.run.sending:
            self.current = None
            self.transport.close()
            return
        self.current = self.run.next_request()
        self.t0 = time.perf_counter()
        self.transport.write(self.current.data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.current is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            status = int(head[9:12])
            start = end + 4
            pos = head.find(b"\r\ncontent-length:")
            if pos >= 0:
                stop = head.find(b"\r\n", pos + 2)
                length = int(head[pos + 17:stop if stop >= 0 else None])
                if len(self.buf) < start + length:
                    return
                finish = start + length
            elif b"transfer-encoding: chunked" in head:
                term = self.buf.find(b"\r\n0\r\n\r\n", start - 2)
                if term < 0:
                    return
                finish = term + 7
            else:
                self.run.transport_error("response without a length")
                self.transport.close()
                return
            del self.buf[:finish]
            self.run.record(self.current.kind, status, self.t0, time.perf_counter())
            if b"\r\nconnection: close" in head:
                self.current = None
                self.transport.close()
                self.run.reconnect()
                return
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.current is not None:  # sent, never answered: status 0 for its kind
            self.run.record(self.current.kind, 0, self.t0, time.perf_counter())
            self.run.transport_error(f"connection lost: {exc or 'closed by server'}")
            self.current = None
            self.run.reconnect()
        if not self.closed.done():
            self.closed.set_result(None)


class _Run:
    def __init__(self, host: str, port: int, requests: list[Request], warmup: float,
                 seconds: float) -> None:
        self.host, self.port = host, port
        self.requests = requests
        self.i = 0
        self.sending = True
        self.clients: list[_Client] = []
        self.result = Result(seconds)
        for r in requests:
            self.result.latencies.setdefault(r.kind, [])
            self.result.statuses.setdefault(r.kind, Counter())
        self.start = time.perf_counter() + warmup
        self.end = self.start + seconds
        self.reconnects: list[asyncio.Task] = []

    def next_request(self) -> Request:
        r = self.requests[self.i % len(self.requests)]
        self.i += 1
        return r

    def record(self, kind: str, status: int, t0: float, t1: float) -> None:
        if self.start <= t1 < self.end:
            self.result.completed += 1
        if self.start <= t0 < self.end:
            if status:
                self.result.latencies[kind].append(t1 - t0)
            self.result.statuses[kind][status] += 1

    def transport_error(self, reason: str) -> None:
        if time.perf_counter() >= self.start:
            self.result.transport_errors[reason] += 1

    def reconnect(self) -> None:
        if self.sending:
            self.reconnects.append(asyncio.get_running_loop().create_task(self.connect()))

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, client = await loop.create_connection(lambda: _Client(self), self.host,
                                                     self.port)
        except OSError as err:
            self.transport_error(f"connect failed: {err.strerror or err}")
            await asyncio.sleep(0.05)
            self.reconnect()
            return
        self.clients.append(client)


async def _main(host: str, port: int, requests: list[Request], connections: int,
                warmup: float, seconds: float, drain: float) -> Result:
    run = _Run(host, port, requests, warmup, seconds)
    await asyncio.gather(*(run.connect() for _ in range(connections)))
    await asyncio.sleep(max(0.0, run.end - time.perf_counter()))
    run.sending = False
    deadline = time.perf_counter() + drain
    for client in run.clients:
        try:
            await asyncio.wait_for(asyncio.shield(client.closed),
                                   max(0.01, deadline - time.perf_counter()))
        except TimeoutError:
            run.result.unfinished += 1
            client.transport.abort()
    for task in run.reconnects:
        task.cancel()
    return run.result


def run_load(host: str, port: int, requests: list[Request], *, connections: int = 8,
             warmup: float = 3.0, seconds: float = 10.0, drain: float = 30.0) -> Result:
    """Drive ``requests`` (cycled) at ``host:port`` and return what was measured."""
    gc.collect()
    gc.disable()  # a collection pause would land in the latencies we report
    try:
        return asyncio.run(_main(host, port, requests, connections, warmup, seconds, drain))
    finally:
        gc.enable()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
