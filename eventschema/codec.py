"""Avro single-object encoding of events: C3 01, the writer schema's fingerprint, the body.

The fingerprint lets a reader pick the writer schema among the versions it knows and resolve it
to its own reader schema, so producers and consumers can be upgraded independently.
"""

import io
from collections.abc import Mapping
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from eventschema.fast_writer import compile_writer
from eventschema.model import Event
from eventschema.schemas import SchemaVersion, event_schemas, latest_schema

MAGIC = b"\xc3\x01"
HEADER_LENGTH = len(MAGIC) + 8
# The Event fields that Event.to_record stores as JSON text (orjson of the dict, {} for None).
EVENT_JSON_FIELDS = frozenset({"properties", "traits", "context", "integrations"})


class DecodeError(ValueError):
    """A message that is not a readable Footfall event; the reason goes to the dead-letter topic."""


class EventCodec:
    def __init__(
        self,
        writer: SchemaVersion | None = None,
        reader: SchemaVersion | None = None,
        known: Mapping[int, SchemaVersion] | None = None,
    ) -> None:
        self.writer = writer or latest_schema()
        self.reader = reader or latest_schema()
        versions = known if known is not None else event_schemas()
        self._by_fingerprint = {schema.fingerprint: schema for schema in versions.values()}
        self._by_fingerprint.setdefault(self.writer.fingerprint, self.writer)
        self._prefix = MAGIC + self.writer.fingerprint
        self._compiled = compile_writer(self.writer.parsed)
        self._from_event = compile_writer(
            self.writer.parsed, attributes=True, json_fields=EVENT_JSON_FIELDS
        )

    def encode(self, record: Mapping[str, Any]) -> bytes:
        if self._compiled is not None:  # reads the fields only: no defensive copy
            return self._prefix + self._compiled(record)
        return self.encode_with_fastavro(record)

    def encode_event(self, event: Event) -> bytes:
        """The same bytes as `encode(event.to_record())` (a test checks), without building the
        record dict and its JSON strings: the API encodes every event through here."""
        if self._from_event is not None:
            return self._prefix + self._from_event(event)
        return self.encode(event.to_record())

    def encode_with_fastavro(self, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._prefix)
        schemaless_writer(buffer, self.writer.parsed, dict(record))
        return buffer.getvalue()

    def decode(self, payload: bytes) -> dict[str, Any]:
        if len(payload) < HEADER_LENGTH or payload[:2] != MAGIC:
            raise DecodeError("not Avro single-object encoding (bad magic bytes)")
        writer = self._by_fingerprint.get(payload[2:HEADER_LENGTH])
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {payload[2:HEADER_LENGTH].hex()}")
        try:
            record = schemaless_reader(
                io.BytesIO(payload[HEADER_LENGTH:]), writer.parsed, self.reader.parsed
            )
        except Exception as error:  # fastavro raises several types on corrupt input
            raise DecodeError(f"corrupt Avro body: {error!r}") from error
        if not isinstance(record, dict):
            raise DecodeError("Avro body is not a record")
        return record
