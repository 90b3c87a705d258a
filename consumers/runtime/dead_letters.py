"""Dead letters, written once: the original key and bytes plus headers saying where and why.

A dead letter counts as handled only once the broker acked it; otherwise the caller must not
commit past the record (stop, do not drop: see consumers/clickhouse_sink/__init__.py on arroyo).
Each consumer's DeadLetters subclass has its own `send`: its headers and metrics.
"""

import time

from confluent_kafka import Message

from consumers.runtime.kafka import acked_producer
from eventschema.kafka_contract import KafkaCluster
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait


class DeadLetterUnavailable(RuntimeError):
    """The dead-letter record was not acked within the timeout."""


class DeadLetterProducer:
    def __init__(self, kafka: KafkaCluster, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self.timeout = timeout
        self._producer = acked_producer(kafka, timeout)

    def produce(self, message: Message, headers: list[tuple[str, str | bytes]]) -> None:
        """Produce the letter (headers, then `ts`) and wait for the ack, else raise."""
        stamp = ("ts", str(int(time.time() * 1000)).encode())
        letter = OutgoingMessage(self.topic, message.key(), message.value(), [*headers, stamp])
        try:
            produce_and_wait(self._producer, [letter], self.timeout + 1.0)
        except DeliveryFailed as failure:
            raise DeadLetterUnavailable(f"dead letter not acked: {failure}") from failure

    def close(self) -> None:
        self._producer.flush(self.timeout)
