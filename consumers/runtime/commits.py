"""The commit policy: throttled synchronous commits of offsets the handler says are safe.

The handler decides what is safe (only offsets whose output is stored or acked); this module
decides when: at most once per `interval` seconds, at once when forced (revoke, shutdown), never
when the source does not commit (replay, dry runs). An offset already committed is not sent again.
"""

import logging
import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from consumers.runtime.handler import Key

log = logging.getLogger(__name__)


class Committer:
    def __init__(
        self,
        consumer: Consumer,
        interval: float = 1.0,
        enabled: bool = True,
        on_result: Callable[[bool], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.interval = interval
        self.enabled = enabled
        self.on_result = on_result
        self.committed: dict[Key, int] = {}
        self._last = 0.0

    def due(self, force: bool = False) -> bool:
        """Whether a commit may run now; starts the next interval when it may."""
        if not self.enabled:
            return False
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return False
        self._last = now
        return True

    def commit(self, targets: dict[Key, int]) -> None:
        """Commit the targets that changed since the last commit; a failure is retried later."""
        changed = {k: v for k, v in targets.items() if self.committed.get(k) != v}
        if not changed:
            return
        offsets = [TopicPartition(topic, part, offset) for (topic, part), offset in changed.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            self._result(False)
            log.warning("commit failed: %s", error)
            return
        self._result(True)
        self.committed.update(changed)

    def forget(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self.committed.pop(key, None)

    def _result(self, ok: bool) -> None:
        if self.on_result is not None:
            self.on_result(ok)
