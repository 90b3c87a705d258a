"""Too few in-sync replicas: answer 503 at once instead of after the producer's timeout.

With `min.insync.replicas=2`, a partition with one live copy refuses every write; the producer
retries NOT_ENOUGH_REPLICAS until its message timeout, so clients waited ~11 s for their 503.
A thread of each API process reads the events topic's metadata every second (one small request)
and, while a partition has no leader or fewer live in-sync replicas than the topic's
`min.insync.replicas`, /readyz and the tracking routes answer 503 at once. Recovery is the next
round that finds enough replicas.

Why the TCP probe: when two of three KRaft nodes die, the metadata quorum goes with them and
the survivor's metadata is frozen, still naming a dead node as leader or in sync. So a replica
counts as in sync only if the metadata says so and its broker accepts a connection.
"""

import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource  # not re-exported for the type checker

from producer_api.publisher import PublishError

log = logging.getLogger("footfall.api")
MIN_ISR = "min.insync.replicas"
CONFIG_EVERY = 60  # rounds between reads of the topic's min.insync.replicas


@dataclass(frozen=True)
class Partition:
    leader: int  # -1: none
    in_sync: tuple[int, ...]


@dataclass(frozen=True)
class Shortfall:
    partition: int
    live_in_sync: int
    needed: int

    def as_dict(self) -> dict[str, int]:
        return {"partition": self.partition, "in_sync": self.live_in_sync, "needed": self.needed}


def shortfalls(
    partitions: Mapping[int, Partition], live: set[int], needed: int
) -> tuple[Shortfall, ...]:
    """The partitions that cannot take an acks=all write now: no leader, or too few live
    in-sync replicas. A dead leader with enough live in-sync replicas left is not one of them:
    the controller elects one of those within seconds and the producer's retries get through."""
    found = []
    for number, part in sorted(partitions.items()):
        count = len(live.intersection(part.in_sync))
        if part.leader < 0 or count < needed:
            found.append(Shortfall(number, count, needed))
    return tuple(found)


def reachable(brokers: Mapping[int, tuple[str, int]], timeout: float) -> set[int]:
    """The brokers that accept a TCP connection (a SIGKILLed one refuses at once)."""
    live = set()
    for node, address in brokers.items():
        try:
            socket.create_connection(address, timeout).close()
        except OSError:
            continue
        live.add(node)
    return live


class ReplicaWatch:
    """The latest verdict on the events topic; `interval` 0 turns the watch off."""

    def __init__(self, config: dict[str, Any], topic: str, interval: float) -> None:
        self._admin = AdminClient({**config, "log_level": 0}) if interval > 0 else None
        self._topic, self._interval = topic, interval
        self._needed: int | None = None
        self._rounds, self._warned = 0, False
        self.short: tuple[Shortfall, ...] = ()  # replaced whole: safe to read from the loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replica-watch", daemon=True)

    def start(self) -> "ReplicaWatch":
        if self._admin is not None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def check(self) -> None:
        """PublishError (503 with Retry-After) while a partition cannot take writes."""
        if self.short:
            numbers = ", ".join(str(s.partition) for s in self.short)
            raise PublishError(f"too few in-sync replicas on partition(s) {numbers}")

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # a bug here must not end the watch or the process
                log.exception("replica watch round failed")
            if self._stop.wait(self._interval):
                return

    def refresh(self) -> None:
        """One round: metadata, probes, verdict. A failed metadata request keeps the last
        verdict: with every broker gone the producer's own timeout answers as before."""
        assert self._admin is not None
        timeout = max(0.5, min(self._interval, 2.0))
        try:
            meta = self._admin.list_topics(self._topic, timeout=timeout)
        except KafkaException:
            return
        topic = meta.topics.get(self._topic)
        if topic is None or topic.error is not None:
            self.short = ()  # a missing topic is the producer's error to report, not ours
            return
        needed = self._min_in_sync()
        partitions = {n: Partition(p.leader, tuple(p.isrs)) for n, p in topic.partitions.items()}
        live = reachable({b.id: (str(b.host), b.port) for b in meta.brokers.values()}, timeout / 2)
        verdict = shortfalls(partitions, live, needed)
        if bool(verdict) != bool(self.short):
            log.warning("events topic %s: %s", self._topic, describe(verdict))
        self.short = verdict

    def _min_in_sync(self) -> int:
        """The topic's min.insync.replicas, read every CONFIG_EVERY rounds (every round until
        read once). Unreadable (no DescribeConfigs ACL): 1, so only a partition without a
        live leader sheds at once."""
        self._rounds += 1
        if self._needed is None or self._rounds % CONFIG_EVERY == 0:
            assert self._admin is not None
            resource = ConfigResource("topic", self._topic)
            try:
                configs = self._admin.describe_configs([resource])[resource].result(timeout=2)
                self._needed = int(configs[MIN_ISR].value)
            except (KafkaException, KeyError, ValueError, TimeoutError) as error:
                if not self._warned:
                    log.warning("cannot read %s of %s (%s)", MIN_ISR, self._topic, error)
                    self._warned = True
        return 1 if self._needed is None else self._needed


def describe(verdict: tuple[Shortfall, ...]) -> str:
    if not verdict:
        return "every partition has enough in-sync replicas again"
    parts = ", ".join(f"{s.partition} ({s.live_in_sync}/{s.needed})" for s in verdict)
    return f"too few live in-sync replicas on partition(s) {parts}: answering 503 at once"
