"""From a parsed request payload to accepted events and per-event rejections.

A batch is judged event by event: the valid ones go to the events topic, each invalid one is
reported back with its index and reason and written to the quarantine topic, so nothing a
client sent disappears silently.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from eventschema import Event, EventCodec, ValidationError, validate_message
from eventschema.collection_policy import DEFAULT_POLICY, CollectionPolicy, apply, apply_message
from eventschema.entry import SERVER_KEY
from eventschema.event_names import canonical_event_name
from eventschema.validation import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    encoded_size,
    nests_at_most,
    truncate_depth,
)
from producer_api.cookieless import VisitorIds
from producer_api.errors import ApiError
from producer_api.plain_validation import plain_event
from producer_api.publisher import OutgoingMessage

# Batch-level fields that Segment SDKs send once for all messages of a batch.
_SHARED_FIELDS = ("sentAt", "context", "integrations")
SERVER_ONLY_EVENT = "server_only_event"


@dataclass
class Rejection:
    index: int
    error: ValidationError
    raw: Any

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, **self.error.as_dict()}


@dataclass
class IngestResult:
    accepted: list[Event] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def batch_messages(payload: Any, max_events: int) -> tuple[list[Any], dict[str, Any]]:
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_payload", "body must be a JSON object with a batch array")
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise ApiError(400, "invalid_payload", "batch must be an array of events")
    if not batch:
        raise ApiError(400, "empty_batch", "batch has no events")
    if len(batch) > max_events:
        raise ApiError(413, "too_many_events", f"batch has {len(batch)} events, limit {max_events}")
    shared = {name: payload[name] for name in _SHARED_FIELDS if name in payload}
    return batch, shared


@dataclass(frozen=True)
class RequestContext:
    """What `judge` needs to know about the request the messages came in."""

    received_at: datetime
    client_ip: str | None
    default_type: str | None  # the route's message type; None for a batch
    body_size: int  # bytes after gzip
    # Canonical names (eventschema.event_names) refused: the caller used a browser key.
    server_only_events: frozenset[str] = frozenset()
    source: str = "http"  # recorded on each event: "http" live, "import" for /v1/import
    entry: str = SERVER_KEY  # which kind of key sent it (eventschema.entry)
    # Derives the anonymousId of cookieless events (producer_api.cookieless); None: left as sent.
    visitor_ids: VisitorIds | None = None


def judge(messages: Sequence[Any], shared: dict[str, Any], request: RequestContext) -> IngestResult:
    """Each message with the batch's `shared` fields: an accepted event or a rejection."""
    # No event can exceed the per-event limit when the whole body is smaller: skip measuring.
    measure = request.body_size > MAX_EVENT_BYTES
    # A message with the shared fields merged in nests at least one level less than
    # [messages, shared]: when that pair nests at most MAX_DEPTH + 1 levels, no message is too
    # deep, and one check of the request replaces one per message (a small body needs no size
    # check either). Otherwise each message is checked as before, with the same errors.
    within_limits = not measure and nests_at_most([messages, shared], MAX_DEPTH + 1)
    result = IngestResult()
    merge = _Shared(shared, request.client_ip).merge
    for index, raw in enumerate(messages):
        try:
            message = merge(raw)
            if request.visitor_ids is not None:
                message = request.visitor_ids.apply(message)
            size = encoded_size(raw) if measure else 0
            args = (request.received_at, request.default_type, request.source, size, request.entry)
            # The common shape in line; anything else (and every refusal) by the one rule set.
            event = plain_event(message, *args, within_limits) or validate_message(message, *args)
            _check_allowed(event, request.server_only_events)
        except ValidationError as error:
            result.rejected.append(Rejection(index, error, raw))
        else:
            result.accepted.append(event)
    return result


def _check_allowed(event: Event, server_only: frozenset[str]) -> None:
    name = event.event if event.type == "track" else None
    if server_only and name and canonical_event_name(name) in server_only:
        raise ValidationError(
            SERVER_ONLY_EVENT, f"{name!r} can only be sent with a server key", "event"
        )


class _Shared:
    """A batch's shared fields, looked up once per batch, merged into each of its messages
    (a copy: the cookieless id is then set in place, producer_api.cookieless)."""

    def __init__(self, shared: dict[str, Any], client_ip: str | None) -> None:
        self.sent_at = "sentAt" in shared
        self.shared = shared
        context, integrations = shared.get("context"), shared.get("integrations")
        self.context = context if isinstance(context, dict) else None
        self.integrations = integrations if isinstance(integrations, dict) else None
        self.client_ip = client_ip

    def merge(self, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        message = dict(raw)
        if self.sent_at and "sentAt" not in message:
            message["sentAt"] = self.shared["sentAt"]
        context = message.get("context")
        copied = False  # whether `context` is our own dict yet
        if self.context is not None and (context is None or isinstance(context, dict)):
            context = message["context"] = {**self.context, **(context or {})}
            copied = True
        if self.integrations is not None:
            inner = message.get("integrations")
            if inner is None or isinstance(inner, dict):
                message["integrations"] = {**self.integrations, **(inner or {})}
        # Segment records the connection's IP when the client does not send one.
        ip = self.client_ip
        if ip and (context is None or (isinstance(context, dict) and "ip" not in context)):
            if copied:
                context["ip"] = ip  # type: ignore[index]  # mypy misses `copied`
            else:
                message["context"] = {**(context or {}), "ip": ip}
        return message


def event_messages(
    events: Sequence[Event],
    codec: EventCodec,
    topic: str,
    policy: CollectionPolicy = DEFAULT_POLICY,
) -> list[OutgoingMessage]:
    """Kafka messages of accepted events, with the IP and personal-data policy applied first
    (every API route publishes through here: what it removes never reaches Kafka)."""
    label = codec.writer.label
    # Events of one request mostly share their name and type: build their headers once.
    headers: dict[tuple[str | None, str], list[tuple[str, bytes]]] = {}
    out = []
    for event in events:
        apply(event, policy)
        shape = (event.event, event.type)  # what Event.headers reads
        found = headers.get(shape)
        if found is None:
            found = headers[shape] = event.headers(label)
        out.append(OutgoingMessage(topic, event.key, codec.encode_event(event), found))
    return out


def quarantine_messages(
    rejections: Sequence[Rejection],
    topic: str,
    received_at: datetime,
    route: str,
    policy: CollectionPolicy = DEFAULT_POLICY,
) -> list[OutgoingMessage]:
    out = []
    for rejection in rejections:
        # A refused event keeps its shape, but not what the policy removes.
        event = apply_message(rejection.raw, policy)
        record = {
            "reason": rejection.error.as_dict(),
            "index": rejection.index,
            "route": route,
            "received_at": received_at.isoformat(),
            "event": event,
        }
        headers = [("reason", rejection.error.code.encode()), ("content-type", b"application/json")]
        try:
            data = orjson.dumps(record)
        except orjson.JSONEncodeError:  # nested deeper than orjson encodes: keep the outer part
            data = orjson.dumps({**record, "event": truncate_depth(event)})
        out.append(OutgoingMessage(topic, b"", data, headers))
    return out
