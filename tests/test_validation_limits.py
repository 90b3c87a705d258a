"""The limits validate_message enforces so that every valid event can be stored (no Kafka)."""

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from eventschema import ValidationError, validate_message
from eventschema.validation import MAX_DEPTH, TOO_DEEP, truncate_depth

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BASE: dict[str, Any] = {"type": "track", "event": "x", "userId": "u"}


def _nested(levels: int, as_list: bool = False) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value] if as_list else {"a": value}
    return value


@pytest.mark.parametrize("as_list", [False, True])
def test_depth_is_limited_to_max_depth_counting_the_event(as_list: bool) -> None:
    # the event and properties are two levels
    event = validate_message({**BASE, "properties": {"p": _nested(MAX_DEPTH - 2, as_list)}}, NOW)
    assert orjson.loads(event.to_record()["properties"])["p"] == _nested(MAX_DEPTH - 2, as_list)
    with pytest.raises(ValidationError) as refused:
        validate_message({**BASE, "properties": {"p": _nested(MAX_DEPTH - 1, as_list)}}, NOW)
    assert refused.value.code == "too_deep"


def test_a_too_deep_value_is_truncated_for_the_quarantine() -> None:
    kept = truncate_depth({"event": _nested(1000)})
    assert len(orjson.dumps({"wrapper": kept})) < 2000
    assert TOO_DEEP in orjson.dumps(kept).decode()


@pytest.mark.parametrize(
    "value", [2**70, {1: "non-string key"}, "\ud800"], ids=["int", "key", "surrogate"]
)
def test_python_values_json_cannot_hold_are_invalid_not_a_crash(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_message({**BASE, "properties": {"v": value}}, NOW)
    assert refused.value.code == "invalid_value"


@pytest.mark.parametrize(
    "field, value",
    [
        ("timestamp", "9999-12-31T00:00:00Z"),
        ("timestamp", "9999-12-31T23:00:00-05:00"),  # overflowed converting to UTC
        ("sentAt", "2300-01-01T00:00:00Z"),
        ("originalTimestamp", "0001-01-01T00:00:00+05:00"),
    ],
)
def test_times_outside_what_clickhouse_stores_are_refused(field: str, value: str) -> None:
    message = {**BASE, "sentAt": "2026-11-29T12:00:00Z", field: value}
    with pytest.raises(ValidationError) as refused:
        validate_message(message, NOW)
    assert (refused.value.code, refused.value.field) == ("invalid_timestamp", field)


def test_the_last_storable_time_is_accepted() -> None:
    event = validate_message({**BASE, "timestamp": "2299-12-31T23:59:59.999Z"}, NOW)
    assert event.timestamp == NOW  # more than 23 h ahead: receivedAt
    assert event.original_timestamp == datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def test_a_correction_before_2000_means_a_broken_clock() -> None:
    message = {**BASE, "timestamp": "2000-01-01T00:00:00Z", "sentAt": "2299-12-31T00:00:00Z"}
    assert validate_message(message, NOW).timestamp == NOW
