"""README "When the answer is 2xx": when librdkafka's local queue is full the API answers 503
`kafka_unavailable` with Retry-After, never a 2xx. Real API subprocess and broker; the queue is
made tiny with FOOTFALL_API_QUEUE_MAX_MESSAGES (queue.buffering.max.messages)."""

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eventschema import EventCodec
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.kafka_tools import read_all, value_of

QUEUE = 10
DELIVERY_TIMEOUT = 5.0


@pytest.fixture
def api(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ApiServer]:
    monkeypatch.setenv("FOOTFALL_API_QUEUE_MAX_MESSAGES", str(QUEUE))
    server = ApiServer(kafka_bootstrap, topic_prefix, tmp_path, delivery_timeout=DELIVERY_TIMEOUT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def batch(count: int) -> tuple[list[str], dict[str, object]]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    return ids, {"batch": [{"type": "track", "event": "Queued", "messageId": m,
                            "anonymousId": f"anon-{m[:4]}"} for m in ids]}  # fmt: skip


def buffer_errors(api: ApiServer) -> float:
    text = httpx.get(f"{api.url}/metrics", timeout=10).text
    found = re.search(
        r'^footfall_api_kafka_delivery_failures_total\{reason="BufferError"\} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_a_full_local_queue_is_503_kafka_unavailable_with_retry_after(
    api: ApiServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    with httpx.Client(base_url=api.url, auth=(WRITE_KEY, ""), timeout=30) as client:
        fits_ids, fits = batch(QUEUE - 1)
        first = client.post("/v1/batch", json=fits)
        assert first.status_code == 200, first.text
        before = buffer_errors(api)

        _, too_many = batch(QUEUE * 5)  # more messages than the queue holds at once
        started = time.monotonic()
        full = client.post("/v1/batch", json=too_many)
        took = time.monotonic() - started

        assert full.status_code == 503, full.text
        body = full.json()
        assert (body["success"], body["code"]) == (False, "kafka_unavailable"), body
        assert "local queue full" in body["message"], body
        retry_after = full.headers.get("retry-after", "")
        assert retry_after.isdigit() and int(retry_after) >= 1, full.headers
        assert took < DELIVERY_TIMEOUT + 1, took  # within the documented bound
        assert buffer_errors(api) == before + 1  # the producer's BufferError, counted

        # Not stuck: once the queue has drained, a batch that fits is acknowledged again.
        again_ids, again = batch(QUEUE - 1)
        second = client.post("/v1/batch", json=again)
        assert second.status_code == 200, second.text

    # Every acknowledged event is in Kafka (the refused batch may be partly there: a retry with
    # the same messageIds is deduplicated downstream).
    codec = EventCodec()
    stored = {
        codec.decode(value_of(m))["message_id"]
        for m in read_all(kafka_bootstrap, f"{topic_prefix}events", timeout=30)
    }
    assert set(fits_ids) | set(again_ids) <= stored
