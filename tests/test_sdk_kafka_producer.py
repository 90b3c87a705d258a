"""footfall_sdk.KafkaEventProducer: straight to the real broker, read back by the real sink.

What it writes must be indistinguishable from what the API writes (key, headers, partition,
Avro), and what it refuses must be refused with the API's code, field and message.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from eventschema import EventCodec, ValidationError
from footfall_sdk import KafkaEventProducer
from producer_api.app import create_app
from tests.support.api import WRITE_KEY, ApiServer, api_settings
from tests.support.kafka_tools import read_all
from tests.support.sink import Sink


@pytest.fixture
def producer(kafka_bootstrap: str, topic_prefix: str) -> Iterator[KafkaEventProducer]:
    with KafkaEventProducer(kafka_bootstrap, topic_prefix) as producer:
        yield producer


def test_events_land_in_clickhouse(producer: KafkaEventProducer, sink: Sink) -> None:
    run = uuid.uuid4().hex[:8]
    producer.track("Paid", {"amount": 30}, user_id=f"{run}-user")
    producer.send({"type": "identify", "userId": f"{run}-user", "traits": {"plan": "pro"}})
    producer.send_many(
        {"type": "track", "event": "Batch", "anonymousId": f"{run}-{i % 9}", "properties": {"i": i}}
        for i in range(200)
    )
    assert sink.wait_rows(202)[:2] == [202, 202]
    response = sink.query(
        "SELECT countIf(event = 'Batch'), countIf(event = 'Paid'), countIf(type = 'identify'), "
        "countIf(source = 'kafka'), countIf(library_name = 'footfall-sdk-python') FROM events FINAL"
    )
    assert response.text.split() == ["200", "1", "1", "202", "202"]


def test_key_headers_and_partition_match_the_api(
    producer: KafkaEventProducer, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    api.start()
    try:
        for visitor in ("alice", "bob", "carol", "dave"):
            message = {"type": "track", "event": "Same", "anonymousId": visitor}
            answer = httpx.post(
                f"{api.url}/v1/batch", json={"batch": [message]}, auth=(WRITE_KEY, "")
            )
            assert answer.status_code == 200, answer.text
            producer.send(message)
    finally:
        api.stop()

    codec = EventCodec()
    records = read_all(kafka_bootstrap, f"{topic_prefix}events")
    by_source: dict[str, dict[bytes, Any]] = {"http": {}, "kafka": {}}
    for record in records:
        value, key = record.value(), record.key()
        assert isinstance(value, bytes) and isinstance(key, bytes)
        decoded = codec.decode(value)
        by_source[decoded["source"]][key] = (record.partition(), record.headers())
    assert set(by_source["http"]) == {b"alice", b"bob", b"carol", b"dave"}
    assert by_source["kafka"] == by_source["http"]


INVALID: list[Any] = [
    "not an object",
    {"event": "No type", "anonymousId": "a"},
    {"type": "purchase", "anonymousId": "a"},
    {"type": "track", "event": "Nobody"},
    {"type": "track", "anonymousId": "a"},
    {"type": "track", "event": "x" * 600, "anonymousId": "a"},
    {"type": "alias", "userId": "u"},
    {"type": "group", "userId": "u"},
    {"type": "track", "event": "E", "userId": "u" * 300},
    {"type": "track", "event": "E", "userId": True},
    {"type": "track", "event": "E", "userId": "u", "properties": [1, 2]},
    {"type": "track", "event": "E", "userId": "u", "context": "web"},
    {"type": "track", "event": "E", "userId": "u", "timestamp": "yesterday"},
    {"type": "track", "event": "E", "userId": "u", "timestamp": "1999-12-31T23:59:59Z"},
    {"type": "track", "event": "E", "userId": "u", "originalTimestamp": 12},
    {"type": "track", "event": "E", "userId": "u", "properties": {"blob": "z" * 40_000}},
]


def test_invalid_messages_are_refused_exactly_like_the_api(
    producer: KafkaEventProducer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = api_settings(kafka_bootstrap, topic_prefix, WRITE_KEY)
    with TestClient(create_app(settings)) as api:
        for message in INVALID:
            answer = api.post("/v1/batch", json={"batch": [message]}, auth=(WRITE_KEY, ""))
            assert answer.status_code == 400, (message, answer.text)
            expected = answer.json()["errors"][0]
            with pytest.raises(ValidationError) as refused:
                producer.send(message)
            assert {"index": 0, **refused.value.as_dict()} == expected, message


def test_a_batch_with_one_invalid_message_produces_nothing(
    producer: KafkaEventProducer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    good = {"type": "track", "event": "Good", "anonymousId": "a"}
    with pytest.raises(ValidationError) as refused:
        producer.send_many([good, good, {"type": "track", "anonymousId": "a"}])
    assert (refused.value.code, refused.value.field) == ("missing_field", "event")
    assert read_all(kafka_bootstrap, f"{topic_prefix}events", timeout=2) == []
