"""Issue 13 points 1-2: the IP policy and the personal-data rules, applied before Kafka, through
every way in: the browser tracker's request (its exact payload: a text/plain /v1/batch body with
the writeKey, sent over HTTP to a real API process), the SDK's direct Kafka producer, and CSV
import (the /v1/import/csv endpoint and the `python -m csv_import` command, which posts to
/v1/import). Each rule is checked in the Kafka record (decoded with EventCodec) and in what a
real sink stored in ClickHouse; the raw bytes of every record on the events and quarantine
topics are searched for the values that must not be there.

One pipeline run per module (an API, a sink, the four paths) serves all the rule tests.
"""

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from eventschema import EventCodec
from eventschema.kafka_contract import Topics
from footfall.topics import ensure_topics
from footfall_sdk import KafkaEventProducer
from tests.support.api import REPO, WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.kafka_tools import read_all, value_of
from tests.support.sink import Sink

BROWSER_KEY = "pk_privacy"
HMAC_KEY = "test-pii-hmac-key"
ENV = {
    "FOOTFALL_BROWSER_KEYS": f"{BROWSER_KEY}=*",
    "FOOTFALL_PII_DROP_FIELDS": "properties.ssn,traits.birthday",
    "FOOTFALL_PII_HASH_FIELDS": "properties.account",
    "FOOTFALL_PII_HMAC_KEY": HMAC_KEY,
}
EMAIL, PHONE, SSN, ACCOUNT, BIRTHDAY = (
    "Jane.Doe+news@Gmail.com", "+1 (650) 555-1212", "078-05-1120", "acct-991", "1990-04-01"
)  # fmt: skip
CLIENT_IP, CLIENT_V6 = "203.0.113.77", "2001:db8:abcd:12::1"
# The fragment is a hash router's: its query is stripped like the URL's.
SECRET_URL = "https://shop.example/thanks?email=jane%40example.com&utm_source=news&Token=tok-S1&gclid=CLICK-1#/receipt?access_token=frag-S3&tab=2"  # noqa: E501
CLEAN_URL = "https://shop.example/thanks?utm_source=news&gclid=CLICK-1#/receipt?tab=2"
SECRET_REFERRER = "https://mail.example/read?SESSION=sess-S2&q=1"
CLEAN_REFERRER = "https://mail.example/read?q=1"
# Nothing of these may reach Kafka (the address in full, the email's local part, ...).
NEVER = [
    CLIENT_IP,
    "abcd:12",
    "jane",
    "Jane",
    "555-1212",
    SSN,
    ACCOUNT,
    BIRTHDAY,
    "tok-S1",
    "sess-S2",
    "frag-S3",
]
PATHS = ("tracker", "sdk", "csv_endpoint", "csv_command")
MAPPING = {"event": "Order Completed", "user_id_column": "customer", "timestamp_column": "at",
           "order_id_column": "receipt", "timezone": "UTC"}  # fmt: skip
CSV = (
    "at,customer,receipt,ssn,account,url\n"
    f"2026-11-01 10:00:00,c-1,R-1,{SSN},{ACCOUNT},{SECRET_URL}\n"
)


@dataclass
class Sent:
    """Per path: message id -> the Kafka record and the stored row."""

    kafka: dict[str, dict[str, Any]]
    stored: dict[str, dict[str, Any]]
    raw_records: list[bytes]  # every record on the events and quarantine topics
    ids: dict[str, dict[str, str]]  # path -> role (page, identify, order) -> message id


def tracker_payload(ids: dict[str, str]) -> bytes:
    """What footfall.js POSTs (tracker/src/footfall.js: batch, sentAt, writeKey; text/plain)."""
    touch = {"utm_source": "news", "url": SECRET_URL, "referrer": SECRET_REFERRER}
    page = {"url": SECRET_URL, "search": SECRET_URL[SECRET_URL.index("?") : SECRET_URL.index("#")],
            "referrer": SECRET_REFERRER, "path": "/thanks", "title": "Thanks"}  # fmt: skip
    context = {"library": {"name": "footfall.js", "version": "1"}, "page": page,
               "userAgent": "Mozilla/5.0 Chrome/140", "lastTouch": touch,
               "firstTouch": touch}  # fmt: skip
    batch = [
        {"type": "page", "messageId": ids["page"], "anonymousId": "v-1", "context": context,
         "properties": {"url": SECRET_URL, "referrer": SECRET_REFERRER, "ssn": SSN,
                        "account": ACCOUNT}},
        {"type": "identify", "messageId": ids["identify"], "anonymousId": "v-1",
         "userId": "u-1", "traits": {"email": EMAIL, "phone": PHONE, "birthday": BIRTHDAY},
         "context": {**context, "ip": CLIENT_IP, "traits": {"email": EMAIL}}},
        # Refused (a track without a name): quarantined, with the same rules applied.
        {"type": "track", "anonymousId": "v-1", "properties": {"ssn": SSN, "url": SECRET_URL},
         "traits": {"email": EMAIL}, "context": {"ip": CLIENT_IP}},
    ]  # fmt: skip
    return orjson.dumps({"batch": batch, "sentAt": "2026-11-29T12:00:00Z", "writeKey": BROWSER_KEY})


def sdk_messages(ids: dict[str, str]) -> list[dict[str, Any]]:
    context = {"ip": CLIENT_V6, "page": {"url": SECRET_URL, "referrer": SECRET_REFERRER}}
    return [
        {"type": "page", "messageId": ids["page"], "userId": "u-2", "context": context,
         "properties": {"url": SECRET_URL, "ssn": SSN, "account": ACCOUNT}},
        {"type": "identify", "messageId": ids["identify"], "userId": "u-2", "context": context,
         "traits": {"email": EMAIL, "phone": PHONE, "birthday": BIRTHDAY}},
    ]  # fmt: skip


def send_all(api: ApiServer, bootstrap: str, prefix: str, tmp: Path) -> dict[str, dict[str, str]]:
    ids = {path: {"page": str(uuid.uuid4()), "identify": str(uuid.uuid4())} for path in PATHS}
    answer = httpx.post(f"{api.url}/v1/batch", content=tracker_payload(ids["tracker"]),
                        headers={"content-type": "text/plain"}, timeout=30)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["accepted"] == 2, answer.text
    with KafkaEventProducer(bootstrap, prefix) as producer:  # reads ENV from the environment
        producer.send_many(sdk_messages(ids["sdk"]))
    answer = httpx.post(
        f"{api.url}/v1/import/csv", content=CSV.encode(), auth=(WRITE_KEY, ""),
        headers={"content-type": "text/csv", "X-Footfall-Mapping": json.dumps(MAPPING)},
        timeout=60,
    )  # fmt: skip
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    (tmp / "orders.csv").write_text(CSV.replace("R-1", "R-2"))
    (tmp / "mapping.json").write_text(json.dumps(MAPPING))
    command = [sys.executable, "-m", "csv_import", str(tmp / "orders.csv"), "--mapping",
               str(tmp / "mapping.json"), "--api", api.url, "--key", WRITE_KEY,
               "--no-progress"]  # fmt: skip
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return ids


def by_order(records: dict[str, dict[str, Any]], receipt: str) -> str:
    [found] = [mid for mid, r in records.items() if receipt in str(r["properties"])]
    return found


@pytest.fixture(scope="module")
def sent(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    tmp = tmp_path_factory.mktemp("privacy")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ENV.items():
            patch.setenv(name, value)
        sink, api = Sink(kafka_bootstrap, prefix, tmp), ApiServer(kafka_bootstrap, prefix, tmp)
        sink.start()
        api.start()
        try:
            ids = send_all(api, kafka_bootstrap, prefix, tmp)
            wait_group_caught_up(kafka_bootstrap, f"{prefix}sink", f"{prefix}events")
            assert sink.wait_rows(6)[0] == 6
            rows = sink.query(
                "SELECT message_id, ip, page_url, page_referrer, properties, traits, context "
                "FROM events FINAL ORDER BY message_id",
                "JSONEachRow",
            ).text.splitlines()
        finally:
            api.stop()
            sink.stop()
    topics = Topics.for_prefix(prefix)
    codec = EventCodec()
    events = [value_of(m) for m in read_all(kafka_bootstrap, topics.events)]
    quarantined = [value_of(m) for m in read_all(kafka_bootstrap, topics.quarantine)]
    assert len(events) == 6 and len(quarantined) == 1
    kafka = {r["message_id"]: r for r in map(codec.decode, events)}
    stored = {r["message_id"]: r for r in map(orjson.loads, rows)}
    for records in (kafka, stored):
        for record in records.values():
            for name in ("properties", "traits", "context"):
                record[name] = orjson.loads(record[name])
    ids["csv_endpoint"]["order"] = by_order(kafka, "R-1")
    ids["csv_command"]["order"] = by_order(kafka, "R-2")
    yield Sent(kafka, stored, events + quarantined, ids)


def both(sent: Sent, path: str, role: str) -> list[dict[str, Any]]:
    """The Kafka record and the stored row of one event."""
    mid = sent.ids[path][role]
    return [sent.kafka[mid], sent.stored[mid]]


def test_nothing_the_rules_remove_reaches_kafka_by_any_path(sent: Sent) -> None:
    for raw in sent.raw_records:
        text = raw.decode("utf-8", "replace")
        assert not [value for value in NEVER if value in text], text


@pytest.mark.parametrize("path", ["tracker", "sdk"])
def test_the_ip_is_truncated_before_kafka(sent: Sent, path: str) -> None:
    # The tracker's page event has no context.ip: the API fills in the connection's (127.0.0.1).
    expected = {"tracker": ("127.0.0.0", "203.0.113.0"), "sdk": ("2001:db8:abcd::",) * 2}[path]
    for role, ip in zip(("page", "identify"), expected, strict=True):
        kafka, stored = both(sent, path, role)
        assert kafka["context"]["ip"] == ip and kafka["context"]["ip_policy"] == "truncate"
        assert stored["ip"] == ip  # the ip column (a DEFAULT from context) takes it


@pytest.mark.parametrize("path", ["csv_endpoint", "csv_command"])
def test_csv_rows_record_the_policy_and_no_full_ip(sent: Sent, path: str) -> None:
    # The command posts to /v1/import, which records the connection's address like any route;
    # the endpoint reads a file and records none.
    ip = {"csv_endpoint": None, "csv_command": "127.0.0.0"}[path]
    kafka, stored = both(sent, path, "order")
    assert kafka["context"].get("ip") == ip and kafka["context"]["ip_policy"] == "truncate"
    assert stored["ip"] == (ip or "")


def roles(path: str) -> list[str]:
    return ["order"] if path.startswith("csv") else ["page"]


@pytest.mark.parametrize("path", PATHS)
def test_fields_named_to_drop_are_dropped(sent: Sent, path: str) -> None:
    for record in both(sent, path, roles(path)[0]):
        assert "ssn" not in record["properties"]
    if not path.startswith("csv"):  # CSV rows carry properties only
        for record in both(sent, path, "identify"):
            assert "birthday" not in record["traits"]
            assert "birthday" not in record["context"].get("traits", {})


@pytest.mark.parametrize("path", PATHS)
def test_fields_named_to_hash_carry_their_hmac(sent: Sent, path: str) -> None:
    digest = hmac.new(HMAC_KEY.encode(), ACCOUNT.encode(), hashlib.sha256).hexdigest()
    for record in both(sent, path, roles(path)[0]):
        assert record["properties"]["account"] == digest


META_EMAIL = hashlib.sha256(EMAIL.lower().encode()).hexdigest()
GOOGLE_EMAIL = hashlib.sha256(b"janedoe@gmail.com").hexdigest()  # Gmail: no dots, no +suffix
META_PHONE = hashlib.sha256(b"16505551212").hexdigest()
GOOGLE_PHONE = hashlib.sha256(b"+16505551212").hexdigest()


@pytest.mark.parametrize("path", ["tracker", "sdk"])  # CSV rows have no traits
def test_email_and_phone_traits_are_stored_hashed_as_the_ad_platforms_hash_them(
    sent: Sent, path: str
) -> None:
    for record in both(sent, path, "identify"):
        assert record["traits"] == {
            "email": META_EMAIL,
            "email_sha256_google": GOOGLE_EMAIL,
            "phone": META_PHONE,
            "phone_sha256_google": GOOGLE_PHONE,
        }
        if path == "tracker":
            assert record["context"]["traits"]["email"] == META_EMAIL


@pytest.mark.parametrize("path", PATHS)
def test_secret_query_parameters_are_stripped_from_every_stored_url(sent: Sent, path: str) -> None:
    for record in both(sent, path, roles(path)[0]):
        assert record["properties"]["url"] == CLEAN_URL
        if path.startswith("csv"):
            continue
        page = record["context"]["page"]
        assert (page["url"], page["referrer"]) == (CLEAN_URL, CLEAN_REFERRER)
        if path == "tracker":
            assert page["search"] == "?utm_source=news&gclid=CLICK-1"
            assert record["properties"]["referrer"] == CLEAN_REFERRER
            for touch in ("lastTouch", "firstTouch"):
                found = record["context"][touch]
                assert (found["url"], found["referrer"]) == (CLEAN_URL, CLEAN_REFERRER)
    if not path.startswith("csv"):  # the typed columns: derived from the stripped URL
        stored = both(sent, path, "page")[1]
        assert (stored["page_url"], stored["page_referrer"]) == (CLEAN_URL, CLEAN_REFERRER)
