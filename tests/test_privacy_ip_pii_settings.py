"""The IP and personal-data settings (eventschema.collection_policy): each policy's result, the
refusals at start, the caller's data left untouched, and the uploader's side: a purchase of a
person whose email was hashed at ingest still reaches Meta and Google with the right hashes,
and a truncated IP is never sent as the visitor's address."""

import dataclasses
import hashlib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from adfakes import FakeGoogleAds, FakeMeta
from adfakes.harness import UploaderProcess
from eventschema import EventCodec, validate_message
from eventschema.collection_policy import CollectionPolicy, apply, apply_message
from eventschema.ip_policy import kept_ip
from eventschema.kafka_contract import Topics
from footfall_sdk import KafkaEventProducer
from producer_api.app import create_app
from tests.support.api import REPO, WRITE_KEY, ApiServer, api_settings
from tests.support.kafka_tools import read_all, value_of
from tests.support.sink import Sink

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "truncated", "full"),
    [
        ("203.0.113.77", "203.0.113.0", "203.0.113.77"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::", "2001:db8:abcd:12::1"),
        ("::ffff:203.0.113.77", "203.0.113.0", "203.0.113.77"),  # IPv4-mapped: as IPv4
        (" 198.51.100.9 ", "198.51.100.0", "198.51.100.9"),
        ("198.51.100.9:443", None, None),  # not an address: never stored, whatever the policy
        ("0xCB.0.113.77", None, None),
        ("", None, None),
    ],
)
def test_each_ip_policy_keeps_what_it_says(value: str, truncated: str, full: str) -> None:
    assert kept_ip(value, "truncate") == truncated
    assert kept_ip(value, "full") == full
    assert kept_ip(value, "drop") is None
    assert kept_ip(12345, "full") is None


def event(message: dict[str, Any], policy: CollectionPolicy) -> dict[str, Any]:
    found = validate_message({"type": "identify", "userId": "u", **message}, NOW)
    apply(found, policy)
    return {"traits": found.traits, "context": found.context, "properties": found.properties}


def test_the_caller_s_objects_are_never_modified() -> None:
    traits = {"email": "a@b.example", "nested": {"x": 1}}
    context = {"ip": "203.0.113.77", "page": {"url": "https://a.example/?token=t&x=1"}}
    message = {"traits": traits, "context": context}
    before = orjson.dumps(message)
    out = event(message, CollectionPolicy())
    assert orjson.dumps(message) == before
    assert out["context"]["page"]["url"] == "https://a.example/?x=1"
    assert out["traits"]["nested"] is traits["nested"]  # unchanged parts are shared, not copied


def test_contact_hashing_passes_hashes_and_can_be_turned_off() -> None:
    hashed = hashlib.sha256(b"a@b.example").hexdigest()
    assert event({"traits": {"email": hashed}}, CollectionPolicy())["traits"] == {"email": hashed}
    plain = CollectionPolicy.from_env({"FOOTFALL_PII_HASH_CONTACT": "false"})
    assert event({"traits": {"email": "A@b.example"}}, plain)["traits"] == {"email": "A@b.example"}
    # A phone without a country code: the country in the traits' address, else the default.
    national = {"traits": {"phone": "(650) 555-1212", "address": {"country": "US"}}}
    us = hashlib.sha256(b"16505551212").hexdigest()
    assert event(national, CollectionPolicy())["traits"]["phone"] == us
    region = CollectionPolicy.from_env({"FOOTFALL_CONVERSIONS_DEFAULT_REGION": "us"})
    assert event({"traits": {"phone": "(650) 555-1212"}}, region)["traits"]["phone"] == us
    # No region: not matchable, and still never kept plain.
    assert event({"traits": {"phone": "(650) 555-1212"}}, CollectionPolicy())["traits"] == {
        "phone": hashlib.sha256(b"6505551212").hexdigest()
    }


def test_strip_params_are_a_setting_case_insensitive_and_percent_decoded() -> None:
    policy = CollectionPolicy.from_env({"FOOTFALL_URL_STRIP_PARAMS": "Coupon, ref"})
    url = "https://a.example/p?coupon=C1&%52EF=r&email=e&utm_source=x"
    page = event({"context": {"page": {"url": url}}}, policy)["context"]["page"]
    assert page["url"] == "https://a.example/p?email=e&utm_source=x"
    default = event({"context": {"page": {"url": url}}}, CollectionPolicy())["context"]["page"]
    assert default["url"] == "https://a.example/p?coupon=C1&%52EF=r&utm_source=x"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        # OAuth's implicit flow and magic links put the token in the fragment.
        ("https://a.example/cb#access_token=T1&token_type=bearer",
         "https://a.example/cb#token_type=bearer"),
        ("https://a.example/cb#Access_Token=T1", "https://a.example/cb"),
        ("https://a.example/cb#%61ccess_token=T1&x=1", "https://a.example/cb#x=1"),
        # A hash router's query.
        ("https://a.example/#/reset?token=T2&step=2", "https://a.example/#/reset?step=2"),
        ("https://a.example/#/reset?token=T2", "https://a.example/#/reset"),
        # Both places at once.
        ("https://a.example/p?email=e&utm_source=x#session=S&tab=1",
         "https://a.example/p?utm_source=x#tab=1"),
        # Anchors and other fragments are kept as sent.
        ("https://a.example/p#top", "https://a.example/p#top"),
        ("https://a.example/p?utm_source=x#pricing", "https://a.example/p?utm_source=x#pricing"),
        ("https://a.example/p#tab=2&sort=price", "https://a.example/p#tab=2&sort=price"),
        ("https://a.example/p#tokens", "https://a.example/p#tokens"),
    ],
)  # fmt: skip
def test_the_named_parameters_are_stripped_from_a_fragment_too(url: str, stored: str) -> None:
    for _ in range(2):  # the second time from the stripper's memory of clean URLs
        found = event(
            {"context": {"page": {"url": url}}, "properties": {"url": url}}, CollectionPolicy()
        )
        assert found["context"]["page"]["url"] == stored
        assert found["properties"]["url"] == stored


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FOOTFALL_IP_POLICY": "anonymise"}, "FOOTFALL_IP_POLICY='anonymise'"),
        ({"FOOTFALL_PII_HASH_FIELDS": "properties.ssn"}, "FOOTFALL_PII_HMAC_KEY"),
        ({"FOOTFALL_PII_DROP_FIELDS": "ssn"}, "FOOTFALL_PII_DROP_FIELDS: 'ssn'"),
        ({"FOOTFALL_PII_HASH_CONTACT": "maybe"}, "FOOTFALL_PII_HASH_CONTACT"),
    ],
)
def test_bad_settings_stop_the_api_and_the_sdk_producer_at_start(
    env: dict[str, str], message: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match=message):
        CollectionPolicy.from_env(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        KafkaEventProducer(kafka_bootstrap)
    api = subprocess.run([sys.executable, "-m", "producer_api"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert api.returncode != 0 and message in api.stderr, api.stderr


def test_the_hmac_key_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("k1\n")
    env = {"FOOTFALL_PII_HASH_FIELDS": "traits.x", "FOOTFALL_PII_HMAC_KEY_FILE": f"{tmp_path}/key"}
    assert CollectionPolicy.from_env(env).hmac_key == b"k1"


@pytest.mark.parametrize(("policy", "stored"), [("drop", None), ("full", "203.0.113.77")])
def test_the_api_drops_or_keeps_the_ip_as_configured(
    policy: str, stored: str | None, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = dataclasses.replace(
        api_settings(kafka_bootstrap, topic_prefix, WRITE_KEY),
        collection=CollectionPolicy.from_env({"FOOTFALL_IP_POLICY": policy}),
    )
    with TestClient(create_app(settings), client=("203.0.113.77", 5000)) as client:
        answer = client.post("/v1/track", json={"event": "Seen", "userId": "u"},
                             auth=(WRITE_KEY, ""))  # fmt: skip
    assert answer.status_code == 200, answer.text
    messages = read_all(kafka_bootstrap, Topics.for_prefix(topic_prefix).events)
    [record] = [EventCodec().decode(value_of(m)) for m in messages]
    context = orjson.loads(record["context"])
    assert context.get("ip") == stored and context["ip_policy"] == policy


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_person_hashed_at_ingest_still_matches_and_a_truncated_ip_is_not_sent(
    kafka_bootstrap: str, topic_prefix: str, sink: Sink, tmp_path: Path,
    fakes: tuple[FakeMeta, FakeGoogleAds],
) -> None:  # fmt: skip
    meta, google = fakes
    api = ApiServer(kafka_bootstrap, topic_prefix, tmp_path)
    api.start()
    anon, order = f"v-{uuid.uuid4().hex[:8]}", f"ord-{uuid.uuid4().hex[:6]}"
    try:
        # The visitor's page (the API fills in and truncates the connection's address) and the
        # shop's server-side identify with the email: both through the real API.
        batch = [
            {"type": "page", "anonymousId": anon, "context": {
                "page": {"url": "https://shop.test/cart"}, "userAgent": "Mozilla/5.0 Firefox"}},
            {"type": "identify", "anonymousId": anon, "userId": "u-77",
             "traits": {"email": " Jane.Doe+shop@Gmail.com "}},
        ]  # fmt: skip
        answer = httpx.post(f"{api.url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
        assert answer.status_code == 200, answer.text
    finally:
        api.stop()
    with KafkaEventProducer(kafka_bootstrap, topic_prefix) as producer:  # the back end
        properties = {"order_id": order, "revenue": 30, "currency": "EUR"}
        producer.send({"type": "track", "event": "Order Completed", "anonymousId": anon,
                       "properties": properties})  # fmt: skip
    worker = UploaderProcess(kafka_bootstrap, topic_prefix, sink.url, tmp_path, meta, google,
                             {"FOOTFALL_CONVERSIONS_CLIENT_SIGNALS": "ip,user_agent"})  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: meta.order_ids() == [order] and bool(google.rows()), 90, "both uploads")
    finally:
        worker.stop()
    [sent] = meta.events()
    assert sent["user_data"]["em"] == [
        hashlib.sha256(b"jane.doe+shop@gmail.com").hexdigest()  # Meta: trimmed, lowercase
    ]
    assert sent["action_source"] == "website"  # the user agent was chosen
    assert sent["user_data"]["client_user_agent"] == "Mozilla/5.0 Firefox"
    assert "client_ip_address" not in sent["user_data"]  # 127.0.0.0 is not the visitor's IP
    [row] = google.rows()
    google_hash = hashlib.sha256(b"janedoe@gmail.com").hexdigest()  # Gmail: no dots, +suffix
    assert row["userIdentifiers"] == [{"hashedEmail": google_hash}]


def test_a_field_to_hash_may_hold_any_value() -> None:
    policy = CollectionPolicy.from_env(
        {"FOOTFALL_PII_HASH_FIELDS": "properties.id", "FOOTFALL_PII_HMAC_KEY": "k"}
    )
    for value in ({"b": 1, "a": [2]}, 2**70, 7, None):
        message = {"type": "identify", "userId": "u", "properties": {"id": value}}
        hashed = apply_message(message, policy)["properties"]["id"]
        assert hashed is None if value is None else len(hashed) == 64
