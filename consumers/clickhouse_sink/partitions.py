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

    def token(self, batch: Batch) -> str:
        return f"{self.topic}:{self.partition}:{batch.first}-{batch.last}"

    def run_token(self, run: list[Message]) -> str:
        return f"{self.topic}:{self.partition}:{run[0].offset()}-{run[-1].offset()}"


def run_length(fingerprints: list[bytes]) -> int:
    """How many leading records share the first record's writer fingerprint."""
    first = fingerprints[0]
    for index, fingerprint in enumerate(fingerprints):
        if fingerprint != first:
            return index
    return len(fingerprints)
