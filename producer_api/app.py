"""The Starlette application: Segment's HTTP Tracking API, health checks and metrics."""

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from eventschema.entry import CSV_IMPORT
from producer_api.body import read_json
from producer_api.config import Settings
from producer_api.cookieless import VisitorIds
from producer_api.cors import add_cors_headers, preflight
from producer_api.csv_endpoint import import_csv
from producer_api.errors import ApiError
from producer_api.indexed_request import TrackingRequest
from producer_api.ingest import (
    SERVER_ONLY_EVENT,
    IngestResult,
    Rejection,
    RequestContext,
    batch_messages,
    event_messages,
    judge,
    quarantine_messages,
)
from producer_api.metrics import EVENTS, REQUEST_SECONDS, REQUESTS
from producer_api.publisher import OutgoingMessage, PublishError
from producer_api.services import Services, build_services, services_of
from producer_api.tracker import tracker_script

log = logging.getLogger("footfall.api")
ACCEPTED, QUARANTINED = EVENTS.labels("accepted"), EVENTS.labels("quarantined")

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


class IngestEndpoint:
    """One route of the tracking API; `message_type` None means a batch."""

    def __init__(self, message_type: str | None, route: str | None = None) -> None:
        self.message_type = message_type
        self.route = route or f"/v1/{message_type or 'batch'}"
        # Bulk import of history is a server's job: browser keys only send live tracking.
        self.server_only = self.route == "/v1/import"
        self.source = "import" if self.server_only else "http"
        # Label lookups resolved once per route, not per request.
        self._latency = REQUEST_SECONDS.labels(self.route)
        self._counters: dict[int, Any] = {}  # status -> REQUESTS child

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await self._handle(request)
        except ApiError as error:
            response = json_response(error.status, error.body(), error.headers)
        except Exception:  # a bug must still not lose the client's data silently: 503, retry
            log.exception("unexpected error on %s", self.route)
            response = json_response(
                503,
                {"success": False, "code": "internal_error", "message": "try again"},
                {"Retry-After": "5"},
            )
        add_cors_headers(request, response)
        counter = self._counters.get(response.status_code)
        if counter is None:
            counter = self._counters[response.status_code] = REQUESTS.labels(
                self.route, str(response.status_code)
            )
        counter.inc()
        self._latency.observe(time.perf_counter() - started)
        return response

    async def _handle(self, request: Request) -> Response:
        services = services_of(request)
        settings = services.settings
        client_ip = services.client_ip.resolve(request)
        services.limiter.check_ip(client_ip)
        principal, body = await services.gate.admit(
            request, self.server_only, lambda: read_json(request, settings.max_body_bytes)
        )
        received_at = datetime.now(UTC)
        context = RequestContext(
            received_at=received_at,
            client_ip=client_ip,
            default_type=self.message_type,
            body_size=body.size,
            server_only_events=principal.refused_events,
            source=self.source,
            # Trust travels with the event: the uploader sends no conversion a browser key sent.
            entry=CSV_IMPORT if self.server_only else principal.entry,
            visitor_ids=VisitorIds(
                services.salts,
                received_at.date(),  # received_at is UTC: the salt's day
                client_ip or "",
                request.headers.get("user-agent", ""),
                request.headers.get("origin"),
                principal.name,
            ),
        )
        if self.message_type is None:
            messages, shared = batch_messages(body.payload, settings.max_batch_events)
        else:
            messages, shared = [body.payload], {}
        result = judge(messages, shared, context)
        if self.message_type is not None and result.rejected:
            raise _single_refused(result.rejected)
        count, accepted, rejected = len(messages), len(result.accepted), len(result.rejected)
        outgoing = self._outgoing(services, result, received_at)
        answer = _ingest_answer(result)
        # Only bytes wait for Kafka: the parsed body and the events die here, young, instead
        # of living through the cyclic collector's passes while the acknowledgement takes
        # milliseconds, 64 requests at a time (docs/performance.md, round five).
        del body, messages, shared, result
        await self._publish(services, outgoing, count, accepted, rejected)
        return answer

    def _outgoing(
        self, services: Services, result: IngestResult, received_at: datetime
    ) -> list[OutgoingMessage]:
        """The accepted events and the quarantined refusals, as Kafka messages."""
        topics = services.settings.topics
        policy = services.settings.collection
        outgoing = event_messages(result.accepted, services.codec, topics.events, policy)
        outgoing += quarantine_messages(
            result.rejected, topics.quarantine, received_at, self.route, policy
        )
        return outgoing

    async def _publish(
        self,
        services: Services,
        outgoing: list[OutgoingMessage],
        count: int,
        accepted: int,
        rejected: int,
    ) -> None:
        """Produce and wait until Kafka acknowledged all of `outgoing`."""
        try:
            services.replicas.check()  # too few in-sync replicas: 503 now, not in 11 s
            await services.publisher.publish(outgoing)
        except PublishError as error:
            EVENTS.labels("unavailable").inc(count)
            raise ApiError(
                503,
                "kafka_unavailable",
                str(error),
                {"Retry-After": str(services.settings.retry_after_seconds)},
            ) from None
        ACCEPTED.inc(accepted)
        if rejected:
            QUARANTINED.inc(rejected)


def _single_refused(rejected: list[Rejection]) -> ApiError:
    """A single-message route refuses the request as a whole when its message is refused."""
    first = rejected[0].error
    return ApiError(
        403 if first.code == SERVER_ONLY_EVENT else 400,
        SERVER_ONLY_EVENT if first.code == SERVER_ONLY_EVENT else "invalid_event",
        first.message,
        details={"errors": [r.as_dict() for r in rejected]},
    )


def _ingest_answer(result: IngestResult) -> Response:
    accepted, rejected = result.accepted, result.rejected
    errors = [r.as_dict() for r in rejected]
    if rejected and not accepted:
        # Only forbidden events (browser key): 403, so the client sees a permission problem.
        forbidden = all(r.error.code == SERVER_ONLY_EVENT for r in rejected)
        return json_response(
            403 if forbidden else 400,
            {
                "success": False,
                "code": SERVER_ONLY_EVENT if forbidden else "invalid_events",
                "message": "no event in the batch is valid",
                "accepted": 0,
                "errors": errors,
            },
        )
    body: dict[str, Any] = {"success": True, "accepted": len(accepted)}
    if errors:
        body["errors"] = errors
    return json_response(200, body)


async def healthz(_request: Request) -> Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    services = services_of(request)
    if services.lifecycle.draining:
        return json_response(503, {"status": "draining"})
    if services.replicas.short:
        short = [s.as_dict() for s in services.replicas.short]
        return json_response(503, {"status": "too_few_in_sync_replicas", "partitions": short})
    reachable = await asyncio.to_thread(services.publisher.broker_reachable)
    if not reachable:
        return json_response(503, {"status": "kafka_unreachable"})
    return json_response(200, {"status": "ready"})


async def metrics(_request: Request) -> Response:
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # several workers: the sum of all of them
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


Handler = Callable[[Request], Awaitable[Response]]


class IngestApp(Starlette):
    """Starlette, except that a POST to a tracking route goes straight to its endpoint.

    Tracking requests are nearly all the traffic, and the router's regex matching, the two
    exception middlewares and the request/response wrapper cost more than the endpoint itself
    for a single event. The endpoint catches every exception itself (IngestEndpoint.handle), so
    skipping the middlewares changes no answer; every other request goes through Starlette.
    """

    def __init__(self, fast: dict[str, Handler], **options: Any) -> None:
        super().__init__(**options)
        self._fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            handler = self._fast.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                response = await handler(TrackingRequest(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        services.replicas.start()
        yield
        services.lifecycle.draining = True
        services.replicas.stop()
        left = await asyncio.to_thread(services.publisher.close)
        if left:
            log.error("%d Kafka messages were not delivered at shutdown", left)

    endpoints = [IngestEndpoint(None), IngestEndpoint(None, "/v1/import")]
    endpoints += [IngestEndpoint(kind) for kind in SINGLE_TYPES]
    routes = [Route(e.route, e.handle, methods=["POST"]) for e in endpoints]
    routes += [Route("/v1/import/csv", import_csv, methods=["POST"])]
    routes += [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    # After the POST routes: an OPTIONS request to them only partly matches and falls through.
    routes += [
        Route("/v1/{rest:path}", preflight, methods=["OPTIONS"]),
        Route("/t.js", tracker_script, methods=["GET"]),
    ]
    fast: dict[str, Handler] = {e.route: e.handle for e in endpoints}
    return IngestApp(fast, routes=routes, lifespan=lifespan)
