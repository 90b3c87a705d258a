"""Produce to Kafka and wait until the broker acknowledged every message of a request.

One long-lived idempotent producer per process, polled by a thread. A request produces its
messages and awaits one future that the delivery callbacks resolve when the last report
arrives, so the event loop never blocks and never calls flush().
"""

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, Producer

from eventschema.kafka_contract import KafkaCluster
from eventschema.kafka_contract import producer_config as shared_producer_config
from eventschema.kafka_delivery import Acknowledgements, OutgoingMessage
from producer_api.metrics import KAFKA_DELIVERY_FAILURES

__all__ = ["OutgoingMessage", "PublishError", "Publisher", "producer_config"]


class PublishError(Exception):
    """Kafka did not acknowledge every message: the client must retry (503)."""


def producer_config(
    kafka: KafkaCluster, delivery_timeout_seconds: float, queue_max_messages: int = 100_000
) -> dict[str, Any]:
    """The shared event-producer settings plus the API's bounded local queue."""
    return {
        **shared_producer_config(kafka, delivery_timeout_seconds),
        "queue.buffering.max.messages": queue_max_messages,
        "queue.buffering.max.kbytes": 262_144,  # full queue -> BufferError -> 503
    }


class _Acknowledgements:
    """The shared report counting (eventschema.kafka_delivery), resolving a future on the
    event loop when the last report of a request arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int) -> None:
        self.future: asyncio.Future[list[str]] = loop.create_future()
        self._loop = loop
        self._counts = Acknowledgements(expected, self._settled)
        self.on_delivery = self._counts.on_delivery

    def cancel_unsent(self, count: int) -> None:
        self._counts.cancel_unsent(count, "local queue full")

    def _settled(self) -> None:
        self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(self._counts.errors)


class Publisher:
    def __init__(self, config: dict[str, Any], delivery_timeout_seconds: float) -> None:
        self._producer = Producer(config)
        self._timeout = delivery_timeout_seconds + 1.0
        self._running = True
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while self._running:
            self._producer.poll(0.1)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        acks = _Acknowledgements(asyncio.get_running_loop(), len(messages))
        for index, message in enumerate(messages):
            try:
                self._producer.produce(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=list(message.headers),
                    on_delivery=acks.on_delivery,
                )
            except (BufferError, KafkaException) as error:
                KAFKA_DELIVERY_FAILURES.labels(reason=type(error).__name__).inc()
                acks.cancel_unsent(len(messages) - index)
                break
        try:
            errors = await asyncio.wait_for(asyncio.shield(acks.future), self._timeout)
        except TimeoutError:
            KAFKA_DELIVERY_FAILURES.labels(reason="timeout").inc()
            raise PublishError("Kafka did not acknowledge in time") from None
        if errors:
            KAFKA_DELIVERY_FAILURES.labels(reason="delivery").inc(len(errors))
            raise PublishError(f"Kafka refused {len(errors)} message(s): {errors[0]}")

    def broker_reachable(self, timeout: float = 2.0) -> bool:
        try:
            metadata = self._producer.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return bool(metadata.brokers)

    def close(self, timeout: float = 30.0) -> int:
        """Deliver what is queued (SIGTERM path); returns how many messages were left."""
        remaining = int(self._producer.flush(timeout))
        self._running = False
        self._poller.join(timeout=1.0)
        return remaining
