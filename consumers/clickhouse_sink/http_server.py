"""GET /healthz, GET /metrics and a read-only POST /query, served from the sink process.

The sink holds the chDB path (one process per path), so other tools query through here. /query
uses its own client whose session is read-only (see writer.connect_reader).
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from clickhouse_connect.driver.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumers.clickhouse_sink import metrics

log = logging.getLogger(__name__)
MAX_QUERY_BYTES = 1_000_000
_FORMAT = re.compile(r"^[A-Za-z0-9]+$")


class QueryService:
    def __init__(self, client: Client, settings: dict[str, object]) -> None:
        self.client = client
        self.settings = settings
        self._lock = threading.Lock()

    def run(self, sql: str, fmt: str) -> bytes:
        with self._lock:  # one chDB session: keep queries serial
            return self.client.raw_query(sql, settings=self.settings or None, fmt=fmt)


def serve(
    host: str, port: int, queries: QueryService, healthy: Callable[[], bool]
) -> ThreadingHTTPServer:
    """Start the server on a daemon thread and return it (call .shutdown() to stop)."""
    handler = type("Handler", (_Handler,), {"queries": queries, "healthy": staticmethod(healthy)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sink-http", daemon=True).start()
    log.info("sink HTTP on http://%s:%d", host, server.server_address[1])
    return server


class _Handler(BaseHTTPRequestHandler):
    queries: QueryService
    healthy: Callable[[], bool]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            ok = self.healthy()
            self._send(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", "text/plain")
        elif path == "/metrics":
            self._send(200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
        else:
            self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/query":
            self._send(404, b"not found\n", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        fmt = parse_qs(url.query).get("format", ["TabSeparatedWithNames"])[0]
        if length <= 0 or length > MAX_QUERY_BYTES or not _FORMAT.match(fmt):
            self._send(400, b"need a SQL body (<= 1 MB) and a format name\n", "text/plain")
            return
        sql = self.rfile.read(length).decode("utf-8", "replace")
        started = time.monotonic()
        try:
            body = self.queries.run(sql, fmt)
        except Exception as error:  # ClickHouse errors, including readonly refusals
            self._send(400, f"{error}\n".encode(), "text/plain")
            return
        log.debug("query took %.3fs", time.monotonic() - started)
        self._send(200, body, "application/octet-stream")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http: " + format, *args)
