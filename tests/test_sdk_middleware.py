"""X-Request-ID middleware: events sent while handling a request carry that request's id, and
concurrent requests (asyncio tasks for ASGI, threads for WSGI) never see each other's."""

import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from footfall_sdk import (
    Client,
    KafkaEventProducer,
    RequestIdASGIMiddleware,
    RequestIdWSGIMiddleware,
    current_request_id,
)
from footfall_sdk.request_context import request_id_scope, valid_request_id, with_request_id
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.sink import Sink


def _paid(sink: Sink, expected: int) -> list[list[str]]:
    sink.wait_rows(expected)
    response = sink.query(
        "SELECT anonymous_id, JSONExtractString(properties, 'header'), "
        "JSONExtractString(context, 'requestId'), user_id FROM events FINAL WHERE event = 'paid' "
        "ORDER BY anonymous_id"  # the user's row (empty id) first: the case strip() broke
    )
    assert response.status_code == 200, response.text
    # No strip(): a row whose first column is empty (a user's event has no anonymous_id)
    # would lose its leading tab.
    return [line.split("\t") for line in response.text.splitlines()]


def test_asgi_concurrent_requests_keep_their_own_id(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink
) -> None:
    producer = KafkaEventProducer(kafka_bootstrap, topic_prefix)

    async def pay(request: Request) -> PlainTextResponse:
        header = request.headers.get("x-request-id", "")
        await asyncio.sleep(random.uniform(0, 0.05))  # interleave the tasks
        # to_thread copies the context, so the blocking send sees this request's id.
        await asyncio.to_thread(producer.track, "paid", {"header": header})
        return PlainTextResponse(current_request_id() or "")

    async def pay_as_user(request: Request) -> PlainTextResponse:
        await asyncio.to_thread(producer.track, "paid", {"header": "user"}, user_id="u-1")
        return PlainTextResponse("ok")

    app = RequestIdASGIMiddleware(
        Starlette(routes=[Route("/pay", pay), Route("/pay-as-user", pay_as_user)])
    )
    ids = [f"req-{uuid.uuid4()}" for _ in range(30)]

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            answers = await asyncio.gather(
                *(client.get("/pay", headers={"X-Request-ID": rid}) for rid in ids)
            )
            await client.get("/pay-as-user", headers={"X-Request-ID": "req-user"})
            assert current_request_id() is None  # reset after each request
            return [answer.text for answer in answers]

    assert asyncio.run(run()) == ids
    producer.close()

    rows = _paid(sink, 31)
    by_header = {row[1]: row for row in rows}
    assert len(rows) == 31
    for rid in ids:
        assert by_header[rid][:3] == [rid, rid, rid]
    # A user's event keeps its userId as identity (and Kafka key); the id goes to context only.
    assert by_header["user"] == ["", "user", "req-user", "u-1"]


def test_wsgi_concurrent_threads_and_streaming_responses(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, sink: Sink
) -> None:
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    api.start()
    client = Client(WRITE_KEY, api.url, register_atexit=False)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        header = environ.get("HTTP_X_REQUEST_ID", "")
        time.sleep(random.uniform(0, 0.03))
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/stream":
            return _stream(header)  # tracks while the server iterates, after __call__ returned
        client.track("paid", {"header": header})
        return [(current_request_id() or "").encode()]

    def _stream(header: str) -> Iterator[bytes]:
        yield b"start "
        client.track("paid", {"header": header})
        yield (current_request_id() or "").encode()

    wrapped = RequestIdWSGIMiddleware(app)

    def call(path: str, rid: str) -> str:
        environ: dict[str, Any] = {"PATH_INFO": path, "HTTP_X_REQUEST_ID": rid}
        setup_testing_defaults(environ)
        result = wrapped(environ, lambda status, headers: None)
        try:
            body = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
        assert current_request_id() is None  # the server thread's context is untouched
        return body.decode()

    ids = [f"w-{uuid.uuid4()}" for _ in range(30)]
    paths = ["/stream" if i % 3 == 0 else "/" for i in range(30)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            bodies = list(pool.map(call, paths, ids))
        assert client.flush(30)
    finally:
        client.shutdown()
        api.stop()
    assert [body.removeprefix("start ") for body in bodies] == ids
    rows = _paid(sink, 30)
    assert len(rows) == 30
    for row in rows:
        assert row[0] == row[1] == row[2]


def test_request_id_validation_and_reset() -> None:
    assert valid_request_id("abc-123") == "abc-123"
    assert valid_request_id("") is None
    assert valid_request_id("   ") is None
    assert valid_request_id("x" * 256) == "x" * 256
    assert valid_request_id("x" * 257) is None
    assert valid_request_id("bad\nid") is None
    assert valid_request_id("tab\there") is None
    assert valid_request_id(None) is None

    with request_id_scope("x" * 300):  # invalid: ignored, message unchanged
        assert current_request_id() is None
        assert with_request_id({"type": "track"}) == {"type": "track"}
    with request_id_scope("r-1"):
        assert with_request_id({"type": "track", "anonymousId": "mine"}) == {
            "type": "track", "anonymousId": "mine", "context": {"requestId": "r-1"},
        }  # fmt: skip
        assert with_request_id({"context": {"requestId": "kept"}})["context"] == {
            "requestId": "kept"
        }
        assert with_request_id({"context": "web"})["context"] == "web"  # left for validation
    assert current_request_id() is None

    # Non-http ASGI scopes (lifespan) pass straight through.
    seen: list[str | None] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_request_id())

    async def lifespan() -> None:
        await RequestIdASGIMiddleware(inner)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    asyncio.run(lifespan())
    assert seen == [None]
