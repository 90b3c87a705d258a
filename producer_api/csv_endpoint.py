"""POST /v1/import/csv: a CSV file of offline events as the body, imported as it streams.

Server (secret) keys only. The column mapping (see csv_import.mapping) is the `mapping` query
parameter or the `X-Footfall-Mapping` header, as JSON. Rows are parsed while the body arrives
and published in chunks, each awaited until Kafka acknowledged it, so the 200 answer (a report:
rows read, accepted, bad rows with their line and reason) means every accepted row is in Kafka.
The body has its own size limit, FOOTFALL_API_MAX_CSV_BYTES (default 1 GiB, `Settings`), since
files are far bigger than tracking requests; memory stays at one chunk whatever the size.
"""

import logging
import time
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from csv_import.mapping import MappingError, parse_mapping
from csv_import.rows import Converted, RowError
from csv_import.stream import CsvStream
from eventschema import Event
from eventschema.entry import CSV_IMPORT
from producer_api.body import body_stream
from producer_api.errors import ApiError
from producer_api.ingest import event_messages
from producer_api.metrics import EVENTS, REQUEST_SECONDS, REQUESTS
from producer_api.publisher import PublishError
from producer_api.services import Services, services_of

log = logging.getLogger("footfall.api.csv")

ROUTE = "/v1/import/csv"
PUBLISH_EVERY = 1000  # events per Kafka round trip
MAX_REPORTED_BAD_ROWS = 1000  # the report lists this many; bad_row_count has them all


async def import_csv(request: Request) -> Response:
    started = time.perf_counter()
    try:
        status, body, headers = await _import(request)
    except ApiError as error:
        status, body, headers = error.status, error.body(), error.headers
    except Exception:  # a bug must not look like success: 503, the client retries (idempotent)
        log.exception("unexpected error on %s", ROUTE)
        status, headers = 503, {"Retry-After": "5"}
        body = {"success": False, "code": "internal_error", "message": "try again"}
    REQUESTS.labels(ROUTE, str(status)).inc()
    REQUEST_SECONDS.labels(ROUTE).observe(time.perf_counter() - started)
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


async def _import(request: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    services = services_of(request)
    services.gate.admit_header(request, require_server=True)  # before reading any of the body
    text = request.query_params.get("mapping") or request.headers.get("x-footfall-mapping")
    if not text:
        raise ApiError(
            400, "missing_mapping", "send the mapping as ?mapping= or X-Footfall-Mapping"
        )
    try:
        stream = CsvStream(parse_mapping(text))
    except MappingError as error:
        raise ApiError(400, "invalid_mapping", str(error)) from None
    report = _Report()
    pending: list[Event] = []
    limit = services.settings.max_csv_bytes
    try:
        async for chunk in body_stream(request, limit, "CSV body"):
            pending += report.add(stream.feed(chunk))
            if len(pending) >= PUBLISH_EVERY:
                await _publish(services, pending)
                report.accepted += len(pending)
                pending = []
        pending += report.add(stream.finish())
    except MappingError as error:  # the header does not fit the mapping
        raise ApiError(400, "invalid_mapping", str(error)) from None
    await _publish(services, pending)
    report.accepted += len(pending)
    return 200, report.body(stream.rows_read), {}


class _Report:
    def __init__(self) -> None:
        self.accepted = 0
        self.bad_rows: list[dict[str, Any]] = []
        self.bad_row_count = 0

    def add(self, items: list[Converted | RowError]) -> list[Event]:
        events = []
        for item in items:
            if isinstance(item, Converted):
                events.append(replace(item.event, entry=CSV_IMPORT))
                continue
            self.bad_row_count += 1
            if len(self.bad_rows) < MAX_REPORTED_BAD_ROWS:
                self.bad_rows.append(item.as_dict())
        return events

    def body(self, rows_read: int) -> dict[str, Any]:
        return {
            "success": True,
            "rows": rows_read,
            "accepted": self.accepted,
            "bad_row_count": self.bad_row_count,
            "bad_rows": self.bad_rows,
        }


async def _publish(services: Services, events: list[Event]) -> None:
    if not events:
        return
    settings = services.settings
    messages = event_messages(events, services.codec, settings.topics.events, settings.collection)
    try:
        services.replicas.check()  # too few in-sync replicas: 503 now, as the tracking routes do
        await services.publisher.publish(messages)
    except PublishError as error:
        EVENTS.labels("unavailable").inc(len(events))
        retry = {"Retry-After": str(settings.retry_after_seconds)}
        message = f"{error}; send the file again (rows already imported are not doubled)"
        raise ApiError(503, "kafka_unavailable", message, retry) from None
    EVENTS.labels("accepted").inc(len(events))
