"""A per-platform circuit breaker: open after N consecutive failed requests, one probe after T."""

import time

CLOSED, HALF_OPEN, OPEN = 0, 1, 2


class Breaker:
    def __init__(self, failures: int, reset_seconds: float) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.state = CLOSED
        self.opened_at = 0.0

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.state == OPEN and now - self.opened_at >= self.reset_seconds:
            self.state = HALF_OPEN  # let one request probe
        return self.state != OPEN

    def success(self) -> None:
        self.failures = 0
        self.state = CLOSED

    def failure(self, now: float | None = None) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self.state = OPEN
            self.opened_at = time.monotonic() if now is None else now
