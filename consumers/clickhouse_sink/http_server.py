"""GET /healthz, GET /metrics and a read-only POST /query, served from the sink process.

The sink holds the chDB path (one process per path), so other tools query through here. /query
uses its own client whose session is read-only (see writer.connect_reader). Query parameters
come as `param_<name>=<value>` in the URL, like ClickHouse's HTTP interface: the SQL names them
`{name:Type}` and ClickHouse parses each value as that type, so a value never becomes SQL.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from clickhouse_connect.driver.binding import DT64Param
from clickhouse_connect.driver.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumers.clickhouse_sink import metrics

log = logging.getLogger(__name__)
MAX_QUERY_BYTES = 1_000_000
_FORMAT = re.compile(r"^[A-Za-z0-9]+$")
_PARAM = re.compile(r"^param_([A-Za-z_][A-Za-z0-9_]{0,63})$")
_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:")
MAX_PARAMS = 1000


class RawParam(DT64Param):
    """A parameter value already in ClickHouse's text form (what `param_x=` carries over HTTP).

    clickhouse-connect escapes a Python str once more, which would break Array/Tuple values; this
    passes the text through as ClickHouse's own HTTP interface does (DT64Param is the one
    value class whose formatting clickhouse-connect delegates to the value)."""

    def __init__(self, text: str) -> None:
        super().__init__(datetime.min)
        self.text = text

    def format(self, tz: tzinfo | None, top_level: bool) -> str:
        return self.text


def query_parameters(query: dict[str, list[str]], sql: str) -> dict[str, object]:
    """`param_<name>` entries of a parsed query string -> clickhouse-connect parameters.

    Only names the SQL uses as `{name:Type}` are kept (ClickHouse ignores the others too): with
    no server-side placeholder clickhouse-connect would fall back to client-side %-formatting."""
    used = set(_PLACEHOLDER.findall(sql))
    out: dict[str, object] = {}
    for key, values in query.items():
        match = _PARAM.match(key)
        if match and match.group(1) in used:
            out[match.group(1)] = RawParam(values[-1])
    return out


class QueryService:
    def __init__(self, client: Client, settings: dict[str, object]) -> None:
        self.client = client
        self.settings = settings
        self._lock = threading.Lock()

    def run(self, sql: str, fmt: str, parameters: dict[str, object] | None = None) -> bytes:
        with self._lock:  # one chDB session: keep queries serial
            return self.client.raw_query(
                sql, parameters=parameters or None, settings=self.settings or None, fmt=fmt
            )


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
        query = parse_qs(url.query, keep_blank_values=True)
        fmt = query.get("format", ["TabSeparatedWithNames"])[0]
        if sum(1 for key in query if key.startswith("param_")) > MAX_PARAMS:
            self._send(400, b"too many query parameters\n", "text/plain")
            return
        if length <= 0 or length > MAX_QUERY_BYTES or not _FORMAT.match(fmt):
            self._send(400, b"need a SQL body (<= 1 MB) and a format name\n", "text/plain")
            return
        sql = self.rfile.read(length).decode("utf-8", "replace")
        parameters = query_parameters(query, sql)
        started = time.monotonic()
        try:
            body = self.queries.run(sql, fmt, parameters)
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
