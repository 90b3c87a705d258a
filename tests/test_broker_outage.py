"""The broker stops while clients send: 503, never a 2xx for an event Kafka did not store."""

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footfall.topics import ensure_topics
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.local_kafka import start_broker
from tests.support.sink import Sink

DELIVERY_TIMEOUT = 4.0


@dataclass
class SendLog:
    acked: set[str] = field(default_factory=set)
    batches: dict[str, tuple[float, float]] = field(default_factory=dict)  # first id -> times
    statuses: list[tuple[float, int, float]] = field(default_factory=list)  # (sent, status, secs)


def _send_until(url: str, stop: threading.Event, log: SendLog) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            ids = [str(uuid.uuid4()) for _ in range(20)]
            body = {"batch": [{"type": "track", "event": "Heartbeat", "messageId": m,
                               "anonymousId": m[:6]} for m in ids]}  # fmt: skip
            started = time.monotonic()
            try:
                status = client.post(f"{url}/v1/batch", json=body, auth=(WRITE_KEY, "")).status_code
            except httpx.HTTPError:
                status = -1
            log.statuses.append((started, status, time.monotonic() - started))
            if status == 200:
                log.acked.update(ids)
                for m in ids:
                    log.batches[m] = (started, time.monotonic())
            time.sleep(0.05)


def test_broker_outage_gives_503_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    broker = start_broker(tmp_path / "kafka")
    prefix = "outage_"
    api = ApiServer(broker.bootstrap, prefix, tmp_path, delivery_timeout=DELIVERY_TIMEOUT)
    sink = Sink(broker.bootstrap, prefix, tmp_path, batch_size=500)
    stop = threading.Event()
    log = SendLog()
    try:
        ensure_topics(broker.bootstrap, prefix)
        api.start()
        sink.start()
        sender = threading.Thread(target=_send_until, args=(api.url, stop, log))
        sender.start()
        time.sleep(3)
        down_at = time.monotonic()
        broker.stop()
        time.sleep(15)
        up_at = time.monotonic()
        broker.start()
        broker.wait_ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum(1 for sent, status, _ in log.statuses if sent > up_at and status == 200) >= 20:
                break
            time.sleep(0.5)
        stop.set()
        sender.join(60)

        during = [
            (status, secs) for sent, status, secs in log.statuses if down_at + 1 < sent < up_at
        ]
        assert during, "no request was sent while the broker was down"
        assert {status for status, _ in during} == {503}
        assert max(secs for _, secs in during) < DELIVERY_TIMEOUT + 3
        statuses = {status for _, status, _ in log.statuses}
        assert statuses <= {200, 503}, statuses
        after = [status for sent, status, _ in log.statuses if sent > up_at]
        assert after and after[-1] == 200, "sending did not resume after the broker returned"

        # Events answered 503 may still have been stored ("possibly persisted"), so a row count
        # says nothing about which ones arrived: wait until the sink consumed the whole topic.
        wait_group_caught_up(broker.bootstrap, f"{prefix}sink", f"{prefix}events")
        final, distinct, _raw = sink.wait_rows(len(log.acked), timeout=120)
        assert final == distinct
        stored = sink.query("SELECT message_id FROM events FINAL").text.split()
        missing = log.acked - set(stored)
        when = sorted((log.batches[m][0] - down_at, log.batches[m][1] - down_at) for m in missing)
        assert not missing, (
            f"{len(missing)} acknowledged events are not stored; (sent, answered) seconds after "
            f"the broker stop: {when[:5]}; broker back at {up_at - down_at:.1f}"
        )
    finally:
        stop.set()
        api.stop()
        if sink.proc is not None:
            sink.stop()
        broker.stop()
