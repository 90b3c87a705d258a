"""One insert for the due batches of several partitions, instead of one insert per partition.

Every chDB insert has a fixed cost of tens of milliseconds whatever its size (analysing the
DEFAULT and MATERIALIZED expressions, writing a part, running the views), so with 6 partitions
and a short window the per-partition inserts alone kept a core busy and queued behind each other
(docs/performance.md). Batches that are each one run of the same writer schema go into ONE Avro
container, partition after partition, with the token f"{topic}:{p}:{first}-{last},{p}:..." (the
runs' own offsets; the comma keeps it apart from every per-partition token).

An insert of up to max_insert_block_size rows is one block, one part: it lands whole or not at
all, so each partition's stored offset stays max(kafka_offset). If it fails, the answer may
still have been lost after the rows were stored: the partitions are marked `recheck`, and
BatchWriter.flush reads their stored offsets back from ClickHouse and drops the records at or
below them before it inserts the rest its own way (own token, bad-record isolation, pause).
"""

import logging
import time

from consumers.clickhouse_sink import metrics
from consumers.clickhouse_sink.avro_block import columns, container_of
from consumers.clickhouse_sink.partitions import PartitionState, run_length
from consumers.clickhouse_sink.writer import EventWriter
from eventschema.schemas import SchemaVersion

log = logging.getLogger(__name__)
# Below max_insert_block_size (1,048,449: one block, one part), and small enough that the
# insert's working memory (its computed columns) stays that of one full partition batch.
MAX_ROWS = 50_000


def groups(states: list[PartitionState]) -> list[list[PartitionState]]:
    """The states that can share an insert: one run each, by writer fingerprint, in partition
    order, at most MAX_ROWS rows per group; groups of one are left to the per-partition path."""
    by_fingerprint: dict[bytes, list[list[PartitionState]]] = {}
    for state in sorted(states, key=lambda s: (s.topic, s.partition)):
        batch = state.batch
        if batch is None or state.recheck or not batch.records:
            continue
        if run_length(batch.fingerprints) != len(batch.records):
            continue  # a change of writer schema inside the batch: the per-partition path
        chunks = by_fingerprint.setdefault(batch.fingerprints[0], [[]])
        if sum(s.batch.size for s in chunks[-1] if s.batch) + batch.size > MAX_ROWS:
            chunks.append([])
        chunks[-1].append(state)
    return [group for chunks in by_fingerprint.values() for group in chunks if len(group) > 1]


def token(group: list[PartitionState]) -> str:
    ranges = []
    for state in group:
        assert state.batch is not None
        records = state.batch.records
        ranges.append(f"{state.partition}:{records[0].offset()}-{records[-1].offset()}")
    return f"{group[0].topic}:{','.join(ranges)}"


def insert(writer: EventWriter, schema: SchemaVersion, group: list[PartitionState]) -> bool:
    """Insert the group's batches at once; True when stored (each state then holds no batch)."""
    started, name = time.monotonic(), token(group)
    parts = [(s.partition, [(m.offset() or 0, m.value() or b"") for m in s.batch.records])
             for s in group if s.batch is not None]  # fmt: skip
    rows = sum(len(records) for _, records in parts)
    try:
        writer.insert_avro(container_of(schema, group[0].topic, parts), columns(schema), name)
    except Exception as error:  # maybe stored with the answer lost: recheck before the retries
        metrics.INSERT_FAILURES.inc()
        log.warning("insert %s failed, per partition next: %s", name, str(error)[:500])
        for state in group:
            state.recheck = True
        return False
    metrics.INSERT_SECONDS.observe(time.monotonic() - started)
    metrics.BATCH_SIZE.observe(rows)
    metrics.ROWS_WRITTEN.inc(rows)
    for state in group:
        assert state.batch is not None
        state.stored_batch(state.batch)
    return True
