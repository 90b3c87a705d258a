"""Record -> row mapping, done by ClickHouse: raw Avro in, typed DEFAULT columns out (real chDB).

The same encoded records the API writes go through avro_block and EventWriter.insert_avro into a
migrated chDB; the typed columns are checked as stored. `check` (the slow path's per-record
validation) is tested on decoded records.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.avro_block import columns, container
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.processor import COLUMNS, MAX_TIME, MIN_TIME, RowRejected, check
from consumers.clickhouse_sink.writer import EventWriter, connect, ensure_database
from eventschema import EventCodec
from eventschema.schemas import event_schemas

URL = "https://x.test/p?utm_source=q"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    dsn = f"chdb://{tmp_path_factory.mktemp('ch') / 'clickhouse'}"
    ensure_database(dsn, "footfall")
    opened = connect(dsn, "footfall")
    migrations.apply(opened, REPO_ROOT / "deploy/clickhouse/migrations")
    yield opened
    opened.close()


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "message_id": "m-1", "type": "track", "event": "Purchase", "name": None,
        "anonymous_id": "a-1", "user_id": None, "previous_id": None, "group_id": None,
        "timestamp": NOW, "original_timestamp": None, "sent_at": None, "received_at": NOW,
        "properties": "{}", "traits": "{}", "context": "{}", "integrations": "{}", "source": "http",
        "entry": "server_key",
    }  # fmt: skip
    base.update(overrides)
    return base


_offsets = iter(range(1_000_000))


def row_of(client: Client, version: int | None = None, **overrides: Any) -> dict[str, Any]:
    """Insert one record as the sink does and read its row back (by its unique kafka_offset)."""
    schema = event_schemas()[version or max(event_schemas())]
    fields = {f["name"] for f in schema.parsed["fields"]}
    values = {k: v for k, v in record(**overrides).items() if k in fields}
    offset = next(_offsets)
    body = container(schema, "events", 3, [(offset, EventCodec(writer=schema).encode(values))])
    EventWriter(client).insert_avro(body, columns(schema), f"test:{offset}")
    result = client.query(
        f"SELECT {', '.join(COLUMNS)} FROM events WHERE kafka_offset = {{o:UInt64}}",
        parameters={"o": offset},
    )
    return dict(zip(COLUMNS, result.result_rows[0], strict=True))


def test_columns_and_kafka_position(client: Client) -> None:
    row = row_of(client)
    assert (row["kafka_topic"], row["kafka_partition"]) == ("events", 3)
    assert row["message_id"] == "m-1" and row["event"] == "Purchase" and row["user_id"] == ""
    assert row["timestamp"].replace(tzinfo=UTC) == NOW and row["original_timestamp"] is None
    assert row["name"] == "" and row["source"] == "http" and row["entry"] == "server_key"


def test_older_schema_version_gets_the_new_fields_default(client: Client) -> None:
    row = row_of(client, version=1, message_id="m-v1")
    assert row["message_id"] == "m-v1" and row["source"] == "unknown"
    # Without an entry field the record came from a direct Kafka producer.
    assert row_of(client, version=2, message_id="m-v2")["entry"] == "kafka"


def test_page_campaign_and_client_fields_from_context(client: Client) -> None:
    context = {
        "page": {"url": URL, "path": "/p", "referrer": "r", "title": "T"},
        "campaign": {"name": "spring", "source": "google", "medium": "cpc", "term": "shoes",
                     "content": "ad1", "gclid": "G1", "fbclid": "F1"},
        "userAgent": "UA/1", "ip": "203.0.113.9",
        "library": {"name": "analytics.js", "version": "5"},
    }  # fmt: skip
    row = row_of(client, context=orjson.dumps(context).decode())
    assert [row[f"page_{k}"] for k in ("url", "path", "referrer", "title")] == [
        URL, "/p", "r", "T"
    ]  # fmt: skip
    assert row["utm_campaign"] == "spring" and row["utm_source"] == "google"
    assert (row["utm_medium"], row["utm_term"], row["utm_content"]) == ("cpc", "shoes", "ad1")
    assert (row["gclid"], row["fbclid"], row["msclkid"]) == ("G1", "F1", "")
    assert (row["user_agent"], row["ip"]) == ("UA/1", "203.0.113.9")
    assert (row["library_name"], row["library_version"]) == ("analytics.js", "5")
    assert orjson.loads(row["context"]) == context


def test_utm_and_click_ids_fall_back_to_page_url_query(client: Client) -> None:
    url = "https://x.test/land?utm_source=f%20b&utm_campaign=c+9&gbraid=GB&ttclid=TT&wbraid=W#x"
    row = row_of(client, context=orjson.dumps({"page": {"url": url}}).decode())
    assert (row["utm_source"], row["utm_campaign"], row["utm_medium"]) == ("f b", "c 9", "")
    assert (row["gbraid"], row["ttclid"], row["wbraid"]) == ("GB", "TT", "W")
    assert row["page_path"] == "/land"


def test_page_event_falls_back_to_properties(client: Client) -> None:
    props = {"url": "https://x.test/a?msclkid=MS", "referrer": "https://ref.test", "title": "A"}
    row = row_of(client, type="page", name="Home", properties=orjson.dumps(props).decode())
    assert (row["page_url"], row["page_referrer"], row["page_title"]) == (
        props["url"], "https://ref.test", "A"
    )  # fmt: skip
    assert row["msclkid"] == "MS" and row["name"] == "Home" and row["page_path"] == "/a"


def test_track_event_does_not_read_page_fields_from_properties(client: Client) -> None:
    row = row_of(client, properties=orjson.dumps({"url": "https://x.test/"}).decode())
    assert row["page_url"] == ""


def test_non_string_scalars_become_text_and_nulls_empty(client: Client) -> None:
    context = {"campaign": {"source": 7, "medium": 2.5}, "userAgent": None}
    row = row_of(client, context=orjson.dumps(context).decode())
    assert (row["utm_source"], row["utm_medium"], row["user_agent"]) == ("7", "2.5", "")


def test_empty_message_id_violates_the_table_constraint(client: Client) -> None:
    with pytest.raises(Exception, match="message_id_present"):
        row_of(client, message_id="")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"message_id": ""}, "missing_message_id"),
        ({"properties": "{not json"}, "invalid_json"),
        ({"context": "[1, 2]"}, "invalid_json"),
        ({"timestamp": datetime(1800, 1, 1, tzinfo=UTC)}, "timestamp_out_of_range"),
        ({"sent_at": datetime(2400, 1, 1, tzinfo=UTC)}, "timestamp_out_of_range"),
    ],
)
def test_rejected_records_name_a_reason(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowRejected) as caught:
        check(record(**overrides))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"timestamp": MIN_TIME, "received_at": MIN_TIME},  # the edges of DateTime64(3)
        {"timestamp": MAX_TIME, "original_timestamp": MAX_TIME, "sent_at": MAX_TIME},
        {"properties": '{"a": {"b": [1, {"c": null}]}}', "entry": "browser_key"},
        {"entry": "csv_import", "source": "csv"},
    ],
)
def test_records_the_check_passes_are_stored_as_sent(
    client: Client, overrides: dict[str, Any]
) -> None:
    """What the check lets through must insert (a too-lax check would block a whole batch)
    and keep its values (a too-strict one would dead-letter good events)."""
    check(record(**overrides))
    row = row_of(client, **overrides)
    for name, value in overrides.items():
        if isinstance(value, datetime):
            assert row[name].replace(tzinfo=UTC) == value, name
        else:
            assert row[name] == value, name
