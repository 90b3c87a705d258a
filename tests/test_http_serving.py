"""eventschema.http_serving in process, on a tiny ASGI app: what the slow-client layer answers."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from eventschema import http_serving
from footfall.broker import find_free_ports

HEADER_TIMEOUT = 1.0


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    [free] = find_free_ports(1)
    limits = http_serving.HttpLimits(HEADER_TIMEOUT, 2.0, 1000, max_connections=20)
    config = http_serving.config(
        hello,
        "127.0.0.1",
        free,
        limits,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):  # bounded wait for the listener
        if server.started:
            break
        time.sleep(0.05)
    yield free
    server.should_exit = True
    thread.join(10)


def _exchange(port: int, data: bytes, wait: float = 5.0) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        return sock.recv(200), time.monotonic() - started


def test_a_kept_alive_connection_gets_the_header_timeout_again(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHo")  # the next request never finishes its headers
        assert sock.recv(200).startswith(b"HTTP/1.1 408")
        assert HEADER_TIMEOUT - 0.2 < time.monotonic() - started < HEADER_TIMEOUT + 3


def test_an_idle_new_connection_is_closed(port: int) -> None:
    answer, seconds = _exchange(port, b"")
    assert answer.startswith(b"HTTP/1.1 408") and seconds < HEADER_TIMEOUT + 3


def test_over_the_connection_limit_requests_get_503(port: int) -> None:
    async def crowd() -> bytes:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(25)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(200), 5)
        for _, idle_writer in idle + [(reader, writer)]:
            idle_writer.close()
        return answer

    assert asyncio.run(crowd()).startswith(b"HTTP/1.1 503")
    time.sleep(HEADER_TIMEOUT + 1)  # the crowd's connections are closed by then
    assert _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")[0].startswith(b"HTTP/1.1 200")
