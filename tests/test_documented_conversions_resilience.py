"""README "Conversions to Meta and Google Ads": the per-platform circuit breaker (opens after
FOOTFALL_CONVERSIONS_BREAKER_FAILURES failed requests, lets one probe through after
_BREAKER_RESET_SECONDS, metric footfall_conversions_breaker_state 0/1/2), the give-up after
_GIVE_UP_SECONDS (dead letter `retries_exhausted`), and the wait for the sink before resolving
(footfall_conversions_sink_wait_seconds, _sink_wait_timeouts). Real broker, sink (chDB) and
uploader subprocess; only Meta is a fake (adfakes), scripted with faults."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adfakes import FakeMeta, Fault
from adfakes.base import Reply, Request
from adfakes.harness import META_PIXEL, META_TOKEN, UploaderProcess
from eventschema import Event
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import header, read_all
from tests.support.metrics import sample
from tests.support.sink import Sink, produce

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


class TimedMeta(FakeMeta):
    """FakeMeta that notes when each upload arrives and when it was answered."""

    def __init__(self) -> None:
        super().__init__({META_PIXEL: META_TOKEN})
        self.arrivals: list[float] = []
        self.answered: list[float] = []

    def serve(self, request: Request) -> tuple[Reply | None, float]:
        if request.method == "POST":
            self.arrivals.append(time.monotonic())
        try:
            return super().serve(request)
        finally:
            if request.method == "POST":
                self.answered.append(time.monotonic())


@pytest.fixture
def meta() -> Iterator[TimedMeta]:
    fake = TimedMeta()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def purchase_with_visit(order: str) -> tuple[list[Event], str]:
    """A visit from a Meta ad (fbclid) and, an hour later, the purchase; the expected fbc."""
    now = datetime.now(UTC).replace(microsecond=0)
    landed = now - timedelta(hours=1)
    anon = f"anon-{uuid.uuid4().hex[:8]}"
    fbclid = f"FB-{order}"
    visit = Event(message_id=str(uuid.uuid4()), type="page", timestamp=landed,
                  received_at=landed, anonymous_id=anon,
                  context={"page": {"url": f"https://shop.test/?fbclid={fbclid}"},
                           "userAgent": UA, "ip": "203.0.113.7"})  # fmt: skip
    bought = Event(message_id=str(uuid.uuid4()), type="track", timestamp=now, received_at=now,
                   anonymous_id=anon, event="Order Completed", source="http",
                   properties={"order_id": order, "revenue": 10.0, "currency": "EUR"})  # fmt: skip
    return [visit, bought], f"fb.1.{int(landed.timestamp() * 1000)}.{fbclid}"


def metric(worker: UploaderProcess, name: str, labels: str = "") -> float:
    return sample(worker.metrics(), f"footfall_conversions_{name}{labels}")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def uploader(bootstrap: str, prefix: str, sink_url: str, tmp_path: Path, meta: FakeMeta,
             **extra: str) -> UploaderProcess:  # fmt: skip
    return UploaderProcess(bootstrap, prefix, sink_url, tmp_path, meta, None, extra)


def uploaded_fbc(meta: FakeMeta, order: str) -> str:
    events = [e for e in meta.events() if e["custom_data"].get("order_id") == order]
    assert len(events) == 1, meta.events()
    fbc: str = events[0]["user_data"].get("fbc", "")
    return fbc


def test_the_breaker_opens_after_n_failures_probes_once_per_reset_and_closes_on_success(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, sink: Sink, meta: TimedMeta
) -> None:
    failures, reset = 3, 2.0
    # Three failed requests open it; the first probe fails too (open again at once); the second
    # probe is slow and succeeds: half-open while it runs, closed after.
    meta.script(FakeMeta.server_error(), times=failures + 1)
    meta.script(Fault.slow(2.0))
    events, _ = purchase_with_visit("ord-breaker")
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta,
                      FOOTFALL_CONVERSIONS_BREAKER_FAILURES=str(failures),
                      FOOTFALL_CONVERSIONS_BREAKER_RESET_SECONDS=str(reset),
                      FOOTFALL_CONVERSIONS_REQUEST_TIMEOUT="10",  # the slow probe is answered
                      FOOTFALL_CONVERSIONS_RETRY_BASE="0.05",
                      FOOTFALL_CONVERSIONS_RETRY_CAP="0.2")  # fmt: skip
    gauge: list[tuple[float, float]] = []  # (time, breaker_state) sampled all along
    stop = threading.Event()

    def watch_gauge() -> None:
        while not stop.is_set():
            try:
                value = metric(worker, "breaker_state", '{platform="meta"}')
            except Exception:  # not started yet / stopping
                value = -1.0
            gauge.append((time.monotonic(), value))
            time.sleep(0.05)

    worker.start()
    sampler = threading.Thread(target=watch_gauge)
    sampler.start()
    try:
        wait_for(lambda: bool(meta.events()), 60, "the upload after the breaker closed")
        wait_for(lambda: metric(worker, "breaker_state", '{platform="meta"}') == 0.0, 10,
                 "the breaker to close")  # fmt: skip
        # Stop the sampler only once it saw the close itself: else its last sample may be the
        # half-open 1.0 read just before (fails about half the time when metric reads are fast).
        wait_for(lambda: bool(gauge) and gauge[-1][1] == 0.0, 10, "the sampler to see it closed")
        retried = metric(worker, "retried_total", '{platform="meta",reason="meta_2"}')
    finally:
        stop.set()
        sampler.join(10)
        worker.stop()

    arrivals = meta.arrivals
    assert len(arrivals) == failures + 2, arrivals  # 3 failures, 1 failed probe, 1 good probe
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # Closed: retries come after the short backoff (cap 0.2 s), well inside the reset time.
    assert all(gap < reset for gap in gaps[: failures - 1]), gaps
    # Open: nothing for the reset time after the third failure, and again after the failed probe.
    assert gaps[failures - 1] >= reset - 0.05, gaps
    assert gaps[failures] >= reset - 0.05, gaps
    assert retried == failures + 1

    def seen(value: float, start: float, end: float) -> bool:
        return any(v == value for t, v in gauge if start <= t <= end)

    opened_at, probe_at, good_probe_at = arrivals[failures - 1], arrivals[failures], arrivals[-1]
    assert seen(2.0, opened_at, probe_at), gauge  # open between the 3rd failure and the probe
    assert seen(1.0, good_probe_at + 0.2, meta.answered[-1] - 0.2), gauge  # probing: half-open
    assert gauge[-1][1] in (0.0, -1.0) and seen(0.0, meta.answered[-1], gauge[-1][0]), gauge


def test_an_upload_that_keeps_failing_is_dead_lettered_after_the_give_up_time(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, sink: Sink, meta: TimedMeta
) -> None:
    give_up = 1.5
    meta.script(FakeMeta.server_error(), times=10_000)
    events, _ = purchase_with_visit("ord-give-up")
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = uploader(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta,
                      FOOTFALL_CONVERSIONS_GIVE_UP_SECONDS=str(give_up),
                      FOOTFALL_CONVERSIONS_BREAKER_FAILURES="1000",
                      FOOTFALL_CONVERSIONS_RETRY_BASE="0.1",
                      FOOTFALL_CONVERSIONS_RETRY_CAP="0.3")  # fmt: skip
    dlq = f"{topic_prefix}conversions_dlq"
    worker.start()
    try:
        wait_for(lambda: bool(read_all(kafka_bootstrap, dlq, timeout=1)), 60, "the dead letter")
        gave_up = time.monotonic()
        requests = len(meta.arrivals)
        # Offsets move past it: the uploader is not stuck on a conversion it gave up.
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        dead = metric(worker, "dead_lettered_total",
                      '{platform="meta",reason="retries_exhausted"}')  # fmt: skip
        assert len(meta.arrivals) == requests  # no more attempts once given up
    finally:
        worker.stop()
        meta.clear_faults()

    (letter,) = read_all(kafka_bootstrap, dlq)
    assert header(letter, "platform") == b"meta"
    assert header(letter, "reason") == b"retries_exhausted"
    assert header(letter, "order_id") == b"ord-give-up"
    assert b"meta_2" in header(letter, "detail")  # the last error, for whoever replays it
    assert dead == 1.0
    assert meta.events() == []
    first = meta.arrivals[0]
    assert meta.arrivals[-1] - first >= give_up, meta.arrivals  # kept trying for that long ...
    assert requests >= 3 and gave_up - first < give_up + 10  # ... then stopped


def test_the_uploader_waits_for_the_sink_before_it_resolves_a_purchase(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, meta: TimedMeta
) -> None:
    events, fbc = purchase_with_visit("ord-waits")
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)  # not running yet
    sink.write_key_file()
    worker = uploader(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta)
    worker.start()
    try:
        wait_for(lambda: metric(worker, "seen_total", '{platform="meta"}') == 1.0, 60,
                 "the purchase to be read")  # fmt: skip
        read_at = time.monotonic()
        # Read, but not resolved: the sink's group has not committed past the purchase.
        assert metric(worker, "sink_wait_seconds_count") == 0.0
        assert meta.arrivals == []
        sink.start()
        wait_for(lambda: bool(meta.events()), 90, "the upload once the sink caught up")
        waited = metric(worker, "sink_wait_seconds_sum")
        timeouts = metric(worker, "sink_wait_timeouts_total")
        started_sink_took = time.monotonic() - read_at
    finally:
        worker.stop()
        if sink.proc is not None:
            sink.stop()

    # Resolved from what the sink stored after the wait: the visit's click is matched.
    assert uploaded_fbc(meta, "ord-waits") == fbc
    assert timeouts == 0.0
    assert 1.0 <= waited <= started_sink_took + 5, (waited, started_sink_took)


def test_the_sink_wait_is_bounded_and_counted_as_a_timeout(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, sink: Sink, meta: TimedMeta
) -> None:
    events, fbc = purchase_with_visit("ord-timeout")
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", f"{topic_prefix}events")
    limit = 2.0
    # A sink group that never commits: the uploader waits FOOTFALL_CONVERSIONS_SINK_WAIT_SECONDS,
    # then resolves with what is there (the real sink has stored the visit).
    worker = uploader(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta,
                      FOOTFALL_SINK_GROUP=f"{topic_prefix}no-such-sink",
                      FOOTFALL_CONVERSIONS_SINK_WAIT_SECONDS=str(limit))  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: bool(meta.events()), 60, "the upload after the bounded wait")
        values: dict[str, Any] = {
            "timeouts": metric(worker, "sink_wait_timeouts_total"),
            "waited": metric(worker, "sink_wait_seconds_sum"),
            "count": metric(worker, "sink_wait_seconds_count"),
        }
    finally:
        worker.stop()
    assert values["timeouts"] == 1.0, values
    assert values["count"] == 1.0 and limit <= values["waited"] < limit + 5, values
    assert uploaded_fbc(meta, "ord-timeout") == fbc
