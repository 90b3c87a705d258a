"""The broker stops while clients send: 503, never a 2xx for an event Kafka did not store."""

import threading
import time
import uuid
from collections.abc import Callable
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
    refusals: list[tuple[str, str]] = field(default_factory=list)  # 503s: (code, Retry-After)


def _send_until(url: str, stop: threading.Event, log: SendLog) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            ids = [str(uuid.uuid4()) for _ in range(20)]
            body = {"batch": [{"type": "track", "event": "Heartbeat", "messageId": m,
                               "anonymousId": m[:6]} for m in ids]}  # fmt: skip
            started = time.monotonic()
            try:
                answer = client.post(f"{url}/v1/batch", json=body, auth=(WRITE_KEY, ""))
                status = answer.status_code
                if status == 503:
                    code = str(answer.json().get("code"))
                    log.refusals.append((code, answer.headers.get("retry-after", "")))
            except httpx.HTTPError:
                status = -1
            log.statuses.append((started, status, time.monotonic() - started))
            if status == 200:
                log.acked.update(ids)
                for m in ids:
                    log.batches[m] = (started, time.monotonic())
            time.sleep(0.05)


def _count(log: SendLog, status: int, after: float) -> int:
    return sum(1 for sent, got, _ in list(log.statuses) if sent > after and got == status)


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


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
        wait_until(lambda: _count(log, 200, after=0.0) >= 10, "no 200 before the outage")
        down_at = time.monotonic()
        broker.stop()
        # The outage lasts until several requests were answered 503 (not a fixed time).
        wait_until(lambda: _count(log, 503, after=down_at + 1) >= 3, "no 503 during the outage")
        ready_while_down = httpx.get(f"{api.url}/readyz", timeout=30).status_code
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

        # Requests sent and answered while the broker was down; one that was still waiting when
        # the broker returned may rightly be acknowledged (200).
        during = [
            (status, secs)
            for sent, status, secs in log.statuses
            if down_at + 1 < sent and sent + secs < up_at
        ]
        assert during, "no request was sent and answered while the broker was down"
        assert all(status == 503 for status, _ in during), during
        # The documented contract: answered within the delivery timeout + 1 s (a little slack
        # for a busy 2-core machine), as kafka_unavailable with a Retry-After to honour.
        assert max(secs for _, secs in during) < DELIVERY_TIMEOUT + 2
        assert log.refusals and all(code == "kafka_unavailable" for code, _ in log.refusals)
        assert all(after.isdigit() and int(after) >= 1 for _, after in log.refusals)
        assert ready_while_down == 503
        statuses = {status for _, status, _ in log.statuses}
        assert statuses <= {200, 503}, statuses
        after = [status for sent, status, _ in log.statuses if sent > up_at]
        assert after and after[-1] == 200, "sending did not resume after the broker returned"

        # Events answered 503 may still have been stored ("possibly persisted"), so a row count
        # says nothing about which ones arrived: wait until the sink consumed the whole topic.
        try:
            wait_group_caught_up(broker.bootstrap, f"{prefix}sink", f"{prefix}events")
        except TimeoutError as error:  # seen once in a full run: say what the sink was doing
            raise AssertionError(f"{error}\n{_sink_state(sink)}") from None
        sink.wait_rows(len(log.acked), timeout=120)
        # No acknowledged event stored twice by the sink or by producer retries (raw rows).
        raw, distinct = sink.scalar_row("SELECT count(), uniqExact(message_id) FROM events")
        assert raw == distinct, (raw, distinct)
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


def _sink_state(sink: Sink) -> str:
    """The sink's stored offsets per partition and the last lines of its log, for a failure
    message."""
    stored = sink.query(
        "SELECT kafka_partition, max(kafka_offset) FROM events GROUP BY 1 ORDER BY 1"
    ).text.replace("\n", " ")
    log = sink.data_dir / f"sink-{sink.starts}.log"
    noise = ("HTTP/", "Connection refused")  # requests, and the outage's reconnect attempts
    lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if not any(word in line for word in noise)
    ]
    return f"stored max offsets: {stored}\nsink log:\n" + "\n".join(lines[-60:])
