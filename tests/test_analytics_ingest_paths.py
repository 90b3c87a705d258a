"""One revenue field and RudderStack traits, through the real API, Kafka and the sink (chDB).

- A RudderStack SDK's identify (the shape rudder-sdk-python sends: traits only in
  context.traits, no top-level traits) is stored with those traits.
- An order's revenue is stored in ff_revenue whichever way it came: properties.revenue (tracker,
  SDK), Segment's total or value, or a CSV row's value_column (the CSV import endpoint); and
  attribution's default revenue counts them all."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clickhouse_connect
import httpx
import pytest

from eventschema.contact_hashing import meta_email, sha256_hex
from footfall_analytics import AttributionParams, Period, attribution
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.sink import Sink

RUN = uuid.uuid4().hex[:8]
AT = datetime(2024, 5, 6, 12, tzinfo=UTC)


@pytest.fixture
def pipeline(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[ApiServer, Sink]]:
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    sink = Sink(kafka_bootstrap, topic_prefix, tmp_path, batch_size=100)
    api.start()
    sink.start()
    try:
        yield api, sink
    finally:
        api.stop()
        sink.stop()


def rudder_identify(user: str) -> dict[str, object]:
    """What rudderstack.analytics Client.identify(user, traits) puts in its batch (1.x): the traits
    moved into context.traits, integrations {"All": true}, channel "server"."""
    return {
        "integrations": {"All": True},
        "timestamp": AT.isoformat(),
        "context": {
            "traits": {"email": "ana@example.com", "phone": "+49 30 1234567"},
            "library": {"name": "analytics-python", "version": "2.1.0"},
        },
        "type": "identify",
        "userId": user,
        "messageId": f"{RUN}-identify",
        "channel": "server",
    }


def order(key: str, properties: dict[str, object]) -> dict[str, object]:
    return {"type": "track", "event": "Order Completed", "userId": f"{RUN}-buyer",
            "messageId": f"{RUN}-{key}", "timestamp": (AT + timedelta(minutes=1)).isoformat(),
            "properties": properties}  # fmt: skip


CSV = 'receipt,sold_at,amount,phone\nR1,06.05.2024 14:05,"1.234,50",p-1\n'
MAPPING = {"event": "Order Completed", "user_id_column": "phone", "timestamp_column": "sold_at",
           "timezone": "Europe/Berlin", "timestamp_format": "%d.%m.%Y %H:%M",
           "order_id_column": "receipt", "value_column": "amount", "decimal_comma": True,
           "file_id": RUN}  # fmt: skip


def test_rudder_traits_and_every_revenue_path_are_stored(
    pipeline: tuple[ApiServer, Sink],
) -> None:
    api, sink = pipeline
    batch = {"batch": [
        rudder_identify(f"{RUN}-rudder"),
        order("revenue", {"revenue": 7}),  # tracker / SDK
        order("total", {"total": 30.5}),  # Segment's Order Completed total
        order("value", {"value": "12.25"}),  # Segment's value, as text
        order("both", {"revenue": 5, "total": 99}),  # revenue wins
    ]}  # fmt: skip
    with httpx.Client(timeout=30, auth=(WRITE_KEY, "")) as http:
        assert http.post(f"{api.url}/v1/batch", json=batch).status_code == 200
        answer = http.post(
            f"{api.url}/v1/import/csv",
            content=CSV,
            headers={"content-type": "text/csv", "X-Footfall-Mapping": json.dumps(MAPPING)},
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    assert sink.wait_rows(6)[0] == 6

    traits = sink.query(f"SELECT traits FROM events WHERE message_id = '{RUN}-identify'").text
    # Stored hashed as the ad platforms hash them (FOOTFALL_PII_HASH_CONTACT, on by default).
    assert json.loads(traits) == {
        "email": sha256_hex(meta_email("ana@example.com")),
        "phone": sha256_hex("49301234567"),
        "phone_sha256_google": sha256_hex("+49301234567"),
    }
    revenue = sink.query(
        "SELECT properties, ff_revenue FROM events FINAL WHERE event = 'Order Completed' "
        "ORDER BY ff_revenue"
    ).text.splitlines()
    assert [float(line.split("\t")[-1]) for line in revenue] == [5, 7, 12.25, 30.5, 1234.5]

    # Attribution's default revenue counts the offline sale and the Segment ones.
    sink.stop()  # chDB is one process's: read the stored data directly now
    client = clickhouse_connect.get_client(dsn=f"chdb://{sink.data_dir / 'clickhouse'}",
                                           database="footfall")  # fmt: skip
    try:
        rows = attribution(client, AttributionParams(Period(AT - timedelta(days=1),
                                                            AT + timedelta(days=1))))  # fmt: skip
    finally:
        client.close()
    assert sum(r.revenue for r in rows) == pytest.approx(5 + 7 + 12.25 + 30.5 + 1234.5)
