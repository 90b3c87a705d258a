"""In-process token buckets, one per write key and one per client IP.

Each key and each IP has its own bucket, so one noisy caller empties only its own. The handlers
run on one event loop, so the buckets need no lock. Memory is bounded: past `max_entries`, the
least recently used buckets are dropped (a dropped bucket comes back full, which errs on the side
of letting a request through, never of blocking an innocent caller).
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from producer_api.errors import ApiError
from producer_api.metrics import RATE_LIMITED


@dataclass(frozen=True)
class Rate:
    per_second: float  # refill; 0 turns the limit off
    burst: float  # bucket size: requests allowed at once after a quiet period

    def divided(self, workers: int) -> "Rate":
        """Each of `workers` API processes enforces this share (its own buckets)."""
        return Rate(self.per_second / workers, self.burst / workers)


class TokenBuckets:
    def __init__(
        self,
        rate: Rate,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.max_entries = max_entries
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, name: str) -> float | None:
        """Take one token: None when allowed, else the seconds until one is available."""
        if self.rate.per_second <= 0:
            return None
        now = self._clock()
        tokens, at = self._buckets.pop(name, (self.rate.burst, now))
        tokens = min(self.rate.burst, tokens + (now - at) * self.rate.per_second)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[name] = (tokens, now)  # re-inserted last: most recently used
        while len(self._buckets) > self.max_entries:
            self._buckets.popitem(last=False)
        return None if allowed else (1 - tokens) / self.rate.per_second


class RateLimiter:
    """The per-key and per-IP limits of the API; raise ApiError 429 with Retry-After."""

    def __init__(self, per_key: Rate, per_ip: Rate) -> None:
        self.keys = TokenBuckets(per_key)
        self.ips = TokenBuckets(per_ip)

    def check_ip(self, ip: str | None) -> None:
        if ip is not None:
            _answer(self.ips.take(ip), "ip", "too many requests from this address")

    def check_key(self, key_name: str) -> None:
        _answer(self.keys.take(key_name), "key", "too many requests for this write key")


def _answer(wait: float | None, scope: str, message: str) -> None:
    if wait is None:
        return
    RATE_LIMITED.labels(scope).inc()
    retry_after = max(1, math.ceil(wait))
    raise ApiError(429, "rate_limited", message, {"Retry-After": str(retry_after)})
