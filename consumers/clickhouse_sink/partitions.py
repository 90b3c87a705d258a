"""Per-partition state of the sink: the open batch, the position, pauses and safe offsets."""

from dataclasses import dataclass, field

from confluent_kafka import Message


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
    paused_until: float | None = None
    attempts: int = 0
    recheck: bool = False  # a combined insert failed: its rows may be stored (combined.py)

    def token(self, batch: Batch) -> str:
        return f"{self.topic}:{self.partition}:{batch.first}-{batch.last}"

    def run_token(self, run: list[Message]) -> str:
        return f"{self.topic}:{self.partition}:{run[0].offset()}-{run[-1].offset()}"

    def stored_batch(self, batch: Batch) -> None:
        """The whole batch is in ClickHouse: the commit may move past it."""
        self.stored = max(self.stored, batch.last)
        self.committable = batch.last + 1
        self.batch = None
        self.attempts = 0

    def drop_stored(self, stored: int) -> None:
        """Forget the batch's records at or below `stored`, the offset ClickHouse holds."""
        self.stored = max(self.stored, stored)
        batch = self.batch
        if batch is None:
            return
        kept = [i for i, m in enumerate(batch.records) if (m.offset() or 0) > self.stored]
        batch.records[:] = [batch.records[i] for i in kept]
        batch.fingerprints[:] = [batch.fingerprints[i] for i in kept]


def run_length(fingerprints: list[bytes]) -> int:
    """How many leading records share the first record's writer fingerprint."""
    first = fingerprints[0]
    for index, fingerprint in enumerate(fingerprints):
        if fingerprint != first:
            return index
    return len(fingerprints)
