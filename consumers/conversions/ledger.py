"""The exactly-once ledger: which (platform, account, order id) each platform has accepted.

Kept in a compacted Kafka topic (`conversions_ledger`, key = "platform|account|order", value =
JSON status), not in ClickHouse: with chDB the sink process holds the database and serves only
read-only SQL, so the uploader cannot write there; Kafka is already the durable store every
process shares, a compacted topic keeps exactly the latest status per key forever, and a write is
durable once acked (acks=all, idempotent producer), which is the moment we need.

Protocol: check before sending (skip "ok" keys), write after the platform accepted (or answered
"already exists"), wait for the ack, and only then let the Kafka offset of the purchase be
committed. A crash after acceptance but before the ledger write re-sends on restart: the platform's
own idempotency key (Meta event_id, Google orderId) absorbs that one resend, and Google's answer
"already exists" then counts as delivered. The ledger is read in full at start and its tail is
followed while running, so a replay or a second worker sees the other's writes.
"""

import logging
import time
import uuid

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from consumers.runtime.kafka import acked_producer
from eventschema.kafka_contract import KafkaCluster, client_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait

log = logging.getLogger(__name__)


class LedgerUnavailable(RuntimeError):
    pass


def key(platform: str, account: str, order_id: str) -> str:
    return f"{platform}|{account}|{order_id}"


class Ledger:
    def __init__(self, kafka: KafkaCluster, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self.timeout = timeout
        self.entries: dict[str, dict[str, object]] = {}
        self._producer = acked_producer(kafka, timeout, linger_ms=5)
        self._tail = Consumer(
            {
                **client_config(kafka),
                "group.id": f"ledger-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }  # fmt: skip
        )

    def load(self) -> int:
        """Read the whole topic (up to its current end)."""
        meta = self._tail.list_topics(self.topic, timeout=10)
        if self.topic not in meta.topics or meta.topics[self.topic].error is not None:
            raise LedgerUnavailable(f"ledger topic {self.topic} missing")
        parts = sorted(meta.topics[self.topic].partitions)
        ends = {
            p: self._tail.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in parts
        }
        self._tail.assign([TopicPartition(self.topic, p, 0) for p in parts])
        position = dict.fromkeys(parts, 0)
        deadline = time.monotonic() + 120
        while any(position[p] < ends[p] for p in parts):
            if time.monotonic() > deadline:
                raise LedgerUnavailable("ledger did not load in time")
            for message in self._tail.consume(1000, 0.5):
                self._apply(message)
                partition, offset = message.partition(), message.offset()
                if message.error() is None and partition is not None and offset is not None:
                    position[partition] = offset + 1
        log.info("ledger loaded: %d entries", len(self.entries))
        return len(self.entries)

    def refresh(self) -> None:
        for message in self._tail.consume(1000, 0):
            self._apply(message)

    def _apply(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("ledger read: %s", error)
            return
        raw_key = message.key()
        if raw_key is None:
            return
        name = raw_key.decode()
        value = message.value()
        if value is None:
            self.entries.pop(name, None)
        else:
            self.entries[name] = orjson.loads(value)

    def done(self, name: str) -> bool:
        entry = self.entries.get(name)
        return entry is not None and entry.get("status") in ("ok", "duplicate")

    def record(self, names: dict[str, dict[str, object]]) -> None:
        """Write entries and wait for every ack; raise LedgerUnavailable otherwise."""
        at = int(time.time() * 1000)
        writes = [
            OutgoingMessage(self.topic, name.encode(), orjson.dumps({**entry, "at": at}))
            for name, entry in names.items()
        ]
        try:
            produce_and_wait(self._producer, writes, self.timeout + 1)
        except DeliveryFailed as failure:
            raise LedgerUnavailable(f"ledger write not acked: {failure}") from failure
        for name, entry in names.items():
            self.entries[name] = entry

    def close(self) -> None:
        self._producer.flush(self.timeout)
        self._tail.close()
