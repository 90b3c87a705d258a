"""Kafka message keys, headers and topic definitions shared by every producer and consumer."""

import json
import os
from dataclasses import dataclass, field
from functools import cache

from eventschema.paths import schema_dir

# Headers let a consumer filter on the event name without decoding the Avro body.
HEADER_EVENT = "ff-event"
HEADER_TYPE = "ff-type"
HEADER_SCHEMA = "ff-schema"
HEADER_CONTENT_TYPE = "content-type"
AVRO_CONTENT_TYPE = b"application/vnd.footfall.event+avro"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """Topic names for one deployment; FOOTFALL_TOPIC_PREFIX separates deployments or tests."""

    events: str
    quarantine: str
    dead_letter: str

    @classmethod
    def from_env(cls) -> "Topics":
        prefix = os.environ.get("FOOTFALL_TOPIC_PREFIX", "")
        return cls(f"{prefix}events", f"{prefix}events_quarantine", f"{prefix}events_dlq")


@cache
def topic_specs(prefix: str = "") -> tuple[TopicSpec, ...]:
    """The topics to create (auto-creation is off on our brokers), from avro/topics.json."""
    raw = json.loads((schema_dir() / "topics.json").read_text())["topics"]
    return tuple(
        TopicSpec(prefix + name, int(spec["partitions"]), dict(spec.get("config", {})))
        for name, spec in raw.items()
    )
