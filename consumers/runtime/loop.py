"""The consumer loop, written once: poll, hand records to the handler, commit, rebalance, stop.

The handler (handler.py) owns what the records mean and which offsets are safe; the loop owns
the order of things, the fatal-error check, backpressure, the commit policy and shutdown.
"""

import logging
import threading
import time

from confluent_kafka import Consumer, TopicPartition

from consumers.runtime.commits import Committer
from consumers.runtime.handler import Handler, Key
from consumers.runtime.kafka import usable
from consumers.runtime.pausing import Backpressure
from consumers.runtime.sources import Source

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        source: Source,
        consumer: Consumer,
        handler: Handler,
        committer: Committer,
        max_messages: int,
        poll_seconds: float = 0.1,
    ) -> None:
        self.source = source
        self.consumer = consumer
        self.handler = handler
        self.committer = committer
        self.max_messages = max_messages
        self.poll_seconds = poll_seconds
        self.backpressure = Backpressure(consumer)
        self.stop = threading.Event()
        self.last_iteration = time.monotonic()

    def run(self) -> None:
        self.source.start(self.consumer, self)
        try:
            while not self.stop.is_set():
                self.iterate()
                if self.handler.finished():
                    break
        finally:
            self.shutdown()

    def iterate(self) -> None:
        self.handler.before_poll()
        self.backpressure.apply(self.handler.backlogged())
        for message in self.consumer.consume(self.max_messages, self.poll_seconds):
            if usable(message):
                self.handler.handle(message)
        self.handler.after_poll(time.monotonic())
        self.commit()
        self.last_iteration = time.monotonic()

    def commit(self, force: bool = False, partitions: list[Key] | None = None) -> None:
        if self.committer.due(force):
            self.committer.commit(self.handler.committable(partitions))

    def shutdown(self) -> None:
        try:
            self.handler.drain()
            self.commit(force=True)
        finally:
            self.consumer.close()
            self.handler.close()

    # -- rebalance callbacks (run inside consume) ---------------------------------------------

    def assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.handler.assigned(_keys(partitions))

    def revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self.handler.revoking(keys)
        self.commit(force=True, partitions=keys)
        self.handler.forget(keys)
        self.committer.forget(keys)
        log.info("revoked %s", keys)

    def lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)  # another member may own them already: never commit
        self.handler.forget(keys)
        self.committer.forget(keys)
        log.warning("lost %s", keys)


def _keys(partitions: list[TopicPartition]) -> list[Key]:
    return [(tp.topic, tp.partition) for tp in partitions]
