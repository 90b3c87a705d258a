"""README "Offline events from CSV": the `X-Footfall-Mapping` header and the cap of 1,000 listed
bad rows, on the real API (uvicorn subprocess) and the real broker."""

import json
from typing import Any

import httpx

from eventschema import EventCodec
from tests.support.api import WRITE_KEY, ApiServer
from tests.support.kafka_tools import read_all, value_of

# A mapping only the header carries: semicolons, decimal commas, the event name from a column,
# a day-first time format. Read with the defaults instead, not one row would come out right.
HEADER_MAPPING = {
    "event_column": "kind",
    "user_id_column": "customer",
    "timestamp_column": "when",
    "timezone": "Europe/Berlin",
    "timestamp_format": "%d.%m.%Y %H:%M",
    "order_id_column": "receipt",
    "value_column": "amount",
    "currency": "EUR",
    "decimal_comma": True,
    "delimiter": ";",
}
HEADER_CSV = """\
when;kind;customer;receipt;amount;till
31.05.2024 14:05;Order Completed;cust-1;R-100;1.234,50;T1
01.06.2024 09:30;Refund Issued;cust-2;R-101;7,25;T2
"""


def post(api: ApiServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/import/csv", content=body, auth=(WRITE_KEY, ""),
        headers={"content-type": "text/csv", **headers}, timeout=120,
    )  # fmt: skip


def stored_events(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    messages = read_all(bootstrap, topic, timeout=30)
    assert len(messages) == expected, f"{len(messages)} records in {topic}, expected {expected}"
    codec = EventCodec()
    return [codec.decode(value_of(m)) for m in messages]


def test_the_mapping_in_the_x_footfall_mapping_header_is_used(
    api: ApiServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Without a mapping nothing is imported: the header below is what makes the import work.
    missing = post(api, HEADER_CSV.encode(), {})
    assert (missing.status_code, missing.json()["code"]) == (400, "missing_mapping")
    # The header is read as a mapping: a bad one is refused as one.
    bad = post(api, HEADER_CSV.encode(), {"X-Footfall-Mapping": json.dumps({"event": "x"})})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_mapping"), bad.text

    answer = post(api, HEADER_CSV.encode(), {"X-Footfall-Mapping": json.dumps(HEADER_MAPPING)})

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows"], report["accepted"], report["bad_row_count"]) == (2, 2, 0), report
    events = stored_events(kafka_bootstrap, f"{topic_prefix}events", 2)
    by_order = {json.loads(e["properties"])["order_id"]: e for e in events}
    assert set(by_order) == {"R-100", "R-101"}
    first, second = by_order["R-100"], by_order["R-101"]
    assert (first["event"], first["user_id"]) == ("Order Completed", "cust-1")
    assert (second["event"], second["user_id"]) == ("Refund Issued", "cust-2")
    props = json.loads(first["properties"])
    assert props["value"] == 1234.5 and props["currency"] == "EUR" and props["till"] == "T1"
    assert json.loads(second["properties"])["value"] == 7.25
    # 31.05.2024 14:05 in Berlin (CEST, UTC+2) is 12:05 UTC.
    assert first["timestamp"].isoformat().startswith("2024-05-31T12:05:00")
    assert first["entry"] == "csv_import" and first["source"] == "csv"


def test_more_than_1000_bad_rows_lists_exactly_1000_and_counts_them_all(
    api: ApiServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    bad_total, good_total = 1234, 40
    lines = ["sold_at,phone_hash,total"]
    expected_bad_lines: list[int] = []
    for i in range(bad_total + good_total):
        line_number = len(lines) + 1  # the header is line 1
        if i % 31 == 0 and i // 31 < good_total:
            lines.append(f"2024-05-01 10:00:00,ph-{i},{i}.5")  # good: 40 of them, spread out
        else:
            lines.append(f"2024-05-01 10:00:00,ph-{i},not-a-number-{i}")
            expected_bad_lines.append(line_number)
    assert len(expected_bad_lines) == bad_total
    mapping = {
        "event": "Order Completed",
        "user_id_column": "phone_hash",
        "timestamp_column": "sold_at",
        "timezone": "UTC",
        "value_column": "total",
    }
    answer = post(api, ("\n".join(lines) + "\n").encode(),
                  {"X-Footfall-Mapping": json.dumps(mapping)})  # fmt: skip

    assert answer.status_code == 200, answer.text[:500]
    report = answer.json()
    assert report["rows"] == bad_total + good_total
    assert report["accepted"] == good_total
    assert report["bad_row_count"] == bad_total  # all of them counted ...
    assert len(report["bad_rows"]) == 1000  # ... the first 1,000 listed
    assert [bad["line"] for bad in report["bad_rows"]] == expected_bad_lines[:1000]
    assert report["bad_row_count"] - len(report["bad_rows"]) == 234  # "and 234 more"
    assert all("not-a-number" in bad["reason"] or "number" in bad["reason"]
               for bad in report["bad_rows"])  # fmt: skip
    stored_events(kafka_bootstrap, f"{topic_prefix}events", good_total)
