"""Serve the API with uvicorn on FOOTFALL_API_HOST:FOOTFALL_API_PORT, in FOOTFALL_API_WORKERS
processes (default: one per core; producer_api.workers). Started by `python -m producer_api`."""

import gc
import logging
import socket
from dataclasses import replace
from typing import Any

import uvicorn

from eventschema import http_serving
from producer_api import workers
from producer_api.app import create_app
from producer_api.config import Settings

# Slow-client timeouts, header size and connection limits: see eventschema.http_serving.
OPTIONS: dict[str, Any] = {
    "access_log": False,
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": 20,
    # The client IP comes from producer_api.clientip (trusted proxies only); uvicorn must not
    # rewrite the peer address from X-Forwarded-For on its own.
    "proxy_headers": False,
    "server_header": False,
}

# A young collection after 20,000 new container objects, each older one 20 times rarer.
GC_THRESHOLDS = (20_000, 20, 20)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as error:  # a bad FOOTFALL_* value: say which, and do not start
        raise SystemExit(f"producer_api: {error}") from None
    tune_gc()
    if settings.workers == 1:
        http_serving.run(
            create_app(settings), settings.host, settings.port, settings.http, **OPTIONS
        )
        return
    # Each process keeps its own token buckets: each enforces its share (README, rate limits).
    shared = replace(
        settings,
        key_rate=settings.key_rate.divided(settings.workers),
        ip_rate=settings.ip_rate.divided(settings.workers),
    )
    sock = _config(shared).bind_socket()  # exits with a message when the port is taken
    raise SystemExit(workers.serve(settings.workers, sock, lambda s: _serve_one(shared, s)))


def tune_gc() -> None:
    """Fewer, cheaper cyclic collections. A 50-event request allocates more container objects
    than the default threshold (700), so each request ran young collections, and the objects
    of the requests waiting for Kafka were promoted and traversed again and again (py-spy:
    8 % of the API's samples in gc_collect_main, docs/performance.md). What is alive at start
    (modules, the app) is frozen: never traversed again, and shared by the forked workers."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _config(settings: Settings) -> uvicorn.Config:
    app = create_app(settings)
    return http_serving.config(app, settings.host, settings.port, settings.http, **OPTIONS)


def _serve_one(settings: Settings, sock: socket.socket) -> int:
    """One worker: the app (its producer starts in the lifespan) on the shared socket."""
    server = uvicorn.Server(_config(settings))
    server.run(sockets=[sock])
    return 0 if server.started else 3
