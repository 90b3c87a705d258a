"""API settings, read once from the environment (FOOTFALL_* variables)."""

import os
from dataclasses import dataclass

from eventschema.kafka_contract import Topics


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    topics: Topics
    write_keys: frozenset[str]
    host: str
    port: int
    # Segment's limits: 500 KB per batch request (after gzip), 32 KB per event (in eventschema).
    max_body_bytes: int
    max_batch_events: int
    # Below any client or load-balancer deadline, so the client hears 503 instead of timing out.
    delivery_timeout_seconds: float
    retry_after_seconds: int

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        keys = {key.strip() for key in env.get("FOOTFALL_WRITE_KEYS", "dev-write-key").split(",")}
        return cls(
            kafka_bootstrap=env.get("FOOTFALL_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topics=Topics.from_env(),
            write_keys=frozenset(key for key in keys if key),
            host=env.get("FOOTFALL_API_HOST", "127.0.0.1"),
            port=int(env.get("FOOTFALL_API_PORT", "8080")),
            max_body_bytes=int(env.get("FOOTFALL_API_MAX_BODY_BYTES", str(500 * 1024))),
            max_batch_events=int(env.get("FOOTFALL_API_MAX_BATCH_EVENTS", "2500")),
            delivery_timeout_seconds=float(env.get("FOOTFALL_API_DELIVERY_TIMEOUT", "10")),
            retry_after_seconds=int(env.get("FOOTFALL_API_RETRY_AFTER", "5")),
        )
