"""Wait until a consumer group has committed everything in a topic."""

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from tests.support.kafka_tools import end_offsets


def wait_group_caught_up(bootstrap: str, group: str, topic: str, timeout: float = 120.0) -> None:
    ends = end_offsets(bootstrap, topic)
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": f"probe-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    done: dict[int, int] = {}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = probe.committed([TopicPartition(topic, p) for p in ends], timeout=10)
            done = {tp.partition: tp.offset for tp in committed}
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                return
            time.sleep(0.3)
        raise TimeoutError(
            f"group {group} did not commit up to {ends} on {topic}; last committed: {done}"
        )
    finally:
        probe.close()
