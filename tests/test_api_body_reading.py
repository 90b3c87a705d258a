"""How the API reads a body without Content-Encoding (producer_api.body._read_plain), on a real
uvicorn process and the real broker: a chunked body (no Content-Length) arrives in pieces, and
the size limit holds when no length was declared. Gzip bodies take body_stream (test_api_http)."""

import time
from collections.abc import Iterator

import httpx
import orjson

from eventschema import EventCodec
from eventschema.kafka_contract import Topics
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.kafka_tools import read_all, value_of

LIMIT = 500 * 1024  # FOOTFALL_API_MAX_BODY_BYTES's default


def _pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        time.sleep(0.01)  # separate reads on the server, not one
        yield body[start : start + size]


def test_a_chunked_body_in_many_pieces_is_read_whole(
    api: ApiServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    batch = [
        {"type": "track", "event": "Piece", "anonymousId": "a", "messageId": f"chunk-{i}",
         "properties": {"pad": "x" * 500}}
        for i in range(40)
    ]  # fmt: skip
    body = orjson.dumps({"batch": batch})
    answer = httpx.post(
        f"{api.url}/v1/batch",
        auth=(WRITE_KEY, ""),
        content=_pieces(body, 1000),  # an iterator: chunked, no Content-Length
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "accepted": 40}
    stored = read_all(kafka_bootstrap, Topics.for_prefix(topic_prefix).events)
    ids = {EventCodec().decode(value_of(m))["message_id"] for m in stored}
    assert ids == {f"chunk-{i}" for i in range(40)}


def test_an_undeclared_body_over_the_limit_is_413_and_nothing_is_stored(
    api: ApiServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    event = {"type": "track", "event": "Big", "anonymousId": "a", "messageId": "big-1"}
    body = orjson.dumps({"batch": [{**event, "properties": {"pad": "x" * (LIMIT + 10)}}]})
    answer = httpx.post(
        f"{api.url}/v1/batch",
        auth=(WRITE_KEY, ""),
        content=_pieces(body, 64 * 1024),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "payload_too_large"
    assert read_all(kafka_bootstrap, Topics.for_prefix(topic_prefix).events) == []
