"""The exactly-once ledger: which (platform, account, order id) each platform has accepted.

Kept in a compacted Kafka topic (`conversions_ledger`, key = "platform|account|order", value =
JSON status), not in ClickHouse: with chDB the sink process holds the database and serves only
read-only SQL, so the uploader cannot write there; Kafka is already the durable store every
process shares, a compacted topic keeps exactly the latest status per key forever, and a write is
durable once acked (acks=all, idempotent producer), which is the moment we need.

Protocol: check before sending (skip "ok" keys), write after the platform accepted (or answered
"already has this order"), wait for the ack, and only then let the Kafka offset of the purchase be
committed. A crash after acceptance but before the ledger write re-sends on restart: the platform's
own idempotency key (Meta event_id, Google orderId) absorbs that one resend, and Google's answer
ORDER_ID_ALREADY_IN_USE then counts as delivered. The ledger is read in full at start and its tail
is followed while running, so a replay or a second worker sees the other's writes.

Besides the orders it keeps: `enabled|platform|account` (when the uploader first ran with that
platform's credentials: purchases before it are not uploaded unless back-filled), `claim|...`
(which order holds a Google click second, click_slots.py) and `dead|platform|account|order` (a
dead-lettered order). Per platform it counts uploaded, duplicate and dead-lettered orders
(`totals`): durable totals, exported as gauges, that a restart does not reset.
"""

import logging
import time
import uuid
from collections import Counter

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from consumers.runtime.kafka import acked_producer
from eventschema.kafka_contract import KafkaCluster, client_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait

log = logging.getLogger(__name__)


class LedgerUnavailable(RuntimeError):
    pass


ENABLED, DEAD = "enabled", "dead"
COUNTED = {"ok": "uploaded", "duplicate": "duplicate"}  # order status -> total


def key(platform: str, account: str, order_id: str) -> str:
    return f"{platform}|{account}|{order_id}"


def _counted(name: str, entry: dict[str, object] | None) -> tuple[str, str] | None:
    """(platform, total) an entry counts in, if any."""
    if entry is None:
        return None
    kind, _, rest = name.partition("|")
    if kind == DEAD:
        return rest.partition("|")[0], "dead_lettered"
    total = COUNTED.get(str(entry.get("status")))
    return (kind, total) if total and kind not in (ENABLED, "claim") else None


class Ledger:
    def __init__(self, kafka: KafkaCluster, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self.timeout = timeout
        self.entries: dict[str, dict[str, object]] = {}
        self.totals: Counter[tuple[str, str]] = Counter()  # (platform, total) -> orders
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
        value = message.value()
        self._set(raw_key.decode(), None if value is None else orjson.loads(value))

    def _set(self, name: str, entry: dict[str, object] | None) -> None:
        """Keep the entry and the totals in step (each key counts once, by its latest status)."""
        if (old := _counted(name, self.entries.get(name))) is not None:
            self.totals[old] -= 1
        if entry is None:
            self.entries.pop(name, None)
        else:
            self.entries[name] = entry
        if (new := _counted(name, entry)) is not None:
            self.totals[new] += 1

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
            self._set(name, entry)

    def enabled_at(self, platform: str, account: str) -> float:
        """When this platform (account) was first enabled, in epoch seconds; the first call with
        new credentials records now (acked)."""
        name = f"{ENABLED}|{platform}|{account}"
        entry = self.entries.get(name)
        if entry is None:
            entry = {"status": ENABLED, "since": time.time()}
            self.record({name: entry})
        return float(str(entry["since"]))

    def close(self) -> None:
        self._producer.flush(self.timeout)
        self._tail.close()
