"""Serve an ASGI app with uvicorn, closing connections of clients that send too slowly.

uvicorn has a keep-alive timeout but none while a request arrives: a client that sends its
headers a byte at a time (slowloris), or never finishes its body, holds a connection forever.
`TimedHttpProtocol` adds what Apache's mod_reqtimeout does: the headers must be complete within
FOOTFALL_HTTP_HEADER_TIMEOUT seconds of the connection (or of the request's first byte on a
kept-alive connection), and the body within FOOTFALL_HTTP_BODY_TIMEOUT seconds plus one second
per FOOTFALL_HTTP_BODY_MIN_RATE bytes received, so big uploads at a steady rate still pass.
Headers over MAX_HEADER_BYTES are refused (httptools itself buffers them without a limit).
Every server of the project starts through `run`, so all share these limits.
"""

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from eventschema.env_settings import setting

MAX_HEADER_BYTES = 16 * 1024
# Over this many open connections, uvicorn answers new requests 503 (and closes): enough for
# real traffic behind a proxy, low enough to stay well inside the file-descriptor limit.
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_BACKLOG = 2048


@dataclass(frozen=True)
class HttpLimits:
    """Slow-client and connection limits of a server: FOOTFALL_HTTP_HEADER_TIMEOUT,
    FOOTFALL_HTTP_BODY_TIMEOUT, FOOTFALL_HTTP_BODY_MIN_RATE, FOOTFALL_HTTP_MAX_CONNECTIONS and
    FOOTFALL_HTTP_BACKLOG, read by each process's settings loader."""

    header_timeout: float = 10.0
    body_timeout: float = 20.0
    body_min_rate: float = 1000.0  # bytes per second that extend the body deadline by a second
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    backlog: int = DEFAULT_BACKLOG

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HttpLimits":
        config = Config(environ=environ)
        return cls(
            header_timeout=setting(
                config, "FOOTFALL_HTTP_HEADER_TIMEOUT", float, cls.header_timeout
            ),
            body_timeout=setting(config, "FOOTFALL_HTTP_BODY_TIMEOUT", float, cls.body_timeout),
            body_min_rate=setting(config, "FOOTFALL_HTTP_BODY_MIN_RATE", float, cls.body_min_rate),
            max_connections=setting(
                config, "FOOTFALL_HTTP_MAX_CONNECTIONS", int, DEFAULT_MAX_CONNECTIONS
            ),
            backlog=setting(config, "FOOTFALL_HTTP_BACKLOG", int, DEFAULT_BACKLOG),
        )


class _Deadlines:
    """The connections of one event loop whose phase has a deadline, checked by one timer every
    SWEEP_SECONDS. Arming is then an assignment instead of a timer handle per phase, two per
    request (1.4 µs against 0.2 µs on uvloop, docs/performance.md). A connection is closed at
    most SWEEP_SECONDS late."""

    SWEEP_SECONDS = 0.2
    _of_loop: dict[int, "_Deadlines"] = {}

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.watched: set[TimedHttpProtocol] = set()
        self._handle: Any = None

    @classmethod
    def of(cls, loop: Any) -> "_Deadlines":
        sweeper = cls._of_loop.get(id(loop))
        if sweeper is None or sweeper.loop is not loop:  # an id reused by a newer loop
            sweeper = cls._of_loop[id(loop)] = cls(loop)
        return sweeper

    def add(self, protocol: "TimedHttpProtocol") -> None:
        self.watched.add(protocol)
        if self._handle is None:
            self._handle = self.loop.call_later(self.SWEEP_SECONDS, self._sweep)

    def discard(self, protocol: "TimedHttpProtocol") -> None:
        self.watched.discard(protocol)

    def _sweep(self) -> None:
        self._handle = None
        now = self.loop.time()
        for protocol in [p for p in self.watched if p.deadline <= now]:
            protocol.expired()
        if self.watched:
            self._handle = self.loop.call_later(self.SWEEP_SECONDS, self._sweep)
        else:
            self._of_loop.pop(id(self.loop), None)


class TimedHttpProtocol(HttpToolsProtocol):
    # Defaults; `timed_protocol` makes the class a process runs with, from its HttpLimits.
    header_timeout = HttpLimits.header_timeout
    body_timeout = HttpLimits.body_timeout
    body_min_rate = HttpLimits.body_min_rate

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.deadline = math.inf  # loop time; inf: nothing is awaited
        self._deadlines = _Deadlines.of(self.loop)
        self._deadlines.add(self)
        self._refused = False
        self._header_bytes = 0  # raw bytes while the headers are incomplete
        self._header_size = 0  # URL and header lines, as parsed
        self._body_bytes = 0
        self._phase = "headers"
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self._deadlines.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._phase == "headers":
            self._header_bytes += len(data)
        super().data_received(data)
        # Still reading headers after this many bytes: refuse instead of buffering more.
        if self._phase == "headers" and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(b"431 Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_size = 0
        if self._phase != "headers":  # the next request on a kept-alive connection
            self._phase, self._header_bytes = "headers", 0
            self._arm(self.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._header_size > MAX_HEADER_BYTES:  # arrived whole, in one read
            self._refuse(b"431 Request Header Fields Too Large")
            return
        self._phase, self._body_bytes = "body", 0
        self._body_started = self.loop.time()
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._refused:  # the rest of a read that held a refused request
            return
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._phase = "done"
        self._cancel()
        super().on_message_complete()

    def _arm(self, delay: float) -> None:
        self.deadline = self.loop.time() + delay

    def _cancel(self) -> None:
        self.deadline = math.inf

    def expired(self) -> None:
        """The deadline passed (called by the loop's _Deadlines sweep)."""
        self.deadline = math.inf
        if self._phase == "body":
            allowed = self.body_timeout + self._body_bytes / self.body_min_rate
            left = self._body_started + allowed - self.loop.time()
            if left > 0:  # data came in since the deadline was set: it moved
                self.deadline = self.loop.time() + left
                return
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()  # the app answered already: no room for a 408
                return
        if self._phase in ("headers", "body"):
            self._refuse(b"408 Request Timeout")

    def _refuse(self, status: bytes) -> None:
        self._phase, self._refused = "done", True
        self._cancel()
        if not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()


def timed_protocol(
    header_timeout: float, body_timeout: float, body_min_rate: float
) -> type[TimedHttpProtocol]:
    """The protocol class with these limits."""
    limits = {
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "body_min_rate": body_min_rate,
    }
    return type("ConfiguredTimedHttpProtocol", (TimedHttpProtocol,), limits)


def run(app: Any, host: str, port: int, limits: HttpLimits, **options: Any) -> None:
    """Serve until stopped, with slow-client timeouts, a header size limit and a connection
    limit; `options` are passed to uvicorn.Config (and may override the limits)."""
    server = uvicorn.Server(config(app, host, port, limits, **options))
    server.run()
    if not server.started:  # e.g. the port is taken: fail like uvicorn.run does
        sys.exit(3)


def config(app: Any, host: str, port: int, limits: HttpLimits, **options: Any) -> uvicorn.Config:
    protocol = timed_protocol(limits.header_timeout, limits.body_timeout, limits.body_min_rate)
    settings: dict[str, Any] = {
        "http": protocol,
        "limit_concurrency": limits.max_connections,
        "backlog": limits.backlog,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "log_level": "warning",
        **options,
    }
    return uvicorn.Config(app, host=host, port=port, **settings)
