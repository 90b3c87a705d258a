"""Read what a test produced, straight from the real broker."""

import time
import uuid

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """End offset per partition; retried while a new topic's partitions elect their leaders."""
    for _ in range(50):
        try:
            return _end_offsets(bootstrap, topic)
        except KafkaException:
            time.sleep(0.2)
    return _end_offsets(bootstrap, topic)


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peek-{uuid.uuid4()}"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, timeout: float = 10.0) -> list[Message]:
    """Every message currently in the topic (up to its end offsets)."""
    ends = end_offsets(bootstrap, topic)
    wanted = sum(ends.values())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"peek-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    messages: list[Message] = []
    try:
        deadline = time.monotonic() + timeout
        while len(messages) < wanted and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    messages.append(message)
    finally:
        consumer.close()
    return messages


def value_of(message: Message) -> bytes:
    value = message.value()
    assert isinstance(value, bytes), "message has no value"
    return value


def header(message: Message, name: str) -> bytes:
    found = dict(message.headers() or []).get(name)
    assert isinstance(found, bytes), f"message has no {name} header"
    return found
