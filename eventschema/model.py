"""The validated event: what every producer writes and every consumer reads."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from eventschema.entry import KAFKA
from eventschema.kafka_contract import (
    AVRO_CONTENT_TYPE,
    HEADER_CONTENT_TYPE,
    HEADER_EVENT,
    HEADER_SCHEMA,
    HEADER_TYPE,
)

MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})


# Not frozen: a frozen dataclass sets each of its 18 fields through object.__setattr__, which
# made building an Event 3 µs of the API's ~25 µs per event (docs/performance.md).
@dataclass(slots=True)
class Event:
    message_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    event: str | None = None
    name: str | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    previous_id: str | None = None
    group_id: str | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    source: str = "http"
    # How it entered (eventschema.entry): the API sets it from the key; direct producers: kafka.
    entry: str = KAFKA

    @property
    def key(self) -> bytes:
        """Kafka key: one visitor's events share a partition and so keep their order."""
        return (self.anonymous_id or self.user_id or self.message_id).encode()

    @property
    def label(self) -> str:
        """The name consumers filter on: the track event name, else the message type."""
        return self.event if self.type == "track" and self.event else self.type

    def headers(self, schema_label: str) -> list[tuple[str, bytes]]:
        return [
            (HEADER_EVENT, self.label.encode()),
            (HEADER_TYPE, self.type.encode()),
            (HEADER_SCHEMA, schema_label.encode()),
            (HEADER_CONTENT_TYPE, AVRO_CONTENT_TYPE),
        ]

    def to_record(self) -> dict[str, Any]:
        """The Avro record (field names as in avro/footfall.event.v*.avsc)."""
        return {
            "message_id": self.message_id,
            "type": self.type,
            "event": self.event,
            "name": self.name,
            "anonymous_id": self.anonymous_id,
            "user_id": self.user_id,
            "previous_id": self.previous_id,
            "group_id": self.group_id,
            "timestamp": self.timestamp,
            "original_timestamp": self.original_timestamp,
            "sent_at": self.sent_at,
            "received_at": self.received_at,
            "properties": _json(self.properties),
            "traits": _json(self.traits),
            "context": _json(self.context),
            "integrations": _json(self.integrations),
            "source": self.source,
            "entry": self.entry,
        }


def _json(value: dict[str, Any] | None) -> str:
    return orjson.dumps(value or {}).decode()
