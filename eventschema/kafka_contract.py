"""Kafka message keys, headers and topic definitions shared by every producer and consumer."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eventschema.paths import schema_dir
from eventschema.secret_settings import secret_setting

# FOOTFALL_KAFKA_BOOTSTRAP's default in every process: the broker `footfall up` runs locally.
DEFAULT_KAFKA_PORT = 9092
DEFAULT_BOOTSTRAP = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"

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
    # Erasure requests (eventschema/suppressions.py): compacted, read whole by sink and uploader.
    suppressions: str = "privacy_suppressions"

    @classmethod
    def for_prefix(cls, prefix: str) -> "Topics":
        return cls(
            f"{prefix}events",
            f"{prefix}events_quarantine",
            f"{prefix}events_dlq",
            f"{prefix}privacy_suppressions",
        )


class KafkaSecurityError(ValueError):
    """FOOTFALL_KAFKA_* security settings are incomplete or contradictory. Messages name the
    variables, never their values (a password must not reach a log)."""


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
_SSL_FILES = {
    "FOOTFALL_KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
    "FOOTFALL_KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
    "FOOTFALL_KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
}


def security_config(env: Mapping[str, str]) -> dict[str, str]:
    """librdkafka SASL/TLS settings from FOOTFALL_KAFKA_*, read by each process's settings loader
    at start (KafkaSecurityError, a ValueError, stops it). Every Producer, Consumer and
    AdminClient merges them in, so each process authenticates as the user its own environment
    names (API, sink and uploader can each have their own)."""
    protocol = env.get("FOOTFALL_KAFKA_SECURITY_PROTOCOL", "").strip().upper()
    if protocol and protocol not in SECURITY_PROTOCOLS:
        raise KafkaSecurityError(
            f"FOOTFALL_KAFKA_SECURITY_PROTOCOL must be one of {SECURITY_PROTOCOLS}"
        )
    conf = {"security.protocol": protocol} if protocol else {}
    sasl_set = [n for n in env if n.startswith("FOOTFALL_KAFKA_SASL_") and env[n]]
    if protocol.startswith("SASL_"):
        conf.update(_sasl(env, protocol))
    elif sasl_set:  # credentials that would silently not be sent
        raise KafkaSecurityError(f"{sasl_set[0]} needs FOOTFALL_KAFKA_SECURITY_PROTOCOL=SASL_*")
    if protocol.endswith("SSL"):
        conf.update({key: env[name] for name, key in _SSL_FILES.items() if env.get(name)})
        key_password = secret_setting(env, "FOOTFALL_KAFKA_SSL_KEY_PASSWORD", KafkaSecurityError)
        if key_password:
            conf["ssl.key.password"] = key_password
    return conf


def _sasl(env: Mapping[str, str], protocol: str) -> dict[str, str]:
    mechanism = env.get("FOOTFALL_KAFKA_SASL_MECHANISM", "").strip().upper() or "SCRAM-SHA-512"
    # PLAIN sends the password itself, so only inside TLS.
    allowed = (*SCRAM_MECHANISMS, "PLAIN") if protocol == "SASL_SSL" else SCRAM_MECHANISMS
    if mechanism not in allowed:
        raise KafkaSecurityError(f"FOOTFALL_KAFKA_SASL_MECHANISM must be one of {allowed}")
    username = env.get("FOOTFALL_KAFKA_SASL_USERNAME", "")
    password = secret_setting(env, "FOOTFALL_KAFKA_SASL_PASSWORD", KafkaSecurityError)
    if not username or not password:
        raise KafkaSecurityError(
            f"{protocol} needs FOOTFALL_KAFKA_SASL_USERNAME and FOOTFALL_KAFKA_SASL_PASSWORD"
            " (or FOOTFALL_KAFKA_SASL_PASSWORD_FILE)"
        )
    return {"sasl.mechanism": mechanism, "sasl.username": username, "sasl.password": password}


@dataclass(frozen=True)
class KafkaCluster:
    """Where the brokers are and who we are there: what every client a process builds needs."""

    bootstrap: str
    security: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold a password

    @classmethod
    def from_env(cls, bootstrap: str, environ: Mapping[str, str]) -> "KafkaCluster":
        return cls(bootstrap, security_config(environ))


def client_config(kafka: KafkaCluster) -> dict[str, Any]:
    """The settings every Kafka client needs: where the brokers are and who we are."""
    return {"bootstrap.servers": kafka.bootstrap, **kafka.security}


def producer_config(kafka: KafkaCluster, delivery_timeout_seconds: float) -> dict[str, Any]:
    """librdkafka settings every producer of events shares. The partitioner matters most: the
    same key must land on the same partition whichever producer (API, SDK) wrote it."""
    return {
        **client_config(kafka),
        "enable.idempotence": True,  # acks=all and no duplicates from producer retries
        "acks": "all",
        "message.timeout.ms": int(delivery_timeout_seconds * 1000),
        "linger.ms": 5,
        "compression.type": "lz4",  # cheapest on CPU, which producers here are bound by
        "message.max.bytes": 1_000_000,
        "partitioner": "murmur2_random",  # the Java client's partitioner: same key, same partition
    }


def consumer_config(kafka: KafkaCluster, group_id: str) -> dict[str, Any]:
    """librdkafka settings every consumer worker shares (reliability.md §3): offsets are stored
    and committed by the worker only after its output is safe; a new group starts from the
    beginning; cooperative rebalances keep the other partitions running."""
    return {
        **client_config(kafka),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "max.poll.interval.ms": 300_000,
        "session.timeout.ms": 45_000,
        "enable.partition.eof": False,
    }


# Quarantined and dead-lettered records are whole events (personal data) kept for inspection and
# replay: how long is the operator's choice (docs/privacy.md). Unprefixed topic -> its setting; the
# default is the retention.ms of avro/topics.json.
RETENTION_SETTINGS = {
    "events_quarantine": "FOOTFALL_QUARANTINE_RETENTION_DAYS",
    "events_dlq": "FOOTFALL_DLQ_RETENTION_DAYS",
    "conversions_dlq": "FOOTFALL_DLQ_RETENTION_DAYS",
}
_DAY_MS = 86_400_000


def retention_days(env: Mapping[str, str], name: str) -> int | None:
    """A FOOTFALL_*_DAYS retention setting: None when unset or empty, else a whole number of days
    of at least 1 (ValueError naming the variable)."""
    text = env.get(name, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of days (at least 1), not {text!r}")
    return int(text)


def configured_topic_specs(prefix: str, env: Mapping[str, str]) -> tuple[TopicSpec, ...]:
    """topic_specs with the retention settings of `env` applied (RETENTION_SETTINGS)."""
    specs = []
    for spec in topic_specs(prefix):
        setting_name = RETENTION_SETTINGS.get(spec.name.removeprefix(prefix))
        days = retention_days(env, setting_name) if setting_name else None
        if days is not None:
            spec = TopicSpec(
                spec.name, spec.partitions, spec.config | {"retention.ms": str(days * _DAY_MS)}
            )
        specs.append(spec)
    return tuple(specs)


def retention_managed(spec: TopicSpec, prefix: str) -> bool:
    """Whether a setting owns this topic's retention (applied to existing topics too)."""
    return spec.name.removeprefix(prefix) in RETENTION_SETTINGS


@cache
def topic_specs(prefix: str = "") -> tuple[TopicSpec, ...]:
    """The topics to create (auto-creation is off on our brokers), from avro/topics.json."""
    raw = json.loads((schema_dir() / "topics.json").read_text())["topics"]
    return tuple(
        TopicSpec(prefix + name, int(spec["partitions"]), dict(spec.get("config", {})))
        for name, spec in raw.items()
    )
