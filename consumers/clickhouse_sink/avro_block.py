"""Kafka records -> one Avro object container file (OCF) that ClickHouse decodes itself.

Every record is C3 01 + 8-byte writer fingerprint + the Avro body (eventschema.codec). For a run
of records with the same writer schema the sink sends ONE container block: the bodies as they are,
each followed by kafka_topic, kafka_partition and kafka_offset. An Avro record is just its fields
encoded one after the other, so "body + three more fields" is a valid record of the writer schema
extended by three trailing fields. No Python decodes or re-encodes an event on this path.
"""

import io
import json

from fastavro import parse_schema, writer
from fastavro.schema import to_parsing_canonical_form

from eventschema.codec import HEADER_LENGTH, MAGIC
from eventschema.fast_writer import _write_long, _write_string
from eventschema.schemas import SchemaVersion

_HEADERS: dict[bytes, bytes] = {}  # by writer fingerprint
SYNC = b"footfall-sink-16"  # any 16 bytes; it only has to match between header and block
KAFKA_FIELDS = [
    {"name": "kafka_topic", "type": "string"},
    {"name": "kafka_partition", "type": "int"},
    {"name": "kafka_offset", "type": "long"},
]


def container_header(schema: SchemaVersion) -> bytes:
    """The OCF header (magic, extended schema, sync marker) for records of `schema`."""
    cached = _HEADERS.get(schema.fingerprint)
    if cached is not None:
        return cached
    extended = json.loads(to_parsing_canonical_form(schema.parsed))
    extended["fields"] = extended["fields"] + KAFKA_FIELDS
    buffer = io.BytesIO()
    writer(buffer, parse_schema(extended, named_schemas={}), [], sync_marker=SYNC)
    _HEADERS[schema.fingerprint] = buffer.getvalue()
    return _HEADERS[schema.fingerprint]


def columns(schema: SchemaVersion) -> list[str]:
    """The insert's column list: naming the columns lets ClickHouse compute every other column's
    DEFAULT, including the EPHEMERAL parsed context they read from (without a list it does not)."""
    return [field["name"] for field in schema.parsed["fields"]] + [f["name"] for f in KAFKA_FIELDS]


def fingerprint_of(payload: bytes) -> bytes | None:
    """The writer fingerprint of a single-object-encoded payload, None if it is not one."""
    if len(payload) < HEADER_LENGTH or payload[:2] != MAGIC:
        return None
    return payload[2:HEADER_LENGTH]


def container(
    schema: SchemaVersion, topic: str, partition: int, records: list[tuple[int, bytes]]
) -> bytes:
    """An OCF with one block holding `records` ((offset, payload), all written with `schema`)."""
    return container_of(schema, topic, [(partition, records)])


def container_of(
    schema: SchemaVersion, topic: str, parts: list[tuple[int, list[tuple[int, bytes]]]]
) -> bytes:
    """One OCF block of several partitions' records: [(partition, [(offset, payload)])]."""
    body = bytearray()
    count = 0
    for partition, records in parts:
        suffix = bytearray()
        _write_string(suffix, topic)
        _write_long(suffix, partition)
        tail = bytes(suffix)
        for offset, payload in records:
            body += memoryview(payload)[HEADER_LENGTH:]
            body += tail
            _write_long(body, offset)
        count += len(records)
    block = bytearray(container_header(schema))
    _write_long(block, count)
    _write_long(block, len(body))
    block += body
    block += SYNC
    return bytes(block)
