"""Restart a crashed broker with backoff, without blocking the supervisor's loop.

While a broker is away the API answers 503 with Retry-After and the consumers wait; the main job
keeps them running and brings the broker back, so ingestion resumes on its own.
"""

import time
from dataclasses import dataclass

from footfall.broker import BrokerError, LocalBroker

MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a broker that ran this long has its backoff reset


@dataclass
class BrokerWatch:
    broker: LocalBroker
    name: str = "Kafka"
    failures: int = 0
    restarts: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    down_since: float | None = None
    waiting_ready: bool = False

    def started(self) -> None:
        """The broker was started (and waited for) by the caller."""
        self.started_at = time.monotonic()

    def check_exit(self) -> bool:
        """True (once) when the broker has just died; schedules its restart with backoff."""
        if self.restart_at is not None or self.broker.is_running():
            return False
        now = time.monotonic()
        ran = now - self.started_at
        self.failures = 1 if ran >= STABLE_AFTER else self.failures + 1
        self.restart_at = now + self.backoff()
        self.down_since = self.down_since or now
        self.waiting_ready = False
        return True

    def backoff(self) -> float:
        return min(MAX_BACKOFF, 2.0 ** (self.failures - 1))

    def restart(self) -> str | None:
        """Start the broker if its restart is due; returns a line to log, if any."""
        if self.restart_at is None or time.monotonic() < self.restart_at:
            return None
        self.restart_at = None
        self.restarts += 1
        try:
            self.broker.start()
        except BrokerError as exc:  # e.g. its port not yet free: try again later
            self.failures += 1
            self.restart_at = time.monotonic() + self.backoff()
            return f"{self.name} restart failed ({exc}); next try in {self.backoff():.0f}s"
        self.started_at = time.monotonic()
        self.waiting_ready = True
        return f"restarting {self.name} (attempt {self.restarts}, pid {self.broker.pid()})"

    def became_ready(self) -> float | None:
        """Seconds since the crash, once, when a restarted broker serves again."""
        if not self.waiting_ready or not self.broker.ready_now():
            return None
        self.waiting_ready = False
        down = time.monotonic() - (self.down_since or time.monotonic())
        self.down_since = None
        return down
