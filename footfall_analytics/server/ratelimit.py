"""Failed logins per client IP and per user name, counted in a sliding window (in process).

Argon2 makes each guess slow; this caps how many guesses there are: after `per_user` failures
for one name, or `per_ip` from one address, within `window` seconds, logins are refused until
the oldest failure ages out."""

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(
        self,
        per_user: int = 5,
        per_ip: int = 20,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user, self.per_ip, self.window, self.clock = per_user, per_ip, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, ip: str, user: str) -> list[tuple[str, int]]:
        return [(f"user:{user.lower()}", self.per_user), (f"ip:{ip}", self.per_ip)]

    def retry_after(self, ip: str, user: str) -> float:
        """Seconds until a login may be tried again; 0 when it may be tried now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(ip, user):
                times = self._failures.get(key)
                if not times:
                    continue
                while times and times[0] <= now - self.window:
                    times.popleft()
                if len(times) >= limit:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, ip: str, user: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_KEYS:  # many names or addresses: forget the aged ones
                old = now - self.window
                self._failures = {k: d for k, d in self._failures.items() if d and d[-1] > old}
            for key, _ in self._keys(ip, user):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, ip: str, user: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{user.lower()}", None)
