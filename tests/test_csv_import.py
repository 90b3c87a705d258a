"""csv_import without any server: the mapping, cells, rows and the streaming record splitter."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from csv_import.mapping import Mapping, MappingError, parse_mapping
from csv_import.records import BadRecord, Record, RecordSplitter
from csv_import.rows import Converted, RowConverter, RowError
from csv_import.stream import CsvStream

BASE: dict[str, Any] = {
    "event": "Order Completed",
    "user_id_column": "phone_hash",
    "timestamp_column": "sold_at",
    "timezone": "Europe/Berlin",
    "order_id_column": "receipt",
    "value_column": "total",
    "currency": "EUR",
}
HEADER = ["sold_at", "phone_hash", "receipt", "total", "store"]
NOW = datetime(2024, 12, 1, tzinfo=UTC)


def mapping(**changes: Any) -> Mapping:
    return parse_mapping(json.dumps({**BASE, **changes}))


def convert(cells: list[str], line: int = 2, **changes: Any) -> Converted | RowError:
    return RowConverter(mapping(**changes), HEADER).convert(Record(line, cells), NOW)


def good(cells: list[str], line: int = 2, **changes: Any) -> Converted:
    result = convert(cells, line, **changes)
    assert isinstance(result, Converted), result
    return result


def bad(cells: list[str], **changes: Any) -> str:
    result = convert(cells, **changes)
    assert isinstance(result, RowError), result
    assert result.line == 2
    return result.reason


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": None}, "timezone is required"),
        ({"event_column": "kind"}, "exactly one of event"),
        ({"user_id_column": None}, "user_id_column or anonymous_id_column"),
        ({"timestamp_column": None}, "timestamp_column is required"),
        ({"currency_column": "cur"}, "at most one of currency"),
        ({"colour": "red"}, "unknown mapping key(s): colour"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"value_column": 3}, "value_column must be a non-empty string"),
    ],
)
def test_a_bad_mapping_is_refused_with_a_clear_reason(changes: dict[str, Any], error: str) -> None:
    data = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    with pytest.raises(MappingError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_mapping(json.dumps(data))


def test_mapped_columns_must_be_in_the_header() -> None:
    with pytest.raises(MappingError, match="not in the file's header: receipt"):
        RowConverter(mapping(), ["sold_at", "phone_hash", "total"])
    with pytest.raises(MappingError, match="not valid JSON"):
        parse_mapping("{nope")


def test_a_row_becomes_a_track_message_with_the_other_columns_as_properties() -> None:
    row = good(["2024-05-31 14:05:00", " ph-1 ", "R-17", "1,234.50", "Berlin Mitte"])
    message = row.message
    assert message["type"] == "track"
    assert message["event"] == "Order Completed"
    assert message["userId"] == "ph-1"
    assert message["timestamp"] == "2024-05-31T12:05:00+00:00"  # CEST is UTC+2
    assert message["properties"] == {
        "store": "Berlin Mitte",
        "order_id": "R-17",
        "value": 1234.5,
        "currency": "EUR",
    }
    assert row.event.source == "csv"
    assert row.event.timestamp == datetime(2024, 5, 31, 12, 5, tzinfo=UTC)


def test_time_zones_and_daylight_saving_time() -> None:
    def utc(text: str, **changes: Any) -> str:
        return str(good([text, "ph", "R", "1", "s"], **changes).message["timestamp"])

    assert utc("2024-01-15 09:00") == "2024-01-15T08:00:00+00:00"  # CET, UTC+1
    assert utc("2024-07-15 09:00") == "2024-07-15T07:00:00+00:00"  # CEST, UTC+2
    # Clocks go back at 03:00 on 27 Oct 2024: 02:30 happens twice; the earlier one is taken.
    assert utc("2024-10-27 02:30") == "2024-10-27T00:30:00+00:00"
    # Clocks go forward at 02:00 on 31 Mar 2024: 02:30 never happened.
    assert "does not exist in Europe/Berlin" in bad(["2024-03-31 02:30", "ph", "R", "1", "s"])
    # An explicit offset in the cell wins over the file's zone.
    assert utc("2024-07-15T09:00:00-04:00") == "2024-07-15T13:00:00+00:00"
    assert utc("2024-07-15 09:00", timezone="America/New_York") == "2024-07-15T13:00:00+00:00"
    assert utc("15.07.2024 09:00", timestamp_format="%d.%m.%Y %H:%M") == "2024-07-15T07:00:00+00:00"
    assert "does not match" in bad(["yesterday", "ph", "R", "1", "s"])
    assert "timestamp is empty" in bad(["", "ph", "R", "1", "s"])
    assert "before 2000-01-01" in bad(["1999-12-31 12:00", "ph", "R", "1", "s"])


def test_amounts_and_currencies() -> None:
    def value(text: str, **changes: Any) -> Any:
        return good(["2024-05-31 14:05", "ph", "R", text, "s"], **changes).message["properties"]

    assert value("12.5")["value"] == 12.5
    assert value("-3")["value"] == -3.0
    assert value("1.234,56", decimal_comma=True)["value"] == 1234.56
    assert value("12,5", decimal_comma=True)["value"] == 12.5
    assert "value" not in value("")  # no amount: no value property
    for text in ("abc", "1.2.3", "NaN", "inf", "12,5", "1e5x"):
        assert "is not a number" in bad(["2024-05-31 14:05", "ph", "R", text, "s"]), text
    assert "decimal_comma" in bad(["2024-05-31 14:05", "ph", "R", "12,5", "s"])
    header = [*HEADER, "cur"]
    converter = RowConverter(mapping(currency=None, currency_column="cur"), header)
    row = converter.convert(Record(2, ["2024-05-31 14:05", "ph", "R", "1", "s", "usd"]), NOW)
    assert isinstance(row, Converted) and row.message["properties"]["currency"] == "USD"
    row = converter.convert(Record(2, ["2024-05-31 14:05", "ph", "R", "1", "s", "euro"]), NOW)
    assert isinstance(row, RowError) and "ISO 4217" in row.reason


def test_rows_without_a_user_or_with_the_wrong_shape_are_reported() -> None:
    assert "no user id: phone_hash is empty" in bad(["2024-05-31 14:05", " ", "R", "1", "s"])
    assert "expected 5 columns, found 4" in bad(["2024-05-31 14:05", "ph", "R", "1"])
    assert "not valid UTF-8" in bad(["2024-05-31 14:05", "ph\ufffd", "R", "1", "s"])
    changes: dict[str, Any] = {"anonymous_id_column": "phone_hash", "user_id_column": None}
    row = good(["2024-05-31 14:05", "anon-1", "R", "1", "s"], **changes)
    assert row.message["anonymousId"] == "anon-1" and "userId" not in row.message


def test_the_event_name_can_come_from_a_column() -> None:
    header = ["sold_at", "phone_hash", "receipt", "total", "kind"]
    converter = RowConverter(mapping(event=None, event_column="kind"), header)
    row = converter.convert(Record(2, ["2024-05-31 14:05", "p", "R", "1", "Order Refunded"]), NOW)
    assert isinstance(row, Converted) and row.message["event"] == "Order Refunded"
    assert "kind" not in row.message["properties"]
    empty = converter.convert(Record(3, ["2024-05-31 14:05", "p", "R", "1", ""]), NOW)
    assert isinstance(empty, RowError) and "event name" in empty.reason


def test_message_ids_are_deterministic() -> None:
    cells = ["2024-05-31 14:05", "ph", "R-1", "1", "s"]
    first = good(cells).message["messageId"]
    assert good(cells).message["messageId"] == first
    # With an order id, the order is the identity (another line, another export: same event).
    assert good([*cells[:4], "other store"], line=9).message["messageId"] == first
    # Without one, the row and its line are.
    no_order = ["2024-05-31 14:05", "ph", "", "1", "s"]
    row_id = good(no_order).message["messageId"]
    assert good(no_order).message["messageId"] == row_id
    assert good(no_order, line=3).message["messageId"] != row_id
    assert good(no_order, file_id="shop-2").message["messageId"] != row_id


def split(data: bytes, chunk: int) -> list[Record | BadRecord]:
    splitter = RecordSplitter()
    out: list[Record | BadRecord] = []
    for start in range(0, len(data), chunk):
        splitter.feed(data[start : start + chunk])
        out += splitter.records()
    splitter.finish()
    return out + list(splitter.records())


def test_records_keep_their_line_numbers_whatever_the_chunk_size() -> None:
    data = '\ufeffa,b\r\n1,"x\ny"\n\n2,"q""r"\n3,"bad"x\n4,"é"\n5,"open\n'.encode()
    expected = [
        Record(1, ["a", "b"]),
        Record(2, ["1", "x\ny"]),
        Record(5, ["2", 'q"r']),
        BadRecord(6, "malformed CSV: ',' expected after '\"'"),
        Record(7, ["4", "é"]),
        BadRecord(8, "malformed CSV: unexpected end of data"),
    ]
    for chunk in (1, 2, 5, 4096):
        assert split(data, chunk) == expected, chunk


def test_the_stream_reports_bad_rows_and_counts_what_it_read() -> None:
    stream = CsvStream(mapping())
    text = (
        "sold_at,phone_hash,receipt,total,store\n"
        "2024-05-31 14:05,ph1,R1,10,a\n"
        "2024-05-31 14:05,,R2,10,a\n"
        "2024-05-31 14:05,ph3,R3,ten,a\n"
        "2024-05-31 14:05,ph4,R4,10\n"
        "2024-05-31 14:05,ph5,R5,10,b"  # no newline at the end
    )
    items = stream.feed(text.encode()) + stream.finish()
    assert [(type(i).__name__, i.line) for i in items] == [
        ("Converted", 2), ("RowError", 3), ("RowError", 4), ("RowError", 5), ("Converted", 6),
    ]  # fmt: skip
    assert stream.rows_read == 5
    with pytest.raises(MappingError, match="empty"):
        CsvStream(mapping()).finish()
