"""Per-record checks of the slow path, and the column list (no I/O, unit-tested).

The mapping of a record to its typed columns lives in ONE place: the DEFAULT expressions of the
events table (deploy/clickhouse/migrations/0001_create_events.sql); ClickHouse decodes the Avro
itself. The fast path checks only the magic bytes and the writer fingerprint of each record, and
the table's CONSTRAINT rejects an empty message_id. What it no longer checks per row, and why
that is safe: JSON text that is not an object, and timestamps outside DateTime64's range. Every
producer validates with eventschema.validate_message, which only emits orjson-dumped dicts and
timestamps after 2000-01-01 and at most 23 h ahead of receipt. If an insert fails anyway (a
corrupt body, a violated constraint), the loop decodes that batch record by record and applies
`check` to find the records to dead-letter, with the same reasons as before.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from eventschema.entry import ENTRIES, KAFKA
from eventschema.stored_columns import STORED_COLUMNS

COLUMNS: tuple[str, ...] = STORED_COLUMNS  # the one list, in eventschema; kept importable here
JSON_FIELDS = ("properties", "traits", "context", "integrations")
# DateTime64(3) holds 1900-01-01 .. 2299-12-31; outside that an insert would fail for the batch.
MIN_TIME = datetime(1900, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(2299, 12, 30, tzinfo=UTC)


class RowRejected(ValueError):
    """A decoded record that cannot become a row; `reason` is the dead-letter reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def check(record: Mapping[str, Any]) -> None:
    """Raise RowRejected if the decoded record would make a broken row."""
    message_id = record.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise RowRejected("missing_message_id")
    for key in JSON_FIELDS:
        _object(record, key)
    _time(record.get("timestamp"), "timestamp")
    _time(record.get("received_at"), "received_at")
    for key in ("original_timestamp", "sent_at"):
        if record.get(key) is not None:
            _time(record.get(key), key)
    entry = record.get("entry", KAFKA)  # a value outside the Enum8 column fails the insert
    if entry not in ENTRIES:
        raise RowRejected("invalid_entry", repr(entry)[:100])


def _object(record: Mapping[str, Any], key: str) -> None:
    raw = record.get(key) or "{}"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RowRejected("invalid_json", f"{key}: {error}") from error
    if not isinstance(value, dict):
        raise RowRejected("invalid_json", f"{key} is not a JSON object")


def _time(value: Any, field: str) -> None:
    if not isinstance(value, datetime):
        raise RowRejected("invalid_timestamp", f"{field} is missing")
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not MIN_TIME <= moment <= MAX_TIME:
        raise RowRejected("timestamp_out_of_range", f"{field}={moment.isoformat()}")
