"""The uploader on the consumer runtime: filter by header, wait for the sink, resolve, upload.

Per Kafka record: a record the source does not want (not a configured conversion event; in a
replay, not the chosen platform or reason) is done at once, never decoded; one whose body says it
entered in an untrusted way (a public browser key, eventschema.entry) is counted as refused and
done. A conversion becomes one task per wanted platform (tasks.py), built once the sink has
caught up with the record (or sink_wait_seconds passed) and the identity is resolved, then sent
by that platform's PlatformUploader (uploader.py: batches, breaker, backoff). The partition's
committed offset never passes the lowest record with an unfinished task, so a crash re-reads it,
and the ledger makes the re-read harmless. Too many unfinished records pause the consumer.
"""

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import KafkaException, Message

from consumers.conversions import metrics
from consumers.conversions.config import ConversionsConfig
from consumers.conversions.dead_letters import DeadLetters
from consumers.conversions.ledger import Ledger, key
from consumers.conversions.model import Conversion, Match, from_record
from consumers.conversions.outcomes import Platform
from consumers.conversions.periods import Period
from consumers.conversions.resolve import Resolver, SinkWatch
from consumers.conversions.sources import UploaderSource
from consumers.conversions.tasks import Item, Results, Summary, Task
from consumers.conversions.uploader import PlatformUploader
from consumers.runtime.commits import Committer
from consumers.runtime.handler import Key
from consumers.runtime.loop import Runtime
from consumers.runtime.suppressions import SuppressionReader
from eventschema import DecodeError, EventCodec
from eventschema.entry import KAFKA
from eventschema.sink_query import SinkQueryError

log = logging.getLogger(__name__)
RESOLVE_RETRY = 1.0
MAX_MESSAGES = 500  # per poll


class Worker:
    """The uploader's runtime: a source, a ConversionsHandler and one uploader per platform."""

    def __init__(
        self,
        config: ConversionsConfig,
        source: UploaderSource,
        platforms: list[Platform],
        ledger: Ledger,
        dead_letters: DeadLetters,
        resolver: Resolver,
        watch: SinkWatch,
        periods: dict[str, Period] | None = None,
        suppressions: SuppressionReader | None = None,
    ) -> None:
        http = httpx.Client(timeout=config.request_timeout)
        self.results = Results(dead_letters, ledger)
        self.uploaders = {
            p.name: PlatformUploader(p, config, http, ledger, self.results) for p in platforms
        }
        metrics.export_totals(list(self.uploaders), lambda: dict(ledger.totals))
        consumer = source.consumer(config.kafka)
        handler = ConversionsHandler(config, source, self.uploaders, ledger, self.results,
                                     resolver, watch, http, periods or {},
                                     suppressions=suppressions)  # fmt: skip
        # Dry runs leave no trace; a replay reads the DLQ from the start each time.
        committing = source.commits and not config.dry_run
        committer = Committer(consumer, config.commit_interval, enabled=committing)
        self.runtime = Runtime(source, consumer, handler, committer, MAX_MESSAGES)
        self.stop = self.runtime.stop

    @property
    def last_iteration(self) -> float:
        return self.runtime.last_iteration

    def run(self) -> Summary:
        self.runtime.run()
        return self.results.summary


@dataclass
class ConversionsHandler:
    config: ConversionsConfig
    source: UploaderSource
    uploaders: dict[str, PlatformUploader]
    ledger: Ledger
    results: Results
    resolver: Resolver
    watch: SinkWatch
    http: httpx.Client
    periods: dict[str, Period]  # platform -> the purchases this run sends (periods.py)
    codec: EventCodec = field(default_factory=EventCodec)
    suppressions: SuppressionReader | None = None  # erased persons: never uploaded
    items: dict[int, dict[int, Item]] = field(default_factory=dict)  # partition -> offset -> item
    last_seen: dict[int, int] = field(default_factory=dict)
    _ends: dict[int, int] | None = field(default=None, init=False)  # events' ends, per poll

    # -- records ---------------------------------------------------------------------------------

    def before_poll(self) -> None:
        self.ledger.refresh()
        self._ends = None
        if self.suppressions is not None and self.suppressions.refresh():
            self._erase_pending()

    def backlogged(self) -> bool:
        return sum(len(items) for items in self.items.values()) >= self.config.max_pending

    def handle(self, message: Message) -> None:
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None  # runtime.kafka.usable
        if offset <= self.last_seen.get(partition, -1):
            return  # prefetched again after a rebalance
        self.last_seen[partition] = offset
        headers = {p[0]: p[1] for p in message.headers() or [] if isinstance(p[1], bytes)}
        wanted = self.source.wanted(headers, list(self.uploaders))
        if not wanted:
            return
        self.results.summary.read += 1
        try:
            record = self.codec.decode(message.value() or b"")
            conversion = from_record(record, self.config.default_currency)
        except (DecodeError, KeyError, ValueError) as failure:
            self.results.dead_letters.send(message, "*", "decode_error", str(failure), "")
            return
        if not self._trusted(record):
            return
        tasks = self._tasks(wanted, conversion)
        if self._erased(conversion):
            self._skip_erased(tasks.values())
        item = Item(message, partition, offset, conversion, time.monotonic(), self._event_ends(),
                    tasks)  # fmt: skip
        if not item.done:
            self.items.setdefault(partition, {})[offset] = item

    def _tasks(self, wanted: list[str], conversion: Conversion) -> dict[str, Task]:
        tasks: dict[str, Task] = {}
        for name in wanted:
            account = self.uploaders[name].platform.account
            task = Task(name, key(name, account, conversion.order_id))
            metrics.SEEN.labels(name).inc()
            period = self.periods.get(name)
            if self.ledger.done(task.ledger_key):
                self.results.duplicate(task, "ledger")
            elif period is not None and not period.holds(conversion.at):
                self.results.skipped(task, period.reason)
            tasks[name] = task
        return tasks

    def _trusted(self, record: dict[str, Any]) -> bool:
        """Whether the body says a trusted way sent it (records from before Avro v3: kafka)."""
        entry = record.get("entry") or KAFKA
        if entry in self.config.trusted_entries:
            return True
        self.results.refused("untrusted_entry")
        log.warning("refused %s: %r from entry %s is not trusted", record.get("message_id"),
                    record.get("event"), entry)  # fmt: skip
        return False

    def _event_ends(self) -> dict[int, int]:
        if self._ends is None:
            try:
                self._ends = self.watch.end_offsets()
            except KafkaException as error:
                log.warning("reading events end offsets failed: %s", error)
                self._ends = {}
        return self._ends

    # -- resolution and uploads ------------------------------------------------------------------

    def after_poll(self, now: float) -> None:
        for item in list(self._items()):
            if not item.resolved and item.resolve_at <= now:
                self._resolve(item, now)
        for uploader in self.uploaders.values():
            uploader.flush(self._items(), now)
        self._forget_done()

    def _items(self) -> Iterator[Item]:
        for items in self.items.values():
            yield from items.values()

    def _resolve(self, item: Item, now: float) -> None:
        waited = now - item.read_at
        if not self.watch.caught_up(item.ends):
            if waited < self.config.sink_wait_seconds:
                return
            metrics.SINK_WAIT_TIMEOUTS.inc()
            log.warning("sink not caught up after %.0fs; resolving %s with what is there",
                        waited, item.conversion.order_id)  # fmt: skip
        metrics.SINK_WAIT.observe(waited)
        try:
            match = self.resolver.resolve(item.conversion)
        except SinkQueryError as error:
            log.warning("resolving %s failed: %s", item.conversion.order_id, error)
            item.resolve_at = now + RESOLVE_RETRY
            return
        item.resolved = True
        self._build(item, match, now)

    def _build(self, item: Item, match: Match, now: float) -> None:
        if self._erased(item.conversion, match.person_user_ids):
            self._skip_erased(item.tasks.values())
        moment = datetime.now(UTC)
        for task in item.tasks.values():
            if task.done:
                continue
            built = self.uploaders[task.platform].platform.build(item.conversion, match, moment)
            if built.payload is not None:
                task.payload, task.ready_at = built.payload, now
            elif built.skip:
                self.results.skipped(task, built.skip)
            else:
                self.results.dead(item, task, built.dead, built.detail)

    # -- erasure (eventschema/suppressions.py) --------------------------------------------------

    def _erased(self, conversion: Conversion, person_user_ids: list[str] | None = None) -> bool:
        """Whether the purchase is of a suppressed person (by its own ids, or the user ids its
        resolution found)."""
        if self.suppressions is None:
            return False
        erased = self.suppressions.list
        if erased.covers(conversion.user_id, conversion.anonymous_id):
            return True
        return any(user in erased.users for user in person_user_ids or ())

    def _skip_erased(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            if not task.done:
                self.results.skipped(task, "erased")

    def _erase_pending(self) -> None:
        """A new request: purchases read but not uploaded yet are never sent."""
        for item in self._items():
            if not item.done and self._erased(item.conversion):
                self._skip_erased(item.tasks.values())

    def _forget_done(self) -> None:
        oldest: float | None = None
        for items in self.items.values():
            for offset in [o for o, item in items.items() if item.done]:
                del items[offset]
            for item in items.values():
                oldest = item.read_at if oldest is None else min(oldest, item.read_at)
        metrics.OLDEST_PENDING.set(0 if oldest is None else time.monotonic() - oldest)

    # -- offsets, rebalance, end -----------------------------------------------------------------

    def committable(self, partitions: list[Key] | None) -> dict[Key, int]:
        """Per partition: the lowest record with an unfinished task, else the one after the
        last record read."""
        chosen = list(self.last_seen) if partitions is None else [p for _, p in partitions]
        topic = self.config.topics.events
        out: dict[Key, int] = {}
        for partition in chosen:
            pending = self.items.get(partition)
            seen = self.last_seen.get(partition)
            if pending:
                out[(topic, partition)] = min(pending)
            elif seen is not None:
                out[(topic, partition)] = seen + 1
        return out

    def assigned(self, partitions: list[Key]) -> None:
        log.info("assigned %s", [p for _, p in partitions])

    def revoking(self, _partitions: list[Key]) -> None:
        return  # nothing is half-written: unfinished records are re-read by the next owner

    def forget(self, partitions: list[Key]) -> None:
        for _, p in partitions:  # the next owner re-reads them; the ledger keeps them single
            self.items.pop(p, None)
            self.last_seen.pop(p, None)

    def finished(self) -> bool:
        return self.source.exhausted(self.last_seen) and not any(self.items.values())

    def drain(self) -> None:
        return

    def close(self) -> None:
        self.http.close()
