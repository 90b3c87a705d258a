"""The column mapping: a small JSON document that says which CSV column is what.

    {"event": "Order Completed",          # or "event_column": "kind"
     "user_id_column": "phone_hash",      # and/or "anonymous_id_column"
     "timestamp_column": "sold_at", "timezone": "Europe/Berlin",
     "timestamp_format": "%d.%m.%Y %H:%M",  # optional; default ISO 8601
     "order_id_column": "receipt", "value_column": "total",
     "currency": "EUR",                   # or "currency_column": "cur"
     "decimal_comma": false, "delimiter": ",", "file_id": "", "ignore_columns": []}

Every other column becomes a property (its text value, under the column's name).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_COLUMN_KEYS = (
    "event_column",
    "user_id_column",
    "anonymous_id_column",
    "timestamp_column",
    "order_id_column",
    "value_column",
    "currency_column",
)
_TEXT_KEYS = ("event", "timezone", "timestamp_format", "currency", "delimiter", "file_id")
_KNOWN = frozenset((*_COLUMN_KEYS, *_TEXT_KEYS, "decimal_comma", "ignore_columns"))


class MappingError(ValueError):
    """The mapping (or the file's header) cannot work: nothing is imported."""


@dataclass(frozen=True)
class Mapping:
    timezone: ZoneInfo
    timestamp_column: str
    event: str | None = None
    event_column: str | None = None
    user_id_column: str | None = None
    anonymous_id_column: str | None = None
    order_id_column: str | None = None
    value_column: str | None = None
    currency: str | None = None
    currency_column: str | None = None
    timestamp_format: str | None = None
    decimal_comma: bool = False
    delimiter: str = ","
    # Part of every row's messageId when there is no order id: separates files whose rows
    # could be identical at the same line (see rows.message_id).
    file_id: str = ""
    ignore_columns: frozenset[str] = frozenset()

    def mapped_columns(self) -> frozenset[str]:
        names = (getattr(self, key) for key in _COLUMN_KEYS)
        return frozenset(name for name in names if name) | self.ignore_columns

    def check_header(self, header: list[str]) -> None:
        """Every mapped column must exist in the file, and column names must be unique."""
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise MappingError(f"the header names column {name!r} twice")
            seen.add(name)
        missing = sorted(
            getattr(self, key) for key in _COLUMN_KEYS if getattr(self, key) not in (None, *seen)
        )
        if missing:
            raise MappingError(f"mapped column(s) not in the file's header: {', '.join(missing)}")


def load_mapping(path: str | Path) -> Mapping:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"cannot read mapping {path}: {error.strerror}") from None
    return parse_mapping(text)


def parse_mapping(text: str) -> Mapping:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MappingError(f"mapping is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise MappingError("mapping must be a JSON object")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise MappingError(f"unknown mapping key(s): {', '.join(unknown)}")
    values = {key: _text(data, key) for key in (*_COLUMN_KEYS, *_TEXT_KEYS)}
    _check_choices(values)
    ignore = data.get("ignore_columns", [])
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise MappingError("ignore_columns must be a list of column names")
    decimal_comma = data.get("decimal_comma", False)
    if not isinstance(decimal_comma, bool):
        raise MappingError("decimal_comma must be true or false")
    delimiter = values.pop("delimiter") or ","
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise MappingError("delimiter must be one character (not a quote or newline)")
    timestamp_column = values.pop("timestamp_column")
    if timestamp_column is None:
        raise MappingError("timestamp_column is required")
    return Mapping(
        timezone=_zone(values.pop("timezone")),
        timestamp_column=timestamp_column,
        delimiter=delimiter,
        file_id=values.pop("file_id") or "",
        decimal_comma=decimal_comma,
        ignore_columns=frozenset(ignore),
        **values,
    )


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MappingError(f"{key} must be a non-empty string")
    return value


def _check_choices(values: dict[str, str | None]) -> None:
    if (values["event"] is None) == (values["event_column"] is None):
        raise MappingError("give exactly one of event (a fixed name) or event_column")
    if values["user_id_column"] is None and values["anonymous_id_column"] is None:
        raise MappingError("give user_id_column or anonymous_id_column (or both)")
    if values["currency"] is not None and values["currency_column"] is not None:
        raise MappingError("give at most one of currency or currency_column")
    if values["timezone"] is None:
        raise MappingError("timezone is required (an IANA name such as Europe/Berlin, or UTC)")


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "")
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        raise MappingError(message) from None
