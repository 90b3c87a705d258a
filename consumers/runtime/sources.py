"""Where records come from: a source builds its consumer and starts reading.

`Subscribed` joins a consumer group with rebalance callbacks. Other sources (the uploader's
replay of its dead letters) assign partitions themselves and never commit.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import Consumer, TopicPartition

from consumers.runtime.kafka import make_consumer
from eventschema.kafka_contract import KafkaCluster


class Rebalance(Protocol):
    def assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None: ...
    def revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None: ...
    def lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None: ...


class Source(Protocol):
    def consumer(self, kafka: KafkaCluster) -> Consumer: ...
    def start(self, consumer: Consumer, rebalance: Rebalance) -> None: ...


@dataclass(frozen=True)
class Subscribed:
    topics: list[str]
    group: str
    instance_id: str | None = None
    settings: Mapping[str, object] = field(default_factory=dict)

    def consumer(self, kafka: KafkaCluster) -> Consumer:
        return make_consumer(kafka, self.group, self.instance_id, self.settings)

    def start(self, consumer: Consumer, rebalance: Rebalance) -> None:
        consumer.subscribe(
            self.topics,
            on_assign=rebalance.assigned,
            on_revoke=rebalance.revoked,
            on_lost=rebalance.lost,
        )
