"""Issue 12, point 3, what runs on this machine: two conversions uploaders in one consumer group
share the `events` partitions. A second uploader joining takes over some partitions (rebalance
seen in both logs); the SIGKILL of one hands its partitions back to the other. Every order is
uploaded to (fake) Meta exactly once throughout. Real broker, sink (chDB) and uploader processes."""

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adfakes.harness import META_PIXEL, META_TOKEN, UploaderProcess
from adfakes.meta import FakeMeta
from eventschema import Event
from tests.support.load import wait_until
from tests.support.sink import Sink, produce


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    fake = FakeMeta({META_PIXEL: META_TOKEN})
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def orders(run: str, count: int) -> tuple[list[Event], list[str]]:
    """Purchases, each after a visit from a Meta ad (an fbclid to match on), on many visitors so
    that they spread over the partitions."""
    now = datetime.now(UTC).replace(microsecond=0)
    events, ids = [], []
    for i in range(count):
        anon, order = f"anon-{uuid.uuid4().hex[:10]}", f"{run}-{i}"
        landed = now - timedelta(hours=1)
        events.append(Event(message_id=str(uuid.uuid4()), type="page", timestamp=landed,
                            received_at=landed, anonymous_id=anon,
                            context={"page": {"url": f"https://shop.test/?fbclid=FB{order}"},
                                     "ip": "203.0.113.7"}))  # fmt: skip
        events.append(Event(message_id=str(uuid.uuid4()), type="track", timestamp=now,
                            received_at=now, anonymous_id=anon, event="Order Completed",
                            source="http", properties={"order_id": order, "revenue": 10.0,
                                                       "currency": "EUR"}))  # fmt: skip
        ids.append(order)
    return events, ids


def log_text(worker: UploaderProcess) -> str:
    return "".join(p.read_text() for p in worker.data_dir.glob("conversions-*.log"))


def uploaded_once(meta: FakeMeta, wanted: list[str]) -> bool:
    counts = Counter(meta.order_ids())
    assert all(counts[o] <= 1 for o in wanted), [o for o in wanted if counts[o] > 1]
    return all(counts[o] == 1 for o in wanted)


def test_two_uploaders_share_the_partitions_and_upload_each_order_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, meta: FakeMeta
) -> None:
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path)
    sink.start()
    other = tmp_path / "second"  # its own logs; the same read key for the sink
    shutil.copytree(tmp_path / "secrets", other / "secrets")
    workers = [
        UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, data, meta, None,
                        {"FOOTFALL_CONVERSIONS_INSTANCE_ID": f"{topic_prefix}uploader-{n}"})
        for n, data in ((1, tmp_path), (2, other))
    ]  # fmt: skip
    first, second = workers
    topic = f"{topic_prefix}events"
    try:
        first.start()
        events, wanted = orders("alone", 12)
        produce(kafka_bootstrap, topic, events)
        wait_until(lambda: uploaded_once(meta, wanted), "first uploader alone", 120)

        second.start()  # joins the group: the partitions are shared out again
        wait_until(lambda: "assigned [" in log_text(second) and "revoked [" in log_text(first),
                   "no rebalance when the second uploader joined", 90)  # fmt: skip
        print("joined:", [ln for ln in log_text(second).splitlines() if "assigned" in ln][-1:])
        events, more = orders("shared", 24)
        produce(kafka_bootstrap, topic, events)
        wanted += more
        wait_until(lambda: uploaded_once(meta, wanted), "two uploaders", 120)

        assigned_before = log_text(first).count("assigned [")
        second.kill()  # its partitions go back to the first after the session timeout
        events, more = orders("after-kill", 12)
        produce(kafka_bootstrap, topic, events)
        wanted += more
        wait_until(lambda: log_text(first).count("assigned [") > assigned_before,
                   "the survivor did not take over the partitions", 120)  # fmt: skip
        wait_until(lambda: uploaded_once(meta, wanted), "after the kill", 120)
        assert sorted(meta.order_ids()) == sorted(wanted)  # nothing else, nothing twice
    finally:
        for worker in workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.proc.terminate()
                worker.proc.wait(60)
        sink.stop()
