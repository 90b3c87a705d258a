"""The anonymous and user id of an events record, read from its first bytes (no full decode).

The sink's fast path never decodes a record (ClickHouse decodes the Avro). Erasure must know
each record's ids; a full decode costs about 28 us a record, so this reads only the first six
fields, which every event schema version starts with (`PREFIX`, checked per schema at start):
message_id, type, event, name, anonymous_id, user_id. Avro writes a string as a zig-zag varint
length and its UTF-8 bytes, and a ["null", "string"] union as a branch index (0 null, 1 string)
before the value. About a third of a full decode, whatever the length of the suppression list.
"""

from eventschema.schemas import event_schemas

HEADER_LENGTH = 10  # 2 magic bytes and the 8-byte writer fingerprint (single-object encoding)
OPTIONAL = ["null", "string"]
PREFIX = [("message_id", "string"), ("type", "string"), ("event", OPTIONAL), ("name", OPTIONAL),
          ("anonymous_id", OPTIONAL), ("user_id", OPTIONAL)]  # fmt: skip


class NotReadable(ValueError):
    """The record does not start as the event schemas do (it is dead-lettered elsewhere)."""


def readable_fingerprints() -> frozenset[bytes]:
    """Writer fingerprints of the schemas that start with PREFIX (all of them, so far)."""
    found = set()
    for schema in event_schemas().values():
        fields = [(f["name"], f["type"]) for f in schema.parsed["fields"][: len(PREFIX)]]
        if fields == PREFIX:
            found.add(schema.fingerprint)
    return frozenset(found)


def _long(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise NotReadable("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    length, pos = _long(buf, pos)
    end = pos + length
    if length < 0 or end > len(buf):
        raise NotReadable("bad string length")
    return buf[pos:end].decode("utf-8", "replace"), end


def _optional(buf: bytes, pos: int) -> tuple[str | None, int]:
    branch, pos = _long(buf, pos)
    if branch == 0:
        return None, pos
    if branch != 1:
        raise NotReadable("bad union branch")
    return _string(buf, pos)


def record_ids(payload: bytes) -> tuple[str | None, str | None]:
    """(anonymous_id, user_id) of a record written with a schema of readable_fingerprints()."""
    pos = HEADER_LENGTH
    _message_id, pos = _string(payload, pos)
    _type, pos = _string(payload, pos)
    _event, pos = _optional(payload, pos)
    _name, pos = _optional(payload, pos)
    anonymous_id, pos = _optional(payload, pos)
    user_id, _pos = _optional(payload, pos)
    return anonymous_id, user_id
