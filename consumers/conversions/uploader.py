"""One ad platform's uploads: its batches, its circuit breaker and its backoff.

A platform's batch goes out when it is full or its oldest task waited batch_seconds, unless the
platform is backing off or its breaker is open. A request that failed as a whole (every outcome
retry) backs the platform off (full jitter, Retry-After as the floor, a longer base when
throttled, at least the breaker's reset time on an alert) and counts against its breaker; a
single failed row backs off that row only. A task that keeps failing past give_up_seconds is
dead-lettered. Accepted rows go to the ledger first: if the ledger write fails nothing counts as
done and the batch is resent later (the platform's idempotency absorbs the repeat). Google rows
first get a click second of their own (click_slots.py).
"""

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx

from consumers.conversions import metrics
from consumers.conversions.breaker import Breaker
from consumers.conversions.click_slots import MAX_SHIFT, ClickSlots
from consumers.conversions.config import ConversionsConfig
from consumers.conversions.ledger import Ledger, LedgerUnavailable
from consumers.conversions.outcomes import Outcome, Platform
from consumers.conversions.tasks import Item, Results, Task
from consumers.runtime.backoff import jitter

log = logging.getLogger(__name__)
Pair = tuple[Item, Task]


class PlatformUploader:
    def __init__(
        self,
        platform: Platform,
        config: ConversionsConfig,
        http: httpx.Client,
        ledger: Ledger,
        results: Results,
    ) -> None:
        self.platform = platform
        self.name = platform.name
        self.config = config
        self.http = http
        self.ledger = ledger
        self.results = results
        self.breaker = Breaker(config.breaker_failures, config.breaker_reset_seconds)
        self.next_at = 0.0  # backing off until then
        self.attempts = 0  # requests failed in a row
        self.slots = ClickSlots(ledger, platform.account) if platform.name == "google" else None

    def flush(self, items: Iterable[Item], now: float) -> None:
        if now < self.next_at:
            return
        ready = self._ready(items, now)
        if not ready:
            return
        oldest = min(task.ready_at for _, task in ready)
        if len(ready) < self.platform.batch_size and now - oldest < self.config.batch_seconds:
            return
        allowed = self.breaker.allow(now)
        # Also when allowed: 1 (half-open) while the probe request runs.
        metrics.BREAKER.labels(self.name).set(self.breaker.state)
        if allowed and (batch := self._pick(ready)):
            self._send(batch)

    def _ready(self, items: Iterable[Item], now: float) -> list[Pair]:
        out: list[Pair] = []
        for item in items:
            task = item.tasks.get(self.name)
            if task and not task.done and task.payload is not None and task.next_at <= now:
                out.append((item, task))
        return out

    def _pick(self, ready: list[Pair]) -> list[Pair]:
        """Up to batch_size tasks, one per order, a `solo` task alone."""
        batch: list[Pair] = []
        keys: set[str] = set()
        for item, task in ready:
            if self.ledger.done(task.ledger_key):  # another record of the same order got there
                self.results.duplicate(task, "ledger")
                continue
            if task.ledger_key in keys or (task.solo and batch) or any(t.solo for _, t in batch):
                continue
            batch.append((item, task))
            keys.add(task.ledger_key)
            if len(batch) >= self.platform.batch_size:
                break
        return batch

    def _slotted(self, batch: list[Pair], now: float) -> list[Pair]:
        """Google: the rows whose click second is claimed (the others wait or are dead)."""
        if self.slots is None or self.config.dry_run:
            return batch
        try:
            assigned = self.slots.assign([task for _, task in batch], datetime.now(UTC))
        except LedgerUnavailable as error:
            log.error("claiming click seconds failed, will retry: %s", error)
            self.next_at = now + jitter(self.config.retry_base, self.config.retry_cap, 1)
            return []
        later, full = {id(t) for t in assigned.later}, {id(t) for t in assigned.full}
        for item, task in batch:
            if id(task) in later:
                task.next_at = now + 1.0
            elif id(task) in full:
                detail = f"{task.base_time} and the {MAX_SHIFT} s after it are held on its click"
                self.results.dead(item, task, "google_click_seconds_held", detail)
        ready = {id(t) for t in assigned.ready}
        return [(item, task) for item, task in batch if id(task) in ready]

    def _send(self, batch: list[Pair]) -> None:
        batch = self._slotted(batch, time.monotonic())
        if not batch:
            return
        payloads = [task.payload for _, task in batch if task.payload is not None]
        url, body = self.platform.request(payloads)
        if self.config.dry_run:
            log.info("DRY RUN %s POST %s %s", self.name, url,
                     json.dumps(self.platform.redact(body), sort_keys=True))  # fmt: skip
            for _, task in batch:
                task.done = True
            return
        started = time.monotonic()
        for _, task in batch:
            task.first_try = task.first_try or started
        try:
            response = self.http.post(url, json=body, headers=self.platform.headers())
            outcomes = self.platform.classify(response, len(batch))
        except httpx.HTTPError as error:
            failed = Outcome("retry", "network", f"{type(error).__name__}: {error}")
            outcomes = [failed] * len(batch)
        metrics.UPLOAD_SECONDS.labels(self.name).observe(time.monotonic() - started)
        self._apply(batch, outcomes)

    def _apply(self, batch: list[Pair], outcomes: list[Outcome]) -> None:
        now = time.monotonic()
        kinds = [o.kind + (f":{o.reason}" if o.reason else "") for o in outcomes]
        log.info("%s: %d sent: %s", self.name, len(batch),
                 {k: kinds.count(k) for k in sorted(set(kinds))})  # fmt: skip
        if not self._record(batch, outcomes, now):
            return
        all_retry = all(o.kind == "retry" for o in outcomes) and len(batch) > 0
        for (item, task), outcome in zip(batch, outcomes, strict=True):
            self._settle(item, task, outcome, now, request_level=all_retry)
        if all_retry:
            self._back_off(outcomes[0], now)
        else:
            self.attempts = 0
            self.breaker.success()
        metrics.BREAKER.labels(self.name).set(self.breaker.state)

    def _record(self, batch: list[Pair], outcomes: list[Outcome], now: float) -> bool:
        """Write the accepted rows to the ledger; False (and back off) when it failed."""
        accepted: dict[str, dict[str, object]] = {}
        for (item, task), outcome in zip(batch, outcomes, strict=True):
            if outcome.kind in ("delivered", "duplicate"):
                status = "ok" if outcome.kind == "delivered" else "duplicate"
                message_id = item.conversion.message_id
                accepted[task.ledger_key] = {
                    "status": status, "message_id": message_id, "reason": outcome.reason,
                }  # fmt: skip
        if not accepted:
            return True
        try:
            self.ledger.record(accepted)
        except LedgerUnavailable as error:
            # Not recorded: resend later; the platform's idempotency absorbs it.
            log.error("ledger write failed, will resend: %s", error)
            self.next_at = now + jitter(self.config.retry_base, self.config.retry_cap, 1)
            return False
        return True

    def _settle(
        self, item: Item, task: Task, outcome: Outcome, now: float, request_level: bool
    ) -> None:
        if outcome.kind == "delivered":
            self.results.delivered(task)
        elif outcome.kind == "duplicate":
            self.results.duplicate(task, "platform")
        elif outcome.kind == "solo":
            task.solo = True
        elif outcome.kind == "taken":
            self._taken(item, task, outcome, now)
        elif outcome.kind == "dead":
            if outcome.alert:
                metrics.ALERTS.labels(self.name, outcome.reason).inc()
                log.error("ALERT %s: %s %s", self.name, outcome.reason, outcome.detail)
            self.results.dead(item, task, outcome.reason, outcome.detail)
        else:
            self._retry(item, task, outcome, now, request_level)

    def _taken(self, item: Item, task: Task, outcome: Outcome, now: float) -> None:
        """Google: the row's click second is held. Delivered only when the ledger has this very
        order; else move to the next free second and send again (click_slots.py)."""
        if self.ledger.done(task.ledger_key):
            self.results.duplicate(task, "platform")
            return
        log.info("%s: %s's click second is held by another conversion; moving it",
                 self.name, item.conversion.order_id)  # fmt: skip
        assert self.slots is not None
        try:
            self.slots.foreign(task)
        except LedgerUnavailable as error:
            log.error("ledger write failed, will resend: %s", error)
        metrics.RETRIED.labels(self.name, outcome.reason).inc()
        task.next_at = now

    def _retry(
        self, item: Item, task: Task, outcome: Outcome, now: float, request_level: bool
    ) -> None:
        metrics.RETRIED.labels(self.name, outcome.reason).inc()
        task.attempts += 1
        if task.first_try is not None and now - task.first_try > self.config.give_up_seconds:
            detail = f"{outcome.reason}: {outcome.detail}"
            self.results.dead(item, task, "retries_exhausted", detail)
            return
        if not request_level:  # one row: back off that row only
            wait = jitter(self.config.retry_base, self.config.retry_cap, task.attempts)
            task.next_at = now + max(outcome.delay, wait)
            task.solo = outcome.reason.startswith("google_DUPLICATE")

    def _back_off(self, outcome: Outcome, now: float) -> None:
        """The whole request failed: the platform waits, and its breaker counts a failure."""
        self.attempts += 1
        self.breaker.failure(now)
        base = self.config.throttle_base if outcome.throttled else self.config.retry_base
        if outcome.alert:
            metrics.ALERTS.labels(self.name, outcome.reason).inc()
            log.error("ALERT %s: %s %s (paused)", self.name, outcome.reason, outcome.detail)
            base = max(base, self.config.breaker_reset_seconds)
        wait = max(outcome.delay, jitter(base, self.config.retry_cap, self.attempts))
        self.next_at = now + wait
        log.warning("%s: %s (%s); retry in %.2fs", self.name, outcome.reason,
                    outcome.detail[:200], wait)  # fmt: skip
