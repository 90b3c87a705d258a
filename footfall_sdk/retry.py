"""When to try again: exponential backoff with jitter, overridden by the server's Retry-After."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 10
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    # A proxy answering "Retry-After: 86400" must not park the client for a day.
    max_retry_after_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            # At least what the server asked for, plus a little so clients don't return in step.
            wait = min(retry_after, self.max_retry_after_seconds)
            return wait + random.uniform(0, 0.1 * wait + 0.05)
        ceiling = min(self.max_seconds, self.base_seconds * 2**attempt)
        # "Equal jitter": never less than half the step (so backoff grows), spread over the rest.
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
