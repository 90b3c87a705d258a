"""Slowloris against the real API process: slow clients are cut off, ordinary ones still served.

500 connections send their headers, or their body, a byte every half second, while an
ordinary client keeps posting events. The API runs with short timeouts (2 s for headers, 3 s
for the body) so the test is quick; the defaults are 10 s and 20 s.
"""

import asyncio
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from footfall.topics import ensure_topics
from tests.support.api import WRITE_KEY, ApiServer

SLOW_CLIENTS = 500
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
MARGIN = 6.0  # two shared cores: a generous allowance for the event loop and the test itself
DRIP_EVERY = 0.5
AUTH_HEADER = b"Authorization: Bearer " + WRITE_KEY.encode() + b"\r\n"


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * SLOW_CLIENTS:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * SLOW_CLIENTS), hard))
    prefix = f"s{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FOOTFALL_HTTP_HEADER_TIMEOUT", str(HEADER_TIMEOUT))
        env.setenv("FOOTFALL_HTTP_BODY_TIMEOUT", str(BODY_TIMEOUT))
        env.setenv("FOOTFALL_API_IP_RATE", "0")  # one address sends everything
        server = ApiServer(kafka_bootstrap, prefix, tmp_path_factory.mktemp("slow"))
        server.start()
    yield server
    server.stop()


async def _drip(port: int, head: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send `head` at once, then `drip` a byte at a time: (seconds until the server closed the
    connection, what it answered)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.read(200))
    try:
        writer.write(head)
        for byte in drip:  # bounded: the drip is longer than any timeout allows
            done, _ = await asyncio.wait([answer], timeout=DRIP_EVERY)
            if done:
                break
            writer.write(bytes([byte]))
        data = await asyncio.wait_for(answer, MARGIN)
        if data:  # the answer, then the close
            await asyncio.wait_for(reader.read(), MARGIN)
    except (ConnectionError, TimeoutError):
        data = answer.result() if answer.done() and not answer.exception() else b""
    finally:
        writer.close()
    return time.monotonic() - started, data


def _slow_headers(port: int) -> asyncio.Future[tuple[float, bytes]]:
    request = b"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 200
    return asyncio.ensure_future(_drip(port, b"", request))


def _slow_body(port: int) -> asyncio.Future[tuple[float, bytes]]:
    body = b'{"event": "Slow", "anonymousId": "a", "properties": {"pad": "' + b"a" * 200 + b'"}}'
    head = (
        b"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + AUTH_HEADER
        + b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return asyncio.ensure_future(_drip(port, head, body))


class OrdinaryClient(threading.Thread):
    """Posts a valid event every 50 ms until stopped, recording status and latency."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[int, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        event = {"event": "Ordinary", "anonymousId": "o"}
        with httpx.Client(base_url=self.url, auth=(WRITE_KEY, ""), timeout=30) as client:
            for _ in range(2000):  # bounded; stopped long before
                if self.stop.is_set():
                    return
                started = time.monotonic()
                status = client.post("/v1/track", json=event).status_code
                self.answers.append((status, time.monotonic() - started))
                time.sleep(0.05)

    def latencies(self) -> list[float]:
        return [latency for _, latency in self.answers]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _ordinary_run(url: str, seconds: float) -> OrdinaryClient:
    client = OrdinaryClient(url)
    client.start()
    time.sleep(seconds)
    client.stop.set()
    client.join(30)
    return client


def test_slow_clients_are_closed_and_do_not_slow_ordinary_ones(api: ApiServer) -> None:
    _ordinary_run(api.url, 1.0)  # warm-up: the Kafka producer's first round trips
    baseline = _ordinary_run(api.url, 2.0)

    async def attack() -> list[tuple[float, bytes]]:
        half = SLOW_CLIENTS // 2
        futures = [_slow_headers(api.port) for _ in range(half)]
        futures += [_slow_body(api.port) for _ in range(SLOW_CLIENTS - half)]
        return list(await asyncio.gather(*futures))

    ordinary = OrdinaryClient(api.url)
    ordinary.start()
    try:
        slow = asyncio.run(attack())
    finally:
        ordinary.stop.set()
        ordinary.join(30)

    header_times = [seconds for seconds, _ in slow[: SLOW_CLIENTS // 2]]
    body_times = [seconds for seconds, _ in slow[SLOW_CLIENTS // 2 :]]
    print(
        f"\nbaseline p95 {_p95(baseline.latencies()) * 1000:.1f} ms over {len(baseline.answers)},"
        f" under attack p95 {_p95(ordinary.latencies()) * 1000:.1f} ms over"
        f" {len(ordinary.answers)}; slow headers closed after {min(header_times):.2f}-"
        f"{max(header_times):.2f} s, slow bodies after {min(body_times):.2f}-"
        f"{max(body_times):.2f} s"
    )
    assert {status for status, _ in baseline.answers + ordinary.answers} == {200}
    assert len(ordinary.answers) >= 10
    assert max(ordinary.latencies()) < 5.0  # generous: the point is that it is answered at all
    # Closed by the server in time, with a 408 where the server could still answer.
    assert max(header_times) < HEADER_TIMEOUT + MARGIN, header_times
    assert min(header_times) >= HEADER_TIMEOUT - 0.5, header_times
    assert max(body_times) < BODY_TIMEOUT + MARGIN, body_times
    assert min(body_times) >= BODY_TIMEOUT - 0.5, body_times
    assert all(answer.startswith(b"HTTP/1.1 408") for _, answer in slow), {a for _, a in slow}


def test_headers_over_16_kb_are_refused_whole_or_dripped(api: ApiServer) -> None:
    answer = httpx.get(f"{api.url}/healthz", headers={"X-Big": "a" * 20_000}, timeout=10)
    assert answer.status_code == 431
    assert httpx.get(f"{api.url}/healthz", headers={"X-Ok": "a" * 8_000}).status_code == 200

    async def endless_header() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
        answer = asyncio.ensure_future(reader.read(200))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        for _ in range(100):  # 100 KB at most; refused after 16
            writer.write(b"a" * 1024)
            await asyncio.wait([answer], timeout=0.01)
            if answer.done():
                break
        data = await asyncio.wait_for(answer, MARGIN)
        writer.close()
        return data

    assert asyncio.run(endless_header()).startswith(b"HTTP/1.1 431")


def test_a_slow_but_steady_body_is_not_cut_off(api: ApiServer) -> None:
    """The body deadline moves a second per 1,000 bytes received: 2 KB/s for 5 s passes."""

    def chunks() -> Iterator[bytes]:
        yield b'{"event": "Upload", "anonymousId": "u", "properties": {"pad": "'
        for _ in range(50):
            time.sleep(0.1)
            yield b"a" * 200
        yield b'"}}'

    started = time.monotonic()
    answer = httpx.post(
        f"{api.url}/v1/track",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        auth=(WRITE_KEY, ""),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started > BODY_TIMEOUT  # it did outlast the fixed part
