"""Create Footfall's topics (auto-creation is off on our brokers); safe to run repeatedly."""

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import (  # not re-exported for the type checker
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)
from confluent_kafka.cimpl import NewTopic  # the admin stubs do not re-export it

from eventschema.kafka_contract import TopicSpec, configured_topic_specs, retention_managed
from footfall.kafka_auth import admin_config

if TYPE_CHECKING:  # private module, so only for the type checker
    from confluent_kafka.admin._metadata import TopicMetadata


class TopicError(RuntimeError):
    """A topic could not be created or did not appear in time."""


def ensure_topics(
    bootstrap: str,
    prefix: str = "",
    timeout: float = 30.0,
    *,
    env: Mapping[str, str] | None = None,
    replication: int = 1,
    settings: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the prefix's topics if missing and wait until the broker reports all of them.
    `env` holds FOOTFALL_KAFKA_* credentials (default: ours); on a SASL broker, an admin's.
    `replication` > 1 (a cluster) also sets min.insync.replicas=2 and no unclean elections.
    `settings` (default: os.environ) holds the FOOTFALL_*_RETENTION_DAYS of the quarantine and
    dead-letter topics, set on existing topics too, so a changed setting takes effect."""
    try:
        specs = configured_topic_specs(prefix, os.environ if settings is None else settings)
    except ValueError as exc:
        raise TopicError(str(exc)) from None
    admin = AdminClient(admin_config(bootstrap, env))
    new = [_new_topic(s, replication) for s in specs]
    futures = admin.create_topics(new, operation_timeout=timeout)
    existing = []
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"creating topic {name} failed: {exc}") from exc
            existing.append(name)
    managed = [s for s in specs if s.name in existing and retention_managed(s, prefix)]
    _set_retention(admin, managed, timeout)
    _wait_visible(admin, specs, timeout)
    return [s.name for s in specs]


def _set_retention(admin: AdminClient, specs: list[TopicSpec], timeout: float) -> None:
    """retention.ms of existing topics, by IncrementalAlterConfigs (other settings untouched)."""
    if not specs:
        return
    resources = [
        ConfigResource("topic", s.name, incremental_configs=[ConfigEntry(
            "retention.ms", s.config["retention.ms"],
            incremental_operation=AlterConfigOpType.SET,
        )])
        for s in specs
    ]  # fmt: skip
    for resource, future in admin.incremental_alter_configs(resources).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            raise TopicError(f"setting retention.ms of {resource.name} failed: {exc}") from exc


def _new_topic(spec: TopicSpec, replication: int) -> NewTopic:
    config = dict(spec.config)
    if replication > 1:  # acks=all then means two copies; a lost leader never loses an ack
        config |= {
            "min.insync.replicas": str(min(2, replication)),
            "unclean.leader.election.enable": "false",
        }
    return NewTopic(
        spec.name, num_partitions=spec.partitions, replication_factor=replication, config=config
    )


def _wait_visible(admin: AdminClient, specs: tuple[TopicSpec, ...], timeout: float) -> None:
    """CreateTopics returns before every partition has a leader; wait for the metadata."""
    deadline = time.monotonic() + timeout
    while True:
        missing = _missing(admin, specs)
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TopicError(f"topics not ready after {timeout:.0f}s: {', '.join(missing)}")
        time.sleep(0.2)


def _missing(admin: AdminClient, specs: tuple[TopicSpec, ...]) -> list[str]:
    topics = admin.list_topics(timeout=10).topics
    return [s.name for s in specs if not _ready(topics.get(s.name), s)]


def _ready(meta: "TopicMetadata | None", spec: TopicSpec) -> bool:
    if meta is None or meta.error is not None or len(meta.partitions) < spec.partitions:
        return False
    return all(p.leader >= 0 for p in meta.partitions.values())


def partition_counts(
    bootstrap: str, names: list[str], env: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Partition count per existing topic (for status output and tests)."""
    admin = AdminClient(admin_config(bootstrap, env))
    topics = admin.list_topics(timeout=10).topics
    return {n: len(topics[n].partitions) for n in names if n in topics}
