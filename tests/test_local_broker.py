"""The local broker and topic setup, against a real Kafka JVM (no mocks)."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient

from footfall.broker import LocalBroker, find_free_ports, metadata_ok
from footfall.paths import repo_root
from footfall.topics import ensure_topics, partition_counts
from tests.support.local_kafka import start_broker


def expected_partitions(prefix: str) -> dict[str, int]:
    """Read avro/topics.json directly, not through the code under test."""
    raw = json.loads((repo_root() / "avro" / "topics.json").read_text())["topics"]
    return {prefix + name: int(spec["partitions"]) for name, spec in raw.items()}


def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    producer.produce(topic, value, key, headers=[("ff-event", b"Signed Up")])
    assert producer.flush(30) == 0


def consume_one(bootstrap: str, topic: str, timeout: float = 30.0) -> Message:
    """Through a consumer group, so the group coordinator and offsets topic are exercised too."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = consumer.poll(timeout)
        assert message is not None, f"nothing read from {topic} in {timeout}s"
        assert message.error() is None, message.error()
        consumer.commit(message=message, asynchronous=False)
        return message
    finally:
        consumer.close()


def broker_topics(bootstrap: str, prefix: str) -> list[str]:
    listed = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return sorted(name for name in listed if name.startswith(prefix))


def test_broker_answers_metadata_requests(kafka_bootstrap: str) -> None:
    assert metadata_ok(kafka_bootstrap)


def test_ensure_topics_creates_the_contract_topics_and_is_idempotent(kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    expected = expected_partitions(prefix)

    assert broker_topics(kafka_bootstrap, prefix) == []
    ensure_topics(kafka_bootstrap, prefix)
    created = broker_topics(kafka_bootstrap, prefix)  # what the broker has, not what was asked
    ensure_topics(kafka_bootstrap, prefix)  # a second run finds them and changes nothing
    again = broker_topics(kafka_bootstrap, prefix)

    assert created == sorted(expected) == again
    assert sorted(expected) == [
        f"{prefix}conversions_dlq",
        f"{prefix}conversions_ledger",
        f"{prefix}events",
        f"{prefix}events_dlq",
        f"{prefix}events_quarantine",
        f"{prefix}privacy_suppressions",
    ]
    assert partition_counts(kafka_bootstrap, list(expected)) == expected


def test_produce_consume_round_trip(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}events"
    produce(kafka_bootstrap, topic, b"anon-1", b"payload-1")

    message = consume_one(kafka_bootstrap, topic)

    assert (message.key(), message.value()) == (b"anon-1", b"payload-1")
    assert message.headers() == [("ff-event", b"Signed Up")]


def test_restarted_broker_keeps_its_data(tmp_path: Path) -> None:
    broker = start_broker(tmp_path)
    try:
        ensure_topics(broker.bootstrap)
        produce(broker.bootstrap, "events", b"k", b"before restart")
    finally:
        broker.stop()
    cluster_id = broker.cluster_id()
    assert not broker.is_running()

    # New ports too: the static voter set lets the same data dir move.
    port, controller_port = find_free_ports(2)
    again = LocalBroker(tmp_path, port, controller_port)
    again.start()
    try:
        again.wait_ready()
        ensure_topics(again.bootstrap)  # running setup twice must not wipe anything
        message = consume_one(again.bootstrap, "events")
    finally:
        again.stop()

    assert message.value() == b"before restart"
    assert again.cluster_id() == cluster_id
    assert not again.pid_file.exists()


def test_topics_command_creates_the_topics_on_any_broker(kafka_bootstrap: str) -> None:
    prefix = "cli_"
    env = {
        **os.environ,
        "FOOTFALL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FOOTFALL_TOPIC_PREFIX": prefix,
    }
    for _ in range(2):  # idempotent: the second run finds them and succeeds
        done = subprocess.run([sys.executable, "-m", "footfall", "topics"], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
    counts = partition_counts(kafka_bootstrap, [f"{prefix}events", f"{prefix}events_dlq"])
    assert counts == {f"{prefix}events": 6, f"{prefix}events_dlq": 1}
