"""Dead-letter producer: the original bytes plus headers saying where and why they failed.

A dead letter counts as handled only once the broker acked it; otherwise the caller must not
commit past the record (reliability.md §3.5: stop, do not drop).
"""

import time

from confluent_kafka import Message, Producer

from consumers.clickhouse_sink import metrics
from eventschema.kafka_contract import client_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait


class DeadLetterUnavailable(RuntimeError):
    """The dead-letter record was not acked within the timeout."""


class DeadLetters:
    def __init__(self, bootstrap: str, topic: str, timeout: float) -> None:
        self.topic = topic
        self.timeout = timeout
        self._producer = Producer(
            {
                **client_config(bootstrap),
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": int(timeout * 1000),
                "linger.ms": 0,
            }
        )

    def send(self, message: Message, reason: str, step: str, detail: str = "") -> None:
        letter = OutgoingMessage(
            self.topic,
            message.key(),
            message.value(),
            [
                ("original_topic", (message.topic() or "").encode()),
                ("original_partition", str(message.partition()).encode()),
                ("original_offset", str(message.offset()).encode()),
                ("reason", reason.encode()),
                ("step", step.encode()),
                ("detail", detail[:1000].encode()),
                ("ts", str(int(time.time() * 1000)).encode()),
            ],
        )
        try:
            produce_and_wait(self._producer, [letter], self.timeout + 1.0)
        except DeliveryFailed as failure:
            metrics.DEAD_LETTER_FAILURES.inc()
            raise DeadLetterUnavailable(f"dead letter not acked: {failure}") from failure
        metrics.DEAD_LETTERS.labels(reason).inc()

    def close(self) -> None:
        self._producer.flush(self.timeout)
