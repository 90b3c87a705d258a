"""The producer API against the real broker: answers, per-event errors, what reaches Kafka."""

import gc
import gzip
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from eventschema import Event, EventCodec
from eventschema.kafka_contract import HEADER_EVENT, HEADER_SCHEMA, Topics
from producer_api.app import create_app
from producer_api.publisher import OutgoingMessage
from tests.support.api import api_settings
from tests.support.kafka_tools import end_offsets, header, read_all, value_of
from tests.support.metrics import sample

KEY = "test-write-key"
AUTH = (KEY, "")


@pytest.fixture
def topics(topic_prefix: str) -> Topics:
    return Topics.for_prefix(topic_prefix)


@pytest.fixture
def client(kafka_bootstrap: str, topic_prefix: str) -> Iterator[TestClient]:
    settings = api_settings(kafka_bootstrap, topic_prefix, KEY)
    with TestClient(create_app(settings), raise_server_exceptions=True) as test_client:
        yield test_client


def test_track_is_acknowledged_and_in_kafka_with_key_and_headers(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    answer = client.post(
        "/v1/track",
        auth=AUTH,
        json={
            "event": "Signed Up",
            "anonymousId": "visitor-1",
            "messageId": "m-1",
            "properties": {"plan": "pro"},
            "context": {"page": {"path": "/register"}},
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "accepted": 1}
    [message] = read_all(kafka_bootstrap, topics.events)
    assert message.key() == b"visitor-1"
    assert header(message, HEADER_EVENT) == b"Signed Up"
    assert header(message, HEADER_SCHEMA).startswith(b"footfall.Event/v3/")
    record = EventCodec().decode(value_of(message))
    assert record["message_id"] == "m-1"
    assert orjson.loads(record["properties"]) == {"plan": "pro"}
    assert orjson.loads(record["context"])["page"] == {"path": "/register"}


def test_batch_reports_each_invalid_event_and_quarantines_it(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    batch = [
        {"type": "track", "event": "Viewed", "anonymousId": "a"},
        {"type": "track", "anonymousId": "a"},
        {"type": "identify", "userId": "u", "traits": {"email": "x@example.com"}},
        "not an object",
    ]
    answer = client.post("/v1/batch", auth=AUTH, json={"batch": batch, "sentAt": None})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "missing_field"),
        (3, "invalid_type"),
    ]
    assert len(read_all(kafka_bootstrap, topics.events)) == 2
    quarantined = [orjson.loads(value_of(m)) for m in read_all(kafka_bootstrap, topics.quarantine)]
    assert sorted(q["index"] for q in quarantined) == [1, 3]
    assert quarantined[0]["reason"]["code"] in {"missing_field", "invalid_type"}


def test_batch_level_sent_at_and_context_apply_to_each_message(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    answer = client.post(
        "/v1/batch",
        auth=AUTH,
        json={
            "batch": [
                {
                    "type": "page",
                    "name": "Home",
                    "anonymousId": "a",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "context": {"locale": "de"},
                }
            ],
            "sentAt": "2026-01-01T00:00:05Z",
            "context": {"library": {"name": "test-lib"}, "locale": "en"},
        },
    )
    assert answer.status_code == 200, answer.text
    [message] = read_all(kafka_bootstrap, topics.events)
    record = EventCodec().decode(value_of(message))
    context = orjson.loads(record["context"])
    assert context["library"] == {"name": "test-lib"}
    assert context["locale"] == "de"
    # skew-corrected: 5 s before it was received, whatever the client clock said
    assert (record["received_at"] - record["timestamp"]).total_seconds() == pytest.approx(
        5, abs=0.01
    )


def test_write_key_in_the_body_is_accepted(client: TestClient) -> None:
    answer = client.post("/v1/identify", json={"userId": "u", "writeKey": KEY})
    assert answer.status_code == 200, answer.text


def test_gzip_body_is_inflated(client: TestClient, kafka_bootstrap: str, topics: Topics) -> None:
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "event": "z", "userId": "u"}]}))
    answer = client.post(
        "/v1/batch",
        auth=AUTH,
        content=body,
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert len(read_all(kafka_bootstrap, topics.events)) == 1


GZIP_BOMB = gzip.compress(b'{"batch":[{"type":"track","event":"' + b"a" * 20_000_000 + b'"}]}')

BAD_INPUTS = [
    pytest.param(
        {"content": b'{"event": '}, "/v1/track", AUTH, 400, "invalid_json", id="broken-json"
    ),
    pytest.param({"content": b""}, "/v1/track", AUTH, 400, "invalid_json", id="empty-body"),
    pytest.param({"content": b"\xef\xbb\xbf{}"}, "/v1/track", AUTH, 400, "invalid_json", id="bom"),
    pytest.param(
        {"content": b'{"event":"x","anonymousId":"\xff"}'},
        "/v1/track",
        AUTH,
        400,
        "invalid_json",
        id="invalid-utf8",
    ),
    pytest.param(
        {"content": b'{"event":"x","anonymousId":"a","p":NaN}'},
        "/v1/track",
        AUTH,
        400,
        "invalid_json",
        id="nan",
    ),
    pytest.param(
        {"content": b'{"event":"x","anonymousId":"a","p":1e400}'},
        "/v1/track",
        AUTH,
        400,
        "invalid_json",
        id="infinity",
    ),
    pytest.param({"content": b"[" * 100_000}, "/v1/track", AUTH, 400, "invalid_json", id="deep"),
    pytest.param(
        {"content": b'{"event":"x","anonymousId":"\\ud800"}'},
        "/v1/track",
        AUTH,
        400,
        "invalid_json",
        id="lone-surrogate",
    ),
    pytest.param(
        {"json": {"event": "x", "anonymousId": "a"}},
        "/v1/track",
        None,
        401,
        "missing_write_key",
        id="no-key",
    ),
    pytest.param(
        {"json": {"event": "x", "anonymousId": "a"}},
        "/v1/track",
        ("nope", ""),
        401,
        "invalid_write_key",
        id="unknown-key",
    ),
    pytest.param(
        {"json": {"event": "x", "anonymousId": "a", "writeKey": "nope"}},
        "/v1/track",
        None,
        401,
        "invalid_write_key",
        id="unknown-body-key",
    ),
    # Malformed Basic credentials are the caller's error (401), never a server error (503).
    pytest.param(
        {
            "json": {"event": "x", "anonymousId": "a"},
            "headers": {"authorization": b"Basic dGVzdC13cml0ZS1rZXk6\xe9"},
        },
        "/v1/track",
        None,
        401,
        "invalid_write_key",
        id="basic-not-ascii",
    ),
    pytest.param(
        {"json": {"event": "x", "anonymousId": "a"}, "headers": {"authorization": "Basic %%%"}},
        "/v1/track",
        None,
        401,
        "invalid_write_key",
        id="basic-not-base64",
    ),
    pytest.param(
        {"json": {"event": "x", "anonymousId": "a"}, "headers": {"authorization": "Basic /w=="}},
        "/v1/track",
        None,
        401,
        "invalid_write_key",
        id="basic-not-utf8",
    ),
    pytest.param(
        {"json": {"anonymousId": "a"}},
        "/v1/track",
        AUTH,
        400,
        "invalid_event",
        id="track-without-event",
    ),
    pytest.param({"json": {"event": "x"}}, "/v1/track", AUTH, 400, "invalid_event", id="no-ids"),
    pytest.param({"json": [1, 2]}, "/v1/track", AUTH, 400, "invalid_event", id="array"),
    pytest.param({"json": {"batch": []}}, "/v1/batch", AUTH, 400, "empty_batch", id="empty-batch"),
    pytest.param(
        {"json": {"batch": {"a": 1}}},
        "/v1/batch",
        AUTH,
        400,
        "invalid_payload",
        id="batch-not-array",
    ),
    pytest.param(
        {"json": {"batch": [{"type": "track"}]}},
        "/v1/batch",
        AUTH,
        400,
        "invalid_events",
        id="all-invalid",
    ),
    pytest.param(
        {"json": {"batch": [{"type": "track", "event": "e", "userId": "u"}] * 2501}},
        "/v1/batch",
        AUTH,
        413,
        "too_many_events",
        id="too-many-events",
    ),
    pytest.param(
        {"content": b'{"batch":[{"type":"track","event":"' + b"a" * 600_000 + b'"}]}'},
        "/v1/batch",
        AUTH,
        413,
        "payload_too_large",
        id="body-too-large",
    ),
    pytest.param(
        {"content": GZIP_BOMB, "headers": {"content-encoding": "gzip"}},
        "/v1/batch",
        AUTH,
        413,
        "payload_too_large",
        id="gzip-bomb",
    ),
    pytest.param(
        {"content": b"plain", "headers": {"content-encoding": "gzip"}},
        "/v1/batch",
        AUTH,
        400,
        "invalid_gzip",
        id="bad-gzip",
    ),
    pytest.param(
        {"content": gzip.compress(b'{"batch": [')[:-6], "headers": {"content-encoding": "gzip"}},
        "/v1/batch",
        AUTH,
        400,
        "invalid_gzip",
        id="truncated-gzip",
    ),
    pytest.param(
        {"content": b"{}", "headers": {"content-encoding": "br"}},
        "/v1/batch",
        AUTH,
        415,
        "unsupported_encoding",
        id="brotli",
    ),
    pytest.param(
        {"json": {"type": "track", "event": "x", "userId": "u", "properties": {"s": "a" * 40_000}}},
        "/v1/track",
        AUTH,
        400,
        "invalid_event",
        id="event-over-32kb",
    ),
]


@pytest.mark.parametrize(("request_args", "path", "auth", "status", "code"), BAD_INPUTS)
def test_bad_input_gets_its_status_and_nothing_reaches_kafka(
    client: TestClient,
    kafka_bootstrap: str,
    topics: Topics,
    request_args: dict[str, object],
    path: str,
    auth: tuple[str, str] | None,
    status: int,
    code: str,
) -> None:
    before = end_offsets(kafka_bootstrap, topics.events)
    answer = client.post(path, auth=auth, **request_args)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False
    assert body["code"] == code
    assert body["message"]
    assert end_offsets(kafka_bootstrap, topics.events) == before


CSV_MAPPING = orjson.dumps(
    {"event": "Visit", "user_id_column": "user", "timestamp_column": "at", "timezone": "UTC"}
).decode()
TRAILING_DATA_CASES = [
    pytest.param(
        "/v1/batch", {}, b'{"batch":[{"type":"track","event":"t","userId":"u"}]}', id="batch"
    ),
    pytest.param(
        "/v1/import/csv",
        {"mapping": CSV_MAPPING},
        b"at,user\n2024-03-31 01:30:00,u1\n",
        id="csv",
    ),
]


@pytest.mark.parametrize(("path", "params", "body"), TRAILING_DATA_CASES)
@pytest.mark.parametrize(
    "trailing", [b"garbage", gzip.compress(b"a second member")], ids=["garbage", "second-member"]
)
def test_data_after_the_gzip_stream_is_refused(
    client: TestClient,
    kafka_bootstrap: str,
    topics: Topics,
    path: str,
    params: dict[str, str],
    body: bytes,
    trailing: bytes,
) -> None:
    before = end_offsets(kafka_bootstrap, topics.events)
    headers = {"content-encoding": "gzip"}
    refused = client.post(
        path, auth=AUTH, params=params, headers=headers, content=gzip.compress(body) + trailing
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_gzip"), refused.text
    assert "after the end of the gzip stream" in refused.json()["message"]
    assert end_offsets(kafka_bootstrap, topics.events) == before
    # The same body without the trailing data is accepted: the refusal is the trailing data's.
    accepted = client.post(
        path, auth=AUTH, params=params, headers=headers, content=gzip.compress(body)
    )
    assert accepted.status_code == 200, accepted.text


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    # The counter is process-wide and earlier tests moved it: compare before and after.
    before = sample(client.get("/metrics").text, 'footfall_api_events_total{outcome="accepted"}')
    answer = client.post("/v1/track", auth=AUTH, json={"event": "m", "userId": "u"})
    assert answer.status_code == 200, answer.text
    metrics = client.get("/metrics").text
    assert sample(metrics, 'footfall_api_events_total{outcome="accepted"}') == before + 1
    assert "footfall_api_request_seconds_bucket" in metrics


def test_import_route_marks_events_as_imported(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    old = {"batch": [{"type": "track", "event": "Old", "userId": "u"}]}
    for path, body in (("/v1/import", old), ("/v1/track", {"event": "Live", "userId": "u"})):
        assert client.post(path, auth=AUTH, json=body).status_code == 200
    sources = {
        EventCodec().decode(value_of(m))["event"]: EventCodec().decode(value_of(m))["source"]
        for m in read_all(kafka_bootstrap, topics.events)
    }
    assert sources == {"Old": "import", "Live": "http"}


def test_only_bytes_wait_for_kafka(
    client: TestClient, kafka_bootstrap: str, topics: Topics
) -> None:
    """While a request waits for Kafka's acknowledgement its parsed body and events are gone:
    64 requests waiting at once would otherwise keep theirs alive through the cyclic
    collector's passes (docs/performance.md, round five)."""
    publisher = client.app.state.services.publisher  # type: ignore[attr-defined]
    publish = publisher.publish
    alive_while_waiting: list[list[str]] = []

    async def watched(messages: list[OutgoingMessage]) -> None:
        gc.collect()  # nothing unreachable stays counted
        alive = [o.message_id for o in gc.get_objects() if isinstance(o, Event)]
        # This batch's own: other tests' events may still be alive in this process.
        alive_while_waiting.append([id_ for id_ in alive if id_.startswith("wait-")])
        await publish(messages)

    publisher.publish = watched
    batch = [
        {"type": "track", "event": "Waited", "anonymousId": "v", "messageId": f"wait-{n}"}
        for n in range(3)
    ] + [{"type": "track", "anonymousId": "v", "messageId": "wait-refused"}]
    answer = client.post("/v1/batch", auth=AUTH, json={"batch": batch})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 3
    assert [error["index"] for error in answer.json()["errors"]] == [3]
    assert alive_while_waiting == [[]]
    assert sum(end_offsets(kafka_bootstrap, topics.events).values()) == 3
    assert sum(end_offsets(kafka_bootstrap, topics.quarantine).values()) == 1
