"""GET /healthz and GET /metrics of a consumer, written once.

`status_page` answers both paths (the sink's server, which also serves /query, uses it too);
`serve` runs a small threaded server with only these two, for consumers that need no more.
"""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Page = tuple[int, bytes, str]  # status, body, content type


def status_page(path: str, healthy: Callable[[], bool], registry: CollectorRegistry) -> Page:
    if path == "/healthz":
        ok = healthy()
        return (200, b"ok\n", "text/plain") if ok else (503, b"unhealthy\n", "text/plain")
    if path == "/metrics":
        return 200, generate_latest(registry), CONTENT_TYPE_LATEST
    return 404, b"not found\n", "text/plain"


def serve(
    host: str, port: int, healthy: Callable[[], bool], registry: CollectorRegistry, name: str
) -> ThreadingHTTPServer:
    """Serve /healthz and /metrics on a daemon thread; `shutdown()` the result to stop."""
    attributes = {"healthy": staticmethod(healthy), "registry": registry}
    server = ThreadingHTTPServer((host, port), type("Handler", (_Handler,), attributes))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-http", daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    healthy: Callable[[], bool]
    registry: CollectorRegistry

    def do_GET(self) -> None:
        status, body, content_type = status_page(self.path.split("?")[0], self.healthy,
                                                 self.registry)  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return
