"""Kafka message keys, headers and topic definitions shared by every producer and consumer."""

import json
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

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
    def for_prefix(cls, prefix: str) -> "Topics":
        return cls(f"{prefix}events", f"{prefix}events_quarantine", f"{prefix}events_dlq")

    @classmethod
    def from_env(cls) -> "Topics":
        return cls.for_prefix(os.environ.get("FOOTFALL_TOPIC_PREFIX", ""))


def producer_config(bootstrap: str, delivery_timeout_seconds: float) -> dict[str, Any]:
    """librdkafka settings every producer of events shares. The partitioner matters most: the
    same key must land on the same partition whichever producer (API, SDK) wrote it."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,  # acks=all and no duplicates from producer retries
        "acks": "all",
        "message.timeout.ms": int(delivery_timeout_seconds * 1000),
        "linger.ms": 5,
        "compression.type": "lz4",  # cheapest on CPU, which producers here are bound by
        "message.max.bytes": 1_000_000,
        "partitioner": "murmur2_random",  # the Java client's partitioner: same key, same partition
    }


def consumer_config(bootstrap: str, group_id: str) -> dict[str, Any]:
    """librdkafka settings every consumer worker shares (reliability.md §3): offsets are stored
    and committed by the worker only after its output is safe; a new group starts from the
    beginning; cooperative rebalances keep the other partitions running."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "max.poll.interval.ms": 300_000,
        "session.timeout.ms": 45_000,
        "enable.partition.eof": False,
    }


@cache
def topic_specs(prefix: str = "") -> tuple[TopicSpec, ...]:
    """The topics to create (auto-creation is off on our brokers), from avro/topics.json."""
    raw = json.loads((schema_dir() / "topics.json").read_text())["topics"]
    return tuple(
        TopicSpec(prefix + name, int(spec["partitions"]), dict(spec.get("config", {})))
        for name, spec in raw.items()
    )
