"""Tests written to kill the mutants that survived mutation testing (docs/testing.md) in
eventschema/validation.py and eventschema/event_names.py: exact refusal bodies, limits at their
boundary, and every field of an accepted event. Pure functions, no Kafka."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventschema import ValidationError, validate_message
from eventschema.entry import BROWSER_KEY, KAFKA
from eventschema.event_names import conversion_event_names
from eventschema.validation import (
    MAX_EVENT_BYTES,
    MAX_FUTURE,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MIN_TIMESTAMP,
    TOO_DEEP,
    corrected_timestamp,
    truncate_depth,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TRACK: dict[str, Any] = {"type": "track", "event": "x", "userId": "u"}
ALLOWED = "alias, group, identify, page, screen, track"


def _refusal(message: Any, default_type: str | None = None) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        validate_message(message, NOW, default_type)
    return raised.value.as_dict()


def _body(code: str, message: str, field: str | None = None) -> dict[str, str]:
    return {"code": code, "message": message, **({"field": field} if field else {})}


@pytest.mark.parametrize(
    ("message", "default_type", "body"),
    [
        pytest.param(
            ["not", "an", "object"], None,
            _body("invalid_type", "each event must be a JSON object"), id="not-object",
        ),
        pytest.param(
            {"type": "track", "event": "x"}, None,
            _body("missing_field", "anonymousId or userId is required", "userId"), id="no-id",
        ),
        pytest.param(
            {"type": "track", "userId": "u"}, None,
            _body("missing_field", "event is required for track", "event"), id="no-event",
        ),
        pytest.param(
            {"type": "alias", "userId": "u"}, None,
            _body("missing_field", "alias needs previousId and userId", "previousId"),
            id="alias-no-previous",
        ),
        pytest.param(
            {"type": "alias", "anonymousId": "a", "previousId": "p"}, None,
            _body("missing_field", "alias needs previousId and userId", "previousId"),
            id="alias-no-user",
        ),
        pytest.param(
            {"type": "group", "userId": "u"}, None,
            _body("missing_field", "groupId is required for group", "groupId"), id="group",
        ),
        pytest.param(
            {"userId": "u"}, None,
            _body("missing_field", "type is required in a batch", "type"), id="no-type",
        ),
        pytest.param(
            {"type": "shout", "userId": "u"}, None,
            _body("invalid_value", f"type must be one of {ALLOWED}", "type"), id="bad-type",
        ),
        pytest.param(
            {"type": "identify", "userId": "u"}, "track",
            _body("invalid_value", "type must be track here", "type"), id="other-type",
        ),
        pytest.param(
            {**TRACK, "userId": ["u"]}, None,
            _body("invalid_type", "userId must be a string", "userId"), id="id-list",
        ),
        pytest.param(
            {**TRACK, "userId": "u" * (MAX_ID_LENGTH + 1)}, None,
            _body("too_long", f"userId is longer than {MAX_ID_LENGTH}", "userId"), id="long-id",
        ),
        pytest.param(
            {**TRACK, "event": 5}, None,
            _body("invalid_type", "event must be a string", "event"), id="event-number",
        ),
        pytest.param(
            {**TRACK, "event": "e" * (MAX_NAME_LENGTH + 1)}, None,
            _body("too_long", f"event is longer than {MAX_NAME_LENGTH}", "event"),
            id="long-event",
        ),
        pytest.param(
            {**TRACK, "name": 7}, None,
            _body("invalid_type", "name must be a string", "name"), id="name-number",
        ),
        pytest.param(
            {**TRACK, "name": "n" * (MAX_NAME_LENGTH + 1)}, None,
            _body("too_long", f"name is longer than {MAX_NAME_LENGTH}", "name"), id="long-name",
        ),
        pytest.param(
            {**TRACK, "traits": "t"}, None,
            _body("invalid_type", "traits must be a JSON object", "traits"), id="traits-text",
        ),
        pytest.param(
            {**TRACK, "sentAt": 1700000000}, None,
            _body("invalid_type", "sentAt must be an ISO-8601 string", "sentAt"),
            id="time-number",
        ),
        pytest.param(
            {**TRACK, "timestamp": "not a time " + "z" * 60}, None,
            _body(
                "invalid_timestamp",
                "timestamp is not an ISO-8601 date-time: " + repr(("not a time " + "z" * 60)[:40]),
                "timestamp",
            ),
            id="bad-time-cut-at-40",
        ),
        pytest.param(
            {**TRACK, "timestamp": "1999-12-31T23:59:59Z"}, None,
            _body("invalid_timestamp", "timestamp is before 2000-01-01", "timestamp"),
            id="too-early",
        ),
        pytest.param(
            {**TRACK, "originalTimestamp": "2300-01-01T00:00:00Z"}, None,
            _body("invalid_timestamp", "originalTimestamp is after 2299-12-31",
                  "originalTimestamp"),
            id="too-late",
        ),
        pytest.param(
            {**TRACK, "properties": {"p": {"a"}}}, None,
            None, id="not-json",
        ),
    ],
)  # fmt: skip
def test_each_refusal_has_its_exact_body(
    message: Any, default_type: str | None, body: dict[str, str] | None
) -> None:
    refused = _refusal(message, default_type)
    if body is None:  # the encoder's own text follows; only its start is ours
        assert refused["code"] == "invalid_value"
        assert refused["message"].startswith("event is not JSON: ")
        assert "field" not in refused
    else:
        assert refused == body


def test_too_deep_and_too_large_bodies() -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    assert _refusal({**TRACK, "properties": {"d": deep}}) == _body(
        "too_deep", "event nests objects or arrays deeper than 250 levels"
    )
    big = {**TRACK, "properties": {"s": "a" * MAX_EVENT_BYTES}}
    refused = _refusal(big)
    assert refused["code"] == "event_too_large"
    assert refused["message"].endswith(f" bytes, the limit is {MAX_EVENT_BYTES}")
    assert refused["message"].startswith("event is ")


def test_the_size_hint_is_what_is_measured_and_the_limit_is_inclusive() -> None:
    assert validate_message(TRACK, NOW, size_hint=MAX_EVENT_BYTES).event == "x"
    with pytest.raises(ValidationError) as raised:
        validate_message(TRACK, NOW, size_hint=MAX_EVENT_BYTES + 1)
    assert raised.value.as_dict() == _body(
        "event_too_large", f"event is {MAX_EVENT_BYTES + 1} bytes, the limit is {MAX_EVENT_BYTES}"
    )


def test_lengths_at_the_limit_are_accepted() -> None:
    event = validate_message(
        {**TRACK, "userId": "u" * MAX_ID_LENGTH, "event": "e" * MAX_NAME_LENGTH,
         "name": "n" * MAX_NAME_LENGTH},
        NOW,
    )  # fmt: skip
    assert event.user_id == "u" * MAX_ID_LENGTH
    assert event.event == "e" * MAX_NAME_LENGTH
    assert event.name == "n" * MAX_NAME_LENGTH


def test_a_batch_default_type_applies_to_messages_without_one() -> None:
    event = validate_message({"event": "x", "userId": "u"}, NOW, default_type="track")
    assert event.type == "track"


def test_every_field_of_an_accepted_event() -> None:
    event = validate_message(
        {
            "type": "alias", "event": "ev", "name": "nm", "anonymousId": "a", "userId": "u",
            "previousId": "p", "groupId": "g", "messageId": "m",
            "originalTimestamp": "2026-11-27T11:00:00Z", "sentAt": "2026-11-27T11:00:01Z",
            "properties": {"pr": 1}, "traits": {"tr": 2}, "context": {"cx": 3},
            "integrations": {"in": 4},
        },
        NOW,
        source="import",
        entry=BROWSER_KEY,
    )  # fmt: skip
    assert event.type == "alias"
    assert event.event == "ev"
    assert event.name == "nm"
    assert (event.anonymous_id, event.user_id) == ("a", "u")
    assert (event.previous_id, event.group_id, event.message_id) == ("p", "g", "m")
    assert event.sent_at == datetime(2026, 11, 27, 11, 0, 1, tzinfo=UTC)
    assert event.timestamp == NOW - timedelta(seconds=1)
    assert event.properties == {"pr": 1} and event.traits == {"tr": 2}
    assert event.context == {"cx": 3} and event.integrations == {"in": 4}
    assert (event.source, event.entry) == ("import", BROWSER_KEY)
    plain = validate_message(TRACK, NOW)
    assert (plain.source, plain.entry) == ("http", KAFKA)


@pytest.fixture
def new_york() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        try:
            yield
        finally:
            patch.delenv("TZ")
            time.tzset()


def test_times_are_returned_in_utc_on_a_host_that_is_not(new_york: None) -> None:
    event = validate_message({**TRACK, "timestamp": "2026-11-27T10:00:00+02:00"}, NOW)
    assert event.original_timestamp is not None
    assert event.original_timestamp.utcoffset() == timedelta(0)
    assert event.original_timestamp.hour == 8


def test_corrected_timestamp_boundaries_are_kept() -> None:
    ahead = NOW + MAX_FUTURE
    assert corrected_timestamp(NOW, ahead, None) == ahead
    assert corrected_timestamp(NOW, ahead + timedelta(milliseconds=1), None) == NOW
    assert corrected_timestamp(NOW, MIN_TIMESTAMP, None) == MIN_TIMESTAMP


def test_truncate_depth_counts_levels_exactly() -> None:
    assert truncate_depth([[1]], 1) == [TOO_DEEP]
    assert truncate_depth([[1]], 2) == [[1]]
    assert truncate_depth([1, [2, [3]]], 2) == [1, [2, TOO_DEEP]]
    assert truncate_depth({"a": {"b": {"c": 1}}}, 2) == {"a": {"b": TOO_DEEP}}
    assert truncate_depth({"a": [1, {"b": 2}]}, 3) == {"a": [1, {"b": 2}]}
    assert truncate_depth(5, 0) == 5
    assert truncate_depth([], 0) == TOO_DEEP


def test_as_dict_names_the_field_only_when_there_is_one() -> None:
    assert ValidationError("c", "m", "f").as_dict() == {"code": "c", "message": "m", "field": "f"}
    assert ValidationError("c", "m").as_dict() == {"code": "c", "message": "m"}


def test_disagreeing_conversion_settings_name_both_variables() -> None:
    env = {"FOOTFALL_SERVER_ONLY_EVENTS": "paid", "FOOTFALL_CONVERSIONS_EVENTS": "purchase"}
    with pytest.raises(ValueError) as raised:
        conversion_event_names(env)
    assert str(raised.value) == (
        "FOOTFALL_SERVER_ONLY_EVENTS and FOOTFALL_CONVERSIONS_EVENTS name different events: "
        "set one of them"
    )
