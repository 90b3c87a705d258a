"""What the uploader keeps per record: an Item with one Task per platform, and how tasks end.

A task ends delivered (ledger "ok"), duplicate (ledger, or the platform had this order),
skipped (nothing to match on, or outside the run's period), or dead-lettered (acked in
conversions_dlq). `Results` ends tasks that way, counting each in the metrics and in the replay
command's Summary.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from consumers.conversions import metrics
from consumers.conversions.dead_letters import DeadLetters
from consumers.conversions.ledger import DEAD, Ledger, LedgerUnavailable
from consumers.conversions.model import Conversion

log = logging.getLogger(__name__)


@dataclass
class Task:
    platform: str
    ledger_key: str
    done: bool = False
    payload: dict[str, Any] | None = None
    ready_at: float = 0.0
    next_at: float = 0.0
    attempts: int = 0
    first_try: float | None = None
    solo: bool = False
    slot: str = ""  # Google: the ledger claim of its click second (click_slots.py)
    base_time: str = ""  # Google: the conversionDateTime before any move to a free second


@dataclass
class Item:
    message: Message
    partition: int
    offset: int
    conversion: Conversion
    read_at: float
    ends: dict[int, int]
    tasks: dict[str, Task]
    resolved: bool = False
    resolve_at: float = 0.0

    @property
    def done(self) -> bool:
        return all(t.done for t in self.tasks.values())


@dataclass
class Summary:
    read: int = 0
    delivered: int = 0
    duplicates: int = 0
    dead: int = 0
    skipped: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Results:
    """Ends tasks: metrics, the summary, and dead letters (acked before the task counts done)."""

    def __init__(self, dead_letters: DeadLetters, ledger: Ledger) -> None:
        self.dead_letters = dead_letters
        self.ledger = ledger
        self.summary = Summary()

    def delivered(self, task: Task) -> None:
        metrics.UPLOADED.labels(task.platform).inc()
        self.summary.delivered += 1
        task.done = True

    def duplicate(self, task: Task, where: str) -> None:
        metrics.DUPLICATES.labels(task.platform, where).inc()
        self.summary.duplicates += 1
        task.done = True

    def skipped(self, task: Task, reason: str) -> None:
        metrics.SKIPPED.labels(task.platform, reason).inc()
        self.summary.skipped += 1
        task.done = True

    def dead(self, item: Item, task: Task, reason: str, detail: str) -> None:
        self.dead_letters.send(item.message, task.platform, reason, detail,
                               item.conversion.order_id)  # fmt: skip
        log.warning("dead-lettered %s for %s: %s %s", item.conversion.order_id, task.platform,
                    reason, detail[:200])  # fmt: skip
        try:  # for the durable totals only: the dead letter itself is safe already
            self.ledger.record({f"{DEAD}|{task.ledger_key}": {"status": DEAD, "reason": reason}})
        except LedgerUnavailable as error:
            log.warning("dead letter of %s not counted in the ledger: %s", task.ledger_key, error)
        self.summary.dead += 1
        self.summary.reasons[reason] = self.summary.reasons.get(reason, 0) + 1
        task.done = True

    def refused(self, reason: str) -> None:
        metrics.REFUSED.labels(reason).inc()
        self.summary.refused += 1
