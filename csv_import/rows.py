"""One CSV record -> one Segment track message (validated like the API would), or a RowError.

Pure: no I/O. The messageId is deterministic, so importing a file again produces the same ids
and ClickHouse (ReplacingMergeTree on message_id) and the sink keep each event once.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csv_import.mapping import Mapping
from csv_import.records import Record
from csv_import.values import CellError, parse_amount, parse_currency, parse_time
from eventschema import Event, ValidationError, validate_message

# Fixed forever: changing it would give every re-imported row a new identity.
ID_NAMESPACE = uuid.UUID("6f1e4a52-8c0b-5d2e-9a57-0c5b1f7e3d21")
SOURCE = "csv"
LIBRARY = {"name": "footfall-csv-import", "version": "1"}
_SEP = "\x1f"  # unit separator: cannot be confused with text inside a cell


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class Converted:
    line: int
    message: dict[str, Any]
    event: Event


class RowConverter:
    def __init__(self, mapping: Mapping, header: list[str]) -> None:
        mapping.check_header(header)
        self.mapping = mapping
        self.header = header
        mapped = mapping.mapped_columns()
        self._property_columns = [
            (index, name) for index, name in enumerate(header) if name not in mapped
        ]
        self._index = {name: index for index, name in enumerate(header)}
        self._header_identity = _SEP.join(header)

    def convert(self, record: Record, received_at: datetime) -> Converted | RowError:
        try:
            message = self.message(record)
            event = validate_message(message, received_at, "track", SOURCE)
        except CellError as error:
            return RowError(record.line, str(error))
        except ValidationError as error:
            return RowError(record.line, error.message)
        return Converted(record.line, message, event)

    def message(self, record: Record) -> dict[str, Any]:
        """The Segment message for a record; raises CellError or ValidationError."""
        fields = record.fields
        if len(fields) != len(self.header):
            raise CellError(f"expected {len(self.header)} columns, found {len(fields)}")
        if any("\ufffd" in value for value in fields):
            raise CellError("the row is not valid UTF-8")
        m = self.mapping
        event_name = m.event or self._cell(fields, m.event_column)
        if not event_name:
            raise CellError(f"event name (column {m.event_column!r}) is empty")
        user_id = self._cell(fields, m.user_id_column)
        anonymous_id = self._cell(fields, m.anonymous_id_column)
        if not user_id and not anonymous_id:
            columns = " / ".join(c for c in (m.user_id_column, m.anonymous_id_column) if c)
            raise CellError(f"no user id: {columns} is empty")
        when = self._cell(fields, m.timestamp_column)
        timestamp = parse_time(when, m.timezone, m.timestamp_format)
        order_id = self._cell(fields, m.order_id_column)
        properties = self._properties(fields, order_id)
        message: dict[str, Any] = {
            "type": "track",
            "event": event_name,
            "messageId": self._message_id(record, event_name, order_id),
            "timestamp": timestamp.isoformat(),
            "properties": properties,
            "context": {"library": LIBRARY},
        }
        if user_id:
            message["userId"] = user_id
        if anonymous_id:
            message["anonymousId"] = anonymous_id
        return message

    def _properties(self, fields: list[str], order_id: str) -> dict[str, Any]:
        m = self.mapping
        properties: dict[str, Any] = {
            name: fields[index] for index, name in self._property_columns if fields[index] != ""
        }
        if order_id:
            properties["order_id"] = order_id
        value = self._cell(fields, m.value_column)
        if value:
            properties["value"] = parse_amount(value, m.decimal_comma)
        currency = m.currency or self._cell(fields, m.currency_column)
        if currency:
            properties["currency"] = parse_currency(currency)
        return properties

    def _cell(self, fields: list[str], column: str | None) -> str:
        return fields[self._index[column]].strip() if column else ""

    def _message_id(self, record: Record, event_name: str, order_id: str) -> str:
        # An order is one event however often (and from whichever file) it is imported.
        if order_id:
            return str(uuid.uuid5(ID_NAMESPACE, _SEP.join(("order", event_name, order_id))))
        # Otherwise the row itself is its identity: file id, header, line number and cells.
        # The line keeps two identical rows of one file apart.
        identity = ("row", self.mapping.file_id, self._header_identity, str(record.line))
        return str(uuid.uuid5(ID_NAMESPACE, _SEP.join((*identity, *record.fields))))
