"""Build Segment-spec messages (the dicts both the HTTP client and the Kafka producer send)."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from footfall_sdk.request_context import with_request_id

LIBRARY = {"name": "footfall-sdk-python", "version": "0.1.0"}


def build_message(
    message_type: str,
    *,
    anonymous_id: str | None = None,
    user_id: str | None = None,
    fields: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One message, stamped now: messageId and timestamp are fixed here, at enqueue time, so a
    retry resends the same identity (deduplicated by the sink) and the event's real time."""
    message: dict[str, Any] = {
        "type": message_type,
        "messageId": message_id or str(uuid.uuid4()),
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
        "context": {"library": LIBRARY, **(context or {})},
    }
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    if user_id is not None:
        message["userId"] = user_id
    for name, value in (fields or {}).items():
        if value is not None:
            message[name] = value
    return with_request_id(message)


def stamp(message: Mapping[str, Any]) -> dict[str, Any]:
    """Complete a hand-made message the same way (messageId, timestamp, library, request id).
    Fields the caller set are kept as they are, valid or not, so validation judges them."""
    out = dict(message)
    out.setdefault("messageId", str(uuid.uuid4()))
    out.setdefault("timestamp", datetime.now(UTC).isoformat())
    context = out.get("context")
    if context is None or (isinstance(context, dict) and "library" not in context):
        out["context"] = {"library": LIBRARY, **(context or {})}
    return with_request_id(out)
