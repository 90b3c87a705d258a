"""Steady load on the API from a thread, logging every answer (the oracle for fault tests:
every id answered 2xx must be stored exactly once)."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class SendLog:
    acked: set[str] = field(default_factory=set)
    # (sent at, status, seconds to answer); status -1: no HTTP answer (connection refused...).
    statuses: list[tuple[float, int, float]] = field(default_factory=list)
    retry_after: list[str] = field(default_factory=list)  # Retry-After of each 503

    def count(self, status: int, after: float) -> int:
        return sum(1 for sent, got, _ in list(self.statuses) if sent > after and got == status)

    def first_ok_after(self, moment: float) -> float | None:
        """When the first request sent after `moment` that was answered 2xx was sent."""
        return next((s for s, got, _ in list(self.statuses) if s > moment and got == 200), None)


@dataclass
class Load:
    url: str
    write_key: str
    batch: int = 20
    pause: float = 0.05
    log: SendLog = field(default_factory=SendLog)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> "Load":
        self.thread = threading.Thread(target=self._run, name="load", daemon=True)
        self.thread.start()
        return self

    def finish(self) -> SendLog:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(60)
        return self.log

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                self._send(client)
                time.sleep(self.pause)

    def _send(self, client: httpx.Client) -> None:
        ids = [str(uuid.uuid4()) for _ in range(self.batch)]
        body = {"batch": [{"type": "track", "event": "Heartbeat", "messageId": m,
                           "anonymousId": m[:6]} for m in ids]}  # fmt: skip
        started = time.monotonic()
        try:
            answer = client.post(f"{self.url}/v1/batch", json=body, auth=(self.write_key, ""))
            status = answer.status_code
        except httpx.HTTPError:
            status = -1
        if status == 503:
            self.log.retry_after.append(answer.headers.get("retry-after", ""))
        if status == 200:
            self.log.acked.update(ids)
        self.log.statuses.append((started, status, time.monotonic() - started))


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)
