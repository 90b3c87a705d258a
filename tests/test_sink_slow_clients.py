"""Slowloris against the real sink's HTTP server (stdlib, a thread per connection): 500 clients
that send their request a byte every half second are cut off at the request deadline, while an
ordinary client keeps querying /query. The sink runs with a 2 s deadline (default 10 s)."""

import asyncio
import resource
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from footfall.topics import ensure_topics
from tests.support.sink import Sink
from tests.test_slow_clients import MARGIN, _drip

SLOW_CLIENTS = 500
DEADLINE = 2.0


@pytest.fixture(scope="module")
def sink(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * SLOW_CLIENTS:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * SLOW_CLIENTS), hard))
    prefix = f"sl{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    data_dir: Path = tmp_path_factory.mktemp("slow-sink")
    running = Sink(kafka_bootstrap, prefix, data_dir,
                   extra_env={"FOOTFALL_SINK_HTTP_DEADLINE": str(DEADLINE)})  # fmt: skip
    running.start()
    yield running
    running.stop()


class Querier(threading.Thread):
    """Runs SELECT 1 through /query every 50 ms until stopped: (status, seconds) per query."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(daemon=True)
        self.sink = sink
        self.answers: list[tuple[int, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for _ in range(2000):  # bounded; stopped long before
            if self.stop.is_set():
                return
            started = time.monotonic()
            try:
                status = self.sink.query("SELECT 1").status_code
            except httpx.HTTPError:
                status = -1
            self.answers.append((status, time.monotonic() - started))
            time.sleep(0.05)


def test_slow_requests_are_cut_off_and_queries_still_answered(sink: Sink) -> None:
    port = sink.port
    head = b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "

    async def attack() -> list[tuple[float, bytes]]:
        drips = [_drip(port, b"", head + b"a" * 200) for _ in range(SLOW_CLIENTS)]
        return list(await asyncio.gather(*drips))

    querier = Querier(sink)
    querier.start()
    try:
        slow = asyncio.run(attack())
    finally:
        querier.stop.set()
        querier.join(30)

    closed_after = [seconds for seconds, _ in slow]
    latencies = [seconds for _, seconds in querier.answers]
    print(f"\nslow clients closed after {min(closed_after):.2f}-{max(closed_after):.2f} s; "
          f"{len(latencies)} queries, slowest {max(latencies):.2f} s")  # fmt: skip
    assert {status for status, _ in querier.answers} == {200}
    assert len(querier.answers) >= 10
    assert max(latencies) < 5.0  # generous on two shared cores: it is answered throughout
    # Each slow client was hung up on by the server, at the deadline and not long after.
    assert min(closed_after) >= DEADLINE - 0.5, closed_after
    assert max(closed_after) < DEADLINE + MARGIN, closed_after
