"""The API's fast path (producer_api.plain_validation) gives validate_message's answer.

For any message, plain_event either declines (None: the caller runs validate_message) or returns
the very Event validate_message builds; when validate_message refuses a message, plain_event
must decline. Messages are generated around the edges of every rule (types, ids with spaces,
numeric ids, lengths, times with and without zones, out-of-range times, objects that are not
objects), plus the common shape, which the fast path must take.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from eventschema import Event, ValidationError, validate_message
from eventschema.entry import BROWSER_KEY, SERVER_KEY
from eventschema.validation import MAX_ID_LENGTH, MAX_NAME_LENGTH
from producer_api.plain_validation import plain_event

RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TYPES = ("track", "identify", "page", "screen", "group", "alias")

ids = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", " u1 ", "u1", "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1)]),
    st.text(max_size=8),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False),
    st.booleans(),
    st.just([]),
)
names: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.sampled_from(["", "Order Completed", "e" * MAX_NAME_LENGTH, "e" * (MAX_NAME_LENGTH + 1)]),
    st.integers(),
    st.just({}),
)
moments = st.datetimes(datetime(1999, 12, 31), datetime(2300, 1, 2))
zones = st.none() | st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def times(draw: st.DrawFn) -> Any:
    moment = draw(moments).replace(tzinfo=draw(zones))
    form = draw(st.integers(0, 4))
    if form == 0:
        return moment.isoformat()
    if form == 1 and moment.tzinfo is None:
        return moment.isoformat(timespec="milliseconds") + "Z"
    if form == 2:
        return draw(st.sampled_from(["", "yesterday", "2026-13-01T00:00:00Z", "9" * 80]))
    if form == 3:
        return draw(st.none() | st.integers() | st.just({}))
    return "2026-11-29T11:59:58.500Z"


objects = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["a", "url", "traits", "ip"]), st.text(max_size=3)),
    st.just({"traits": {"email": "a@b.example"}}),
    st.sampled_from([[], "text", 3]),
)
FIELDS = {
    "type": st.sampled_from((*TYPES, "other", None, 1)),
    "anonymousId": ids,
    "userId": ids,
    "previousId": ids,
    "groupId": ids,
    "messageId": ids,
    "event": names,
    "name": names,
    "timestamp": times(),
    "originalTimestamp": times(),
    "sentAt": times(),
    "properties": objects,
    "traits": objects,
    "context": objects,
    "integrations": objects,
}


REQUIRED = {
    "track": {"event": "Order Completed"},
    "alias": {"previousId": "p-1"},
    "group": {"groupId": "g-1"},
}


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message of a random type with up to three fields drawn from FIELDS."""
    kind = draw(st.sampled_from(TYPES))
    message: dict[str, Any] = {"type": kind, "userId": "u-1", "messageId": "m-1"}
    message.update(REQUIRED.get(kind, {}))
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=3)):
        if draw(st.booleans()):
            message[name] = draw(FIELDS[name])
        else:
            message.pop(name, None)
    return message


def slow(message: Any, *args: Any) -> Event | ValidationError:
    try:
        return validate_message(message, *args)
    except ValidationError as error:
        return error


def same_event(fast: Event, reference: Event, message: dict[str, Any]) -> bool:
    if message.get("messageId") in (None, "") or not str(message["messageId"]).strip():
        fast.message_id = reference.message_id  # a new uuid each time: not comparable
    return fast == reference


IDENTIFY = {"type": "identify", "userId": "u-1", "messageId": "m-1"}
TRACK = {"type": "track", "event": "e", "userId": "u-1", "messageId": "m-1"}


@settings(max_examples=2000, deadline=None)
@example({**IDENTIFY, "context": {"traits": {"email": "a@b.example"}}}, None, SERVER_KEY, 0)
@example({**TRACK, "timestamp": "1999-12-31T23:59:59.999Z"}, None, SERVER_KEY, 0)
@example({**TRACK, "sentAt": "2300-01-01T00:00:00+00:00"}, None, SERVER_KEY, 0)
@example({**TRACK, "event": "e" * (MAX_NAME_LENGTH + 1)}, None, SERVER_KEY, 0)
@example({**TRACK, "name": "n" * (MAX_NAME_LENGTH + 1)}, None, SERVER_KEY, 0)
@given(
    messages(),
    st.sampled_from((None, *TYPES)),
    st.sampled_from((SERVER_KEY, BROWSER_KEY)),
    st.sampled_from((None, 0, 40_000)),
)
def test_fast_path_answers_as_validate_message(
    message: dict[str, Any], default_type: str | None, entry: str, size: int | None
) -> None:
    args = (RECEIVED, default_type, "http", size, entry)
    fast = plain_event(message, *args)
    reference = slow(message, *args)
    event("fast path" if fast is not None else "slow path")
    if fast is None:
        return
    assert isinstance(reference, Event), (message, reference)
    assert same_event(fast, reference, message), (message, fast, reference)


def test_the_common_shape_takes_the_fast_path() -> None:
    message = {
        "type": "track",
        "event": "Product Viewed",
        "messageId": "m-1",
        "anonymousId": "a-1",
        "timestamp": "2026-11-29T11:59:58.500Z",
        "sentAt": "2026-11-29T11:59:59.000Z",
        "properties": {"price": 499.0},
        "context": {"page": {"url": "https://shop.example/"}, "ip": "203.0.113.7"},
    }
    fast = plain_event(message, RECEIVED, None, "http", 0, SERVER_KEY)
    assert fast is not None
    assert fast == validate_message(message, RECEIVED, None, "http", 0, SERVER_KEY)


def test_refused_and_deep_messages_take_the_slow_path() -> None:
    deep: dict[str, Any] = {"type": "track", "event": "e", "userId": "u"}
    inner = deep
    for _ in range(300):
        inner["x"] = {}
        inner = inner["x"]
    assert plain_event(deep, RECEIVED, None, "http", 0, SERVER_KEY) is None
    assert plain_event([], RECEIVED, None, "http", 0, SERVER_KEY) is None
    assert plain_event({"type": "track"}, RECEIVED, None, "http", 0, SERVER_KEY) is None
