"""footfall_sdk.Client against the real API subprocess, Kafka and the ClickHouse sink (chDB).

The retry tests put a small local HTTP stand-in in front of the real API: it answers 503/429
with Retry-After a scripted number of times, then forwards to the API unchanged. It stands in
for a load balancer, not for Kafka or ClickHouse, which stay real.
"""

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from footfall_sdk import Client
from footfall_sdk.retry import RetryPolicy, parse_retry_after
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.sink import Sink

FAST_RETRY = RetryPolicy(max_retries=30, base_seconds=0.2, max_seconds=1.0)


class FrontProxy:
    """Answers the scripted (status, Retry-After, delay) steps in order, then forwards."""

    def __init__(self, target: str, script: list[tuple[int, str | None]], delay: float = 0.0):
        self.target = target
        self.script = list(script)
        self.delay = delay
        self.seen: list[tuple[float, dict[str, Any]]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.seen.append((time.monotonic(), orjson.loads(body)))
                time.sleep(proxy.delay)
                if proxy.script:
                    status, retry_after = proxy.script.pop(0)
                    self._answer(status, b'{"success":false,"code":"busy"}', retry_after)
                    return
                answer = httpx.post(
                    proxy.target + self.path,
                    content=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                self._answer(answer.status_code, answer.content, None)

            def _answer(self, status: int, body: bytes, retry_after: str | None) -> None:
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def message_ids(self) -> list[list[str]]:
        return [[m["messageId"] for m in body["batch"]] for _, body in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rows(sink: Sink, sql: str) -> list[list[str]]:
    response = sink.query(sql)
    assert response.status_code == 200, response.text
    return [line.split("\t") for line in response.text.splitlines()]


def test_the_six_calls_land_in_clickhouse(api: ApiServer, sink: Sink) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    client = Client(WRITE_KEY, api.url, register_atexit=False)
    assert client.track("Order Completed", {"revenue": 12.5}, user_id=user)
    assert client.identify(user, {"plan": "pro"})
    assert client.page("Home", {"url": "https://shop.test/?utm_source=news"}, user_id=user)
    assert client.screen("Settings", user_id=user)
    assert client.group("acme", {"seats": 5}, user_id=user)
    assert client.alias(f"{user}-anon", user)
    assert client.flush(30)
    assert client.shutdown() == 0
    assert client.stats.delivered == 6

    sink.wait_rows(6)
    rows = _rows(
        sink,
        "SELECT type, event, name, group_id, previous_id, library_name, source, utm_source "
        f"FROM events FINAL WHERE user_id = '{user}' ORDER BY type",
    )
    assert [r[0] for r in rows] == ["alias", "group", "identify", "page", "screen", "track"]
    assert rows[5][1] == "Order Completed"
    assert (rows[3][2], rows[4][2]) == ("Home", "Settings")
    assert rows[1][3] == "acme"
    assert rows[0][4] == f"{user}-anon"
    assert {r[5] for r in rows} == {"footfall-sdk-python"}
    assert {r[6] for r in rows} == {"http"}
    assert rows[3][7] == "news"


def test_retries_through_503_and_429_with_the_same_message_ids(api: ApiServer, sink: Sink) -> None:
    proxy = FrontProxy(api.url, [(503, "1"), (429, "1")])
    # Only flush() releases the batch, so all 40 go in one request even if the loop stalls
    # longer than the default 0.5 s flush interval on a loaded machine.
    client = Client(
        WRITE_KEY, proxy.url, batch_size=500, flush_interval=60, retry=FAST_RETRY,
        register_atexit=False,
    )  # fmt: skip
    try:
        for i in range(40):
            client.track("Retried", {"i": i}, anonymous_id=f"visitor-{i % 7}")
        assert client.flush(30)
    finally:
        client.shutdown()
        proxy.close()

    ids = proxy.message_ids()
    assert len(ids) == 3 and ids[0] == ids[1] == ids[2] and len(set(ids[0])) == 40
    times = [t for t, _ in proxy.seen]
    assert times[1] - times[0] >= 1.0 and times[2] - times[1] >= 1.0  # Retry-After honoured
    assert client.stats.delivered == 40 and client.stats.failed == 0
    final, distinct, _raw = sink.wait_rows(40)
    assert (final, distinct) == (40, 40)
    stored = _rows(sink, "SELECT message_id FROM events FINAL ORDER BY message_id")
    assert sorted(r[0] for r in stored) == sorted(ids[0])


def test_a_client_started_before_the_api_delivers_once_it_is_up(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, sink: Sink
) -> None:
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)  # not started yet: refused
    client = Client(WRITE_KEY, api.url, retry=FAST_RETRY, register_atexit=False)
    try:
        for i in range(25):
            client.track("Early", {"i": i}, anonymous_id="early-bird")
        assert not client.flush(1.5)  # connection refused, still retrying
        api.start()
        assert client.flush(30)
    finally:
        client.shutdown()
        api.stop()
    assert client.stats.delivered == 25
    assert sink.wait_rows(25)[:2] == [25, 25]


def test_other_4xx_are_not_retried_and_per_event_errors_are_counted(
    api: ApiServer, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = FrontProxy(api.url, [])
    wrong_key = Client("not-a-key", proxy.url, retry=FAST_RETRY, register_atexit=False)
    wrong_key.track("Nope", anonymous_id="a")
    assert wrong_key.flush(10)
    wrong_key.shutdown()
    assert len(proxy.seen) == 1  # 401: never retried
    assert wrong_key.stats.rejected == 1
    assert "invalid_write_key" in caplog.text

    client = Client(WRITE_KEY, proxy.url, batch_size=10, register_atexit=False)
    client.track("Fine", anonymous_id="a")
    client.enqueue({"type": "alias", "userId": "u"})  # no previousId: refused by the API
    client.track("Fine too", anonymous_id="a")
    assert client.flush(10)
    client.shutdown()
    proxy.close()
    assert (client.stats.delivered, client.stats.rejected) == (2, 1)
    assert "code=missing_field field=previousId" in caplog.text
    assert sink.wait_rows(2)[0] == 2


def test_shutdown_delivers_what_is_queued(api: ApiServer, sink: Sink) -> None:
    # A long flush interval and a big batch: only shutdown() can make these go out.
    client = Client(WRITE_KEY, api.url, batch_size=2000, flush_interval=60)
    for i in range(300):
        client.track("Queued", {"i": i}, anonymous_id=f"v-{i % 13}")
    started = time.monotonic()
    assert client.shutdown(timeout=30) == 0
    assert time.monotonic() - started < 30
    assert client.stats.delivered == 300
    assert sink.wait_rows(300)[:2] == [300, 300]
    assert client.track("After", anonymous_id="x") is False  # closed: dropped, counted
    assert client.stats.dropped == 1


def test_a_full_queue_drops_and_counts_or_blocks(api: ApiServer, sink: Sink) -> None:
    # A slow API (2 s a request): the 12 calls below all happen while the first one is in
    # flight, so at most the queue (3) plus what the worker holds can be accepted.
    proxy = FrontProxy(api.url, [], delay=2.0)
    dropping = Client(WRITE_KEY, proxy.url, max_queue_size=3, batch_size=1, register_atexit=False)
    queued = [dropping.track("Busy", {"i": i}, anonymous_id="d") for i in range(12)]
    assert queued.count(False) == dropping.stats.dropped >= 7
    assert dropping.shutdown(30) == 0
    assert dropping.stats.delivered == queued.count(True)

    blocking = Client(
        WRITE_KEY, proxy.url, max_queue_size=2, batch_size=1, on_full="block",
        block_timeout=10, register_atexit=False,
    )  # fmt: skip
    assert all(blocking.track("Waited", {"i": i}, anonymous_id="b") for i in range(6))
    assert blocking.shutdown(30) == 0
    proxy.close()
    assert (blocking.stats.delivered, blocking.stats.dropped) == (6, 0)
    assert sink.wait_rows(6 + queued.count(True))[0] == 6 + queued.count(True)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    policy = RetryPolicy(base_seconds=1, max_seconds=8, max_retry_after_seconds=60)
    assert 1.0 <= policy.delay(5, 1.0) <= 1.2
    assert 60 <= policy.delay(0, 3600) <= 66.1
    assert all(4 <= policy.delay(3, None) <= 8 for _ in range(50))
    assert all(4 <= policy.delay(9, None) <= 8 for _ in range(50))
