"""The sink on the consumer runtime: per-partition batches, insert, then commit; dead letters.

Order per partition: records are handled in offset order into a batch that covers a contiguous
offset range [first, last] (records, dead-lettered and already-stored records alike). The batch
is written by batches.BatchWriter; only after every run was inserted (and every dead letter in
the range was acked) may the commit move to last + 1. Commits are throttled (commit_interval,
consumers.runtime.commits) and forced on revoke and on shutdown.

On assignment the sink reads max(kafka_offset) per partition from ClickHouse and skips records at
or below it, so a crash between insert and commit re-reads but never re-inserts, whatever the new
batch boundaries. A failed insert or an unacked dead letter pauses only that partition: the batch
is kept (the retry sends the same rows and token), the position is kept, and on resume the
consumer seeks back to it. Paused partitions keep the consumer polling, hence in the group.
"""

import logging
import time

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumers.clickhouse_sink import metrics
from consumers.clickhouse_sink.batches import BatchWriter
from consumers.clickhouse_sink.config import SinkConfig
from consumers.clickhouse_sink.dead_letters import DeadLetters
from consumers.clickhouse_sink.erasure import Erasure
from consumers.clickhouse_sink.partitions import Batch, PartitionState
from consumers.clickhouse_sink.writer import EventWriter
from consumers.runtime.backoff import jitter
from consumers.runtime.commits import Committer
from consumers.runtime.handler import Key
from consumers.runtime.loop import Runtime
from consumers.runtime.pausing import pause, resume
from consumers.runtime.sources import Subscribed

log = logging.getLogger(__name__)
SHUTDOWN_ATTEMPTS = 3
FETCH_QUEUE_KBYTES = 65_536  # batches of thousands


def backoff(attempt: int) -> float:
    """The runtime's full jitter, base 0.5 s, cap 30 s, at least 50 ms."""
    return jitter(0.5, 30.0, attempt, floor=0.05)


def sink_runtime(
    config: SinkConfig,
    writer: EventWriter,
    dead_letters: DeadLetters,
    erasure: Erasure | None = None,
) -> Runtime:
    """The events topic in the sink's group (static membership when configured: with chDB a
    restart must not hand partitions to nobody), handled by a SinkHandler."""
    source = Subscribed(
        [config.topics.events],
        config.group_id,
        config.instance_id,
        {"queued.max.messages.kbytes": FETCH_QUEUE_KBYTES},
    )
    consumer = source.consumer(config.kafka)
    handler = SinkHandler(config, BatchWriter(writer, dead_letters), consumer, erasure)
    committer = Committer(consumer, config.commit_interval, on_result=_count_commit)
    return Runtime(source, consumer, handler, committer, min(config.batch_size, 5_000))


def _count_commit(ok: bool) -> None:
    metrics.COMMITS.labels("ok" if ok else "error").inc()


class SinkHandler:
    def __init__(
        self,
        config: SinkConfig,
        batches: BatchWriter,
        consumer: Consumer,
        erasure: Erasure | None = None,
    ) -> None:
        self.config = config
        self.batches = batches
        self.consumer = consumer
        self.erasure = erasure  # erasure requests: applied here, between inserts (erasure.py)
        self.parts: dict[Key, PartitionState] = {}

    # -- records -------------------------------------------------------------------------------

    def before_poll(self) -> None:
        if self.erasure is not None:
            self.erasure.step(self.parts.values())

    def backlogged(self) -> bool:
        return False  # a full batch is flushed at once; a failing one pauses its partition

    def handle(self, message: Message) -> None:
        topic, partition, offset = message.topic() or "", message.partition(), message.offset()
        assert partition is not None and offset is not None  # runtime.kafka.usable
        state = self.parts.get((topic, partition))
        if state is None or state.paused_until is not None:
            return  # revoked, or paused: the resume seeks back to state.position
        if state.position is not None and offset < state.position:
            return  # prefetched before a seek
        if state.batch is None:
            state.batch = Batch(offset, offset - 1, time.monotonic())  # empty until handled
        if offset <= state.stored:
            metrics.SKIPPED.inc()
        elif not self._process(state, message, offset):
            return
        state.batch.last = offset
        state.position = offset + 1

    def _process(self, state: PartitionState, message: Message, offset: int) -> bool:
        """Add the record to the batch, or dead-letter it; False if the DLQ failed."""
        assert state.batch is not None
        payload = message.value() or b""
        fingerprint = self.batches.known(payload)
        if fingerprint is not None:
            if self.erasure is not None and self.erasure.suppressed(payload):
                return True  # a suppressed person's: covered by the batch's range, not stored
            state.batch.records.append(message)
            state.batch.fingerprints.append(fingerprint)
            return True
        detail = self.batches.decode_error(payload)
        if self.batches.dead_letter(state, message, "decode_error", "decode", detail):
            return True
        state.position = offset  # resume re-reads the poison record
        self._pause(state)
        return False

    # -- batches -------------------------------------------------------------------------------

    def after_poll(self, now: float) -> None:
        self._flush_due(now)
        self._resume_due(now)

    def _flush_due(self, now: float) -> None:
        """When one partition's batch is due, every partition's goes along: one insert per
        window for all of them (combined.py) instead of one per partition, each on its own."""
        if not any(self._due(state, now) for state in self.parts.values()):
            return
        due = [s for s in self.parts.values() if s.paused_until is None and s.batch is not None]
        for state in self.batches.flush_all(due):
            self._pause(state)

    def _due(self, state: PartitionState, now: float) -> bool:
        batch = state.batch
        if state.paused_until is not None or batch is None:
            return False
        full = batch.size >= self.config.batch_size
        return full or now - batch.started >= self.config.batch_seconds

    def _pause(self, state: PartitionState) -> None:
        if state.paused_until is None:
            pause(self.consumer, state.topic, state.partition)
        state.paused_until = time.monotonic() + backoff(state.attempts)
        state.attempts += 1

    def _resume_due(self, now: float) -> None:
        for state in self.parts.values():
            if state.paused_until is None or state.paused_until > now:
                continue
            if not self.batches.flush(state):
                self._pause(state)
                continue
            resume(self.consumer, state.topic, state.partition, state.position)
            state.paused_until = None

    # -- offsets -------------------------------------------------------------------------------

    def committable(self, partitions: list[Key] | None) -> dict[Key, int]:
        """Offsets after the last stored batch; also refreshes the lag gauge, at commit pace."""
        keys = list(self.parts) if partitions is None else partitions
        states = [s for key in keys if (s := self.parts.get(key))]
        self._update_lag(states)
        return {(s.topic, s.partition): s.committable for s in states if s.committable is not None}

    def _update_lag(self, states: list[PartitionState]) -> None:
        for state in states:
            try:
                tp = TopicPartition(state.topic, state.partition)
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            position = state.position if state.position is not None else state.stored + 1
            if high >= 0:
                lag = max(0, high - position)
                metrics.LAG.labels(state.topic, str(state.partition)).set(lag)

    # -- rebalance and shutdown ----------------------------------------------------------------

    def assigned(self, partitions: list[Key]) -> None:
        stored = {topic: self._stored_offsets(topic) for topic in {t for t, _ in partitions}}
        for topic, partition in partitions:
            offset = stored[topic].get(partition, -1)
            self.parts[(topic, partition)] = PartitionState(topic, partition, offset)
        log.info("assigned %s", {key: s.stored for key, s in self.parts.items()})

    def _stored_offsets(self, topic: str) -> dict[int, int]:
        attempt = 0
        while True:  # without them we cannot tell stored records from new ones
            try:
                return self.batches.writer.stored_offsets(topic)
            except Exception as error:
                delay = backoff(attempt)
                log.warning("reading stored offsets failed (retry in %.1fs): %s", delay, error)
                time.sleep(delay)
                attempt += 1

    def revoking(self, partitions: list[Key]) -> None:
        for state in [s for key in partitions if (s := self.parts.get(key))]:
            if not self.batches.flush(state):
                state.batch = None  # not committed: the next owner re-reads it
            if state.paused_until is not None:
                resume(self.consumer, state.topic, state.partition, None)

    def forget(self, partitions: list[Key]) -> None:
        for key in partitions:
            self.parts.pop(key, None)

    def finished(self) -> bool:
        return False  # runs until stopped

    def drain(self) -> None:
        for state in self.parts.values():
            for attempt in range(SHUTDOWN_ATTEMPTS):
                if self.batches.flush(state):
                    break
                time.sleep(backoff(attempt))

    def close(self) -> None:
        self.batches.dead_letters.close()
        log.info("sink stopped")
