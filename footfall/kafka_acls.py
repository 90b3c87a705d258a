"""Least-privilege ACLs for Footfall's Kafka users, created by the admin user.

`api` may only write events (and quarantined ones); `sink` may only read events in its own
group and write dead letters. Anything not granted is refused: the broker runs with
allow.everyone.if.no.acl.found=false.
"""

from collections.abc import Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# The admin package does not re-export these for the type checker.
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from eventschema.kafka_contract import Topics
from footfall.kafka_auth import admin_config

# librdkafka has no CLUSTER resource type; its BROKER has the same wire code (4) as Kafka's
# CLUSTER in ACL requests. "kafka-cluster" is the only name the cluster resource has.
CLUSTER_TYPE = ResourceType.BROKER
CLUSTER = "kafka-cluster"


class AclError(RuntimeError):
    """The broker refused or did not confirm an ACL."""


def _allow(
    user: str,
    kind: ResourceType,
    name: str,
    op: AclOperation,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(kind, name, pattern, f"User:{user}", "*", op, AclPermissionType.ALLOW)


def api_acls(user: str, topics: Topics) -> list[AclBinding]:
    """Write (and describe, for metadata) events and quarantine; idempotent producer ids."""
    acls = [_allow(user, CLUSTER_TYPE, CLUSTER, AclOperation.IDEMPOTENT_WRITE)]
    for topic in (topics.events, topics.quarantine):
        acls.append(_allow(user, ResourceType.TOPIC, topic, AclOperation.WRITE))
        acls.append(_allow(user, ResourceType.TOPIC, topic, AclOperation.DESCRIBE))
    return acls


def _suppressions(user: str, topics: Topics) -> list[AclBinding]:
    """Read the erasure list (privacy_suppressions) through throwaway suppressions-reader-*."""
    prefixed = ResourcePatternType.PREFIXED
    return [
        _allow(user, ResourceType.TOPIC, topics.suppressions, AclOperation.READ),
        _allow(user, ResourceType.GROUP, "suppressions-reader-", AclOperation.READ, prefixed),
    ]


def sink_acls(user: str, topics: Topics, group: str) -> list[AclBinding]:
    """Read events in `group` (READ implies DESCRIBE); write dead letters idempotently; read the
    erasure list and write to it (POST /privacy/delete)."""
    return _suppressions(user, topics) + [
        _allow(user, ResourceType.TOPIC, topics.suppressions, AclOperation.WRITE),
        _allow(user, ResourceType.TOPIC, topics.events, AclOperation.READ),
        _allow(user, ResourceType.GROUP, group, AclOperation.READ),
        _allow(user, ResourceType.TOPIC, topics.dead_letter, AclOperation.WRITE),
        _allow(user, ResourceType.TOPIC, topics.dead_letter, AclOperation.DESCRIBE),
        _allow(user, CLUSTER_TYPE, CLUSTER, AclOperation.IDEMPOTENT_WRITE),
    ]


def uploader_acls(
    user: str, topics: Topics, group: str, sink_group: str, ledger: str, dead_letter: str
) -> list[AclBinding]:
    """The conversions uploader: read events in its groups (`group`, `group`-replay), see the
    sink group's commits, read and write its ledger (read through throwaway groups
    ledger-reader-*), write its dead letters, read the erasure list."""
    prefixed = ResourcePatternType.PREFIXED
    return _suppressions(user, topics) + [
        _allow(user, ResourceType.TOPIC, topics.events, AclOperation.READ),
        _allow(user, ResourceType.GROUP, group, AclOperation.READ, prefixed),
        _allow(user, ResourceType.GROUP, sink_group, AclOperation.DESCRIBE),
        _allow(user, ResourceType.TOPIC, ledger, AclOperation.READ),
        _allow(user, ResourceType.TOPIC, ledger, AclOperation.WRITE),
        _allow(user, ResourceType.GROUP, "ledger-reader-", AclOperation.READ, prefixed),
        _allow(user, ResourceType.TOPIC, dead_letter, AclOperation.WRITE),
        _allow(user, ResourceType.TOPIC, dead_letter, AclOperation.DESCRIBE),
        _allow(user, CLUSTER_TYPE, CLUSTER, AclOperation.IDEMPOTENT_WRITE),
    ]


def create_acls(
    bootstrap: str, acls: list[AclBinding], env: Mapping[str, str], timeout: float = 30.0
) -> None:
    """Create the bindings as the user in `env` (the admin); existing ones are left as they are."""
    admin = AdminClient(admin_config(bootstrap, env))
    for binding, future in admin.create_acls(acls, request_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            raise AclError(f"creating ACL {binding} failed: {exc}") from exc
