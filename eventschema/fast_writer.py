"""A record encoder compiled from the schema, for the API's hot path.

fastavro's schemaless_writer re-walks the schema on every call, which was a fifth of the API's
CPU at 50-event batches. Our event record only uses strings, longs (timestamp-millis) and
["null", X] unions, so a writer compiled once per schema does the same work in a few
operations per field. `compile_writer` returns None for any schema it does not cover, and the
codec then falls back to fastavro; a test checks byte equality with fastavro.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FieldWriter = Callable[[bytearray, Any], None]
RecordWriter = Callable[[dict[str, Any]], bytes]


def _write_long(out: bytearray, value: int) -> None:
    datum = (value << 1) ^ (value >> 63)  # zigzag
    while datum & ~0x7F:
        out.append((datum & 0x7F) | 0x80)
        datum >>= 7
    out.append(datum)


def _write_string(out: bytearray, value: str) -> None:
    data = value.encode()
    _write_long(out, len(data))
    out += data


def _write_millis(out: bytearray, value: datetime | int) -> None:
    if isinstance(value, datetime):
        # fastavro's arithmetic for aware datetimes (naive ones are taken as UTC).
        delta = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
        value = (delta.days * 86400 + delta.seconds) * 1000 + int(delta.microseconds / 1000)
    _write_long(out, value)


def _primitive(schema: Any) -> FieldWriter | None:
    if schema == "string":
        return _write_string
    if schema == "long":
        return _write_long
    if isinstance(schema, dict) and schema.get("type") == "long":
        if schema.get("logicalType") == "timestamp-millis":
            return _write_millis
        return _write_long if "logicalType" not in schema else None
    return None


def _nullable(schema: Any) -> FieldWriter | None:
    if not (isinstance(schema, list) and len(schema) == 2 and schema[0] == "null"):
        return None
    inner = _primitive(schema[1])
    if inner is None:
        return None

    def write(out: bytearray, value: Any) -> None:
        if value is None:
            out.append(0)
        else:
            out.append(2)  # zigzag(1): the second branch
            inner(out, value)

    return write


def compile_writer(parsed_schema: Any) -> RecordWriter | None:
    if not isinstance(parsed_schema, dict) or parsed_schema.get("type") != "record":
        return None
    fields: list[tuple[str, FieldWriter]] = []
    for field in parsed_schema["fields"]:
        writer = _primitive(field["type"]) or _nullable(field["type"])
        if writer is None:
            return None
        fields.append((field["name"], writer))

    def write_record(record: dict[str, Any]) -> bytes:
        out = bytearray()
        for name, writer in fields:
            writer(out, record[name])
        return bytes(out)

    return write_record
