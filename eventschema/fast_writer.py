"""A record encoder compiled from the schema, for the API's hot path.

fastavro's schemaless_writer re-walks the schema on every call, which was a fifth of the API's
CPU at 50-event batches. Our event record only uses strings, longs (timestamp-millis) and
["null", X] unions, so `compile_writer` generates one Python function per schema with every
field's encoding written out in line (no call per field), string lengths looked up in a table
of ready-made varints, and timestamps (a request's events share received_at) cached. It
returns None for any schema it does not cover, and the codec then falls back to fastavro; a
test checks byte equality with fastavro.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FieldWriter = Callable[[bytearray, Any], None]
RecordWriter = Callable[[Any], bytes]  # a record (Mapping) or, compiled for it, an Event


def _write_long(out: bytearray, value: int) -> None:
    datum = (value << 1) ^ (value >> 63)  # zigzag; in place, no bytes between: the sink
    while datum & ~0x7F:  # writes one per row
        out.append((datum & 0x7F) | 0x80)
        datum >>= 7
    out.append(datum)


def _write_string(out: bytearray, value: str) -> None:
    data = value.encode()
    _write_long(out, len(data))
    out += data


def _long_bytes(value: int) -> bytes:
    return _varint((value << 1) ^ (value >> 63))  # zigzag


def _varint(datum: int) -> bytes:
    """An unsigned varint: seven bits a byte, the high bit set on all but the last."""
    out = bytearray()
    while datum & ~0x7F:
        out.append((datum & 0x7F) | 0x80)
        datum >>= 7
    out.append(datum)
    return bytes(out)


_TABLE = 16384  # lengths below this (nearly all fields) take their varint from a table
_LENGTH = tuple(_long_bytes(n) for n in range(_TABLE))
_SOME_LENGTH = tuple(b"\x02" + prefix for prefix in _LENGTH)  # branch 1 of ["null", X], then X
_MILLIS_CACHE: dict[Any, bytes] = {}
# A timestamp's varint from two lookups: its low 14 bits (two bytes, both continued: every
# time from 1970-01-01 00:00:08.192 on has more bits) from a table, the rest from a small
# cache that changes every ~8 s. Fresh times (each batch event's own) missed _MILLIS_CACHE and
# cost 1.6 µs in the loop of _long_bytes; this takes 0.6 (docs/performance.md, round five).
_LOW_14 = tuple(bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(16384))
_HIGH: dict[int, bytes] = {}


def _millis(value: datetime | int) -> bytes:
    """A timestamp-millis long, encoded; fastavro's arithmetic (naive datetimes taken as UTC)."""
    cached = _MILLIS_CACHE.get(value)
    if cached is not None:
        return cached
    if isinstance(value, datetime):
        delta = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
        millis = (delta.days * 86400 + delta.seconds) * 1000 + int(delta.microseconds / 1000)
    else:
        millis = value
    if len(_MILLIS_CACHE) > 4096:
        _MILLIS_CACHE.clear()
    encoded = _MILLIS_CACHE[value] = _millis_bytes(millis)
    return encoded


def _millis_bytes(millis: int) -> bytes:
    datum = millis << 1  # zigzag of a positive long
    if millis < 8192:  # negative, or too small for two continued bytes: the plain loop
        return _long_bytes(millis)
    rest = datum >> 14
    high = _HIGH.get(rest)
    if high is None:
        if len(_HIGH) > 64:
            _HIGH.clear()
        high = _HIGH[rest] = _varint(rest)
    return _LOW_14[datum & 0x3FFF] + high


def _kind(schema: Any) -> str | None:
    """The code template of a non-null schema we cover: string, long or timestamp-millis."""
    if schema == "string":
        return "string"
    if schema == "long":
        return "long"
    if isinstance(schema, dict) and schema.get("type") == "long":
        if schema.get("logicalType") == "timestamp-millis":
            return "millis"
        return "long" if "logicalType" not in schema else None
    return None


# One field, in line; `v` holds the value. {L} is the length table (plain or after branch 1).
_PUT = "n = len(d); a({L}[n] if n < {T} else {B}_long_bytes(n)); a(d)"  # d: the bytes
_CODE = {
    "string": "d = v.encode(); " + _PUT,
    # A dict stored as JSON text (Event.to_record): orjson's bytes as they are, no str between.
    "json": "d = _dumps(v or _EMPTY); " + _PUT,
    "long": "a(_long_bytes(v))",
    "millis": "a(_millis(v))",
}


def _field_code(name: str, schema: Any, read: str, json_fields: frozenset[str]) -> str | None:
    fetch = f"    v = {read.format(name=name)}\n"
    kind = _kind(schema)
    if kind == "string" and name in json_fields:
        kind = "json"
    if kind is not None:
        return fetch + "    " + _CODE[kind].format(L="_LENGTH", T=_TABLE, B="") + "\n"
    if not (isinstance(schema, list) and len(schema) == 2 and schema[0] == "null"):
        return None
    kind = _kind(schema[1])
    if kind is None or name in json_fields:
        return None
    # Branch 1 of ["null", X] is the byte 02; a string's length table has it in front already.
    some = _CODE[kind].format(L="_SOME_LENGTH", T=_TABLE, B="b'\\x02' + ")
    if kind != "string":
        some = "a(b'\\x02'); " + some
    return fetch + f"    if v is None:\n        a(b'\\x00')\n    else:\n        {some}\n"


def compile_writer(
    parsed_schema: Any, *, attributes: bool = False, json_fields: frozenset[str] = frozenset()
) -> RecordWriter | None:
    """A writer of records (dicts); with `attributes`, of objects whose attributes are named like
    the fields (an Event), where the `json_fields` hold dicts to store as their JSON text."""
    if not isinstance(parsed_schema, dict) or parsed_schema.get("type") != "record":
        return None
    read = "record.{name}" if attributes else "record[{name!r}]"
    source = "def write_record(record):\n    out = []\n    a = out.append\n"
    for field in parsed_schema["fields"]:
        code = _field_code(field["name"], field["type"], read, json_fields)
        if code is None:
            return None
        source += code
    source += "    return b''.join(out)\n"
    scope: dict[str, Any] = {
        "_LENGTH": _LENGTH,
        "_SOME_LENGTH": _SOME_LENGTH,
        "_long_bytes": _long_bytes,
        "_millis": _millis,
        "_dumps": orjson.dumps,
        "_EMPTY": {},
    }
    exec(compile(source, f"<avro writer {parsed_schema.get('name')}>", "exec"), scope)  # noqa: S102
    writer: RecordWriter = scope["write_record"]
    return writer
