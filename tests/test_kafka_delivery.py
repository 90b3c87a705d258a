"""eventschema.kafka_delivery, the one produce-then-wait-for-acks of the SDK producer, both
dead-letter writers and the conversions ledger: against the real broker (and a real client with
no broker behind its address), every way it can end."""

import time

import pytest
from confluent_kafka import Producer

from eventschema.kafka_contract import KafkaCluster, Topics, client_config
from eventschema.kafka_delivery import DeliveryFailed, OutgoingMessage, produce_and_wait
from tests.support.kafka_tools import header, read_all, value_of

NO_BROKER = "127.0.0.1:1"


def test_a_full_local_queue_is_retried_until_every_message_is_acked(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = Topics.for_prefix(topic_prefix).dead_letter  # one partition: order is kept
    # Room for two messages: the other 28 each meet BufferError first and are retried.
    settings = {"enable.idempotence": True, "acks": "all", "queue.buffering.max.messages": 2}
    producer = Producer(
        {**client_config(KafkaCluster(kafka_bootstrap)), **settings, "linger.ms": 20}
    )
    messages = [
        OutgoingMessage(topic, f"k{i}".encode(), f"v{i}".encode(), [("n", str(i).encode())])
        for i in range(30)
    ]
    produce_and_wait(producer, messages, timeout=15)
    stored = read_all(kafka_bootstrap, topic)
    assert [value_of(m) for m in stored] == [f"v{i}".encode() for i in range(30)]
    assert [m.key() for m in stored] == [f"k{i}".encode() for i in range(30)]
    assert [header(m, "n") for m in stored] == [str(i).encode() for i in range(30)]


def test_nothing_to_send_returns_at_once() -> None:
    produce_and_wait(Producer({"bootstrap.servers": NO_BROKER}), [], timeout=5)


def test_no_report_in_time_is_a_timeout() -> None:
    producer = Producer({"bootstrap.servers": NO_BROKER, "message.timeout.ms": 10_000})
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        produce_and_wait(producer, [OutgoingMessage("t", b"k", b"v")], timeout=0.5)
    assert failed.value.reason == "timeout" and "did not acknowledge" in str(failed.value)
    assert time.monotonic() - started < 5


def test_an_error_report_is_refused_with_the_brokers_errors() -> None:
    producer = Producer({"bootstrap.servers": NO_BROKER, "message.timeout.ms": 300})
    messages = [OutgoingMessage("t", b"k", b"1"), OutgoingMessage("t", b"k", b"2")]
    with pytest.raises(DeliveryFailed) as failed:
        produce_and_wait(producer, messages, timeout=10)
    assert failed.value.reason == "refused" and len(failed.value.errors) == 2
    assert str(failed.value).startswith("Kafka refused 2 message(s): ")


def test_a_message_the_client_refuses_stops_the_send_after_the_queued_ones_reported() -> None:
    producer = Producer(
        {"bootstrap.servers": NO_BROKER, "message.timeout.ms": 300, "message.max.bytes": 2000}
    )
    messages = [
        OutgoingMessage("t", b"k", b"small"),
        OutgoingMessage("t", b"k", b"x" * 10_000),  # over message.max.bytes: produce() raises
        OutgoingMessage("t", b"k", b"never produced"),
    ]
    with pytest.raises(DeliveryFailed) as failed:
        produce_and_wait(producer, messages, timeout=10)
    assert failed.value.reason == "produce_error"
    assert producer.flush(0) == 0  # the first one already reported: nothing left in the queue
