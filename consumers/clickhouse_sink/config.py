"""Sink settings from the environment (names and defaults: docs/contract-for-helpers.md)."""

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

from eventschema import paths
from eventschema.env_settings import setting
from eventschema.kafka_contract import (
    DEFAULT_BOOTSTRAP,
    KafkaCluster,
    Topics,
    retention_days,
    security_config,
)
from eventschema.read_access import AllowedHosts, ReadKeys
from eventschema.readonly_sql import QueryLimits

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class SinkConfig:
    bootstrap: str
    topics: Topics
    group_id: str
    clickhouse_dsn: str
    database: str
    http_host: str
    http_port: int
    batch_size: int
    batch_seconds: float
    migrations_dir: Path
    instance_id: str | None
    commit_interval: float = 1.0
    dead_letter_timeout: float = 10.0
    # /query: who may read, from which Host names, and how many queries run at once.
    read_keys: ReadKeys = field(default_factory=lambda: ReadKeys(()))
    allowed_hosts: AllowedHosts = field(default_factory=AllowedHosts.from_env)
    query_concurrency: int = 4
    # Seconds a client has to send its whole request (slowloris guard).
    http_request_deadline: float = 10.0
    query_limits: QueryLimits = QueryLimits()  # FOOTFALL_QUERY_MAX_*
    # FOOTFALL_KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings, as librdkafka settings.
    kafka_security: Mapping[str, str] = field(default_factory=dict, repr=False)
    # FOOTFALL_EVENTS_TTL_DAYS: events older than this (by `timestamp`), and identity links last
    # seen before it, are deleted; None keeps them forever. Applied to the tables at every start
    # (migrations.apply_events_ttl).
    events_ttl_days: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "SinkConfig":
        """The settings, or ValueError naming the variable whose value does not parse."""
        c = Config(environ=env)  # a bad number stops the start, naming it
        data_dir = paths.data_dir(env)
        dsn = env.get("FOOTFALL_CLICKHOUSE_DSN", f"chdb://{data_dir / 'clickhouse'}")
        return cls(
            bootstrap=env.get("FOOTFALL_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP),
            topics=Topics.for_prefix(env.get("FOOTFALL_TOPIC_PREFIX", "")),
            group_id=env.get("FOOTFALL_SINK_GROUP", "footfall-clickhouse-sink"),
            clickhouse_dsn=dsn,
            database=env.get("FOOTFALL_CLICKHOUSE_DATABASE", "footfall"),
            http_host=env.get("FOOTFALL_SINK_HTTP_HOST", "127.0.0.1"),
            http_port=setting(c, "FOOTFALL_SINK_HTTP_PORT", int, 8124),
            http_request_deadline=setting(c, "FOOTFALL_SINK_HTTP_DEADLINE", float, 10.0),
            batch_size=setting(c, "FOOTFALL_SINK_BATCH_SIZE", int, 10000),
            batch_seconds=setting(c, "FOOTFALL_SINK_BATCH_SECONDS", float, 1.0),
            migrations_dir=Path(
                env.get("FOOTFALL_MIGRATIONS_DIR", str(REPO_ROOT / "deploy/clickhouse/migrations"))
            ),
            dead_letter_timeout=setting(c, "FOOTFALL_SINK_DLQ_TIMEOUT_SECONDS", float, 10.0),
            commit_interval=setting(c, "FOOTFALL_SINK_COMMIT_SECONDS", float, 1.0),
            instance_id=env.get("FOOTFALL_SINK_INSTANCE_ID") or _default_instance_id(dsn),
            read_keys=ReadKeys.from_env(env),  # `footfall up` passes its keys' digests here
            allowed_hosts=AllowedHosts.from_env(env),
            query_limits=QueryLimits.from_env(env),
            kafka_security=security_config(env),
            query_concurrency=max(1, setting(c, "FOOTFALL_QUERY_CONCURRENCY", int, 4)),
            events_ttl_days=retention_days(env, "FOOTFALL_EVENTS_TTL_DAYS"),
        )

    @property
    def kafka(self) -> KafkaCluster:
        return KafkaCluster(self.bootstrap, self.kafka_security)

    @property
    def is_chdb(self) -> bool:
        return self.clickhouse_dsn.startswith("chdb:")


def _default_instance_id(dsn: str) -> str | None:
    """Static group membership for chDB: only one process can hold a chDB path, so the path names
    the member. A restarted sink then gets its partitions back at once instead of waiting out the
    dead member's session timeout (45 s). Server DSNs may run several sinks: dynamic membership.
    """
    if not dsn.startswith("chdb:"):
        return None
    return "chdb-" + hashlib.sha256(dsn.encode()).hexdigest()[:16]
