"""The uploader's sources: the live `events` topic, the replay of conversions_dlq, and the
back-fill of a period of `events` for one platform.

A source says which consumer it needs, how it starts, which platforms a record is for (from its
headers, before any decoding), whether its offsets are committed and when it is used up.
"""

from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, TopicPartition

from consumers.conversions.config import ConversionsConfig
from consumers.runtime.kafka import make_consumer
from consumers.runtime.sources import Rebalance, Subscribed
from eventschema.event_names import canonical_event_name
from eventschema.kafka_contract import HEADER_EVENT, KafkaCluster


class LiveSource:
    """`events` in the uploader's group: records whose `ff-event` is a conversion event go to
    every platform. Committed; runs until stopped."""

    commits = True

    def __init__(self, config: ConversionsConfig) -> None:
        self.events = config.events
        self.subscribed = Subscribed(
            [config.topics.events], config.group_id, config.instance_id or None
        )

    def consumer(self, kafka: KafkaCluster) -> Consumer:
        return self.subscribed.consumer(kafka)

    def start(self, consumer: Consumer, rebalance: Rebalance) -> None:
        self.subscribed.start(consumer, rebalance)

    def wanted(self, headers: dict[str, bytes], platforms: list[str]) -> list[str]:
        name = (headers.get(HEADER_EVENT) or b"").decode("utf-8", "replace")
        return list(platforms) if canonical_event_name(name) in self.events else []

    def exhausted(self, _last_seen: dict[int, int]) -> bool:
        return False


@dataclass(frozen=True)
class ReplayFilter:
    platform: str = ""
    reason: str = ""


class ReplaySource:
    """conversions_dlq from the start, in a group of its own, to the ends it had at start; each
    record goes only to the platform (and reason) it was dead-lettered for. Never committed: a
    replay reads the DLQ from the start each time."""

    commits = False

    def __init__(self, config: ConversionsConfig, chosen: ReplayFilter) -> None:
        self.topic = config.dlq_topic
        self.group = f"{config.group_id}-replay"
        self.chosen = chosen
        self.ends: dict[int, int] = {}

    def consumer(self, kafka: KafkaCluster) -> Consumer:
        return make_consumer(kafka, self.group)

    def start(self, consumer: Consumer, _rebalance: Rebalance) -> None:
        meta = consumer.list_topics(self.topic, timeout=10)
        parts = sorted(meta.topics[self.topic].partitions)
        for p in parts:
            tp = TopicPartition(self.topic, p)
            self.ends[p] = consumer.get_watermark_offsets(tp, timeout=10)[1]
        consumer.assign([TopicPartition(self.topic, p, 0) for p in parts])

    def wanted(self, headers: dict[str, bytes], platforms: list[str]) -> list[str]:
        platform = (headers.get("platform") or b"").decode()
        reason = (headers.get("reason") or b"").decode()
        if self.chosen.reason and reason != self.chosen.reason:
            return []
        chosen = list(platforms) if platform == "*" else [platform]
        return [p for p in chosen if p in platforms and self.chosen.platform in ("", p)]

    def exhausted(self, last_seen: dict[int, int]) -> bool:
        """Every partition read up to the end it had when the replay started."""
        return all(last_seen.get(p, -1) + 1 >= end for p, end in self.ends.items())


@dataclass(frozen=True)
class BackfillRange:
    platform: str
    since: datetime
    until: datetime


BACKFILL_MARGIN_MS = 3600_000  # records are appended after their event happened (clock skew)


class BackfillSource:
    """`events` from the first record appended at `since` (less a margin) to the ends it had at
    start, in a group of its own; conversion events go only to the chosen platform (the handler
    keeps those whose timestamp is in the range). Never committed."""

    commits = False

    def __init__(self, config: ConversionsConfig, chosen: BackfillRange) -> None:
        self.topic = config.topics.events
        self.events = config.events
        self.group = f"{config.group_id}-backfill"
        self.chosen = chosen
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}

    def consumer(self, kafka: KafkaCluster) -> Consumer:
        return make_consumer(kafka, self.group)

    def start(self, consumer: Consumer, _rebalance: Rebalance) -> None:
        meta = consumer.list_topics(self.topic, timeout=10)
        parts = sorted(meta.topics[self.topic].partitions)
        since_ms = int(self.chosen.since.timestamp() * 1000) - BACKFILL_MARGIN_MS
        wanted = [TopicPartition(self.topic, p, max(0, since_ms)) for p in parts]
        for tp in consumer.offsets_for_times(wanted, timeout=10):
            end = consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition), 10)[1]
            self.ends[tp.partition] = end
            self.starts[tp.partition] = end if tp.offset < 0 else tp.offset  # < 0: none since
        consumer.assign([TopicPartition(self.topic, p, o) for p, o in self.starts.items()])

    def wanted(self, headers: dict[str, bytes], platforms: list[str]) -> list[str]:
        name = (headers.get(HEADER_EVENT) or b"").decode("utf-8", "replace")
        if canonical_event_name(name) not in self.events:
            return []
        return [self.chosen.platform] if self.chosen.platform in platforms else []

    def exhausted(self, last_seen: dict[int, int]) -> bool:
        return all(last_seen.get(p, self.starts[p] - 1) + 1 >= end for p, end in self.ends.items())


UploaderSource = LiveSource | ReplaySource | BackfillSource
