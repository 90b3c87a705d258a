"""The shared validation rules: required fields per type, ids, timestamps and clock skew."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from eventschema import ValidationError, validate_message
from eventschema.validation import MAX_EVENT_BYTES

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def test_clock_skew_is_corrected_the_segment_way() -> None:
    # The client clock is one hour fast: it stamped the event 10 s before sending it.
    event = validate_message(
        {
            "type": "track",
            "event": "Click",
            "anonymousId": "a",
            "timestamp": "2026-11-27T13:00:00Z",
            "sentAt": "2026-11-27T13:00:10Z",
        },
        NOW,
    )
    assert event.timestamp == NOW - timedelta(seconds=10)
    assert event.original_timestamp == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    assert event.received_at == NOW


def test_without_sent_at_the_client_timestamp_is_kept() -> None:
    event = validate_message(
        {"type": "track", "event": "Paid", "userId": "u", "timestamp": "2026-11-20T08:00:00+02:00"},
        NOW,
    )
    assert event.timestamp == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def test_a_timestamp_far_in_the_future_falls_back_to_received_at() -> None:
    event = validate_message(
        {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-29T12:00:00Z"}, NOW
    )
    assert event.timestamp == NOW


def test_message_id_is_generated_when_missing_and_kept_when_sent() -> None:
    kept = validate_message({"type": "identify", "userId": "u", "messageId": "m-1"}, NOW)
    made = validate_message({"type": "identify", "userId": "u"}, NOW)
    assert kept.message_id == "m-1"
    assert len(made.message_id) == 36


def test_numeric_ids_become_strings() -> None:
    event = validate_message({"type": "identify", "userId": 42}, NOW)
    assert event.user_id == "42"
    assert event.key == b"42"


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        pytest.param(
            {"type": "track", "anonymousId": "a"}, "missing_field", "event", id="no-event"
        ),
        pytest.param({"type": "track", "event": "x"}, "missing_field", "userId", id="no-id"),
        pytest.param(
            {"type": "track", "event": "x", "anonymousId": " "},
            "missing_field",
            "userId",
            id="blank-id",
        ),
        pytest.param({"type": "alias", "userId": "u"}, "missing_field", "previousId", id="alias"),
        pytest.param({"type": "group", "userId": "u"}, "missing_field", "groupId", id="group"),
        pytest.param({"type": "shout", "userId": "u"}, "invalid_value", "type", id="bad-type"),
        pytest.param({"event": "x", "userId": "u"}, "missing_field", "type", id="no-type"),
        pytest.param(
            {"type": "track", "event": 5, "userId": "u"},
            "invalid_type",
            "event",
            id="event-not-string",
        ),
        pytest.param(
            {"type": "track", "event": "x", "userId": {"a": 1}},
            "invalid_type",
            "userId",
            id="id-object",
        ),
        pytest.param(
            {"type": "track", "event": "x", "userId": "u", "properties": [1]},
            "invalid_type",
            "properties",
            id="properties-array",
        ),
        pytest.param(
            {"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"},
            "invalid_timestamp",
            "timestamp",
            id="bad-time",
        ),
        pytest.param(
            {"type": "track", "event": "x", "userId": "u", "timestamp": "0001-01-01"},
            "invalid_timestamp",
            "timestamp",
            id="year-1",
        ),
        pytest.param(
            {"type": "track", "event": "x", "userId": "u" * 300}, "too_long", "userId", id="long-id"
        ),
    ],
)
def test_invalid_messages_name_the_field(message: dict[str, object], code: str, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_message(message, NOW)
    assert raised.value.code == code
    assert raised.value.field == field


def test_an_event_over_32_kb_is_refused() -> None:
    message = {
        "type": "track",
        "event": "x",
        "userId": "u",
        "properties": {"s": "a" * MAX_EVENT_BYTES},
    }
    with pytest.raises(ValidationError) as raised:
        validate_message(message, NOW)
    assert raised.value.code == "event_too_large"


def test_a_route_refuses_a_message_of_another_type() -> None:
    with pytest.raises(ValidationError) as raised:
        validate_message({"type": "identify", "userId": "u"}, NOW, default_type="track")
    assert raised.value.code == "invalid_value"


def test_original_timestamp_wins_over_timestamp() -> None:
    # Segment's SDKs send both; originalTimestamp is the client's own clock reading.
    event = validate_message(
        {
            "type": "track", "event": "x", "userId": "u",
            "timestamp": "2026-11-27T08:00:00Z",
            "originalTimestamp": "2026-11-27T11:00:00Z",
            "sentAt": "2026-11-27T11:00:05Z",
        },
        NOW,
    )  # fmt: skip
    assert event.original_timestamp == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    assert event.timestamp == NOW - timedelta(seconds=5)


@pytest.mark.parametrize(
    ("ahead", "kept"),
    [(timedelta(hours=22, minutes=59), True), (timedelta(hours=23, minutes=1), False)],
)
def test_the_23_hour_rule_for_times_ahead_of_the_server(ahead: timedelta, kept: bool) -> None:
    at = NOW + ahead
    event = validate_message(
        {"type": "track", "event": "x", "userId": "u", "timestamp": at.isoformat()}, NOW
    )
    assert event.timestamp == (at if kept else NOW)
    assert event.original_timestamp == at  # the client's reading is kept either way


def test_zone_less_times_are_utc_on_a_host_that_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        event = validate_message(
            {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-27T10:00:00"},
            NOW,
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert event.timestamp == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
