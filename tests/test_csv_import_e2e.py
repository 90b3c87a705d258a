"""CSV import through the real API, Kafka and the ClickHouse sink (chDB): command and endpoint."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.support.api import REPO, WRITE_KEY, ApiServer
from tests.support.consumed import wait_group_caught_up
from tests.support.sink import Sink

BROWSER_KEY = "pk_csv_test"
MAPPING = {
    "event": "Order Completed",
    "user_id_column": "phone_hash",
    "timestamp_column": "sold_at",
    "timezone": "Europe/Berlin",
    "order_id_column": "receipt",
    "value_column": "total",
    "currency_column": "currency",
}
CSV = """\
sold_at,phone_hash,receipt,total,currency,store
2024-03-31 01:30:00,ph1,R1,12.50,EUR,Berlin
2024-03-31 02:30:00,ph2,R2,5,EUR,Berlin
2024-03-31 03:30:00,,R3,5,EUR,Berlin
2024-04-01 10:00:00,ph3,R4,abc,EUR,Berlin
2024-04-01 10:00:00,ph4,R5,7,EUR,"Ham
burg"
2024-04-01 11:00:00,ph5,,9,EUR,Berlin
1999-01-01 00:00:00,ph6,R6,9,EUR,Berlin
2024-04-02 12:00:00,ph7,R7,3.5,usd,Köln
"""
GOOD_ROWS = 4
BAD_LINES = [3, 4, 5, 9]


@pytest.fixture
def api_env() -> dict[str, str]:
    return {"FOOTFALL_BROWSER_KEYS": f"{BROWSER_KEY}=*"}


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    data, mapping = tmp_path / "shop.csv", tmp_path / "mapping.json"
    data.write_text(CSV, encoding="utf-8")
    mapping.write_text(json.dumps(MAPPING))
    return data, mapping


def run_command(api: ApiServer, data: Path, mapping: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "csv_import", str(data), "--mapping", str(mapping),
               "--api", api.url, "--key", WRITE_KEY, "--no-progress"]  # fmt: skip
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def assert_stored_once(sink: Sink, bootstrap: str, prefix: str) -> None:
    wait_group_caught_up(bootstrap, f"{prefix}sink", f"{prefix}events")
    final, distinct, _raw = sink.wait_rows(GOOD_ROWS)
    assert (final, distinct) == (GOOD_ROWS, GOOD_ROWS)
    response = sink.query(
        "SELECT user_id, JSONExtractString(properties, 'store'), "
        "JSONExtractFloat(properties, 'value'), toString(timestamp) FROM events FINAL "
        "ORDER BY user_id"
    )
    assert response.text.splitlines() == [
        "ph1\tBerlin\t12.5\t2024-03-31 00:30:00.000",
        "ph4\tHam\\nburg\t7\t2024-04-01 08:00:00.000",
        "ph5\tBerlin\t9\t2024-04-01 09:00:00.000",
        "ph7\tKöln\t3.5\t2024-04-02 10:00:00.000",
    ]


def test_the_command_imports_good_rows_once_and_reports_bad_lines_each_time(
    api: ApiServer, sink: Sink, tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    data, mapping = write_inputs(tmp_path)
    for _ in range(2):
        result = run_command(api, data, mapping)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert [int(line.split(":")[0].split()[1]) for line in lines[:-1]] == BAD_LINES
        assert "does not exist in Europe/Berlin" in lines[0]
        assert "no user id" in lines[1]
        assert "is not a number" in lines[2]
        assert "before 2000-01-01" in lines[3]
        assert lines[-1] == f"rows read: 8, imported: {GOOD_ROWS}, bad rows: 4"
    assert_stored_once(sink, kafka_bootstrap, topic_prefix)


def test_the_command_says_what_is_wrong_with_a_mapping(api: ApiServer, tmp_path: Path) -> None:
    data, mapping = write_inputs(tmp_path)
    mapping.write_text(json.dumps({**MAPPING, "timezone": "Europe/Atlantis"}))
    result = run_command(api, data, mapping)
    assert result.returncode == 2
    assert "unknown time zone 'Europe/Atlantis'" in result.stderr
    mapping.write_text(json.dumps({**MAPPING, "value_column": "amount"}))
    result = run_command(api, data, mapping)
    assert (result.returncode, result.stderr.strip()) == (
        2, "error: mapped column(s) not in the file's header: amount",
    )  # fmt: skip


def post_csv(api: ApiServer, body: bytes, key: str | None = WRITE_KEY) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/import/csv",
        params={"mapping": json.dumps(MAPPING)},
        content=body,
        auth=(key, "") if key else None,
        timeout=60,
    )


def test_the_endpoint_imports_good_rows_once_and_reports_bad_lines(
    api: ApiServer, sink: Sink, kafka_bootstrap: str, topic_prefix: str
) -> None:
    for _ in range(2):
        response = post_csv(api, CSV.encode())
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["rows"], report["accepted"], report["bad_row_count"]) == (8, GOOD_ROWS, 4)
        assert [bad["line"] for bad in report["bad_rows"]] == BAD_LINES
        assert "does not exist" in report["bad_rows"][0]["reason"]
    assert_stored_once(sink, kafka_bootstrap, topic_prefix)
    sources = sink.query("SELECT DISTINCT source FROM events FINAL").text.split()
    assert sources == ["csv"]


def test_the_endpoint_needs_a_server_key_and_a_good_mapping(api: ApiServer) -> None:
    assert post_csv(api, CSV.encode(), key=None).status_code == 401
    assert post_csv(api, CSV.encode(), key="nobody").status_code == 401
    browser = post_csv(api, CSV.encode(), key=BROWSER_KEY)
    assert (browser.status_code, browser.json()["code"]) == (403, "server_key_required")
    response = httpx.post(
        f"{api.url}/v1/import/csv", params={"mapping": '{"event": "x"}'}, content=CSV.encode(),
        auth=(WRITE_KEY, ""), timeout=30,
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "invalid_mapping")


def test_a_large_file_streams_with_bounded_memory(api: ApiServer, tmp_path: Path) -> None:
    rows = 200_000
    data, mapping = tmp_path / "big.csv", tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    padding = "x" * 60
    with data.open("w", encoding="utf-8") as out:
        out.write("sold_at,phone_hash,receipt,total,currency,store\n")
        for i in range(rows):
            out.write(f"2024-05-{1 + i % 28:02d} 12:{i % 60:02d}:00,ph{i % 997},B{i},{i % 90}.5,"
                      f"EUR,{padding}{i}\n")  # fmt: skip
    size = data.stat().st_size
    # Peak RSS of the importing process, after its imports and after the whole file.
    probe = textwrap.dedent(f"""
        import resource, sys
        from csv_import.__main__ import main
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        code = main([{str(data)!r}, "--mapping", {str(mapping)!r}, "--api", {api.url!r},
                     "--key", {WRITE_KEY!r}, "--no-progress"])
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("RSS", before * 1024, after * 1024, code)
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary, rss = result.stdout.splitlines()[-2:]
    assert summary == f"rows read: {rows}, imported: {rows}, bad rows: 0"
    _, before, after, code = rss.split()
    assert code == "0"
    growth = int(after) - int(before)
    assert size > 20_000_000
    assert growth < size / 4, (growth, size)
