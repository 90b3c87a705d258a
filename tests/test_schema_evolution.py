"""Events written with one schema version are read by consumers that know another."""

from datetime import UTC, datetime

import pytest

from eventschema import DecodeError, EventCodec, validate_message
from eventschema.schemas import event_schemas


def _record(version: int) -> dict[str, object]:
    event = validate_message(
        {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": "a-1",
            "properties": {"order_id": "o-1", "total": 12.5},
        },
        datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )
    record = event.to_record()
    if version == 1:
        record.pop("source")
    return record


def test_v1_writer_is_read_by_v2_reader_with_the_default() -> None:
    schemas = event_schemas()
    writer = EventCodec(writer=schemas[1], reader=schemas[1])
    reader = EventCodec(reader=schemas[2])
    decoded = reader.decode(writer.encode(_record(1)))
    assert decoded["source"] == "unknown"
    assert decoded["event"] == "Order Completed"
    assert decoded["properties"] == '{"order_id":"o-1","total":12.5}'


def test_v2_writer_is_read_by_v1_reader_without_the_new_field() -> None:
    schemas = event_schemas()
    writer = EventCodec(writer=schemas[2])
    reader = EventCodec(reader=schemas[1])
    decoded = reader.decode(writer.encode(_record(2)))
    assert "source" not in decoded
    assert decoded["anonymous_id"] == "a-1"


def test_each_version_has_its_own_fingerprint_on_the_wire() -> None:
    schemas = event_schemas()
    assert schemas[1].fingerprint != schemas[2].fingerprint
    payload = EventCodec(writer=schemas[1]).encode(_record(1))
    assert payload[:2] == b"\xc3\x01"
    assert payload[2:10] == schemas[1].fingerprint


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"", "magic", id="empty"),
        pytest.param(b'{"json": true}', "magic", id="json"),
        pytest.param(
            b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown writer schema", id="fingerprint"
        ),
    ],
)
def test_unreadable_payloads_raise_decode_error(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        EventCodec().decode(payload)


def test_truncated_body_raises_decode_error() -> None:
    payload = EventCodec().encode(_record(2))
    with pytest.raises(DecodeError, match="corrupt"):
        EventCodec().decode(payload[:20])
