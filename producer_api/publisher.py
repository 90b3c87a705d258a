"""Produce to Kafka and wait until the broker acknowledged every message of a request.

One long-lived idempotent producer per process, polled on the event loop (Publisher). A request
produces its messages and awaits one future that the delivery callbacks resolve when the last
report arrives, so the event loop never blocks and never calls flush().
"""

import asyncio
import threading
from collections import deque
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
    event loop when the last report of a request arrived, or when `deadline` (loop time) passed."""

    __slots__ = ("future", "deadline", "on_delivery", "_loop", "_loop_thread", "_counts")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, loop_thread: int, expected: int, deadline: float
    ) -> None:
        # The report errors, or None when the wait timed out.
        self.future: asyncio.Future[list[str] | None] = loop.create_future()
        self.deadline = deadline
        self._loop = loop
        self._loop_thread = loop_thread
        self._counts = Acknowledgements(expected, self._settled)
        self.on_delivery = self._counts.on_delivery

    def cancel_unsent(self, count: int) -> None:
        self._counts.cancel_unsent(count, "local queue full")

    def _settled(self) -> None:
        # Reports are served by poll() on the loop's own thread (Publisher._serve_reports):
        # resolve at once. call_soon_threadsafe would also write to the loop's wake-up pipe,
        # a system call per request. Only close()'s flush() reports from another thread.
        if threading.get_ident() == self._loop_thread:
            self._resolve()
        else:
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(self._counts.errors)

    def expire(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class Publisher:
    """The process's producer. Its delivery reports are served on the event loop (a timer
    calls poll(0): every millisecond while messages are in flight, every 100 ms when idle), so
    the callbacks run on the loop's thread: no second Python thread fights it for the GIL.
    The same timer expires the requests whose reports are overdue: their deadlines come in the
    order they were published (one timeout for all), so only the oldest need a look, and no
    request needs a timer handle of its own (docs/performance.md, third round)."""

    BUSY_SECONDS, IDLE_SECONDS = 0.001, 0.1

    def __init__(self, config: dict[str, Any], delivery_timeout_seconds: float) -> None:
        self._producer = Producer(config)
        self._timeout = delivery_timeout_seconds + 1.0
        self._running = True
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: deque[_Acknowledgements] = deque()  # in publish order
        self._loop_thread = 0

    def _serve_reports(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._running:
            return
        self._producer.poll(0)
        waiting = self._waiting
        if waiting:
            now = loop.time()
            while waiting and (waiting[0].future.done() or waiting[0].deadline <= now):
                waiting.popleft().expire()
        delay = self.BUSY_SECONDS if self._in_flight else self.IDLE_SECONDS
        self._timer = loop.call_later(delay, self._serve_reports, loop)

    def _start_serving(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None or self._timer.when() - loop.time() > self.BUSY_SECONDS:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self.BUSY_SECONDS, self._serve_reports, loop)

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        loop = asyncio.get_running_loop()
        if not self._loop_thread:
            self._loop_thread = threading.get_ident()
        acks = _Acknowledgements(
            loop, self._loop_thread, len(messages), loop.time() + self._timeout
        )
        produce, on_delivery = self._producer.produce, acks.on_delivery
        for index, message in enumerate(messages):
            headers = message.headers
            try:
                produce(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=headers if isinstance(headers, list) else list(headers),
                    on_delivery=on_delivery,
                )
            except (BufferError, KafkaException) as error:
                KAFKA_DELIVERY_FAILURES.labels(reason=type(error).__name__).inc()
                acks.cancel_unsent(len(messages) - index)
                break
        # No wait_for(shield(...)): a cancelled request (client gone) leaves the reports to
        # settle alone, and _serve_reports expires the wait.
        self._waiting.append(acks)
        self._in_flight += 1
        self._start_serving(loop)
        try:
            errors = await acks.future
        finally:
            self._in_flight -= 1
        if errors is None:
            KAFKA_DELIVERY_FAILURES.labels(reason="timeout").inc()
            raise PublishError("Kafka did not acknowledge in time")
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
        self._running = False  # the loop's timer stops at its next turn
        return remaining
