"""Produce messages and wait until the broker acknowledged every one of them.

A write counts only once Kafka acked it (acks=all on an idempotent producer): the API answers
200 only then, the SDK returns only then, and a consumer commits past a record only once its
dead letter or ledger entry is acked. `Acknowledgements` counts the delivery reports of one
send (the API's async publisher resolves a future with it); `produce_and_wait` is the whole
synchronous round trip the SDK, the dead-letter writers and the conversions ledger share.
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer


class OutgoingMessage(NamedTuple):
    """One message to produce. A named tuple, not a dataclass: the API makes one per event, and
    a tuple is built several times faster than a frozen dataclass."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, str | bytes | None]] = ()


class Acknowledgements:
    """Delivery reports of one send. Thread-safe: librdkafka calls `on_delivery` from whichever
    thread polls. `settled` runs once, when the last expected report arrived (or was cancelled)."""

    def __init__(self, expected: int, settled: Callable[[], None]) -> None:
        self._pending = expected
        self._settled = settled
        self._lock = threading.Lock()
        self.errors: list[str] = []
        if expected <= 0:
            settled()

    def on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        with self._lock:
            if error is not None:
                self.errors.append(str(error))
            self._pending -= 1
            done = self._pending == 0
        if done:
            self._settled()

    def cancel_unsent(self, count: int, reason: str) -> None:
        """Messages that never entered the queue will have no report: stop waiting for them."""
        with self._lock:
            self._pending -= count
            self.errors.append(reason)
            done = self._pending == 0
        if done:
            self._settled()


class DeliveryFailed(Exception):
    """Not every message was acknowledged. `reason`: "queue_full" (the local queue stayed
    full), "produce_error" (the client refused a message), "timeout" (no report in time) or
    "refused" (the broker reported errors, listed in `errors`)."""

    def __init__(self, reason: str, detail: str, errors: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.reason = reason
        self.errors = list(errors)


def produce_and_wait(
    producer: Producer,
    messages: Sequence[OutgoingMessage],
    timeout: float,
    *,
    poll_interval: float = 0.05,
) -> None:
    """Produce `messages` in order and return once the broker acked every one.

    A full local queue (BufferError) is retried by polling, for up to `timeout` per message.
    If a message cannot be produced, the ones already queued are still waited for (so their
    reports do not arrive after we returned), then DeliveryFailed is raised; nothing after it
    is produced. The wait for reports ends `timeout` seconds after the last produce.
    """
    if not messages:
        return
    done = threading.Event()
    acks = Acknowledgements(len(messages), done.set)
    failure: DeliveryFailed | None = None
    for index, message in enumerate(messages):
        try:
            _produce_retrying(producer, message, acks, timeout)
        except BufferError:
            failure = DeliveryFailed(
                "queue_full", f"local queue full after {index} of {len(messages)} messages"
            )
        except KafkaException as error:
            failure = DeliveryFailed("produce_error", str(error))
        if failure is not None:
            acks.cancel_unsent(len(messages) - index, failure.reason)
            break
    deadline = time.monotonic() + timeout
    while not done.is_set():
        # poll() serves delivery callbacks; any thread's poll serves everyone's reports.
        producer.poll(poll_interval)
        if time.monotonic() > deadline and not done.is_set():
            raise failure or DeliveryFailed("timeout", "Kafka did not acknowledge in time")
    if failure is not None:
        raise failure
    if acks.errors:
        count, first = len(acks.errors), acks.errors[0]
        raise DeliveryFailed("refused", f"Kafka refused {count} message(s): {first}", acks.errors)


def _produce_retrying(
    producer: Producer, message: OutgoingMessage, acks: Acknowledgements, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            producer.produce(
                message.topic,
                value=message.value,
                key=message.key,
                headers=list(message.headers),
                on_delivery=acks.on_delivery,
            )
            return
        except BufferError:
            if time.monotonic() > deadline:
                raise
            producer.poll(0.1)  # the local queue is full; serve reports so it drains
