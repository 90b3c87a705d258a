"""The compiled Avro writer produces exactly fastavro's bytes for every event shape."""

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from eventschema import Event, EventCodec
from eventschema.fast_writer import compile_writer
from eventschema.schemas import SchemaVersion, event_schemas

TEXTS = ["", "a", "Ünïcødé ✓", "😀" * 40, "x" * 5000, '{"json": [1, 2]}', "\x00nul"]


def _random_record(rng: random.Random, version: int) -> dict[str, object]:
    def text() -> str:
        return rng.choice(TEXTS)

    def maybe() -> str | None:
        return None if rng.random() < 0.4 else text()

    def when() -> datetime:
        base = datetime(1960, 1, 1, tzinfo=UTC)
        return base + timedelta(microseconds=rng.randrange(0, 3_000_000_000_000_000))

    record: dict[str, object] = {
        "message_id": text(), "type": "track", "event": maybe(), "name": maybe(),
        "anonymous_id": maybe(), "user_id": maybe(), "previous_id": maybe(),
        "group_id": maybe(), "timestamp": when(),
        "original_timestamp": None if rng.random() < 0.5 else when(),
        "sent_at": None if rng.random() < 0.5 else when(), "received_at": when(),
        "properties": text(), "traits": text(), "context": text(), "integrations": text(),
    }  # fmt: skip
    if version >= 2:
        record["source"] = text()
    if version >= 3:
        record["entry"] = text()
    return record


@pytest.mark.parametrize("version", sorted(event_schemas()))
def test_compiled_writer_matches_fastavro(version: int) -> None:
    schema = event_schemas()[version]
    codec = EventCodec(writer=schema, reader=schema)
    assert compile_writer(schema.parsed) is not None
    rng = random.Random(version)
    for _ in range(2000):
        record = _random_record(rng, version)
        assert codec.encode(record) == codec.encode_with_fastavro(record)
        assert codec.decode(codec.encode(record))["message_id"] == record["message_id"]


def test_unsupported_schemas_fall_back_to_fastavro() -> None:
    raw = {"type": "record", "name": "R", "fields": [
        {"name": "f", "type": {"type": "array", "items": "string"}}]}  # fmt: skip
    assert compile_writer(raw) is None
    assert compile_writer("string") is None
    # The codec still encodes such a schema (through fastavro) and reads it back.
    parsed = parse_schema(raw, named_schemas={})
    print_ = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    schema = SchemaVersion(99, parsed, print_)
    codec = EventCodec(writer=schema, reader=schema, known={99: schema})
    record = {"f": ["a", "ü", ""]}
    encoded = codec.encode(record)
    assert encoded == codec.encode_with_fastavro(record)
    assert codec.decode(encoded) == record


def _random_event(rng: random.Random) -> Event:
    def maybe() -> str | None:
        return None if rng.random() < 0.4 else rng.choice(TEXTS)

    def obj() -> dict[str, object] | None:
        shapes: list[dict[str, object] | None] = [
            None, {}, {"a": 1, "ü": [1.5, None, True]}, {"page": {"url": rng.choice(TEXTS)}},
        ]  # fmt: skip
        return rng.choice(shapes)

    when = datetime(1960, 1, 1, tzinfo=UTC) + timedelta(
        microseconds=rng.randrange(0, 3_000_000_000_000_000)
    )
    return Event(
        message_id=rng.choice(TEXTS), type=rng.choice(["track", "page"]), timestamp=when,
        received_at=when + timedelta(milliseconds=rng.randrange(0, 10_000)), event=maybe(),
        name=maybe(), anonymous_id=maybe(), user_id=maybe(), previous_id=maybe(),
        group_id=maybe(), original_timestamp=None if rng.random() < 0.5 else when,
        sent_at=None if rng.random() < 0.5 else when, properties=obj(), traits=obj(),
        context=obj(), integrations=obj(), source=rng.choice(TEXTS), entry=rng.choice(TEXTS),
    )  # fmt: skip


def test_encoding_an_event_directly_matches_encoding_its_record() -> None:
    codec = EventCodec()
    rng = random.Random(11)
    for _ in range(2000):
        event = _random_event(rng)
        assert codec.encode_event(event) == codec.encode_with_fastavro(event.to_record())


def test_timestamps_at_the_edges_of_the_two_lookup_encoding_match_fastavro() -> None:
    """Fresh timestamps take a table for their low 14 bits: where that table stops applying
    (the first 8.192 s after the epoch, times before it), where the high part rolls over, and
    naive or offset datetimes, the bytes are still fastavro's."""
    schema = event_schemas()[max(event_schemas())]
    codec = EventCodec(writer=schema, reader=schema)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    moments = [epoch + timedelta(milliseconds=ms) for ms in (-8193, -1, 0, 1, 8191, 8192, 8193)]
    moments += [
        epoch + timedelta(milliseconds=(n << 13) + d)
        for n in (1, 2, 1 << 20, 212_000_000)
        for d in (-1, 0, 1)
    ]
    moments += [
        datetime(2026, 11, 30, 7, 0, 0, 999_999),
        datetime(2026, 11, 30, 9, tzinfo=timezone(timedelta(hours=2))),
    ]
    record = _random_record(random.Random(0), max(event_schemas()))
    for moment in moments:
        record["timestamp"] = record["received_at"] = moment
        assert codec.encode(record) == codec.encode_with_fastavro(record), moment
