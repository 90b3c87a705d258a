"""The sink's dead letters: the original bytes plus where (topic, partition, offset, step) and
why (reason, detail) they failed, on consumers.runtime.dead_letters.

A dead letter counts as handled only once the broker acked it; otherwise the caller must not
commit past the record (reliability.md §3.5: stop, do not drop).
"""

from confluent_kafka import Message

from consumers.clickhouse_sink import metrics
from consumers.runtime.dead_letters import DeadLetterProducer, DeadLetterUnavailable

__all__ = ["DeadLetterUnavailable", "DeadLetters"]


class DeadLetters(DeadLetterProducer):
    def send(self, message: Message, reason: str, step: str, detail: str = "") -> None:
        try:
            self.produce(message, [
                ("original_topic", (message.topic() or "").encode()),
                ("original_partition", str(message.partition()).encode()),
                ("original_offset", str(message.offset()).encode()),
                ("reason", reason.encode()),
                ("step", step.encode()),
                ("detail", detail[:1000].encode()),
            ])  # fmt: skip
        except DeadLetterUnavailable:
            metrics.DEAD_LETTER_FAILURES.inc()
            raise
        metrics.DEAD_LETTERS.labels(reason).inc()
