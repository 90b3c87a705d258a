"""Writing one partition's batch: an insert per run of one writer schema, the slow path, DLQ.

`flush_all` first inserts the batches of several partitions together where it can (combined.py);
what that leaves, or what failed there (after reading back what was stored), goes this way.

Python only checks each record's magic bytes and writer fingerprint; the records go to
ClickHouse as raw Avro (avro_block), one insert per run of records with the same writer schema,
each with the token f"{topic}:{partition}:{first}-{last}" of the run's own first and last
offsets. If an insert fails, the run's records are decoded one by one (EventCodec and
processor.check); the bad ones are dead-lettered and dropped from the batch, and the rest is
inserted at once. If none is bad the failure was transient: the same run and token are retried.
"""

import logging
import time

from confluent_kafka import Message

from consumers.clickhouse_sink import combined, metrics
from consumers.clickhouse_sink.avro_block import columns, container, fingerprint_of
from consumers.clickhouse_sink.dead_letters import DeadLetters, DeadLetterUnavailable
from consumers.clickhouse_sink.partitions import Batch, PartitionState, run_length
from consumers.clickhouse_sink.processor import RowRejected, check
from consumers.clickhouse_sink.writer import EventWriter
from eventschema import DecodeError, EventCodec
from eventschema.schemas import SchemaVersion, event_schemas

log = logging.getLogger(__name__)


class BatchWriter:
    def __init__(
        self, writer: EventWriter, dead_letters: DeadLetters, codec: EventCodec | None = None
    ) -> None:
        self.writer = writer
        self.dead_letters = dead_letters
        self.codec = codec or EventCodec()
        self.schemas: dict[bytes, SchemaVersion] = {
            schema.fingerprint: schema for schema in event_schemas().values()
        }
        self.schemas.setdefault(self.codec.writer.fingerprint, self.codec.writer)

    def known(self, payload: bytes) -> bytes | None:
        """The record's writer fingerprint if the sink knows that schema, else None."""
        fingerprint = fingerprint_of(payload)
        return fingerprint if fingerprint is not None and fingerprint in self.schemas else None

    def decode_error(self, payload: bytes) -> str:
        try:
            self.codec.decode(payload)  # for the exact reason; it cannot succeed here
        except DecodeError as error:
            return str(error)
        return "unknown writer schema"

    def dead_letter(
        self, state: PartitionState, message: Message, reason: str, step: str, detail: str
    ) -> bool:
        """Send the record to the DLQ; False when the broker did not ack it (stop there)."""
        assert state.batch is not None
        try:
            self.dead_letters.send(message, reason, step, detail)
        except DeadLetterUnavailable as error:
            log.error("DLQ unavailable at %s: %s", state.token(state.batch), error)
            return False
        log.warning("dead-lettered %s[%d]@%s: %s", state.topic, state.partition,
                    message.offset(), detail)  # fmt: skip
        return True

    def flush_all(self, states: list[PartitionState]) -> list[PartitionState]:
        """Insert the batches, several partitions' at once where they can (combined.py), the
        rest one partition at a time; returns the states whose batch is not stored."""
        for group in combined.groups(states):
            assert group[0].batch is not None  # groups() takes only batches with records
            combined.insert(self.writer, self.schemas[group[0].batch.fingerprints[0]], group)
        return [state for state in states if not self.flush(state)]

    def flush(self, state: PartitionState) -> bool:
        """Insert the partition's batch; True when it is stored (or had no records)."""
        batch = state.batch
        if batch is None or batch.last < batch.first:
            state.batch = None  # nothing handled yet (e.g. a dead letter failed on the first)
            return True
        if state.recheck and not self._recheck(state):
            return False
        while batch.records:
            count = run_length(batch.fingerprints)
            if not self._insert_run(state, batch, count):
                return False
            del batch.records[:count], batch.fingerprints[:count]
        state.stored_batch(batch)
        return True

    def _recheck(self, state: PartitionState) -> bool:
        """After a failed combined insert: drop the records ClickHouse stored anyway."""
        try:
            stored = self.writer.stored_offsets(state.topic).get(state.partition, -1)
        except Exception as error:  # unknown: inserting now could store rows twice
            log.warning("reading the stored offset of %s[%d] failed: %s", state.topic,
                        state.partition, str(error)[:500])  # fmt: skip
            return False
        state.drop_stored(stored)
        state.recheck = False
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
            if not self.dead_letter(state, message, reason, "process", detail):
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
