"""producer_api/ingest.py without Kafka or HTTP: how a payload becomes a batch, how each event of
it is judged, and the messages written for the accepted and the refused ones. Written for
mutation testing (docs/testing.md): the HTTP tests cover the same paths only through a broker."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from eventschema import EventCodec
from eventschema.entry import BROWSER_KEY, CSV_IMPORT, SERVER_KEY
from eventschema.event_names import conversion_events
from eventschema.kafka_contract import HEADER_EVENT, HEADER_SCHEMA, HEADER_TYPE
from eventschema.validation import MAX_DEPTH, MAX_EVENT_BYTES, TOO_DEEP
from producer_api.errors import ApiError
from producer_api.ingest import (
    SERVER_ONLY_EVENT,
    IngestResult,
    RequestContext,
    batch_messages,
    event_messages,
    judge,
    quarantine_messages,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TRACK: dict[str, Any] = {"type": "track", "event": "Clicked", "userId": "u"}


def _judge(messages: list[Any], shared: dict[str, Any] | None = None, **kw: Any) -> IngestResult:
    options: dict[str, Any] = {"client_ip": None, "default_type": None, "body_size": 100}
    options.update(kw)
    return judge(messages, shared or {}, RequestContext(NOW, **options))


# -- batch_messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "code", "message"),
    [
        ([TRACK], 400, "invalid_payload", "body must be a JSON object with a batch array"),
        ({"batch": TRACK}, 400, "invalid_payload", "batch must be an array of events"),
        ({}, 400, "invalid_payload", "batch must be an array of events"),
        ({"batch": []}, 400, "empty_batch", "batch has no events"),
        ({"batch": [TRACK] * 3}, 413, "too_many_events", "batch has 3 events, limit 2"),
    ],
)
def test_a_bad_batch_is_refused_whole(payload: Any, status: int, code: str, message: str) -> None:
    with pytest.raises(ApiError) as raised:
        batch_messages(payload, max_events=2)
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        status,
        code,
        message,
    )


def test_a_full_batch_and_its_shared_fields() -> None:
    payload = {
        "batch": [TRACK, TRACK],
        "sentAt": "2026-11-29T12:00:00Z",
        "context": {"library": "x"},
        "integrations": {"All": True},
        "writeKey": "secret",
    }
    batch, shared = batch_messages(payload, max_events=2)
    assert batch == [TRACK, TRACK]
    assert shared == {
        "sentAt": "2026-11-29T12:00:00Z",
        "context": {"library": "x"},
        "integrations": {"All": True},
    }


# -- judge ------------------------------------------------------------------------------------


def test_each_event_is_judged_alone_and_refusals_keep_their_index_and_raw() -> None:
    bad: dict[str, Any] = {"type": "track", "userId": "u"}
    result = _judge([TRACK, bad, "text", {**TRACK, "event": "Other"}])
    assert [e.event for e in result.accepted] == ["Clicked", "Other"]
    assert [(r.index, r.error.code) for r in result.rejected] == [
        (1, "missing_field"),
        (2, "invalid_type"),
    ]
    assert result.rejected[0].raw is bad
    assert result.rejected[1].raw == "text"
    assert result.rejected[0].as_dict() == {
        "index": 1,
        "code": "missing_field",
        "message": "event is required for track",
        "field": "event",
    }


def test_source_entry_and_default_type_reach_the_events() -> None:
    result = _judge(
        [{"event": "Clicked", "userId": "u"}],
        default_type="track",
        source="import",
        entry=CSV_IMPORT,
    )
    [event] = result.accepted
    assert (event.type, event.source, event.entry) == ("track", "import", CSV_IMPORT)
    [plain] = _judge([TRACK]).accepted
    assert (plain.source, plain.entry) == ("http", SERVER_KEY)


def test_events_over_the_limit_are_measured_as_sent_when_the_body_is_large() -> None:
    big = {**TRACK, "properties": {"s": "a" * MAX_EVENT_BYTES}}
    result = _judge([big, TRACK], body_size=MAX_EVENT_BYTES + 100)
    assert [r.index for r in result.rejected] == [0]
    assert result.rejected[0].error.code == "event_too_large"
    # The measure is the event as sent, without the batch's shared context added to it.
    shared = {"context": {"pad": "b" * (MAX_EVENT_BYTES - 100)}}
    result = _judge([TRACK], shared, body_size=2 * MAX_EVENT_BYTES)
    assert len(result.accepted) == 1 and not result.rejected
    assert result.accepted[0].context is not None
    assert result.accepted[0].context["pad"] == "b" * (MAX_EVENT_BYTES - 100)


def test_a_small_body_is_not_measured_event_by_event() -> None:
    # No event can be larger than its body; a body at the limit is not measured at all.
    big = {**TRACK, "properties": {"s": "a" * MAX_EVENT_BYTES}}
    assert len(_judge([big], body_size=MAX_EVENT_BYTES).accepted) == 1


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


def _deep(levels: int) -> dict[str, Any]:
    """A message nested `levels` deep: itself, then its properties."""
    return {**TRACK, "properties": _nested(levels - 1)}


@pytest.mark.parametrize("body_size", [100, MAX_EVENT_BYTES + 1])  # one check, one per event
def test_depth_is_judged_per_message_with_the_shared_fields_merged(body_size: int) -> None:
    result = _judge([_deep(MAX_DEPTH), _deep(MAX_DEPTH + 1), TRACK], body_size=body_size)
    assert [r.index for r in result.rejected] == [1]
    assert result.rejected[0].error.code == "too_deep"
    assert len(result.accepted) == 2
    # A shared context lands one level down in each message: at the limit, and one past it.
    for levels, refused in ((MAX_DEPTH - 1, []), (MAX_DEPTH, [0, 1])):
        shared = {"context": _nested(levels)}
        result = _judge([TRACK, {**TRACK, "context": {}}], shared, body_size=body_size)
        assert [r.index for r in result.rejected] == refused, levels
        assert {r.error.code for r in result.rejected} <= {"too_deep"}


def test_server_only_events_are_refused_in_any_spelling_for_track_only() -> None:
    server_only = conversion_events(["Order Completed"])
    result = _judge(
        [
            {**TRACK, "event": "order_completed"},
            {**TRACK, "event": "Order Viewed"},
            {"type": "page", "userId": "u", "event": "Order Completed"},
        ],
        server_only_events=server_only,
        entry=BROWSER_KEY,
    )
    assert [r.index for r in result.rejected] == [0]
    assert result.rejected[0].error.as_dict() == {
        "code": SERVER_ONLY_EVENT,
        "message": "'order_completed' can only be sent with a server key",
        "field": "event",
    }
    assert SERVER_ONLY_EVENT == "server_only_event"
    assert [e.event for e in result.accepted] == ["Order Viewed", "Order Completed"]
    assert len(_judge([{**TRACK, "event": "Order Completed"}]).accepted) == 1


def test_shared_fields_fill_in_and_the_event_wins() -> None:
    shared = {
        "sentAt": "2026-11-29T12:00:10Z",
        "context": {"library": "js", "locale": "de"},
        "integrations": {"All": False, "Mixpanel": True},
    }
    own = {
        **TRACK,
        "timestamp": "2026-11-29T12:00:00Z",
        "context": {"locale": "fr"},
        "integrations": {"All": True},
    }
    [event] = _judge([own], shared).accepted
    assert event.sent_at == datetime(2026, 11, 29, 12, 0, 10, tzinfo=UTC)
    assert event.context == {"library": "js", "locale": "fr"}
    assert event.integrations == {"All": True, "Mixpanel": True}
    assert own["context"] == {"locale": "fr"}  # the client's message is not changed
    sent = {**TRACK, "sentAt": "2026-11-29T11:00:00Z"}
    [kept] = _judge([sent], shared).accepted
    assert kept.sent_at == datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    [filled] = _judge([TRACK], shared).accepted
    assert filled.context == {"library": "js", "locale": "de"}
    assert filled.integrations == {"All": False, "Mixpanel": True}


def test_shared_objects_do_not_merge_into_non_objects() -> None:
    shared = {"context": {"library": "js"}, "integrations": ["not", "an", "object"]}
    result = _judge([{**TRACK, "context": "text"}, TRACK], shared)
    assert [(r.index, r.error.field) for r in result.rejected] == [(0, "context")]
    [event] = result.accepted
    assert event.integrations is None
    assert event.context == {"library": "js"}


def test_the_connection_ip_is_added_only_when_the_client_sent_none() -> None:
    cases = [TRACK, {**TRACK, "context": {"a": 1}}, {**TRACK, "context": {"ip": "1.1.1.1"}}]
    result = _judge(cases, client_ip="9.9.9.9")
    assert [e.context for e in result.accepted] == [
        {"ip": "9.9.9.9"},
        {"a": 1, "ip": "9.9.9.9"},
        {"ip": "1.1.1.1"},
    ]
    assert _judge([TRACK], client_ip=None).accepted[0].context is None
    assert _judge([TRACK], client_ip="").accepted[0].context is None
    refused = _judge([{**TRACK, "context": 5}], client_ip="9.9.9.9").rejected
    assert refused[0].error.field == "context"


# -- outgoing messages ------------------------------------------------------------------------


def test_event_messages_carry_key_avro_value_and_headers() -> None:
    codec = EventCodec()
    events = _judge([TRACK, {**TRACK, "userId": "v", "event": "Seen"}]).accepted
    out = event_messages(events, codec, "t_events")
    assert [m.topic for m in out] == ["t_events", "t_events"]
    assert [m.key for m in out] == [b"u", b"v"]
    assert [codec.decode(m.value or b"")["event"] for m in out] == ["Clicked", "Seen"]
    headers = dict(out[1].headers)
    assert headers[HEADER_EVENT] == b"Seen"
    assert headers[HEADER_TYPE] == b"track"
    assert headers[HEADER_SCHEMA] == codec.writer.label.encode()


def test_quarantine_messages_keep_the_raw_event_and_the_reason() -> None:
    deep: Any = 1
    for _ in range(400):
        deep = [deep]
    rejected = _judge([{"type": "track", "userId": "u"}, {**TRACK, "properties": {"d": deep}}])
    out = quarantine_messages(rejected.rejected, "t_quarantine", NOW, "/v1/batch")
    assert [(m.topic, m.key) for m in out] == [("t_quarantine", b""), ("t_quarantine", b"")]
    assert [list(m.headers) for m in out] == [
        [("reason", b"missing_field"), ("content-type", b"application/json")],
        [("reason", b"too_deep"), ("content-type", b"application/json")],
    ]
    first = orjson.loads(out[0].value or b"")
    assert first == {
        "reason": {
            "code": "missing_field",
            "message": "event is required for track",
            "field": "event",
        },
        "index": 0,
        "route": "/v1/batch",
        "received_at": NOW.isoformat(),
        "event": {"type": "track", "userId": "u"},
    }
    second = orjson.loads(out[1].value or b"")
    assert second["index"] == 1
    assert second["reason"]["code"] == "too_deep"
    assert second["event"]["userId"] == "u"
    assert TOO_DEEP in orjson.dumps(second["event"]).decode()
