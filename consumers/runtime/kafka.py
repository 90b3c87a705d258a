"""Consumer construction and the check every polled record goes through."""

import logging
from collections.abc import Mapping

from confluent_kafka import Consumer, KafkaException, Message, Producer

from eventschema import kafka_contract
from eventschema.kafka_contract import KafkaCluster, client_config

log = logging.getLogger(__name__)


def make_consumer(
    kafka: KafkaCluster,
    group: str,
    instance_id: str | None = None,
    settings: Mapping[str, object] | None = None,
) -> Consumer:
    """The shared consumer settings (kafka_contract), the caller's extra settings, and static
    group membership when an instance id is given (a restart gets its partitions back at once)."""
    conf: dict[str, object] = {
        **kafka_contract.consumer_config(kafka, group),
        **(settings or {}),
    }
    if instance_id:
        conf["group.instance.id"] = instance_id
    return Consumer(conf)


def usable(message: Message) -> bool:
    """Whether a polled message is a record to handle. A fatal error raises (e.g. fenced by
    another member with our instance id); any other error is logged and skipped."""
    error = message.error()
    if error is not None and error.fatal():
        raise KafkaException(error)
    if error is not None:
        log.warning("consumer error: %s", error)
        return False
    return None not in (message.topic(), message.partition(), message.offset())


def acked_producer(kafka: KafkaCluster, timeout: float, linger_ms: int = 0) -> Producer:
    """An idempotent producer whose records count once every in-sync replica has them, for the
    writes a consumer waits on (dead letters, the uploader's ledger)."""
    return Producer(
        {
            **client_config(kafka),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "message.timeout.ms": int(timeout * 1000),
        }
    )
