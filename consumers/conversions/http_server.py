"""GET /healthz and GET /metrics of the uploader (consumers.runtime.status_http)."""

from collections.abc import Callable
from http.server import ThreadingHTTPServer

from consumers.conversions import metrics
from consumers.runtime import status_http


def serve(host: str, port: int, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    return status_http.serve(host, port, healthy, metrics.REGISTRY, "conversions")
