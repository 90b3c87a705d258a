"""Turn one Segment-spec message (already parsed JSON) into an `Event`, or say exactly why not.

The same rules serve the HTTP API and producers that write straight to Kafka, so a message is
refused with the same reason whichever way it comes in.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from eventschema.entry import KAFKA
from eventschema.model import MESSAGE_TYPES, Event

MAX_EVENT_BYTES = 32 * 1024  # Segment's per-event limit
MAX_ID_LENGTH = 256
MAX_NAME_LENGTH = 512
# A corrected timestamp further ahead than this is a broken client clock: use receivedAt.
MAX_FUTURE = timedelta(hours=23)
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
# ClickHouse's DateTime64(3) ends in 2299; later times would be stored wrong or overflow datetime.
MAX_TIMESTAMP = datetime(2300, 1, 1, tzinfo=UTC)
# orjson encodes at most 254 nested levels and the pipeline re-encodes events (the Avro record's
# JSON fields, the quarantine record that wraps an event): a few levels are kept in reserve.
MAX_DEPTH = 250
_ORJSON_DEPTH = 254
_PADDING = _ORJSON_DEPTH - MAX_DEPTH
TOO_DEEP = "(nested too deep)"

OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
ID_FIELDS = ("anonymousId", "userId", "previousId", "groupId", "messageId")


@dataclass(frozen=True)
class ValidationError(Exception):
    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


def validate_message(
    message: Any,
    received_at: datetime,
    default_type: str | None = None,
    source: str = "http",
    size_hint: int | None = None,
    entry: str = KAFKA,
) -> Event:
    """Validate one message. `size_hint` is its encoded JSON size when the caller knows it;
    `entry` says how it entered (eventschema.entry)."""
    if not isinstance(message, dict):
        raise ValidationError("invalid_type", "each event must be a JSON object")
    json_size = _size_within_depth(message)
    size = size_hint if size_hint is not None else json_size
    if size > MAX_EVENT_BYTES:
        raise ValidationError(
            "event_too_large", f"event is {size} bytes, the limit is {MAX_EVENT_BYTES}"
        )
    message_type = _message_type(message, default_type)
    ids = {name: _optional_id(message, name) for name in ID_FIELDS}
    if ids["anonymousId"] is None and ids["userId"] is None:
        raise ValidationError("missing_field", "anonymousId or userId is required", "userId")
    event_name = _optional_text(message, "event", MAX_NAME_LENGTH)
    _check_required_by_type(message_type, event_name, ids)
    objects = {name: _optional_object(message, name) for name in OBJECT_FIELDS}
    objects["traits"] = _traits(message_type, objects)
    original = _optional_time(message, "originalTimestamp") or _optional_time(message, "timestamp")
    sent_at = _optional_time(message, "sentAt")
    return Event(
        message_id=ids["messageId"] or str(uuid.uuid4()),
        type=message_type,
        timestamp=corrected_timestamp(received_at, original, sent_at),
        received_at=received_at,
        event=event_name,
        name=_optional_text(message, "name", MAX_NAME_LENGTH),
        anonymous_id=ids["anonymousId"],
        user_id=ids["userId"],
        previous_id=ids["previousId"],
        group_id=ids["groupId"],
        original_timestamp=original,
        sent_at=sent_at,
        source=source,
        entry=entry,
        **objects,
    )


def corrected_timestamp(
    received_at: datetime, original: datetime | None, sent_at: datetime | None
) -> datetime:
    """Segment's rule: timestamp = receivedAt − (sentAt − originalTimestamp)."""
    if original is None:
        return received_at
    corrected = received_at - (sent_at - original) if sent_at is not None else original
    # A time far ahead or before any stored time means the client's clock is broken.
    if corrected > received_at + MAX_FUTURE or corrected < MIN_TIMESTAMP:
        return received_at
    return corrected


def _traits(message_type: str, objects: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
    """RudderStack SDKs send an identify's traits only in context.traits (no top-level traits):
    read them there when traits is absent, as RudderStack's own server does."""
    found = (objects["context"] or {}).get("traits")
    if message_type == "identify" and objects["traits"] is None and isinstance(found, dict):
        return found
    return objects["traits"]


def _message_type(message: dict[str, Any], default_type: str | None) -> str:
    value = message.get("type", default_type)
    if value is None:
        raise ValidationError("missing_field", "type is required in a batch", "type")
    if not isinstance(value, str) or value not in MESSAGE_TYPES:
        allowed = ", ".join(sorted(MESSAGE_TYPES))
        raise ValidationError("invalid_value", f"type must be one of {allowed}", "type")
    if default_type is not None and value != default_type:
        raise ValidationError("invalid_value", f"type must be {default_type} here", "type")
    return value


def _check_required_by_type(
    message_type: str, event_name: str | None, ids: dict[str, str | None]
) -> None:
    if message_type == "track" and not event_name:
        raise ValidationError("missing_field", "event is required for track", "event")
    if message_type == "alias" and (ids["previousId"] is None or ids["userId"] is None):
        raise ValidationError("missing_field", "alias needs previousId and userId", "previousId")
    if message_type == "group" and ids["groupId"] is None:
        raise ValidationError("missing_field", "groupId is required for group", "groupId")


def _optional_id(message: dict[str, Any], field: str) -> str | None:
    value = message.get(field)
    if value is None:
        return None
    if type(value) is not str:  # the common case first: a plain string needs no checks
        # Segment accepts numeric ids and stores them as strings.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("invalid_type", f"{field} must be a string", field)
        value = str(value)
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_ID_LENGTH:
        raise ValidationError("too_long", f"{field} is longer than {MAX_ID_LENGTH}", field)
    return text


def _optional_text(message: dict[str, Any], field: str, limit: int) -> str | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("invalid_type", f"{field} must be a string", field)
    if len(value) > limit:
        raise ValidationError("too_long", f"{field} is longer than {limit}", field)
    return value or None


def _optional_object(message: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("invalid_type", f"{field} must be a JSON object", field)
    return value


def _optional_time(message: dict[str, Any], field: str) -> datetime | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("invalid_type", f"{field} must be an ISO-8601 string", field)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            "invalid_timestamp", f"{field} is not an ISO-8601 date-time: {value[:40]!r}", field
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Segment reads zone-less times as UTC
    # Compared before astimezone, which overflows near the years 1 and 9999.
    if parsed < MIN_TIMESTAMP:
        raise ValidationError("invalid_timestamp", f"{field} is before 2000-01-01", field)
    if parsed >= MAX_TIMESTAMP:
        raise ValidationError("invalid_timestamp", f"{field} is after 2299-12-31", field)
    return parsed.astimezone(UTC)


def _size_within_depth(message: dict[str, Any]) -> int:
    """The length of the message's JSON; ValidationError when it nests deeper than MAX_DEPTH."""
    try:
        encoded = orjson.dumps(_padded(message, MAX_DEPTH))
    except orjson.JSONEncodeError as error:
        if "recursion" in str(error).lower():
            raise ValidationError(
                "too_deep", f"event nests objects or arrays deeper than {MAX_DEPTH} levels"
            ) from None
        # Only Python callers (footfall_sdk) can get here: parsed JSON always encodes.
        raise ValidationError("invalid_value", f"event is not JSON: {error}") from None
    return len(encoded) - 2 * _PADDING  # the padding's brackets, not copied off


def nests_at_most(value: Any, levels: int) -> bool:
    """Whether `value` encodes as JSON nested at most `levels` deep (False also when it does not
    encode at all)."""
    try:
        orjson.dumps(_padded(value, levels))
    except orjson.JSONEncodeError:
        return False
    return True


def _padded(value: Any, levels: int) -> Any:
    """`value` wrapped in lists so that orjson's own depth limit (checked in C, ~1 µs) fails
    exactly when `value` nests deeper than `levels`."""
    for _ in range(_ORJSON_DEPTH - levels):
        value = [value]
    return value


def encoded_size(value: Any) -> int | None:
    """The length of `value`'s JSON; None when it cannot be encoded (validate_message says why)."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return None


def truncate_depth(value: Any, levels: int = MAX_DEPTH) -> Any:
    """`value` with what nests deeper than `levels` replaced by TOO_DEEP, so it can be encoded."""
    if not isinstance(value, dict | list):
        return value
    if levels <= 0:
        return TOO_DEEP
    if isinstance(value, dict):
        return {key: truncate_depth(item, levels - 1) for key, item in value.items()}
    return [truncate_depth(item, levels - 1) for item in value]
