"""API settings, read once from the environment (FOOTFALL_* variables)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from eventschema.event_names import DEFAULT_CONVERSION_EVENTS, conversion_event_names
from eventschema.kafka_contract import DEFAULT_BOOTSTRAP, Topics
from producer_api.clientip import IPNetwork, parse_networks
from producer_api.ratelimit import Rate

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    topics: Topics
    write_keys: frozenset[str] = field(repr=False)  # server keys (secrets): never in a repr/log
    host: str
    port: int
    # Segment's limits: 500 KB per batch request (after gzip), 32 KB per event (in eventschema).
    max_body_bytes: int
    max_batch_events: int
    # Below any client or load-balancer deadline, so the client hears 503 instead of timing out.
    delivery_timeout_seconds: float
    retry_after_seconds: int
    # Public browser keys -> the origins whose pages may use them ("*": any).
    browser_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Conversions uploaded to ad platforms: a browser key (public) must not be able to forge them.
    server_only_events: tuple[str, ...] = DEFAULT_CONVERSION_EVENTS
    # Generous by default: a back end behind one address may send a lot; 0 turns a limit off.
    key_rate: Rate = Rate(1000, 5000)
    ip_rate: Rate = Rate(200, 2000)
    trusted_proxies: tuple[IPNetwork, ...] = ()
    client_ip_header: str = "x-forwarded-for"
    tracker_path: Path = REPO / "tracker" / "dist" / "footfall.min.js"
    # librdkafka's local queue (queue.buffering.max.messages): full -> 503 kafka_unavailable.
    queue_max_messages: int = 100_000

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        keys = {key.strip() for key in env.get("FOOTFALL_WRITE_KEYS", "dev-write-key").split(",")}
        return cls(
            kafka_bootstrap=env.get("FOOTFALL_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP),
            topics=Topics.from_env(),
            write_keys=frozenset(key for key in keys if key),
            host=env.get("FOOTFALL_API_HOST", "127.0.0.1"),
            port=int(env.get("FOOTFALL_API_PORT", "8080")),
            max_body_bytes=int(env.get("FOOTFALL_API_MAX_BODY_BYTES", str(500 * 1024))),
            max_batch_events=int(env.get("FOOTFALL_API_MAX_BATCH_EVENTS", "2500")),
            delivery_timeout_seconds=float(env.get("FOOTFALL_API_DELIVERY_TIMEOUT", "10")),
            retry_after_seconds=int(env.get("FOOTFALL_API_RETRY_AFTER", "5")),
            browser_keys=parse_browser_keys(env.get("FOOTFALL_BROWSER_KEYS", "")),
            server_only_events=conversion_event_names(env),
            key_rate=Rate(
                float(env.get("FOOTFALL_API_KEY_RATE", "1000")),
                float(env.get("FOOTFALL_API_KEY_BURST", "5000")),
            ),
            ip_rate=Rate(
                float(env.get("FOOTFALL_API_IP_RATE", "200")),
                float(env.get("FOOTFALL_API_IP_BURST", "2000")),
            ),
            trusted_proxies=parse_networks(env.get("FOOTFALL_TRUSTED_PROXIES", "")),
            client_ip_header=env.get("FOOTFALL_CLIENT_IP_HEADER", "X-Forwarded-For").lower(),
            tracker_path=Path(env.get("FOOTFALL_TRACKER_PATH", str(cls.tracker_path))),
            queue_max_messages=int(env.get("FOOTFALL_API_QUEUE_MAX_MESSAGES") or 100_000),
        )


def parse_browser_keys(text: str) -> dict[str, tuple[str, ...]]:
    """`pk_a=https://a.example,http://localhost:8090;pk_b=*` -> {key: origins}."""
    keys: dict[str, tuple[str, ...]] = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        key, sep, origins = entry.partition("=")
        parsed = tuple(o.strip() for o in origins.split(",") if o.strip())
        if not sep or not key.strip() or not parsed:
            raise ValueError(f"FOOTFALL_BROWSER_KEYS entry {entry!r}: use key=origin,origin")
        keys[key.strip()] = parsed
    return keys
