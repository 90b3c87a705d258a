"""Trust travels with the event (issue 9): a browser key cannot forge a conversion.

One event-name equivalence for the API and the uploader (eventschema.event_names), every event
stored with how it entered (`entry`), and an uploader that sends only trusted entries. Real broker,
real API app, real sink (chDB) and the real uploader against the fake ad platforms.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import Producer
from starlette.testclient import TestClient

from adfakes import FakeGoogleAds, FakeMeta
from adfakes.harness import UploaderProcess
from consumers.conversions.config import ConversionsConfig
from eventschema import Event, EventCodec
from eventschema.entry import BROWSER_KEY, DEFAULT_TRUSTED_ENTRIES, KAFKA, parse_entries
from eventschema.event_names import (
    DEFAULT_CONVERSION_EVENTS,
    canonical_event_name,
    conversion_event_names,
    conversion_events,
)
from eventschema.kafka_contract import Topics
from eventschema.schemas import event_schemas
from footfall_sdk.kafka_producer import KafkaEventProducer
from producer_api.app import create_app
from producer_api.config import Settings
from tests.support.api import api_settings
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import read_all, value_of
from tests.support.sink import Sink, produce

SERVER_KEY = "sk-trust-server-key"
SHOP = "https://shop.example"
PUBLIC = "pk_trust"

# Letters of other scripts that print like Latin ones (Cyrillic, Greek).
_CYRILLIC = str.maketrans("oeapcyOEAPCHKMT", "оеарсуОЕАРСНКМТ")
_GREEK = str.maketrans("oapOAPEKTHIN", "οαρΟΑΡΕΚΤΗΙΝ")


def _words(name: str) -> list[str]:
    words = name.split()
    return words if len(words) > 1 else [name[: len(name) // 2], name[len(name) // 2 :]]


def spellings(name: str) -> list[str]:
    """Every way of writing `name` that must still be `name` (other than itself)."""
    words = _words(name)
    camel = "".join(w.capitalize() for w in words)
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in name)
    variants = [
        name.upper(), name.lower(), name.swapcase(), f"  {name} ", f"\t{name}\n",
        camel, camel[0].lower() + camel[1:], "_".join(words).lower(), "-".join(words).upper(),
        ".".join(words), "/".join(words), " ".join(words), "  ".join(words),
        "\u00a0".join(words), "\u2003".join(words), "\t".join(words), "\u3000".join(words),
        "\u200b".join(name), "\u200d".join(words), "\u2060".join(words), "\u00ad".join(words),
        "\ufeff" + name, "\u3164".join(words),
        name.translate(_CYRILLIC), name.lower().translate(_CYRILLIC),
        name.upper().translate(_CYRILLIC), name.translate(_GREEK), name.upper().translate(_GREEK),
        full_width, "".join(chr(0x1D400 + ord(c) - 65) if c.isupper() else c for c in name),
        name[0] + "\u0301" + name[1:], "".join(c + "\u0308" for c in name),
        name.replace("o", "0").replace("i", "1").replace("l", "1"),
        name.replace("m", "rn"), name.upper().replace("I", "İ"),
    ]  # fmt: skip
    return sorted({v for v in variants if v != name})


ALL_SPELLINGS = [(n, s) for n in DEFAULT_CONVERSION_EVENTS for s in [n, *spellings(n)]]


# -- one definition of event names ------------------------------------------------------------


@pytest.mark.parametrize(("name", "spelling"), ALL_SPELLINGS)
def test_every_spelling_is_the_same_event(name: str, spelling: str) -> None:
    assert canonical_event_name(spelling) == canonical_event_name(name)
    assert canonical_event_name(spelling) in conversion_events(DEFAULT_CONVERSION_EVENTS)


def test_listed_spellings_from_the_issue() -> None:
    same = ["OrderCompleted", "order_completed", "ORDER-COMPLETED", "Order\u00a0Completed",
            "order completed", "Оrder Completed", "Order Cоmpleted", "ORDER.COMPLETED"]  # fmt: skip
    assert {canonical_event_name(s) for s in same} == {canonical_event_name("Order Completed")}


@pytest.mark.parametrize(
    "other", ["Order Started", "Product Viewed", "purchases", "unpaid", "Order", "", "!!!"]
)
def test_other_names_stay_other_events(other: str) -> None:
    assert canonical_event_name(other) not in conversion_events(DEFAULT_CONVERSION_EVENTS)


def test_one_setting_names_the_conversions_for_the_api_and_the_uploader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert conversion_event_names({}) == DEFAULT_CONVERSION_EVENTS
    for variable in ("FOOTFALL_SERVER_ONLY_EVENTS", "FOOTFALL_CONVERSIONS_EVENTS"):
        env = {variable: " Checkout Paid , refund,"}
        assert conversion_event_names(env) == ("Checkout Paid", "refund")
        uploader = ConversionsConfig.from_env(env)
        assert uploader.events == conversion_events(["checkout_paid", "REFUND"])
        monkeypatch.delenv("FOOTFALL_SERVER_ONLY_EVENTS", raising=False)
        monkeypatch.delenv("FOOTFALL_CONVERSIONS_EVENTS", raising=False)
        monkeypatch.setenv(variable, env[variable])
        assert Settings.from_env().server_only_events == ("Checkout Paid", "refund")
        monkeypatch.delenv(variable)
    agree = {"FOOTFALL_SERVER_ONLY_EVENTS": "paid", "FOOTFALL_CONVERSIONS_EVENTS": "PAID"}
    assert conversion_event_names(agree) in (("paid",), ("PAID",))
    with pytest.raises(ValueError, match="name different events"):
        conversion_event_names({**agree, "FOOTFALL_CONVERSIONS_EVENTS": "purchase"})


def test_trusted_entries_setting() -> None:
    assert ConversionsConfig.from_env({}).trusted_entries == DEFAULT_TRUSTED_ENTRIES
    assert BROWSER_KEY not in DEFAULT_TRUSTED_ENTRIES
    only = {"FOOTFALL_CONVERSIONS_TRUSTED_ENTRIES": "server_key, csv_import"}
    assert ConversionsConfig.from_env(only).trusted_entries == {"server_key", "csv_import"}
    with pytest.raises(ValueError, match="unknown entries"):
        parse_entries("server_key,browser")


def test_records_without_entry_read_as_kafka_and_old_readers_skip_it() -> None:
    schemas = event_schemas()
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    record = Event("m-1", "track", at, at, event="paid", entry=BROWSER_KEY).to_record()
    v2 = EventCodec(writer=schemas[2])
    assert EventCodec().decode(v2.encode(record))["entry"] == KAFKA
    decoded = EventCodec(reader=schemas[2]).decode(EventCodec().encode(record))
    assert "entry" not in decoded and decoded["event"] == "paid"
    assert EventCodec().decode(EventCodec().encode(record))["entry"] == BROWSER_KEY


# -- the API refuses every spelling from a browser key ------------------------------------------


@pytest.fixture
def client(kafka_bootstrap: str, topic_prefix: str) -> Iterator[TestClient]:
    settings = api_settings(
        kafka_bootstrap, topic_prefix, SERVER_KEY, browser_keys={PUBLIC: (SHOP,)}
    )
    with TestClient(create_app(settings), client=("198.51.100.9", 40000)) as test_client:
        yield test_client


def _browser(client: TestClient, route: str, message: dict[str, Any]) -> httpx.Response:
    body = orjson.dumps({**message, "writeKey": PUBLIC})
    headers = {"origin": SHOP, "content-type": "text/plain"}
    answer: httpx.Response = client.post(route, content=body, headers=headers)
    return answer


def _stored(bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    codec = EventCodec()
    return [
        codec.decode(value_of(m)) for m in read_all(bootstrap, Topics.for_prefix(prefix).events)
    ]


def test_a_browser_key_cannot_send_any_spelling_of_a_server_only_event(
    client: TestClient, kafka_bootstrap: str, topic_prefix: str
) -> None:
    for _name, spelling in ALL_SPELLINGS:
        answer = _browser(client, "/v1/track", {"event": spelling, "anonymousId": "v-1"})
        assert answer.status_code == 403, (spelling, answer.text)
        assert answer.json()["code"] == "server_only_event"
    batch = [{"type": "track", "event": s, "anonymousId": "v-1"} for _n, s in ALL_SPELLINGS]
    batch.append({"type": "track", "event": "Product Viewed", "anonymousId": "v-1",
                  "messageId": "fine-1"})  # fmt: skip
    answer = _browser(client, "/v1/batch", {"batch": batch})
    assert answer.status_code == 200, answer.text
    errors = answer.json()["errors"]
    assert [e["index"] for e in errors] == list(range(len(ALL_SPELLINGS)))
    assert {e["code"] for e in errors} == {"server_only_event"}

    stored = _stored(kafka_bootstrap, topic_prefix)
    assert [(e["message_id"], e["entry"]) for e in stored] == [("fine-1", BROWSER_KEY)]


# -- the uploader sends no conversion that a browser key sent ----------------------------------


def _visit(anon: str, at: datetime) -> Event:
    url = f"https://shop.test/landing?gclid=G-{anon}&fbclid=F-{anon}"
    context = {"page": {"url": url}, "userAgent": "Mozilla/5.0 Firefox/140.0",
               "ip": "203.0.113.7"}  # fmt: skip
    return Event(f"visit-{anon}", "page", at, at, anonymous_id=anon, context=context)


def _purchase(anon: str, order: str, name: str, at: datetime, entry: str) -> Event:
    properties = {"order_id": order, "revenue": 10.0, "currency": "EUR"}
    return Event(f"buy-{order}", "track", at, at, event=name, anonymous_id=anon,
                 properties=properties, entry=entry)  # fmt: skip


def test_conversions_from_browser_keys_reach_no_ad_platform(
    client: TestClient, kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    forged = [("Order Completed", f"{run}-b1"), ("OrderCompleted", f"{run}-b2"),
              ("purchase", f"{run}-b3"), ("PAID", f"{run}-b4")]  # fmt: skip
    events = [_visit(f"a-{order}", now - timedelta(hours=1)) for _n, order in forged]
    # What slipped past the API anyway (an older API, a bug): written as a browser key's.
    events += [_purchase(f"a-{order}", order, name, now - timedelta(minutes=5), BROWSER_KEY)
               for name, order in forged]  # fmt: skip
    events.append(_visit(f"a-{run}-s", now - timedelta(hours=1)))
    produce(kafka_bootstrap, f"{topic_prefix}events", events)
    server = client.post("/v1/track", auth=(SERVER_KEY, ""), json={
        "event": "order_completed", "anonymousId": f"a-{run}-s", "messageId": f"buy-{run}-s",
        "properties": {"order_id": f"{run}-s", "revenue": 10.0, "currency": "EUR"}})  # fmt: skip
    assert server.status_code == 200, server.text

    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta, google)
    worker.start()
    try:
        wait_group_caught_up(kafka_bootstrap, f"{topic_prefix}conversions",
                             f"{topic_prefix}events")  # fmt: skip
        text = worker.metrics()
    finally:
        worker.stop()
    assert google.order_ids() == [f"{run}-s"] and meta.order_ids() == [f"{run}-s"]
    assert (meta.requests, google.requests) == (1, 1)  # the server key's purchase, once each
    assert f'footfall_conversions_refused_total{{reason="untrusted_entry"}} {len(forged)}.0' in text


# -- every stored row says how it entered --------------------------------------------------------

CSV = "sold_at,user,receipt,total\n2026-11-28 10:00:00,u-csv,R-1,5\n"
MAPPING = {"event": "Store Sale", "user_id_column": "user", "timestamp_column": "sold_at",
           "timezone": "UTC", "order_id_column": "receipt", "value_column": "total",
           "currency": "EUR"}  # fmt: skip


def test_each_stored_event_records_how_it_entered(
    client: TestClient, kafka_bootstrap: str, topic_prefix: str, sink: Sink
) -> None:
    viewed = {"event": "Product Viewed", "anonymousId": "v-entry"}
    assert _browser(client, "/v1/track", {**viewed, "messageId": "e-browser"}).status_code == 200
    server = client.post("/v1/track", auth=(SERVER_KEY, ""), json={**viewed,
                         "messageId": "e-server"})  # fmt: skip
    assert server.status_code == 200, server.text
    imported = client.post("/v1/import", auth=(SERVER_KEY, ""), json={"batch": [
        {**viewed, "type": "track", "messageId": "e-import"}]})  # fmt: skip
    assert imported.status_code == 200, imported.text
    csv = client.post("/v1/import/csv", auth=(SERVER_KEY, ""), content=CSV.encode(),
                      params={"mapping": orjson.dumps(MAPPING).decode()})  # fmt: skip
    assert csv.status_code == 200 and csv.json()["accepted"] == 1, csv.text
    with KafkaEventProducer(kafka_bootstrap, topic_prefix) as producer:
        producer.send({**viewed, "type": "track", "messageId": "e-kafka"})
    # An older writer (Avro v2, no entry field) straight to Kafka.
    at = datetime.now(UTC)
    old = Event("e-v2", "track", at, at, event="x", anonymous_id="v").to_record()
    raw = Producer({"bootstrap.servers": kafka_bootstrap})
    raw.produce(f"{topic_prefix}events", EventCodec(writer=event_schemas()[2]).encode(old), b"v")
    assert raw.flush(30) == 0

    assert sink.wait_rows(6)[0] == 6
    rows = sink.query("SELECT source, message_id, entry FROM events FINAL ORDER BY message_id")
    stored = {tuple(line.split("\t")) for line in rows.text.splitlines()}
    csv_id = next(m for s, m, _e in stored if s == "csv")
    assert stored == {
        ("http", "e-browser", "browser_key"), ("http", "e-server", "server_key"),
        ("import", "e-import", "csv_import"), ("csv", csv_id, "csv_import"),
        ("kafka", "e-kafka", "kafka"), ("http", "e-v2", "kafka"),
    }  # fmt: skip
