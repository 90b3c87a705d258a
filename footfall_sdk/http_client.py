"""`Client`: queue events in memory and deliver them in batches to the API's /v1/batch.

Calls never do I/O: they enqueue and return, and one background thread batches (by count, bytes
and time) and POSTs. The queue is bounded so a slow or absent API cannot eat the host's memory;
what happens when it is full is the `on_full` choice:

- "drop" (default): the event is dropped, counted in `stats.dropped` and logged; the request
  being served is never slowed down by analytics.
- "block": the caller waits up to `block_timeout` seconds (None: as long as it takes) for room,
  then drops. Choose it when losing events is worse than adding latency.
"""

import atexit
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from eventschema.validation import MAX_EVENT_BYTES
from footfall_sdk.calls import TrackingCalls
from footfall_sdk.messages import stamp
from footfall_sdk.retry import RetryPolicy
from footfall_sdk.transport import BatchSender, Outcome

log = logging.getLogger("footfall_sdk")

# The API refuses bodies over 500 KiB and batches over 2,500 events; stay well inside both.
MAX_BATCH_BYTES = 400 * 1024
MAX_BATCH_EVENTS = 2500
_POLL_SECONDS = 0.05  # how quickly the worker notices flush() and shutdown()


@dataclass
class Stats:
    delivered: int = 0  # in Kafka (the API acknowledged them)
    rejected: int = 0  # refused by the API for a reason a retry cannot fix (logged)
    failed: int = 0  # retries exhausted, or still undelivered at the shutdown deadline
    dropped: int = 0  # never queued: queue full, client shut down, or larger than 32 KiB


class Client(TrackingCalls[bool]):
    """Every call returns True if the event was queued, False if it was dropped."""

    def __init__(
        self,
        write_key: str,
        host: str = "http://127.0.0.1:8080",
        *,
        max_queue_size: int = 10_000,
        on_full: Literal["drop", "block"] = "drop",
        block_timeout: float | None = None,
        batch_size: int = 100,
        flush_interval: float = 0.5,
        request_timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        shutdown_timeout: float = 10.0,
        register_atexit: bool = True,
    ) -> None:
        self.stats = Stats()
        self._on_full = on_full
        self._block_timeout = block_timeout
        self._batch_size = max(1, min(batch_size, MAX_BATCH_EVENTS))
        self._flush_interval = flush_interval
        self._shutdown_timeout = shutdown_timeout
        self._queue: queue.Queue[tuple[dict[str, Any], int]] = queue.Queue(max_queue_size)
        self._lock = threading.Condition()
        self._pending = 0  # queued or in flight; flush() waits for zero
        self._urgent = 0  # flush() callers waiting: send partial batches now
        self._closed = False
        self._stopping = False
        self._deadline: float | None = None
        self._abort = threading.Event()
        self._carry: tuple[dict[str, Any], int] | None = None  # did not fit the last batch
        self._http = httpx.Client(timeout=request_timeout)
        self._sender = BatchSender(
            self._http,
            f"{host.rstrip('/')}/v1/batch",
            write_key,
            retry or RetryPolicy(),
            lambda: self._deadline,
            self._abort,
        )
        self._thread = threading.Thread(target=self._run, name="footfall-sdk", daemon=True)
        self._thread.start()
        self._atexit = register_atexit
        if register_atexit:
            atexit.register(self.shutdown)

    # -- producing side ---------------------------------------------------------------------

    def enqueue(self, message: Mapping[str, Any]) -> bool:
        """Queue a hand-made Segment message (it needs "type"; messageId/timestamp are added)."""
        return self._submit(stamp(message))

    def _submit(self, message: dict[str, Any]) -> bool:
        size = len(orjson.dumps(message))
        if size > MAX_EVENT_BYTES:  # the API would refuse it; don't let it poison a batch
            return self._drop(f"event is {size} bytes, over the {MAX_EVENT_BYTES} limit")
        with self._lock:
            if self._closed:
                return self._drop("client is shut down", locked=True)
            self._pending += 1  # before put(), so flush() can never miss it
        try:
            if self._on_full == "block":
                self._queue.put((message, size), timeout=self._block_timeout)
            else:
                self._queue.put_nowait((message, size))
        except queue.Full:
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()
            return self._drop("queue is full")
        return True

    def _drop(self, reason: str, locked: bool = False) -> bool:
        if not locked:
            with self._lock:
                return self._drop(reason, locked=True)
        self.stats.dropped += 1
        dropped = self.stats.dropped
        # The first one, then every 1,000th: a full queue must not flood the log as well.
        if dropped == 1 or dropped % 1000 == 0:
            log.warning("footfall: dropped an event (%s); %d dropped so far", reason, dropped)
        return False

    # -- delivery ----------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; True once all of it was delivered or given up on."""
        with self._lock:
            self._urgent += 1
            try:
                return self._lock.wait_for(lambda: self._pending == 0, timeout)
            finally:
                self._urgent -= 1

    def shutdown(self, timeout: float | None = None) -> int:
        """Stop taking events, deliver what is queued within `timeout` (default: the
        constructor's shutdown_timeout), stop the thread. Returns how many were not delivered."""
        timeout = self._shutdown_timeout if timeout is None else timeout
        with self._lock:
            if self._closed and self._stopping:
                return self._pending
            self._closed = True
            # Retries that cannot finish before this give up instead of outliving shutdown.
            self._deadline = time.monotonic() + timeout
        self.flush(timeout)
        with self._lock:
            self._stopping = True
        self._abort.set()
        self._thread.join(max(1.0, self._deadline - time.monotonic()))
        self._http.close()
        if self._atexit:
            atexit.unregister(self.shutdown)
        with self._lock:
            if self._pending:
                log.error("footfall: %d events not delivered at shutdown", self._pending)
            return self._pending

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()

    # -- worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch:
                self._deliver(batch)
            elif self._stopping:
                return

    def _collect(self) -> list[dict[str, Any]]:
        """One batch: up to batch_size events and MAX_BATCH_BYTES, or what arrived within
        flush_interval of the first one (at once when flush() or shutdown() is waiting)."""
        batch: list[dict[str, Any]] = []
        size = 0
        started: float | None = None
        while len(batch) < self._batch_size:
            if started is not None and time.monotonic() - started >= self._flush_interval:
                break
            item = self._next_item()
            if item is None:
                if self._stopping or (batch and self._urgent):
                    break
                continue
            if batch and size + item[1] > MAX_BATCH_BYTES:
                self._carry = item
                break
            batch.append(item[0])
            size += item[1]
            started = started if started is not None else time.monotonic()
        return batch

    def _next_item(self) -> tuple[dict[str, Any], int] | None:
        if self._carry is not None:
            item, self._carry = self._carry, None
            return item
        try:
            return self._queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            return None

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        try:
            result = self._sender.send(batch)
        except Exception:  # a bug here must not kill the thread and strand every later event
            log.exception("footfall: unexpected error sending a batch")
            result = None
        with self._lock:
            if result is None or result.outcome is Outcome.GAVE_UP:
                self.stats.failed += len(batch)
            elif result.outcome is Outcome.REFUSED:
                self.stats.rejected += len(batch)
            else:
                self.stats.rejected += result.rejected
                self.stats.delivered += len(batch) - result.rejected
            self._pending -= len(batch)
            self._lock.notify_all()
