"""Tests written to kill the mutants that survived mutation testing (docs/testing.md) in
consumers/conversions/hashing.py and csv_import/mapping.py. Pure functions, no Kafka."""

import json
from pathlib import Path
from typing import Any

import pytest

from consumers.conversions import hashing as h
from csv_import.mapping import MappingError, load_mapping, parse_mapping

# -- hashing ----------------------------------------------------------------------------------


def test_google_email_drops_inner_whitespace_and_reads_the_first_at() -> None:
    assert h.google_email(" Jane Doe @ Example.com ") == "janedoe@example.com"
    assert h.google_email("j.doe+a+b@gmail.com") == "jdoe@gmail.com"  # from the first '+'
    # Two '@': the domain is what follows the first, so this is not a Gmail address.
    assert h.google_email("j.doe@x@gmail.com") == "j.doe@x@gmail.com"


def test_meta_name_drops_punctuation_spaces_and_underscores() -> None:
    assert h.meta_name(" Mary-Jane O'Neil_Smith ") == "maryjaneoneilsmith"


def test_meta_city_and_state() -> None:
    assert h.meta_city("St. Louis (MO) 63101") == "stlouismo"
    assert h.meta_state(" New-York ") == "newyork"


def test_meta_zip_and_country() -> None:
    assert h.meta_zip("SW1A 1AA") == "sw1a1aa"
    assert h.meta_zip("12345-67-89") == "12345"
    assert h.meta_country(" US ") == "us"


# -- mapping ----------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "event": "Order Completed",
    "user_id_column": "customer",
    "timestamp_column": "sold_at",
    "timezone": "UTC",
}


def _refused(data: Any) -> str:
    with pytest.raises(MappingError) as raised:
        parse_mapping(json.dumps(data))
    return str(raised.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "mapping must be a JSON object"),
        ({**BASE, "x": 1, "y": 2}, "unknown mapping key(s): x, y"),
        ({**BASE, "event_column": "kind"},
         "give exactly one of event (a fixed name) or event_column"),
        ({k: v for k, v in BASE.items() if k != "user_id_column"},
         "give user_id_column or anonymous_id_column (or both)"),
        ({**BASE, "currency": "EUR", "currency_column": "cur"},
         "give at most one of currency or currency_column"),
        ({k: v for k, v in BASE.items() if k != "timezone"},
         "timezone is required (an IANA name such as Europe/Berlin, or UTC)"),
        ({**BASE, "ignore_columns": "store"}, "ignore_columns must be a list of column names"),
        ({**BASE, "ignore_columns": [1]}, "ignore_columns must be a list of column names"),
        ({**BASE, "decimal_comma": "yes"}, "decimal_comma must be true or false"),
        ({**BASE, "delimiter": '"'}, "delimiter must be one character (not a quote or newline)"),
        ({k: v for k, v in BASE.items() if k != "timestamp_column"},
         "timestamp_column is required"),
    ],
)  # fmt: skip
def test_each_bad_mapping_has_its_exact_reason(data: Any, message: str) -> None:
    assert _refused(data) == message


def test_optional_settings_reach_the_mapping() -> None:
    mapping = parse_mapping(
        json.dumps({**BASE, "delimiter": ";", "ignore_columns": ["a", "b"], "file_id": "f1"})
    )
    assert mapping.delimiter == ";"
    assert mapping.ignore_columns == frozenset({"a", "b"})
    assert mapping.file_id == "f1"
    plain = parse_mapping(json.dumps(BASE))
    assert (plain.delimiter, plain.ignore_columns, plain.file_id) == (",", frozenset(), "")


def test_header_errors_have_their_exact_reason() -> None:
    mapping = parse_mapping(json.dumps({**BASE, "order_id_column": "receipt"}))
    with pytest.raises(MappingError) as twice:
        mapping.check_header(["sold_at", "customer", "sold_at"])
    assert str(twice.value) == "the header names column 'sold_at' twice"
    with pytest.raises(MappingError) as missing:
        mapping.check_header(["other"])
    assert str(missing.value) == (
        "mapped column(s) not in the file's header: customer, receipt, sold_at"
    )


def test_load_mapping_reads_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({**BASE, "event": "Bestellung abgeschloßen"}, ensure_ascii=False),
                    encoding="utf-8")  # fmt: skip
    assert load_mapping(path).event == "Bestellung abgeschloßen"
    assert load_mapping(str(path)).timestamp_column == "sold_at"
    with pytest.raises(MappingError) as raised:
        load_mapping(tmp_path / "missing.json")
    assert str(raised.value) == (
        f"cannot read mapping {tmp_path / 'missing.json'}: No such file or directory"
    )
