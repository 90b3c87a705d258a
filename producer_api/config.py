"""API settings, read once from the environment (FOOTFALL_* variables), in this module only.

Values are parsed by Starlette's `Config`, so a bad one (FOOTFALL_API_PORT=abc) stops the
process at start with a message that names the variable.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

from eventschema.collection_policy import CollectionPolicy
from eventschema.event_names import DEFAULT_CONVERSION_EVENTS, conversion_event_names
from eventschema.http_serving import HttpLimits
from eventschema.kafka_contract import DEFAULT_BOOTSTRAP, KafkaCluster, Topics, security_config
from eventschema.paths import data_dir
from producer_api.clientip import IPNetwork, parse_networks
from producer_api.ratelimit import Rate
from producer_api.workers import cores

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
    # Seconds between checks of the events topic's in-sync replicas (replica_watch); 0: off.
    replica_check_seconds: float = 1.0
    # POST /v1/import/csv: files are far bigger than tracking requests (1 GiB, after gzip).
    max_csv_bytes: int = 1024**3
    # Slow-client and connection limits (FOOTFALL_HTTP_*), shared by every server.
    http: HttpLimits = HttpLimits()
    # FOOTFALL_KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings, as librdkafka settings.
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)
    # API processes of `python -m producer_api` (producer_api.workers); from_env: one per core.
    workers: int = 1
    # IP policy and personal-data rules applied before Kafka (eventschema.collection_policy).
    collection: CollectionPolicy = CollectionPolicy()
    # Daily salts of cookieless visitor ids (producer_api.salts); None: <data dir>/secrets/...
    cookieless_salt_dir: Path | None = None

    @property
    def kafka(self) -> KafkaCluster:
        return KafkaCluster(self.kafka_bootstrap, self.kafka_security)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings, or ValueError naming the variable whose value does not parse."""
        env = Config(environ=environ)
        keys = {
            key.strip() for key in env("FOOTFALL_WRITE_KEYS", default="dev-write-key").split(",")
        }
        # Empty counts as unset for this one (as it always has); 0 stays 0.
        queue = env("FOOTFALL_API_QUEUE_MAX_MESSAGES", cast=integer, default="")
        return cls(
            kafka_bootstrap=env("FOOTFALL_KAFKA_BOOTSTRAP", default=DEFAULT_BOOTSTRAP),
            # The prefix of every topic name (tests and shared brokers), from the same `environ`.
            topics=Topics.for_prefix(env("FOOTFALL_TOPIC_PREFIX", default="")),
            write_keys=frozenset(key for key in keys if key),
            host=env("FOOTFALL_API_HOST", default="127.0.0.1"),
            port=env("FOOTFALL_API_PORT", cast=int, default=8080),
            max_body_bytes=env("FOOTFALL_API_MAX_BODY_BYTES", cast=int, default=500 * 1024),
            max_batch_events=env("FOOTFALL_API_MAX_BATCH_EVENTS", cast=int, default=2500),
            delivery_timeout_seconds=env("FOOTFALL_API_DELIVERY_TIMEOUT", cast=float, default=10),
            retry_after_seconds=env("FOOTFALL_API_RETRY_AFTER", cast=int, default=5),
            browser_keys=parse_browser_keys(env("FOOTFALL_BROWSER_KEYS", default="")),
            server_only_events=conversion_event_names(environ),
            key_rate=Rate(
                env("FOOTFALL_API_KEY_RATE", cast=float, default=1000),
                env("FOOTFALL_API_KEY_BURST", cast=float, default=5000),
            ),
            ip_rate=Rate(
                env("FOOTFALL_API_IP_RATE", cast=float, default=200),
                env("FOOTFALL_API_IP_BURST", cast=float, default=2000),
            ),
            trusted_proxies=env("FOOTFALL_TRUSTED_PROXIES", cast=ip_networks, default=""),
            client_ip_header=env("FOOTFALL_CLIENT_IP_HEADER", default="X-Forwarded-For").lower(),
            tracker_path=env("FOOTFALL_TRACKER_PATH", cast=Path, default=cls.tracker_path),
            queue_max_messages=cls.queue_max_messages if queue is None else queue,
            replica_check_seconds=env("FOOTFALL_API_REPLICA_CHECK_SECONDS", cast=float, default=1),
            max_csv_bytes=env("FOOTFALL_API_MAX_CSV_BYTES", cast=int, default=1024**3),
            http=HttpLimits.from_env(environ),
            kafka_security=security_config(environ),
            workers=env("FOOTFALL_API_WORKERS", cast=positive, default=str(cores())),
            collection=CollectionPolicy.from_env(environ),
            cookieless_salt_dir=env("FOOTFALL_COOKIELESS_SALT_DIR", cast=_path, default="")
            or data_dir(environ) / "secrets" / "cookieless",
        )


def positive(text: str) -> int:
    """The cast of FOOTFALL_API_WORKERS: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(f"{text!r} is below 1")
    return value


def _path(text: str) -> Path | None:
    """An absolute path, or None for an empty value (unset: the default applies)."""
    return Path(text).resolve() if text else None


def integer(text: str) -> int | None:
    """An int, or None for an empty value (unset: the default applies)."""
    return int(text) if text else None


def ip_networks(text: str) -> tuple[IPNetwork, ...]:
    """The cast of FOOTFALL_TRUSTED_PROXIES (its name shows in Starlette's error message)."""
    return parse_networks(text)


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
