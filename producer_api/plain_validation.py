"""The API's fast path of `eventschema.validate_message`, for messages in the common shape.

validate_message checks one field per call and builds dicts of ids and objects on the way; at
50 events per request it was the largest stage of the API's CPU (docs/performance.md). This
does the same checks in line for the shape nearly every SDK sends (string ids, string times,
objects that are dicts) and returns the very `Event` validate_message would build; for
anything else (a refusal, a numeric id, an odd time) it returns None and the caller runs
validate_message, so every error, and every accepted corner case, comes from the one rule set.
tests/test_plain_validation.py checks both give the same answer on generated messages.
"""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from uuid import uuid4

from eventschema.model import MESSAGE_TYPES, Event
from eventschema.validation import (
    ID_FIELDS,
    MAX_EVENT_BYTES,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    OBJECT_FIELDS,
    ValidationError,
    _size_within_depth,
    corrected_timestamp,
)

_LONGEST_TIME = 64  # longer time strings take the slow path (and are not cached)


def plain_event(
    message: Any,
    received_at: datetime,
    default_type: str | None,
    source: str,
    size_hint: int | None,
    entry: str,
    within_limits: bool = False,
) -> Event | None:
    """validate_message's Event for a plainly valid message; None: ask validate_message.
    `within_limits`: the caller knows the message is within the depth and size limits."""
    if type(message) is not dict or not (within_limits or _small_enough(message, size_hint)):
        return None
    get = message.get
    kind = get("type", default_type)
    if type(kind) is not str or kind not in MESSAGE_TYPES or default_type not in (None, kind):
        return None
    ids = _ids(message)
    if ids is None:
        return None
    anonymous_id, user_id, previous_id, group_id, message_id = ids
    event_name, name = _text(get("event")), _text(get("name"))
    if event_name is False or name is False or (anonymous_id is None and user_id is None):
        return None
    if not _has_required(kind, event_name, ids):
        return None
    objects, times = _objects(message, kind), _times(message)
    if objects is None or times is None:
        return None
    properties, traits, context, integrations = objects
    original, sent_at = times
    return Event(
        message_id or str(uuid4()),
        kind,
        corrected_timestamp(received_at, original, sent_at),
        received_at,
        event_name,
        name,
        anonymous_id,
        user_id,
        previous_id,
        group_id,
        original,
        sent_at,
        properties,
        traits,
        context,
        integrations,
        source,
        entry,
    )


def _ids(message: dict[str, Any]) -> list[str | None] | None:
    """The five ids as validate_message keeps them (stripped, "" as None), or None for the
    slow path (numeric ids, wrong types, too long)."""
    ids: list[str | None] = []
    for key in ID_FIELDS:
        value = message.get(key)
        if value is not None:
            if type(value) is not str:
                return None
            value = value.strip() or None
            if value is not None and len(value) > MAX_ID_LENGTH:
                return None
        ids.append(value)
    return ids


def _small_enough(message: dict[str, Any], size_hint: int | None) -> bool:
    """validate_message's first check (depth, then size) passes."""
    try:
        json_size = _size_within_depth(message)
    except ValidationError:
        return False
    return (size_hint if size_hint is not None else json_size) <= MAX_EVENT_BYTES


def _has_required(kind: str, event_name: str | None, ids: list[str | None]) -> bool:
    """What validate_message requires by type: an event name for track, previousId and
    userId for alias, groupId for group."""
    _, user_id, previous_id, group_id, _ = ids
    if kind == "track":
        return bool(event_name)
    if kind == "alias":
        return previous_id is not None and user_id is not None
    return kind != "group" or group_id is not None


Objects = list[dict[str, Any] | None]


def _objects(message: dict[str, Any], kind: str) -> Objects | None:
    """properties, traits, context, integrations (an identify's traits from context.traits
    when it has none, as RudderStack sends them), or None for the slow path."""
    objects = [message.get(field) for field in OBJECT_FIELDS]
    for value in objects:
        if value is not None and type(value) is not dict:
            return None
    context = objects[2]
    if kind == "identify" and objects[1] is None and context is not None:
        found = context.get("traits")
        objects[1] = found if isinstance(found, dict) else None
    return objects


def _times(message: dict[str, Any]) -> tuple[datetime | None, datetime | None] | None:
    """originalTimestamp (else timestamp) and sentAt, or None for the slow path."""
    original = _time(message.get("originalTimestamp"))
    if original is None:  # like validate_message: timestamp is read only without it
        original = _time(message.get("timestamp"))
    sent_at = _time(message.get("sentAt"))
    if original is False or sent_at is False:
        return None
    return original, sent_at


def _text(value: Any) -> str | None | Literal[False]:
    """event or name: the value validate_message keeps, or False for the slow path."""
    if value is None:
        return None
    if type(value) is not str or len(value) > MAX_NAME_LENGTH:
        return False
    return value or None


def _time(value: Any) -> datetime | None | Literal[False]:
    """A time field as validate_message reads it, or False for the slow path."""
    if value is None:
        return None
    if type(value) is not str or len(value) > _LONGEST_TIME:
        return False
    return _parsed_time(value)


# The events of a batch share their sentAt, and often their timestamps: parse each text once.
@lru_cache(maxsize=1024)
def _parsed_time(value: str) -> datetime | Literal[False]:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed < MIN_TIMESTAMP or parsed >= MAX_TIMESTAMP:
        return False
    return parsed.astimezone(UTC)
