"""The consumer loop: per-partition batches, insert, then commit; dead letters; backoff.

Order per partition: records are handled in offset order into a batch that covers a contiguous
offset range [first, last] (records, dead-lettered and already-stored records alike). Python only
checks each record's magic bytes and writer fingerprint; the records go to ClickHouse as raw Avro
(avro_block), one insert per run of records with the same writer schema, each with the token
f"{topic}:{partition}:{first}-{last}" of the run's own first and last offsets. Only after every
run was inserted (and every dead letter in the range was acked) may the commit move to last + 1.

Slow path: if an insert fails, the run's records are decoded one by one (EventCodec and
processor.check); the bad ones are dead-lettered and dropped from the batch, and the rest is
inserted at once. If none is bad the failure was transient: the same run and token are retried.
Commits are throttled to about once per second and forced on revoke and on shutdown.

On assignment the sink reads max(kafka_offset) per partition from ClickHouse and skips records at
or below it, so a crash between insert and commit re-reads but never re-inserts, whatever the new
batch boundaries. A failed insert or an unacked dead letter pauses only that partition: the batch
is kept (the retry sends the same rows and token), the position is kept, and on resume the
consumer seeks back to it. Paused partitions keep the consumer polling, hence in the group.
"""

import logging
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumers.clickhouse_sink import metrics
from consumers.clickhouse_sink.avro_block import columns, container, fingerprint_of
from consumers.clickhouse_sink.config import SinkConfig
from consumers.clickhouse_sink.dead_letters import DeadLetters, DeadLetterUnavailable
from consumers.clickhouse_sink.processor import RowRejected, check
from consumers.clickhouse_sink.writer import EventWriter
from eventschema import DecodeError, EventCodec, kafka_contract
from eventschema.schemas import SchemaVersion, event_schemas

log = logging.getLogger(__name__)
BACKOFF_BASE, BACKOFF_CAP = 0.5, 30.0
SHUTDOWN_ATTEMPTS = 3


def consumer_config(config: SinkConfig) -> dict[str, object]:
    """The shared consumer settings, a larger fetch queue (batches of thousands), and static
    membership when configured (chDB: a restart must not hand partitions to nobody)."""
    conf: dict[str, object] = {
        **kafka_contract.consumer_config(config.bootstrap, config.group_id),
        "queued.max.messages.kbytes": 65_536,
    }
    if config.instance_id:
        conf["group.instance.id"] = config.instance_id
    return conf


def backoff(attempt: int) -> float:
    """Full jitter (AWS): uniform(0, min(cap, base * 2^attempt)), with a small floor."""
    return max(0.05, random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))


@dataclass
class Batch:
    first: int
    last: int
    started: float
    records: list[Message] = field(default_factory=list)  # known fingerprint, not yet stored
    fingerprints: list[bytes] = field(default_factory=list)  # of each record

    @property
    def size(self) -> int:
        return len(self.records)


@dataclass
class PartitionState:
    topic: str
    partition: int
    stored: int  # max(kafka_offset) already in ClickHouse, -1 if none
    position: int | None = None  # next offset to handle
    batch: Batch | None = None
    committable: int | None = None
    committed: int | None = None
    paused_until: float | None = None
    attempts: int = 0

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def token(self, batch: Batch) -> str:
        return f"{self.topic}:{self.partition}:{batch.first}-{batch.last}"

    def run_token(self, run: list[Message]) -> str:
        return f"{self.topic}:{self.partition}:{run[0].offset()}-{run[-1].offset()}"


class SinkLoop:
    def __init__(
        self,
        config: SinkConfig,
        writer: EventWriter,
        dead_letters: DeadLetters,
        codec: EventCodec | None = None,
    ) -> None:
        self.config = config
        self.writer = writer
        self.dead_letters = dead_letters
        self.codec = codec or EventCodec()
        self.schemas: dict[bytes, SchemaVersion] = {
            schema.fingerprint: schema for schema in event_schemas().values()
        }
        self.schemas.setdefault(self.codec.writer.fingerprint, self.codec.writer)
        self.consumer = Consumer(consumer_config(config))
        self.parts: dict[tuple[str, int], PartitionState] = {}
        self.stop = threading.Event()
        self.last_iteration = time.monotonic()
        self._last_commit = 0.0

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> None:
        self.consumer.subscribe(
            [self.config.topics.events],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not self.stop.is_set():
                self._iterate()
        finally:
            self._shutdown()

    def _iterate(self) -> None:
        messages = self.consumer.consume(min(self.config.batch_size, 5_000), 0.1)
        for message in messages:
            self._handle(message)
        now = time.monotonic()
        self._flush_due(now)
        self._resume_due(now)
        self._commit()
        self.last_iteration = time.monotonic()

    def _handle(self, message: Message) -> None:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        error = message.error()
        if error is not None and error.fatal():
            raise KafkaException(error)  # e.g. fenced by another member with our instance id
        if error is not None or topic is None or partition is None or offset is None:
            log.warning("consumer error: %s", error)
            return
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
        fingerprint = fingerprint_of(payload)
        if fingerprint is not None and fingerprint in self.schemas:
            state.batch.records.append(message)
            state.batch.fingerprints.append(fingerprint)
            return True
        try:
            self.codec.decode(payload)  # for the exact reason; it cannot succeed here
            detail = "unknown writer schema"
        except DecodeError as error:
            detail = str(error)
        if self._dead_letter(state, message, "decode_error", "decode", detail):
            return True
        state.position = offset  # resume re-reads the poison record
        self._pause(state)
        return False

    def _dead_letter(
        self, state: PartitionState, message: Message, reason: str, step: str, detail: str
    ) -> bool:
        assert state.batch is not None
        offset = message.offset()
        try:
            self.dead_letters.send(message, reason, step, detail)
        except DeadLetterUnavailable as error:
            log.error("DLQ unavailable at %s: %s", state.token(state.batch), error)
            return False
        log.warning("dead-lettered %s[%d]@%s: %s", state.topic, state.partition,
                    offset, detail)  # fmt: skip
        return True

    # -- batches -------------------------------------------------------------------------------

    def _flush_due(self, now: float) -> None:
        for state in self.parts.values():
            batch = state.batch
            if state.paused_until is not None or batch is None:
                continue
            due = batch.size >= self.config.batch_size
            due = due or now - batch.started >= self.config.batch_seconds
            if due and not self._flush(state):
                self._pause(state)

    def _flush(self, state: PartitionState) -> bool:
        """Insert the partition's batch; True when it is stored (or had no records)."""
        batch = state.batch
        if batch is None or batch.last < batch.first:
            state.batch = None  # nothing handled yet (e.g. a dead letter failed on the first)
            return True
        while batch.records:
            count = _run_length(batch.fingerprints)
            if not self._insert_run(state, batch, count):
                return False
            del batch.records[:count], batch.fingerprints[:count]
        state.stored = max(state.stored, batch.last)
        state.committable = batch.last + 1
        state.batch = None
        state.attempts = 0
        return True

    def _insert_run(self, state: PartitionState, batch: Batch, count: int) -> bool:
        """Insert the first `count` records (one writer schema); on failure isolate bad ones."""
        if self._try_insert(state, batch.records[:count], batch.fingerprints[0]):
            return True
        bad = self._bad_records(batch.records[:count])
        if not bad:
            return False  # transient: retried later with the same records and token
        for index in sorted(bad, reverse=True):  # dead-letter all, then drop them from the run
            message, (reason, detail) = batch.records[index], bad[index]
            if not self._dead_letter(state, message, reason, "process", detail):
                return False  # the retry re-checks the records still in the batch
            del batch.records[index], batch.fingerprints[index]
        rest = count - len(bad)
        return rest == 0 or self._try_insert(state, batch.records[:rest], batch.fingerprints[0])

    def _try_insert(self, state: PartitionState, run: list[Message], fingerprint: bytes) -> bool:
        token = state.run_token(run)
        started = time.monotonic()
        records = [(m.offset() or 0, m.value() or b"") for m in run]
        try:
            body = container(self.schemas[fingerprint], state.topic, state.partition, records)
            self.writer.insert_avro(body, columns(self.schemas[fingerprint]), token)
        except Exception as error:  # decided by the caller: isolate bad records, else retry
            metrics.INSERT_FAILURES.inc()
            log.warning("insert %s failed: %s", token, str(error)[:500])
            return False
        metrics.INSERT_SECONDS.observe(time.monotonic() - started)
        metrics.BATCH_SIZE.observe(len(run))
        metrics.ROWS_WRITTEN.inc(len(run))
        return True

    def _bad_records(self, run: list[Message]) -> dict[int, tuple[str, str]]:
        """Index -> (reason, detail) of the records that cannot become a row."""
        bad: dict[int, tuple[str, str]] = {}
        for index, message in enumerate(run):
            try:
                check(self.codec.decode(message.value() or b""))
            except DecodeError as error:
                bad[index] = ("decode_error", str(error))
            except RowRejected as error:
                bad[index] = (error.reason, str(error))
        return bad

    def _pause(self, state: PartitionState) -> None:
        if state.paused_until is None:
            self.consumer.pause([state.tp])
        state.paused_until = time.monotonic() + backoff(state.attempts)
        state.attempts += 1

    def _resume_due(self, now: float) -> None:
        for state in self.parts.values():
            if state.paused_until is None or state.paused_until > now:
                continue
            if not self._flush(state):
                self._pause(state)
                continue
            if state.position is not None:
                self.consumer.seek(TopicPartition(state.topic, state.partition, state.position))
            self.consumer.resume([state.tp])
            state.paused_until = None

    # -- offsets -------------------------------------------------------------------------------

    def _commit(self, states: Iterable[PartitionState] | None = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_commit < self.config.commit_interval:
            return
        self._last_commit = now
        chosen = list(self.parts.values() if states is None else states)
        pending = [s for s in chosen if s.committable is not None and s.committable != s.committed]
        offsets = [TopicPartition(s.topic, s.partition, s.committable or 0) for s in pending]
        self._update_lag(chosen)
        if not pending:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            metrics.COMMITS.labels("error").inc()
            log.warning("commit failed: %s", error)
            return
        metrics.COMMITS.labels("ok").inc()
        for state in pending:
            state.committed = state.committable

    def _update_lag(self, states: list[PartitionState]) -> None:
        for state in states:
            try:
                _low, high = self.consumer.get_watermark_offsets(state.tp, cached=True)
            except KafkaException:
                continue
            position = state.position if state.position is not None else state.stored + 1
            if high >= 0:
                lag = max(0, high - position)
                metrics.LAG.labels(state.topic, str(state.partition)).set(lag)

    # -- rebalance and shutdown ----------------------------------------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        topics = {tp.topic for tp in partitions}
        stored = {topic: self._stored_offsets(topic) for topic in topics}
        for tp in partitions:
            offset = stored[tp.topic].get(tp.partition, -1)
            self.parts[(tp.topic, tp.partition)] = PartitionState(tp.topic, tp.partition, offset)
        log.info("assigned %s", {(s.topic, s.partition): s.stored for s in self.parts.values()})

    def _stored_offsets(self, topic: str) -> dict[int, int]:
        attempt = 0
        while True:  # without them we cannot tell stored records from new ones
            try:
                return self.writer.stored_offsets(topic)
            except Exception as error:
                delay = backoff(attempt)
                log.warning("reading stored offsets failed (retry in %.1fs): %s", delay, error)
                time.sleep(delay)
                attempt += 1

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        states = [s for tp in partitions if (s := self.parts.get((tp.topic, tp.partition)))]
        for state in states:
            if not self._flush(state):
                state.batch = None  # not committed: the next owner re-reads it
            if state.paused_until is not None:
                self.consumer.resume([state.tp])
        self._commit(states, force=True)
        for state in states:
            self.parts.pop((state.topic, state.partition), None)
        log.info("revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # another member may own them already: never commit
            self.parts.pop((tp.topic, tp.partition), None)
        log.warning("lost %s", [(tp.topic, tp.partition) for tp in partitions])

    def _shutdown(self) -> None:
        for state in self.parts.values():
            for attempt in range(SHUTDOWN_ATTEMPTS):
                if self._flush(state):
                    break
                time.sleep(backoff(attempt))
        self._commit(force=True)
        self.consumer.close()
        self.dead_letters.close()
        log.info("sink stopped")


def _run_length(fingerprints: list[bytes]) -> int:
    """How many leading records share the first record's writer fingerprint."""
    first = fingerprints[0]
    for index, fingerprint in enumerate(fingerprints):
        if fingerprint != first:
            return index
    return len(fingerprints)
