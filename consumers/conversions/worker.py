"""The uploader loop: filter purchases by header, wait for the sink, resolve, batch, upload.

Per Kafka record: a record whose `ff-event` header is not a configured conversion event is done at
once (never decoded); one whose body says it entered in an untrusted way (a public browser key,
eventschema.entry) is counted as refused and done. A conversion becomes one task per enabled
platform; a task ends delivered (ledger "ok"), duplicate (ledger or the platform's "already
exists"), skipped (nothing to match on), or dead-lettered (acked in conversions_dlq). The
partition's committed offset never passes the lowest record with an unfinished task, so a crash
re-reads it, and the ledger makes the re-read harmless. Failed requests back off per platform (full
jitter, Retry-After as the floor) behind a per-platform circuit breaker; a task that keeps failing
past the give-up time is dead-lettered.

The same loop serves the replay command: its source is conversions_dlq read from the start, each
record limited to the platform (and reason) it was dead-lettered for.
"""

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from consumers.conversions import metrics
from consumers.conversions.breaker import Breaker
from consumers.conversions.config import ConversionsConfig
from consumers.conversions.dead_letters import DeadLetters
from consumers.conversions.ledger import Ledger, LedgerUnavailable, key
from consumers.conversions.model import Conversion, Match, from_record
from consumers.conversions.platforms import Built, Outcome
from consumers.conversions.resolve import QueryError, Resolver, SinkWatch
from eventschema import DecodeError, EventCodec
from eventschema.entry import KAFKA
from eventschema.event_names import canonical_event_name
from eventschema.kafka_contract import HEADER_EVENT, consumer_config

log = logging.getLogger(__name__)
RESOLVE_RETRY = 1.0


class Platform(Protocol):
    name: str
    account: str
    batch_size: int

    def build(self, conv: Conversion, match: Match, now: datetime) -> Built: ...
    def request(self, payloads: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]: ...
    def headers(self) -> dict[str, str]: ...
    def redact(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def classify(self, response: httpx.Response, count: int) -> list[Outcome]: ...


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
class Runner:
    platform: Platform
    breaker: Breaker
    next_at: float = 0.0
    attempts: int = 0


@dataclass
class ReplayFilter:
    platform: str = ""
    reason: str = ""


@dataclass
class Summary:
    read: int = 0
    delivered: int = 0
    duplicates: int = 0
    dead: int = 0
    skipped: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def jitter(base: float, cap: float, attempt: int) -> float:
    """Full jitter (AWS): uniform(0, min(cap, base * 2^attempt))."""
    return random.uniform(0, min(cap, base * 2**attempt))


class Worker:
    def __init__(
        self,
        config: ConversionsConfig,
        platforms: list[Platform],
        ledger: Ledger,
        dead_letters: DeadLetters,
        resolver: Resolver,
        watch: SinkWatch,
        replay: ReplayFilter | None = None,
    ) -> None:
        self.config = config
        self.runners = {
            p.name: Runner(p, Breaker(config.breaker_failures, config.breaker_reset_seconds))
            for p in platforms
        }
        self.ledger = ledger
        self.dead_letters = dead_letters
        self.resolver = resolver
        self.watch = watch
        self.replay = replay
        self.codec = EventCodec()
        self.http = httpx.Client(timeout=config.request_timeout)
        self.items: dict[int, dict[int, Item]] = {}  # partition -> offset -> item
        self.last_seen: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.stop = threading.Event()
        self.last_iteration = time.monotonic()
        self.summary = Summary()
        self._last_commit = 0.0
        self._ends: dict[int, int] | None = None
        self._paused = False
        self._replay_ends: dict[int, int] = {}
        group = config.group_id if replay is None else f"{config.group_id}-replay"
        conf: dict[str, object] = consumer_config(config.bootstrap, group)
        if config.instance_id and replay is None:
            conf["group.instance.id"] = config.instance_id
        self.consumer = Consumer(conf)

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> Summary:
        if self.replay is None:
            self.consumer.subscribe(
                [self.config.topics.events], on_assign=self._on_assign,
                on_revoke=self._on_revoke, on_lost=self._on_lost,
            )  # fmt: skip
        else:
            self._assign_replay()
        try:
            while not self.stop.is_set():
                self._iterate()
                if self.replay is not None and self._replay_finished():
                    break
        finally:
            self._commit(force=True)
            self.consumer.close()
            self.http.close()
        return self.summary

    def _assign_replay(self) -> None:
        topic = self.config.dlq_topic
        meta = self.consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions)
        for p in parts:
            self._replay_ends[p] = self.consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10
            )[1]
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])

    def _replay_finished(self) -> bool:
        read = all(self.last_seen.get(p, -1) + 1 >= end for p, end in self._replay_ends.items())
        return read and not any(self.items.values())

    # -- the loop --------------------------------------------------------------------------------

    def _iterate(self) -> None:
        self.ledger.refresh()
        self._ends = None
        self._flow_control()
        for message in self.consumer.consume(500, 0.1):
            self._handle(message)
        now = time.monotonic()
        self._resolve(now)
        for runner in self.runners.values():
            self._flush(runner, now)
        self._forget_done()
        self._commit()
        self.last_iteration = time.monotonic()

    def _pending(self) -> int:
        return sum(len(items) for items in self.items.values())

    def _flow_control(self) -> None:
        over = self._pending() >= self.config.max_pending
        if over == self._paused:
            return
        assignment = self.consumer.assignment()
        if over:
            self.consumer.pause(assignment)
        else:
            self.consumer.resume(assignment)
        self._paused = over

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            log.warning("consumer error: %s", error)
            return
        partition, offset = message.partition(), message.offset()
        if partition is None or offset is None:
            return
        if offset <= self.last_seen.get(partition, -1):
            return  # prefetched again after a rebalance
        self.last_seen[partition] = offset
        headers = {p[0]: p[1] for p in message.headers() or [] if isinstance(p[1], bytes)}
        wanted = self._platforms_for(headers)
        if not wanted:
            return
        self.summary.read += 1
        try:
            record = self.codec.decode(message.value() or b"")
            conversion = from_record(record, self.config.default_currency)
        except (DecodeError, KeyError, ValueError) as failure:
            self.dead_letters.send(message, "*", "decode_error", str(failure), "")
            return
        if not self._trusted(record):
            return
        tasks: dict[str, Task] = {}
        for name in wanted:
            runner = self.runners[name]
            task = Task(name, key(name, runner.platform.account, conversion.order_id))
            metrics.SEEN.labels(name).inc()
            if self.ledger.done(task.ledger_key):
                metrics.DUPLICATES.labels(name, "ledger").inc()
                self.summary.duplicates += 1
                task.done = True
            tasks[name] = task
        item = Item(message, partition, offset, conversion, time.monotonic(), self._event_ends(),
                    tasks)  # fmt: skip
        if not item.done:
            self.items.setdefault(partition, {})[offset] = item

    def _trusted(self, record: dict[str, Any]) -> bool:
        """Whether the body says a trusted way sent it (records from before Avro v3: kafka)."""
        entry = record.get("entry") or KAFKA
        if entry in self.config.trusted_entries:
            return True
        metrics.REFUSED.labels("untrusted_entry").inc()
        self.summary.refused += 1
        log.warning("refused %s: %r from entry %s is not trusted", record.get("message_id"),
                    record.get("event"), entry)  # fmt: skip
        return False

    def _platforms_for(self, headers: dict[str, bytes]) -> list[str]:
        if self.replay is None:
            name = (headers.get(HEADER_EVENT) or b"").decode("utf-8", "replace")
            wanted = canonical_event_name(name) in self.config.events
            return list(self.runners) if wanted else []
        platform = (headers.get("platform") or b"").decode()
        reason = (headers.get("reason") or b"").decode()
        if self.replay.reason and reason != self.replay.reason:
            return []
        chosen = list(self.runners) if platform == "*" else [platform]
        return [p for p in chosen if p in self.runners and self.replay.platform in ("", p)]

    def _event_ends(self) -> dict[int, int]:
        if self._ends is None:
            try:
                self._ends = self.watch.end_offsets()
            except KafkaException as error:
                log.warning("reading events end offsets failed: %s", error)
                self._ends = {}
        return self._ends

    # -- resolution ------------------------------------------------------------------------------

    def _resolve(self, now: float) -> None:
        for items in self.items.values():
            for item in items.values():
                if item.resolved or item.resolve_at > now:
                    continue
                waited = now - item.read_at
                if not self.watch.caught_up(item.ends):
                    if waited < self.config.sink_wait_seconds:
                        continue
                    metrics.SINK_WAIT_TIMEOUTS.inc()
                    log.warning("sink not caught up after %.0fs; resolving %s with what is there",
                                waited, item.conversion.order_id)  # fmt: skip
                metrics.SINK_WAIT.observe(waited)
                try:
                    match = self.resolver.resolve(item.conversion)
                except QueryError as error:
                    log.warning("resolving %s failed: %s", item.conversion.order_id, error)
                    item.resolve_at = now + RESOLVE_RETRY
                    continue
                item.resolved = True
                self._build(item, match, now)

    def _build(self, item: Item, match: Match, now: float) -> None:
        moment = datetime.now(UTC)
        for task in item.tasks.values():
            if task.done:
                continue
            built = self.runners[task.platform].platform.build(item.conversion, match, moment)
            if built.payload is not None:
                task.payload, task.ready_at = built.payload, now
            elif built.skip:
                metrics.SKIPPED.labels(task.platform, built.skip).inc()
                self.summary.skipped += 1
                task.done = True
            else:
                self._dead(item, task, built.dead, built.detail)

    def _dead(self, item: Item, task: Task, reason: str, detail: str) -> None:
        self.dead_letters.send(item.message, task.platform, reason, detail,
                               item.conversion.order_id)  # fmt: skip
        log.warning("dead-lettered %s for %s: %s %s", item.conversion.order_id, task.platform,
                    reason, detail[:200])  # fmt: skip
        self.summary.dead += 1
        self.summary.reasons[reason] = self.summary.reasons.get(reason, 0) + 1
        task.done = True

    # -- batches and uploads ---------------------------------------------------------------------

    def _ready(self, name: str, now: float) -> list[tuple[Item, Task]]:
        out: list[tuple[Item, Task]] = []
        for items in self.items.values():
            for item in items.values():
                task = item.tasks.get(name)
                if task and not task.done and task.payload is not None and task.next_at <= now:
                    out.append((item, task))
        return out

    def _flush(self, runner: Runner, now: float) -> None:
        platform = runner.platform
        if now < runner.next_at:
            return
        ready = self._ready(platform.name, now)
        if not ready:
            return
        oldest = min(task.ready_at for _, task in ready)
        if len(ready) < platform.batch_size and now - oldest < self.config.batch_seconds:
            return
        allowed = runner.breaker.allow(now)
        # Also when allowed: 1 (half-open) while the probe request runs.
        metrics.BREAKER.labels(platform.name).set(runner.breaker.state)
        if not allowed:
            return
        batch: list[tuple[Item, Task]] = []
        keys: set[str] = set()
        for item, task in ready:
            if self.ledger.done(task.ledger_key):  # another record of the same order got there
                metrics.DUPLICATES.labels(platform.name, "ledger").inc()
                self.summary.duplicates += 1
                task.done = True
                continue
            if task.ledger_key in keys or (task.solo and batch) or any(t.solo for _, t in batch):
                continue
            batch.append((item, task))
            keys.add(task.ledger_key)
            if len(batch) >= platform.batch_size:
                break
        if batch:
            self._send(runner, batch)

    def _send(self, runner: Runner, batch: list[tuple[Item, Task]]) -> None:
        platform = runner.platform
        payloads = [task.payload for _, task in batch if task.payload is not None]
        url, body = platform.request(payloads)
        if self.config.dry_run:
            log.info("DRY RUN %s POST %s %s", platform.name, url,
                     json.dumps(platform.redact(body), sort_keys=True))  # fmt: skip
            for _, task in batch:
                task.done = True
            return
        started = time.monotonic()
        for _, task in batch:
            task.first_try = task.first_try or started
        try:
            response = self.http.post(url, json=body, headers=platform.headers())
            outcomes = platform.classify(response, len(batch))
        except httpx.HTTPError as error:
            outcomes = [Outcome("retry", "network", f"{type(error).__name__}: {error}")] * len(
                batch
            )
        metrics.UPLOAD_SECONDS.labels(platform.name).observe(time.monotonic() - started)
        self._apply(runner, batch, outcomes)

    def _apply(
        self, runner: Runner, batch: list[tuple[Item, Task]], outcomes: list[Outcome]
    ) -> None:
        name = runner.platform.name
        now = time.monotonic()
        kinds = [o.kind + (f":{o.reason}" if o.reason else "") for o in outcomes]
        log.info("%s: %d sent: %s", name, len(batch),
                 {k: kinds.count(k) for k in sorted(set(kinds))})  # fmt: skip
        accepted: dict[str, dict[str, object]] = {}
        for (item, task), outcome in zip(batch, outcomes, strict=True):
            if outcome.kind in ("delivered", "duplicate"):
                accepted[task.ledger_key] = {"status": "ok" if outcome.kind == "delivered"
                                             else "duplicate", "message_id": item.conversion
                                             .message_id, "reason": outcome.reason}  # fmt: skip
        if accepted:
            try:
                self.ledger.record(accepted)
            except LedgerUnavailable as error:
                # Not recorded: resend later; the platform's idempotency absorbs it.
                log.error("ledger write failed, will resend: %s", error)
                runner.next_at = now + jitter(self.config.retry_base, self.config.retry_cap, 1)
                return
        all_retry = all(o.kind == "retry" for o in outcomes) and len(batch) > 0
        for (item, task), outcome in zip(batch, outcomes, strict=True):
            if outcome.kind in ("delivered", "duplicate"):
                task.done = True
                if outcome.kind == "delivered":
                    metrics.UPLOADED.labels(name).inc()
                    self.summary.delivered += 1
                else:
                    metrics.DUPLICATES.labels(name, "platform").inc()
                    self.summary.duplicates += 1
            elif outcome.kind == "solo":
                task.solo = True
            elif outcome.kind == "dead":
                if outcome.alert:
                    metrics.ALERTS.labels(name, outcome.reason).inc()
                    log.error("ALERT %s: %s %s", name, outcome.reason, outcome.detail)
                self._dead(item, task, outcome.reason, outcome.detail)
            else:
                self._retry(runner, item, task, outcome, now, request_level=all_retry)
        if all_retry:
            outcome = outcomes[0]
            runner.attempts += 1
            runner.breaker.failure(now)
            base = self.config.throttle_base if outcome.throttled else self.config.retry_base
            if outcome.alert:
                metrics.ALERTS.labels(name, outcome.reason).inc()
                log.error("ALERT %s: %s %s (paused)", name, outcome.reason, outcome.detail)
                base = max(base, self.config.breaker_reset_seconds)
            wait = max(outcome.delay, jitter(base, self.config.retry_cap, runner.attempts))
            runner.next_at = now + wait
            log.warning("%s: %s (%s); retry in %.2fs", name, outcome.reason,
                        outcome.detail[:200], wait)  # fmt: skip
        else:
            runner.attempts = 0
            runner.breaker.success()
        metrics.BREAKER.labels(name).set(runner.breaker.state)

    def _retry(self, runner: Runner, item: Item, task: Task, outcome: Outcome, now: float,
               request_level: bool) -> None:  # fmt: skip
        metrics.RETRIED.labels(runner.platform.name, outcome.reason).inc()
        task.attempts += 1
        if task.first_try is not None and now - task.first_try > self.config.give_up_seconds:
            self._dead(item, task, "retries_exhausted", f"{outcome.reason}: {outcome.detail}")
            return
        if not request_level:  # one row: back off that row only
            base = self.config.retry_base
            task.next_at = now + max(outcome.delay, jitter(base, self.config.retry_cap,
                                                           task.attempts))  # fmt: skip
            task.solo = outcome.reason.startswith("google_DUPLICATE")

    # -- offsets ---------------------------------------------------------------------------------

    def _forget_done(self) -> None:
        oldest: float | None = None
        for items in self.items.values():
            for offset in [o for o, item in items.items() if item.done]:
                del items[offset]
            for item in items.values():
                oldest = item.read_at if oldest is None else min(oldest, item.read_at)
        metrics.OLDEST_PENDING.set(0 if oldest is None else time.monotonic() - oldest)

    def _committable(self, partition: int) -> int | None:
        pending = self.items.get(partition)
        if pending:
            return min(pending)
        seen = self.last_seen.get(partition)
        return None if seen is None else seen + 1

    def _commit(self, force: bool = False, partitions: list[int] | None = None) -> None:
        if self.replay is not None or self.config.dry_run:
            return  # replay reads the DLQ from the start each time; dry runs leave no trace
        now = time.monotonic()
        if not force and now - self._last_commit < 1.0:
            return
        self._last_commit = now
        topic = self.config.topics.events
        offsets = []
        for partition in partitions if partitions is not None else list(self.last_seen):
            target = self._committable(partition)
            if target is not None and target != self.committed.get(partition):
                offsets.append(TopicPartition(topic, partition, target))
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            log.warning("commit failed: %s", error)
            return
        for tp in offsets:
            self.committed[tp.partition] = tp.offset

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", [tp.partition for tp in partitions])

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [tp.partition for tp in partitions]
        self._commit(force=True, partitions=[p for p in revoked if p in self.last_seen])
        self._drop(revoked)
        log.info("revoked %s", revoked)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._drop([tp.partition for tp in partitions])

    def _drop(self, partitions: list[int]) -> None:
        for p in partitions:  # the next owner re-reads them; the ledger keeps them single
            self.items.pop(p, None)
            self.last_seen.pop(p, None)
            self.committed.pop(p, None)
