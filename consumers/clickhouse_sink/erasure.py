"""Erasure in the sink (issue 13): delete a suppressed person's rows, keep them out, audit it.

The suppression list (eventschema.suppressions, a compacted topic) is read whole at start; a
request not yet in the audit log is applied then (the sink may have been down when it was
made). While running, the loop calls `step` before each poll, in its own thread, so a deletion
never interleaves with an insert: new requests first drop the person's records from the batches
not yet written, then delete their rows from `events` and `identity_links` (the tables that hold
rows; identity_map, identity_keys, events_resolved and identity_conflicts are views over them).
ALTER TABLE ... DELETE with mutations_sync=2 rewrites the parts, so the data is gone from disk
once ClickHouse removes the old parts, not merely masked as a lightweight DELETE would leave it.
Every record of the events topic passes `suppressed` before it joins a batch: live events,
events still in Kafka from before the request, and dead letters re-produced for a replay alike.

The audit log is an append-only JSON-lines file (<data dir>/privacy/audit.jsonl, mode 0600): who
asked, when, why, when it was applied, the SHA-256 of each id, and rows deleted per table;
never the ids or the deleted data. It also tells a restart which requests are done.
"""

import getpass
import logging
import os
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client
from prometheus_client import Counter

from consumers.clickhouse_sink import metrics
from consumers.clickhouse_sink.partitions import PartitionState
from consumers.clickhouse_sink.record_ids import (
    HEADER_LENGTH,
    NotReadable,
    readable_fingerprints,
    record_ids,
)
from consumers.runtime.suppressions import SuppressionReader
from eventschema import DecodeError, EventCodec
from eventschema.suppressions import Request

log = logging.getLogger(__name__)
DROPPED = Counter("footfall_sink_records_erased", "Records of a suppressed person not stored",
                  registry=metrics.REGISTRY)  # fmt: skip
RETRY_SECONDS = 5.0
ERASURES = Counter("footfall_sink_erasures", "Erasure requests applied", registry=metrics.REGISTRY)
# The person's rows, by the rule of eventschema.suppressions (and of `footfall privacy export`).
# Values are bound by clickhouse-connect (%(name)s, its escaping), not server-side: on a cluster
# the DELETE runs ON CLUSTER, whose text is sent on to the other servers as it is.
WHERE = {
    "events": "(footfall_valid_id(user_id) AND user_id IN %(users)s)"
    " OR (NOT footfall_valid_id(user_id) AND anonymous_id IN %(anons)s)",
    "identity_links": "user_id IN %(users)s",  # every link of theirs; others' links stay
}


class Erasure:
    def __init__(self, reader: SuppressionReader, client: Client, audit_path: Path) -> None:
        self.reader = reader
        self.client = client
        self.audit_path = audit_path
        self.codec = EventCodec()
        self.applied = _applied(audit_path)
        self.pending: list[Request] = []
        self._retry_at = 0.0
        self.readable = readable_fingerprints()

    def start(self) -> None:
        """Load the whole list; the requests the audit log does not have yet are applied next."""
        self.pending.extend(self.reader.load())
        self.retry(force=True)

    def step(self, parts: Iterable[PartitionState]) -> None:
        """Take new requests: purge them from unwritten batches, then delete their rows."""
        new = self.reader.refresh()
        if new:
            self._purge(parts)
            self.pending.extend(new)
            self.retry(force=True)
        elif self.pending:
            self.retry()

    def retry(self, force: bool = False) -> None:
        """Apply pending requests in order; a failure (ClickHouse busy or down) keeps the rest
        for a later step. The ids are suppressed already, so nothing new of theirs is stored."""
        now = time.monotonic()
        if not force and now < self._retry_at:
            return
        while self.pending:
            request = self.pending[0]
            if request.request_id not in self.applied:
                try:
                    self.erase(request)
                except Exception as error:  # retried: a request is never dropped
                    log.error("erasure %s failed (retry in %.0fs): %s", request.request_id,
                              RETRY_SECONDS, str(error)[:500])  # fmt: skip
                    self._retry_at = now + RETRY_SECONDS
                    return
            self.pending.pop(0)

    def suppressed(self, payload: bytes) -> bool:
        """Whether an events record belongs to a suppressed person: its ids are read from its
        first bytes (record_ids), so the cost does not grow with the list; none when empty."""
        suppressions = self.reader.list
        if not len(suppressions):
            return False
        try:
            if payload[2:HEADER_LENGTH] in self.readable:
                anonymous_id, user_id = record_ids(payload)
            else:  # a schema that does not start like the others: decode it whole
                record = self.codec.decode(payload)
                anonymous_id, user_id = record.get("anonymous_id"), record.get("user_id")
        except (NotReadable, DecodeError):
            return False  # not a record the sink can store: its own checks dead-letter it
        if not suppressions.covers(user_id, anonymous_id):
            return False
        DROPPED.inc()
        return True

    def _purge(self, parts: Iterable[PartitionState]) -> None:
        for state in parts:
            batch = state.batch
            if batch is None or not batch.records:
                continue
            kept = [i for i, m in enumerate(batch.records) if not self.suppressed(m.value() or b"")]
            batch.records[:] = [batch.records[i] for i in kept]
            batch.fingerprints[:] = [batch.fingerprints[i] for i in kept]

    def erase(self, request: Request) -> dict[str, int]:
        users = [request.user_id] if request.user_id is not None else []
        parameters = {"users": users, "anons": list(request.anonymous_ids)}
        rows: dict[str, int] = {}
        for table, where in WHERE.items():
            counted = self.client.query(f"SELECT count() FROM {table} WHERE {where}",
                                        parameters=parameters)  # fmt: skip
            rows[table] = int(counted.result_rows[0][0])
            if rows[table]:
                self.client.command(
                    f"ALTER TABLE {self._target(table)} DELETE WHERE {where}"
                    " SETTINGS mutations_sync = 2",
                    parameters=parameters,
                )
        self._audit(request, rows)
        self.applied.add(request.request_id)
        ERASURES.inc()
        log.info("erasure %s applied: rows deleted %s", request.request_id, rows)
        return rows

    def _target(self, table: str) -> str:
        """The table to delete from: on a cluster (deploy/clickhouse/cluster) the replicated
        local tables under the Distributed one, on every shard."""
        local = self.client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase()"
            " AND name = %(t)s", parameters={"t": f"{table}_local"}
        )  # fmt: skip
        return f"{table}_local ON CLUSTER '{{cluster}}'" if local.result_rows[0][0] else table

    def _audit(self, request: Request, rows: dict[str, int]) -> None:
        entry = {
            "request_id": request.request_id,
            "requested_by": request.requested_by,
            "requested_at": request.requested_at,
            "reason": request.reason,
            "erased_at": datetime.now(UTC).isoformat(),
            "erased_by": f"clickhouse_sink:{getpass.getuser()}@{socket.gethostname()}",
            "ids_sha256": request.hashed_ids(),
            "rows_deleted": rows,
        }
        self.audit_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.audit_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size  # after a torn line (a crash), start on a line of its own
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            os.write(fd, (b"\n" if torn else b"") + orjson.dumps(entry) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.reader.close()


def _applied(path: Path) -> set[str]:
    """Request ids already in the audit log (a torn last line, from a crash, is ignored)."""
    if not path.exists():
        return set()
    done: set[str] = set()
    for line in path.read_bytes().splitlines():
        try:
            done.add(str(orjson.loads(line)["request_id"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
    return done
