"""HTTP -> producer API -> Kafka -> ClickHouse sink -> chDB, all real processes."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.api import WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.sink import Sink


@pytest.fixture
def pipeline(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[ApiServer, Sink]]:
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path, batch_size=2000)
    api.start()
    sink.start()
    try:
        yield api, sink
    finally:
        api.stop()
        sink.stop()


def _batch(run: str, start: int, size: int) -> dict[str, object]:
    return {"batch": [
        {"type": "track", "event": "Product Viewed", "messageId": f"{run}-{i}",
         "anonymousId": f"{run}-visitor-{i % 97}", "properties": {"i": i},
         "context": {"page": {"url": f"https://shop.test/p/{i}?utm_source=facebook&fbclid=F{i}"}}}
        for i in range(start, start + size)
    ]}  # fmt: skip


def _post(url: str, body: dict[str, object]) -> int:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{url}/v1/batch", json=body, auth=(WRITE_KEY, "")).status_code


def test_ten_thousand_events_land_exactly_once_and_a_resend_adds_nothing(
    pipeline: tuple[ApiServer, Sink], kafka_bootstrap: str, topic_prefix: str
) -> None:
    api, sink = pipeline
    run = uuid.uuid4().hex[:8]
    batches = [_batch(run, start, 50) for start in range(0, 10_000, 50)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda body: _post(api.url, body), batches))
    assert statuses == [200] * 200

    assert sink.wait_rows(10_000) == [10_000, 10_000, 10_000]

    # The same batches again (a client retry after a lost answer): same messageIds.
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(lambda body: _post(api.url, body), batches[:40])) == {200}
    wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}sink", f"{topic_prefix}events")
    final, distinct, _raw = sink.wait_rows(10_000)
    assert (final, distinct) == (10_000, 10_000)

    response = sink.query(
        f"SELECT count(), countIf(utm_source = 'facebook'), countIf(fbclid != '') "
        f"FROM events FINAL WHERE message_id LIKE '{run}-%'"
    )
    assert response.text.split() == ["10000", "10000", "10000"]


def test_an_unmodified_segment_sdk_delivers_track_identify_and_page(
    pipeline: tuple[ApiServer, Sink],
) -> None:
    from segment.analytics import Client

    api, sink = pipeline
    visitor = f"sdk-{uuid.uuid4().hex[:8]}"
    errors: list[object] = []
    client = Client(WRITE_KEY, host=api.url, sync_mode=True, on_error=lambda e, b: errors.append(e))
    client.track(
        anonymous_id=visitor,
        event="Order Completed",
        properties={"order_id": "o-1", "revenue": 99.5, "currency": "EUR"},
    )
    client.identify(anonymous_id=visitor, user_id=f"{visitor}-user", traits={"plan": "pro"})
    client.page(
        anonymous_id=visitor,
        name="Home",
        properties={"url": "https://shop.test/?utm_source=google"},
    )
    client.flush()
    assert errors == []

    sink.wait_rows(3)
    response = sink.query(
        f"SELECT type, event, name, user_id, JSONExtractString(context, 'library', 'name') "
        f"FROM events FINAL WHERE anonymous_id = '{visitor}' ORDER BY type"
    )
    rows = [line.split("\t") for line in response.text.splitlines()]
    assert [row[0] for row in rows] == ["identify", "page", "track"]
    assert rows[2][1] == "Order Completed"
    assert rows[1][2] == "Home"
    assert rows[0][3] == f"{visitor}-user"
    assert {row[4] for row in rows} == {"analytics-python"}
