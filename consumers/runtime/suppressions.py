"""Following the erasure suppression list (eventschema.suppressions) from a consumer process.

The topic is compacted, so reading it from the beginning gives the whole list: `load` reads it
up to the end it has at start (a consumer must know every suppressed id before it handles its
first event), `refresh` takes what was added since without blocking. Partitions are assigned,
never committed: every start reads the list again.
"""

import logging
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from eventschema.kafka_contract import KafkaCluster, client_config
from eventschema.suppressions import Request, Suppressions

log = logging.getLogger(__name__)
LOAD_SECONDS = 120.0


class SuppressionsUnavailable(RuntimeError):
    pass


class SuppressionReader:
    def __init__(self, kafka: KafkaCluster, topic: str) -> None:
        self.topic = topic
        self.list = Suppressions()
        self._consumer = Consumer(
            {
                **client_config(kafka),
                "group.id": f"suppressions-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }
        )

    def load(self) -> list[Request]:
        """Read the whole topic (up to its end at start); returns the requests read."""
        meta = self._consumer.list_topics(self.topic, timeout=10)
        if self.topic not in meta.topics or meta.topics[self.topic].error is not None:
            raise SuppressionsUnavailable(f"suppression topic {self.topic} missing")
        parts = sorted(meta.topics[self.topic].partitions)
        ends = {
            p: self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in parts
        }
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in parts])
        position = dict.fromkeys(parts, 0)
        requests: list[Request] = []
        deadline = time.monotonic() + LOAD_SECONDS
        while any(position[p] < ends[p] for p in parts):
            if time.monotonic() > deadline:
                raise SuppressionsUnavailable("suppression list did not load in time")
            for message in self._consumer.consume(1000, 0.5):
                requests.extend(self._apply(message))
                partition, offset = message.partition(), message.offset()
                if message.error() is None and partition is not None and offset is not None:
                    position[partition] = offset + 1
        log.info("suppression list loaded: %d ids", len(self.list))
        return requests

    def refresh(self) -> list[Request]:
        """The requests added since the last call (non-blocking)."""
        requests: list[Request] = []
        for message in self._consumer.consume(1000, 0):
            requests.extend(self._apply(message))
        return requests

    def _apply(self, message: Message) -> list[Request]:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("suppression list read: %s", error)
            return []
        raw_key = message.key()
        if raw_key is None:
            return []
        try:
            request = self.list.apply(raw_key.decode(), message.value())
        except (ValueError, KeyError, UnicodeDecodeError) as failure:  # never stop on one record
            log.error("unreadable suppression record at offset %s: %s", message.offset(), failure)
            return []
        return [request] if request is not None else []

    def close(self) -> None:
        self._consumer.close()
