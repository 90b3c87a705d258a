"""Pause and resume: the whole assignment for backpressure, or one partition to retry later.

A paused partition keeps the consumer polling, hence in its group. Records prefetched before a
pause may still arrive; the handler drops them, and resuming seeks back to its position.
"""

from confluent_kafka import Consumer, TopicPartition


class Backpressure:
    """Pause every assigned partition while the handler holds too much, resume after."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.paused = False

    def apply(self, over: bool) -> None:
        if over == self.paused:
            return
        assignment = self.consumer.assignment()
        if over:
            self.consumer.pause(assignment)
        else:
            self.consumer.resume(assignment)
        self.paused = over


def pause(consumer: Consumer, topic: str, partition: int) -> None:
    consumer.pause([TopicPartition(topic, partition)])


def resume(consumer: Consumer, topic: str, partition: int, position: int | None) -> None:
    """Resume one partition, first seeking back to `position` (the next record to handle)."""
    if position is not None:
        consumer.seek(TopicPartition(topic, partition, position))
    consumer.resume([TopicPartition(topic, partition)])
