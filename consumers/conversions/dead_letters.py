"""conversions_dlq: the original event bytes plus which platform refused it and why, on
consumers.runtime.dead_letters.

The replay command reads these records back (headers platform, reason) and sends the original
event again through the same ledger; a replayed record keeps its first original position. A dead
letter counts only once the broker acked it.
"""

from confluent_kafka import Message

from consumers.conversions import metrics
from consumers.runtime.dead_letters import DeadLetterProducer, DeadLetterUnavailable

__all__ = ["DeadLetterUnavailable", "DeadLetters"]


class DeadLetters(DeadLetterProducer):
    def send(
        self, message: Message, platform: str, reason: str, detail: str, order_id: str
    ) -> None:
        headers = dict(message.headers() or [])
        self.produce(message, [
            ("ff-event", headers.get("ff-event") or b""),
            ("ff-type", headers.get("ff-type") or b""),
            ("original_topic", headers.get("original_topic") or (message.topic() or "").encode()),
            ("original_partition",
             headers.get("original_partition") or str(message.partition()).encode()),
            ("original_offset", headers.get("original_offset") or str(message.offset()).encode()),
            ("platform", platform.encode()),
            ("reason", reason.encode()),
            ("detail", detail[:1000].encode()),
            ("order_id", order_id.encode()),
        ])  # fmt: skip
        metrics.DEAD_LETTERED.labels(platform, reason).inc()
