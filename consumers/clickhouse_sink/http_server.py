"""GET /healthz, GET /metrics and a read-only POST /query, served from the sink process.

The sink holds the chDB path (one process per path), so other tools query through here. /query
needs a read key (Authorization: Bearer, or the Basic username) and an allowed Host
(eventschema.read_access); /healthz and /metrics stay open to any Host and key, as the supervisor,
Docker and Prometheus (which scrapes `sink:8124`) call them and they hold no event data.

Each query runs through query_service (read-only sessions, after eventschema.readonly_sql has
checked it is one harmless read statement): refusals are 403 JSON `read_only`, ClickHouse's
errors stay 400 text. When every session is busy the answer is 429 `busy` at once (with
Retry-After): a slow query never makes the dashboard's queries wait.
Query parameters come as `param_<name>=<value>` in the URL, like ClickHouse's HTTP interface: the
SQL names them `{name:Type}` and ClickHouse parses each value as that type, so a value never
becomes SQL.
"""

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from consumers.clickhouse_sink import metrics
from consumers.clickhouse_sink.erasure_http import MAX_BODY_BYTES, ErasureEndpoint
from consumers.clickhouse_sink.query_service import Busy, QueryService, ReaderPool, query_parameters
from consumers.runtime.status_http import status_page
from eventschema.read_access import AllowedHosts, ReadKeys, presented_key
from eventschema.readonly_sql import ReadOnlyRefused

__all__ = ["QueryService", "ReaderPool", "serve"]  # the pool and service live in query_service

log = logging.getLogger(__name__)
MAX_QUERY_BYTES = 1_000_000
_FORMAT = re.compile(r"^[A-Za-z0-9]+$")
MAX_PARAMS = 1000
RETRY_AFTER_SECONDS = 1
SOCKET_TIMEOUT = 10.0  # a client that stalls sending or reading is cut off
# The whole request (headers and body) must arrive within this: a per-read timeout alone lets a
# client that sends a byte every few seconds (slowloris) hold its thread forever.
REQUEST_DEADLINE = 10.0
MAX_CONNECTIONS = 1000  # one thread each; the deadline frees the slots slow clients take
LISTEN_BACKLOG = 128


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
    ) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self.deadlines = Deadlines()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # over the cap: close rather than pile up
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class Deadlines:
    """Connections still sending their request, and when each must have finished. One reaper
    thread shuts down the late ones (which wakes their handler's blocked read with EOF)."""

    def __init__(self) -> None:
        self._pending: dict[Any, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._reap, name="sink-http-reaper", daemon=True).start()

    def start(self, connection: Any, seconds: float) -> None:
        with self._lock:
            self._pending[connection] = time.monotonic() + seconds

    def done(self, connection: Any) -> None:
        with self._lock:
            self._pending.pop(connection, None)

    def _reap(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                late = [c for c, deadline in self._pending.items() if deadline < now]
                for connection in late:
                    del self._pending[connection]
            for connection in late:
                with contextlib.suppress(OSError):  # already closed by its handler
                    connection.shutdown(socket.SHUT_RDWR)


def serve(
    host: str,
    port: int,
    queries: QueryService,
    healthy: Callable[[], bool],
    keys: ReadKeys,
    hosts: AllowedHosts,
    socket_timeout: float = SOCKET_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    request_deadline: float = REQUEST_DEADLINE,
    erasure: ErasureEndpoint | None = None,
) -> ThreadingHTTPServer:
    """Start the server on a daemon thread and return it (call .shutdown() to stop)."""
    attrs = {
        "erasure": erasure,
        "queries": queries,
        "healthy": staticmethod(healthy),
        "keys": keys,
        "hosts": hosts,
        "timeout": socket_timeout,  # StreamRequestHandler sets it on each connection's socket
        "request_deadline": request_deadline,
    }
    handler = type("Handler", (_Handler,), attrs)
    server = _Server((host, port), handler, max_connections)
    threading.Thread(target=server.serve_forever, name="sink-http", daemon=True).start()
    log.info("sink HTTP on http://%s:%d", host, server.server_address[1])
    return server


class _Handler(BaseHTTPRequestHandler):
    queries: QueryService
    healthy: Callable[[], bool]
    keys: ReadKeys
    hosts: AllowedHosts
    timeout = SOCKET_TIMEOUT
    request_deadline = REQUEST_DEADLINE
    erasure: ErasureEndpoint | None = None
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.deadlines.start(self.connection, self.request_deadline)

    def finish(self) -> None:
        self.server.deadlines.done(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.server.deadlines.done(self.connection)

        path = urlsplit(self.path).path
        self._send(*status_page(path, self.healthy, metrics.REGISTRY))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/privacy/delete" and self.erasure is not None:
            self._erase(self.erasure)
            return
        if url.path != "/query":
            self._send(404, b"not found\n", "text/plain")
            return
        if not self._allowed():
            return
        length = int(self.headers.get("Content-Length") or 0)
        query = parse_qs(url.query, keep_blank_values=True)
        fmt = query.get("format", ["TabSeparatedWithNames"])[0]
        if sum(1 for key in query if key.startswith("param_")) > MAX_PARAMS:
            self._send(400, b"too many query parameters\n", "text/plain")
            return
        if length <= 0 or length > MAX_QUERY_BYTES or not _FORMAT.match(fmt):
            self._send(400, b"need a SQL body (<= 1 MB) and a format name\n", "text/plain")
            return
        sql = self.rfile.read(length).decode("utf-8", "replace")
        self.server.deadlines.done(self.connection)  # the request is in: the query may take long
        parameters = query_parameters(query, sql)
        started = time.monotonic()
        try:
            body = self.queries.run(sql, fmt, parameters)
        except Busy:
            message = f"all {len(self.queries.pool.readers)} query sessions are busy; retry"
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            self._json(429, "busy", message, headers)
            return
        except ReadOnlyRefused as refused:
            self._json(403, "read_only", f"only one read statement is run: {refused.reason}")
            return
        except Exception as error:  # ClickHouse errors (syntax, limits, readonly session)
            self._send(400, f"{error}\n".encode(), "text/plain")
            return
        log.debug("query took %.3fs", time.monotonic() - started)
        self._send(200, body, "application/octet-stream")

    def _erase(self, erasure: ErasureEndpoint) -> None:
        """POST /privacy/delete (erasure_http.py): its own key, the same Host allow-list."""
        if not self.hosts.allows(self.headers.get("Host")):
            self._json(403, "host_not_allowed", "this Host is not in FOOTFALL_ALLOWED_HOSTS")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            self._json(400, "bad_request", f"need a JSON body of at most {MAX_BODY_BYTES} bytes")
            return
        body = self.rfile.read(length)
        self.server.deadlines.done(self.connection)
        status, answer = erasure.handle(self.headers.get("Authorization"), body)
        self._send(status, orjson.dumps(answer), "application/json")

    def _allowed(self) -> bool:
        """Host allowed and a read key presented; else answer (403 / 401) and return False."""
        if not self.hosts.allows(self.headers.get("Host")):
            self._json(403, "host_not_allowed", "this Host is not in FOOTFALL_ALLOWED_HOSTS")
            return False
        key = presented_key(self.headers.get("Authorization"))
        challenge = {"WWW-Authenticate": 'Bearer realm="footfall"'}
        if key is None:
            self._json(401, "missing_read_key", "send Authorization: Bearer <read key>", challenge)
            return False
        if not self.keys.check(key):
            self._json(401, "invalid_read_key", "this key is not a read key", challenge)
            return False
        return True

    def _json(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = orjson.dumps({"code": code, "message": message})
        self._send(status, body, "application/json", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)
