"""The API's browser-facing side against the real broker: key kinds, CORS, server-only events,
rate limits, client IPs behind trusted proxies, and the tracker script at /t.js."""

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from eventschema import EventCodec
from eventschema.collection_policy import CollectionPolicy
from eventschema.kafka_contract import Topics
from producer_api.app import create_app
from producer_api.clientip import parse_networks
from producer_api.ratelimit import Rate
from tests.support.api import api_settings
from tests.support.kafka_tools import read_all, value_of

SERVER_KEY = "sk-secret-server-key"
SHOP = "https://shop.example"
BLOG = "https://blog.example"
BROWSER_KEYS = {"pk_shop": (SHOP, "http://localhost:8090"), "pk_blog": (BLOG,)}

MakeClient = Callable[..., TestClient]


@pytest.fixture
def topics(topic_prefix: str) -> Topics:
    return Topics.for_prefix(topic_prefix)


@pytest.fixture
def make_client(kafka_bootstrap: str, topic_prefix: str) -> Iterator[MakeClient]:
    """A TestClient factory: `make_client(client=("ip", port), **settings_overrides)`."""
    base = api_settings(kafka_bootstrap, topic_prefix, SERVER_KEY, browser_keys=BROWSER_KEYS)
    with ExitStack() as stack:

        def make(client: tuple[str, int] = ("198.51.100.1", 40000), **overrides: Any) -> TestClient:
            settings = dataclasses.replace(base, **overrides)
            return stack.enter_context(TestClient(create_app(settings), client=client))

        yield make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


def _track(key: str | None, event: str = "Product Viewed", **extra: Any) -> bytes:
    message: dict[str, Any] = {"event": event, "anonymousId": "visitor-1", **extra}
    if key is not None:
        message["writeKey"] = key
    return orjson.dumps(message)


def _beacon(client: TestClient, route: str, body: bytes, origin: str | None) -> Any:
    """What navigator.sendBeacon sends: POST, text/plain, the key in the body."""
    headers = {"content-type": "text/plain;charset=UTF-8"}
    if origin is not None:
        headers["origin"] = origin
    return client.post(route, content=body, headers=headers)


def _events(bootstrap: str, topics: Topics) -> list[dict[str, Any]]:
    codec = EventCodec()
    return [codec.decode(value_of(m)) for m in read_all(bootstrap, topics.events)]


def test_preflight_answers_allowed_origins_only(client: TestClient) -> None:
    request_headers = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
    }
    allowed = client.options("/v1/batch", headers={"origin": BLOG, **request_headers})
    assert allowed.status_code == 204, allowed.text
    assert allowed.headers["access-control-allow-origin"] == BLOG
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "origin" in allowed.headers["vary"].lower()
    assert "access-control-allow-credentials" not in allowed.headers

    denied = client.options("/v1/track", headers={"origin": "https://evil.example"})
    assert denied.status_code == 403
    assert denied.json()["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in denied.headers


def test_browser_key_from_its_origin_is_accepted_from_another_refused(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    answer = _beacon(client, "/v1/track", _track("pk_shop", messageId="b-1"), SHOP)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == SHOP
    assert answer.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in answer.headers

    # BLOG is a known origin, but not one of pk_shop's: the exact key decides.
    other = _beacon(client, "/v1/track", _track("pk_shop", messageId="b-2"), BLOG)
    assert other.status_code == 403
    assert other.json()["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in other.headers

    assert [e["message_id"] for e in _events(kafka_bootstrap, topics)] == ["b-1"]


def test_browser_key_cannot_send_server_only_events_a_server_key_can(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    single = _beacon(client, "/v1/track", _track("pk_shop", "Order Completed"), SHOP)
    assert single.status_code == 403
    assert single.json()["code"] == "server_only_event"

    batch = {
        "writeKey": "pk_shop",
        "batch": [
            {"type": "track", "event": "Product Viewed", "anonymousId": "v", "messageId": "ok-0"},
            {"type": "track", "event": "order completed ", "anonymousId": "v"},
            {"type": "track", "event": "purchase", "anonymousId": "v"},
            {"type": "page", "name": "purchase", "anonymousId": "v", "messageId": "ok-3"},
        ],
    }
    answer = _beacon(client, "/v1/batch", orjson.dumps(batch), SHOP)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "server_only_event"),
        (2, "server_only_event"),
    ]

    only_forbidden = {"writeKey": "pk_shop", "batch": batch["batch"][1:3]}
    refused = _beacon(client, "/v1/batch", orjson.dumps(only_forbidden), SHOP)
    assert refused.status_code == 403
    assert refused.json()["code"] == "server_only_event"

    server = client.post(
        "/v1/track",
        auth=(SERVER_KEY, ""),
        json={"event": "Order Completed", "anonymousId": "v", "messageId": "srv-1"},
    )
    assert server.status_code == 200, server.text
    assert "access-control-allow-origin" not in server.headers

    stored = {e["message_id"]: e["event"] for e in _events(kafka_bootstrap, topics)}
    assert stored == {"ok-0": "Product Viewed", "ok-3": None, "srv-1": "Order Completed"}


def test_import_needs_a_server_key(client: TestClient) -> None:
    body = {"batch": [{"type": "track", "event": "Viewed", "anonymousId": "v"}]}
    browser = _beacon(client, "/v1/import", orjson.dumps({**body, "writeKey": "pk_shop"}), SHOP)
    assert browser.status_code == 403
    assert browser.json()["code"] == "server_key_required"
    # Without an Origin too: the kind of key decides, not where it comes from.
    no_origin = _beacon(client, "/v1/import", orjson.dumps({**body, "writeKey": "pk_shop"}), None)
    assert no_origin.status_code == 403

    server = client.post("/v1/import", json=body, headers={"authorization": f"Bearer {SERVER_KEY}"})
    assert server.status_code == 200, server.text


def test_server_key_from_a_browser_is_refused(client: TestClient) -> None:
    in_body = _beacon(client, "/v1/track", _track(SERVER_KEY), SHOP)
    assert in_body.status_code == 403
    assert in_body.json()["code"] == "server_key_from_browser"
    assert "access-control-allow-origin" not in in_body.headers
    in_header = client.post(
        "/v1/track", auth=(SERVER_KEY, ""), content=_track(None), headers={"origin": SHOP}
    )
    assert in_header.status_code == 403
    assert in_header.json()["code"] == "server_key_from_browser"
    # A key in the URL would end up in logs: refused whatever the key.
    in_query = client.post(f"/v1/track?writeKey={SERVER_KEY}", content=_track(None))
    assert in_query.status_code == 401
    assert in_query.json()["code"] == "key_in_query"
    assert SERVER_KEY not in in_query.text


def test_one_noisy_key_is_limited_the_others_are_not(make_client: MakeClient) -> None:
    client = make_client(key_rate=Rate(0.01, 3))  # 3 at once, then one per 100 s
    for _ in range(3):
        assert _beacon(client, "/v1/track", _track("pk_shop"), SHOP).status_code == 200
    limited = _beacon(client, "/v1/track", _track("pk_shop"), SHOP)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 100
    # The tracker may read why: the origin is allowed for this key, Retry-After is exposed.
    assert limited.headers["access-control-allow-origin"] == SHOP
    assert "retry-after" in limited.headers["access-control-expose-headers"].lower()

    assert _beacon(client, "/v1/track", _track("pk_blog"), BLOG).status_code == 200
    server = client.post("/v1/track", auth=(SERVER_KEY, ""), content=_track(None))
    assert server.status_code == 200
    # A header key is limited before the body is read.
    for _ in range(2):
        client.post("/v1/track", auth=(SERVER_KEY, ""), content=_track(None))
    early = client.post("/v1/track", auth=(SERVER_KEY, ""), content=b"not even json")
    assert early.status_code == 429


def test_per_ip_limit_counts_each_address_separately(make_client: MakeClient) -> None:
    noisy = make_client(client=("203.0.113.7", 1111), ip_rate=Rate(0.01, 2))

    def post(client: TestClient) -> Any:
        return client.post("/v1/track", auth=(SERVER_KEY, ""), content=_track(None))

    assert [post(noisy).status_code for _ in range(2)] == [200, 200]
    limited = post(noisy)
    assert limited.status_code == 429
    assert "retry-after" in limited.headers
    # The same running app (its state, its buckets) seen from another address: unaffected.
    # Not entered as a context manager, so the lifespan (which would reset the state) stays put.
    other = TestClient(noisy.app, client=("203.0.113.8", 2222))
    assert post(other).status_code == 200
    assert post(noisy).status_code == 429


def test_proxy_header_is_honoured_only_from_a_trusted_proxy(
    make_client: MakeClient, kafka_bootstrap: str, topics: Topics
) -> None:
    # FOOTFALL_IP_POLICY=full: the address resolved is stored as it is (default: truncated).
    trusted = {
        "trusted_proxies": parse_networks("10.0.0.0/8, 192.168.1.7"),
        "collection": CollectionPolicy(ip="full"),
    }
    via_proxy = make_client(client=("10.0.0.2", 5000), **trusted)
    direct = make_client(client=("203.0.113.50", 5000), **trusted)
    spoofed = "6.6.6.6, 198.51.100.23, 10.1.2.3"  # client-written left part, then our proxies

    def send(client: TestClient, message_id: str, forwarded: str) -> None:
        answer = client.post(
            "/v1/track",
            auth=(SERVER_KEY, ""),
            content=_track(None, messageId=message_id),
            headers={"x-forwarded-for": forwarded},
        )
        assert answer.status_code == 200, answer.text

    send(via_proxy, "via-proxy", spoofed)
    send(direct, "direct", spoofed)
    ips = {
        e["message_id"]: orjson.loads(e["context"])["ip"] for e in _events(kafka_bootstrap, topics)
    }
    assert ips == {"via-proxy": "198.51.100.23", "direct": "203.0.113.50"}


def test_proxy_address_feeds_the_per_ip_limiter(make_client: MakeClient) -> None:
    client = make_client(
        client=("10.0.0.2", 5000),
        trusted_proxies=parse_networks("10.0.0.0/8"),
        ip_rate=Rate(0.01, 1),
    )

    def status(forwarded: str) -> int:
        headers = {"x-forwarded-for": forwarded}
        answer = client.post(
            "/v1/track", auth=(SERVER_KEY, ""), content=_track(None), headers=headers
        )
        return int(answer.status_code)

    assert status("198.51.100.1") == 200
    assert status("198.51.100.1") == 429
    assert status("198.51.100.2") == 200  # another visitor behind the same proxy


def test_tracker_script_is_served_when_built(make_client: MakeClient, tmp_path: Path) -> None:
    script = tmp_path / "footfall.min.js"
    missing = make_client(tracker_path=tmp_path / "absent.js").get("/t.js")
    assert missing.status_code == 404
    assert missing.json()["code"] == "tracker_not_built"

    script.write_text("window.footfall=1;")
    answer = make_client(tracker_path=script).get("/t.js", headers={"origin": SHOP})
    assert answer.status_code == 200
    assert answer.text == "window.footfall=1;"
    assert answer.headers["content-type"].startswith("application/javascript")
    assert "max-age=" in answer.headers["cache-control"]
    assert "access-control-allow-origin" not in answer.headers
