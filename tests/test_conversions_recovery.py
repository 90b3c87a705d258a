"""A SIGKILLed uploader, restarted, gets its partitions back within seconds (static group
membership: the default instance id is the group and host name, stable across restarts), with
every order still delivered exactly once; and the totals an operator graphs (the ledger's
footfall_conversions_ledger_orders) do not drop on a restart, while the process counters do.
Real broker, sink (chDB) and uploader subprocess; the ad platforms are the fakes."""

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adfakes import FakeGoogleAds, FakeMeta, Fault
from adfakes.harness import UploaderProcess
from eventschema import Event
from tests.support.consumed import wait_group_caught_up
from tests.support.metrics import sample
from tests.support.sink import Sink, produce
from tests.test_conversions_upload import dead_letters, ev, purchase, visit, wait_for


def orders(run: str, first: int, count: int) -> tuple[list[str], list[Event]]:
    now = datetime.now(UTC)
    names = [f"{run}-{i}" for i in range(first, first + count)]
    events: list[Event] = []
    for order in names:
        anon = f"v-{order}"
        events += [
            visit(anon, now - timedelta(hours=1), f"G-{order}", f"F-{order}"),
            ev("identify", now - timedelta(minutes=30), anonymous_id=anon,
               traits={"email": f"{order}@example.com"}),
            purchase(order, now - timedelta(minutes=1), anonymous_id=anon),
        ]  # fmt: skip
    return names, events


def totals(worker: UploaderProcess, platform: str) -> tuple[float, float]:
    """(the ledger's uploaded orders, this process's uploaded counter)."""
    text = worker.metrics()
    ledger = f'footfall_conversions_ledger_orders{{outcome="uploaded",platform="{platform}"}}'
    counter = f'footfall_conversions_uploaded_total{{platform="{platform}"}}'
    return sample(text, ledger), sample(text, counter)


def assigned_after(log: Path, started: float, timeout: float) -> float:
    """Seconds from `started` until the uploader logged its first non-empty assignment."""
    while not re.search(r"assigned \[\d", log.read_text(errors="replace")):
        assert time.monotonic() - started < timeout, f"no assignment in {log}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_sigkilled_uploader_recovers_in_seconds_and_its_totals_survive_restarts(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    run = uuid.uuid4().hex[:6]
    first, events = orders(run, 0, 8)
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta, google)
    worker.start()
    try:
        wait_for(lambda: len(meta.order_ids()) == 8 and len(google.order_ids()) == 8, 90, "8")
        wait_for(lambda: totals(worker, "meta") == (8, 8), 30, "the ledger totals")
        # SIGKILL in the middle of the next Meta upload.
        second, events = orders(run, 8, 8)
        meta.script(Fault.slow(3.0))
        produce(kafka_bootstrap, f"{topic_prefix}events", events)
        wait_for(lambda: meta.in_flight > 0, 60, "the slow Meta upload")
        worker.kill()
        started = time.monotonic()
        worker.start()
        log = tmp_path / f"conversions-{worker.starts}.log"
        took = assigned_after(log, started, 120)
        print(f"partitions back {took:.1f}s after the restart of a SIGKILLed uploader", flush=True)
        wait_for(lambda: len(meta.order_ids()) == 16 and len(google.order_ids()) == 16, 90, "16")
        delivered = time.monotonic() - started
        print(f"every order delivered {delivered:.1f}s after the restart", flush=True)
        # Well below the 45 s a dead member's session takes to expire (dynamic membership).
        assert took < 30, took
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        ledger, counter = totals(worker, "google")
        assert ledger == 16 and counter <= 8, (ledger, counter)  # the counter restarted
        # A clean restart with nothing new: the totals are there at once, not 0.
        worker.stop()
        worker.start()
        assert totals(worker, "google") == (16, 0)
        assert totals(worker, "meta")[0] == 16
    finally:
        worker.stop()
    assert sorted(meta.order_ids()) == sorted(first + second)
    assert sorted(google.order_ids()) == sorted(first + second)
    assert dead_letters(kafka_bootstrap, topic_prefix) == []
