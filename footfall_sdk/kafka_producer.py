"""`KafkaEventProducer`: write events straight to Kafka under the API's contract.

Same validation (eventschema.validate_message, so a refused message gets the code, message and
field the API would answer), same Avro single-object encoding, same key, headers and partitioner,
and the same durability (idempotent, acks=all): a consumer cannot tell which way an event came,
except by `source` and `entry`, both "kafka".
"""

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Producer

from eventschema import Event, EventCodec, validate_message
from eventschema.collection_policy import CollectionPolicy, apply
from eventschema.kafka_contract import KafkaCluster, Topics, producer_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait
from footfall_sdk.calls import TrackingCalls
from footfall_sdk.messages import stamp


class DeliveryError(Exception):
    """Kafka did not acknowledge every event: none of them may be assumed stored."""


class KafkaEventProducer(TrackingCalls[None]):
    """Thread-safe; create one per process and `close()` it (or use `with`)."""

    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str = "",
        *,
        delivery_timeout: float = 10.0,
        config: Mapping[str, Any] | None = None,
        policy: CollectionPolicy | None = None,
    ) -> None:
        self.topic = Topics.for_prefix(topic_prefix).events
        # The API's IP and personal-data policy (FOOTFALL_IP_POLICY, FOOTFALL_PII_*, ...), read
        # from this process's environment unless given: applied before anything is produced.
        self.policy = policy or CollectionPolicy.from_env(os.environ)
        self._codec = EventCodec()
        self._timeout = delivery_timeout + 1.0  # librdkafka reports a timeout by then
        # FOOTFALL_KAFKA_* from this process's environment: the same variables as our services.
        kafka = KafkaCluster.from_env(bootstrap, os.environ)
        settings = {**producer_config(kafka, delivery_timeout), **(config or {})}
        self._producer = Producer(settings)

    def validate(self, message: Mapping[str, Any]) -> Event:
        """The Event the API would accept for this message, or eventschema.ValidationError."""
        # Like a message inside an API batch: "type" is required. Batch-level sentAt/context/
        # integrations merging (producer_api.ingest) has no counterpart for a single producer.
        received_at = datetime.now(UTC)
        if not isinstance(message, Mapping):  # same refusal as the API ("invalid_type")
            return validate_message(message, received_at, source="kafka")
        # Size is measured on the caller's message, as the API measures the raw one, so an
        # oversized event is refused with the same byte count in the same message.
        size = len(orjson.dumps(dict(message)))
        return validate_message(stamp(message), received_at, source="kafka", size_hint=size)

    def send(self, message: Mapping[str, Any]) -> None:
        """Validate, produce and wait for Kafka's acknowledgement (raises DeliveryError)."""
        self.send_many([message])

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """Validate all first (nothing is produced if one is invalid: ValidationError), then
        produce all and wait for every delivery report; DeliveryError if any failed."""
        events = [self.validate(message) for message in messages]
        self._produce(events)

    def _submit(self, message: dict[str, Any]) -> None:
        self.send(message)

    def _produce(self, events: list[Event]) -> None:
        label = self._codec.writer.label
        for event in events:
            apply(event, self.policy)
        messages = [
            OutgoingMessage(
                self.topic, event.key, self._codec.encode(event.to_record()), event.headers(label)
            )
            for event in events
        ]
        try:
            produce_and_wait(self._producer, messages, self._timeout)
        except DeliveryFailed as failure:
            raise DeliveryError(str(failure)) from failure

    def close(self, timeout: float = 30.0) -> int:
        """Deliver anything still queued; returns how many messages were left undelivered."""
        return int(self._producer.flush(timeout))

    def __enter__(self) -> "KafkaEventProducer":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
