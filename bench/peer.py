"""The ingestion peer of the benchmark: PostHog's capture (Rust), run beside our API.

It gets the same broker, a topic with as many partitions as our events topic, our producer
settings (linger 5 ms, lz4) and the same event content in its own format: a top-level JSON array
of PostHog events, or one event. Our context fields travel as PostHog's `$` properties, so each
event is about as large as ours; `{{REQ}}` gives every event a unique `$insert_id` (capture makes
the uuid itself). The binary is not in the repository: without it the peer is skipped.
"""

import os
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from bench.make_payloads import event
from eventschema.kafka_contract import topic_specs

BINARY = Path(
    os.environ.get(
        "BENCH_PEER_BINARY",
        Path(__file__).resolve().parents[2] / "shared/peers/posthog-capture/capture-server",
    )
)
TOPIC = "bench_peer_events"
TOKEN = "phc_race"


def available() -> bool:
    return BINARY.is_file() and os.access(BINARY, os.X_OK)


def peer_event(ours: dict[str, Any]) -> dict[str, Any]:
    """Our event (bench.make_payloads) with the same content, as PostHog's capture takes it."""
    context = ours["context"]
    page, campaign = context["page"], context["campaign"]
    return {
        "api_key": TOKEN,
        "event": ours["event"],
        "distinct_id": ours["anonymousId"],
        "timestamp": ours["timestamp"],
        "properties": {
            **ours["properties"],
            "$insert_id": ours["messageId"],
            "$current_url": page["url"],
            "$pathname": page["path"],
            "$referrer": page["referrer"],
            "title": page["title"],
            "utm_source": campaign["source"],
            "utm_medium": campaign["medium"],
            "utm_campaign": campaign["name"],
            "$raw_user_agent": context["userAgent"],
            "$lib": context["library"]["name"],
            "$lib_version": context["library"]["version"],
        },
    }


def write_payloads(out_dir: Path) -> None:
    (out_dir / "peer_batch50.json").write_bytes(
        orjson.dumps([peer_event(event(i)) for i in range(50)])
    )
    (out_dir / "peer_single.json").write_bytes(orjson.dumps(peer_event(event(1))))


def create_topic(bootstrap: str) -> None:
    """A topic with the partitions of our events topic (auto-creation is off)."""
    partitions = next(s.partitions for s in topic_specs("") if s.name == "events")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, partitions, 1)]).values():
        future.result(30)


def environment(bootstrap: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "ADDRESS": f"127.0.0.1:{port}",
        # Only its billing limiter uses Redis, and it fails open: no server is needed.
        "REDIS_URL": "redis://127.0.0.1:1/",
        "KAFKA_HOSTS": bootstrap,
        "KAFKA_TOPIC": TOPIC,
        "KAFKA_PRODUCER_LINGER_MS": "5",
        "KAFKA_COMPRESSION_CODEC": "lz4",
        "OVERFLOW_PER_SECOND_LIMIT": "100000000",
        "OVERFLOW_BURST_LIMIT": "100000000",
    }


def command() -> list[str]:
    return [str(BINARY)]


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/i/v0/e/"


def ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/_readiness"
