"""Dead-letter producer: the original bytes plus headers saying where and why they failed.

A dead letter counts as handled only once the broker acked it; otherwise the caller must not
commit past the record (reliability.md §3.5: stop, do not drop).
"""

import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumers.clickhouse_sink import metrics
from eventschema.kafka_contract import client_config


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
        outcome: list[KafkaError | None] = []
        try:
            self._produce(message, [reason, step, detail], outcome)
        except (BufferError, KafkaException) as error:
            metrics.DEAD_LETTER_FAILURES.inc()
            raise DeadLetterUnavailable(f"dead letter produce failed: {error}") from error
        self._await(outcome)
        metrics.DEAD_LETTERS.labels(reason).inc()

    def _produce(self, message: Message, why: list[str], outcome: list[KafkaError | None]) -> None:
        self._producer.produce(
            self.topic,
            value=message.value(),
            key=message.key(),
            headers=[
                ("original_topic", (message.topic() or "").encode()),
                ("original_partition", str(message.partition()).encode()),
                ("original_offset", str(message.offset()).encode()),
                ("reason", why[0].encode()),
                ("step", why[1].encode()),
                ("detail", why[2][:1000].encode()),
                ("ts", str(int(time.time() * 1000)).encode()),
            ],
            on_delivery=lambda error, _msg: outcome.append(error),
        )

    def _await(self, outcome: list[KafkaError | None]) -> None:
        deadline = time.monotonic() + self.timeout + 1.0
        while not outcome and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if not outcome or outcome[0] is not None:
            metrics.DEAD_LETTER_FAILURES.inc()
            raise DeadLetterUnavailable(
                f"dead letter not acked: {outcome[0] if outcome else 'timeout'}"
            )

    def close(self) -> None:
        self._producer.flush(self.timeout)
