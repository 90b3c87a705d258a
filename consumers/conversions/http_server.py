"""GET /healthz and GET /metrics of the uploader."""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumers.conversions import metrics


def serve(host: str, port: int, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"healthy": staticmethod(healthy)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="conversions-http", daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    healthy: Callable[[], bool]

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/healthz":
            ok = self.healthy()
            self._send(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", "text/plain")
        elif self.path.split("?")[0] == "/metrics":
            self._send(200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return
