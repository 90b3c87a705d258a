"""conversions_dlq: the original event bytes plus which platform refused it and why.

The replay command reads these records back (headers platform, reason) and sends the original
event again through the same ledger. A dead letter counts only once the broker acked it.
"""

import time

from confluent_kafka import Message, Producer

from consumers.conversions import metrics
from eventschema.kafka_contract import client_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait


class DeadLetterUnavailable(RuntimeError):
    pass


class DeadLetters:
    def __init__(self, bootstrap: str, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self.timeout = timeout
        self._producer = Producer(
            {
                **client_config(bootstrap),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": int(timeout * 1000),
            }  # fmt: skip
        )

    def send(
        self, message: Message, platform: str, reason: str, detail: str, order_id: str
    ) -> None:
        headers = dict(message.headers() or [])
        original = (
            headers.get("original_topic") or (message.topic() or "").encode(),
            headers.get("original_partition") or str(message.partition()).encode(),
            headers.get("original_offset") or str(message.offset()).encode(),
        )
        letter = OutgoingMessage(
            self.topic,
            message.key(),
            message.value(),
            [
                ("ff-event", headers.get("ff-event") or b""),
                ("ff-type", headers.get("ff-type") or b""),
                ("original_topic", original[0]),
                ("original_partition", original[1]),
                ("original_offset", original[2]),
                ("platform", platform.encode()),
                ("reason", reason.encode()),
                ("detail", detail[:1000].encode()),
                ("order_id", order_id.encode()),
                ("ts", str(int(time.time() * 1000)).encode()),
            ],
        )
        try:
            produce_and_wait(self._producer, [letter], self.timeout + 1)
        except DeliveryFailed as failure:
            raise DeadLetterUnavailable(f"dead letter not acked: {failure}") from failure
        metrics.DEAD_LETTERED.labels(platform, reason).inc()

    def close(self) -> None:
        self._producer.flush(self.timeout)
