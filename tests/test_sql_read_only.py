"""SQL that can only read, on every entry point: the sink's /query (a real sink process), the
analytics server's /api/sql through the sink and on a direct chDB DSN, and the guard itself.
Each bypass attempt is refused with 403 read_only and nothing runs: no output file appears. The
sink also keeps its resources fair: a few concurrent sessions, 429 busy beyond them (reports stay
prompt beside a slow query), and a per-query memory limit."""

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from clickhouse_connect.driver.client import Client
from starlette.testclient import TestClient

from consumers.clickhouse_sink import migrations
from consumers.clickhouse_sink.config import REPO_ROOT
from consumers.clickhouse_sink.writer import connect, connect_reader, ensure_database
from eventschema.readonly_sql import ClientExplainer, ReadOnlyRefused, check_read_only
from footfall import cli as footfall_cli
from footfall.topics import ensure_topics
from footfall_analytics.remote import SinkQueryClient
from footfall_analytics.server import create_app, open_dsn
from footfall_analytics.server.source import Source
from tests.support.analytics_auth import KEY_HEADERS, auth_config
from tests.support.sink import AUTH, READ_KEY, Sink, make_events, produce

MARK = f"ff_outfile_{uuid.uuid4().hex[:10]}"  # no file with this in its name may ever appear
REL = f"{MARK}.txt"  # a relative output file lands in the writer's working directory
POOL = 2  # the sink's query sessions in this module
EVENTS = 60

REFUSED = [
    "SELECT 1 INTO OUTFILE '{rel}'",
    "SELECT 1 INTO OUTFILE '{abs}'",
    "sElEcT 1 iNtO oUtFiLe '{rel}'",
    "SELECT 1 /* c */ INTO /* c */ OUTFILE '{abs}'",
    "SELECT 1 -- c\nINTO\tOUTFILE\n'{abs}'",
    "SELECT 1\u2003INTO\u00a0OUTFILE '{abs}'",
    "SELECT 1\x0bINTO\x0cOUTFILE '{rel}'",
    "SELECT 1 INTO OUTFILE '{abs}' APPEND",
    "SELECT 1 INTO OUTFILE '{abs}' TRUNCATE",
    "SELECT 1 INTO OUTFILE '{abs}' AND STDOUT",
    "SELECT 1 INTO OUTFILE '{abs}' COMPRESSION 'gzip' LEVEL 3",
    "SELECT 1 INTO OUTFILE '{abs}' FORMAT CSV",
    "SELECT number FROM numbers(3) INTO OUTFILE '{abs}' FORMAT JSONEachRow",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x INTO OUTFILE '{abs}'",
    "SELECT * FROM (SELECT 1) INTO OUTFILE '{abs}'",
    "(SELECT 1) INTO OUTFILE '{abs}'",
    "SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{abs}'",
    "SELECT 'INTO OUTFILE' INTO OUTFILE '{abs}'",
    "EXPLAIN SELECT 1 INTO OUTFILE '{abs}'",
    "SHOW TABLES INTO OUTFILE '{abs}'",
    "DESCRIBE TABLE events INTO OUTFILE '{abs}'",
    "SELECT 1; SELECT 2",
    "SELECT 1; SELECT 1 INTO OUTFILE '{abs}'",
    "SELECT 1;\nINSERT INTO FUNCTION file('{abs}') SELECT 1",
    "SELECT 1 /* ; */; KILL QUERY WHERE 1",
    "KILL QUERY WHERE 1",
    "kill query where 1 sync",
    "SYSTEM FLUSH LOGS",
    "SYSTEM DROP DNS CACHE",
    "SET readonly = 0",
    "SET max_memory_usage = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1 SETTINGS max_memory_usage = 0",
    "SELECT * FROM numbers(3) SETTINGS max_execution_time = 0",
    "SELECT * FROM file('/etc/passwd')",
    "SELECT * FROM FILE('/etc/passwd', 'LineAsString')",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM (SELECT * FROM file('/etc/passwd'))",
    "SELECT 1 WHERE 1 IN (SELECT 1 FROM file('/etc/passwd'))",
    "WITH f AS (SELECT * FROM file('/etc/passwd')) SELECT * FROM f",
    "SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1', system.one)",
    "SELECT * FROM cluster('default', system.one)",
    "SELECT * FROM s3('http://127.0.0.1:1/b/k', CSV)",
    "SELECT * FROM executable('ls', TSV, 'a String')",
    "SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')",
    "SELECT * FROM merge(currentDatabase(), '^events$')",
    "DESCRIBE file('/etc/passwd')",
    "INSERT INTO FUNCTION file('{abs}') SELECT 1",
    "INSERT INTO events (message_id) VALUES ('x')",
    "CREATE TABLE t (x UInt8) ENGINE = File(TSV)",
    "CREATE TABLE t ENGINE = Memory AS SELECT 1",
    "DROP TABLE events",
    "ALTER TABLE events DELETE WHERE 1",
    "TRUNCATE TABLE events",
    "OPTIMIZE TABLE events FINAL",
    "EXPLAIN INSERT INTO FUNCTION file('{abs}') SELECT 1",
    "EXPLAIN SELECT * FROM file('/etc/passwd')",
    "EXPLAIN AST DROP TABLE events",
]
ALLOWED = [
    ("SELECT 'INTO OUTFILE' AS s", [["INTO OUTFILE"]]),
    ("SELECT 'x; DROP TABLE events' AS s", [["x; DROP TABLE events"]]),
    ("SELECT 1 AS `into outfile`", [[1]]),
    ("SELECT /* INTO OUTFILE 'x' */ 1 AS one", [[1]]),
    ("SELECT 1 AS one -- INTO OUTFILE 'x'", [[1]]),
    ("sElEcT\t1\u00a0AS one;", [[1]]),
    ("SELECT count() >= 0 AS c FROM events", [[1]]),
    ("WITH t AS (SELECT number FROM numbers(3)) SELECT sum(number) AS s FROM t", [[3]]),
    ("SELECT 1 AS n UNION ALL SELECT 2", None),
    ("SELECT * FROM (SELECT count() FROM numbers(4))", [[4]]),
    ("SELECT count() FROM (SELECT * FROM generateRandom('a UInt8', 1) LIMIT 2)", [[2]]),
    ("SELECT sum(a) FROM values('a UInt8', 1, 2)", [[3]]),
    ("EXPLAIN SELECT 1", None),
    ("SHOW TABLES", None),
    ("DESCRIBE TABLE events", None),
    ("EXISTS TABLE events", [[1]]),
]


def sql_text(template: str, out_dir: Path) -> str:
    return template.replace("{rel}", REL).replace("{abs}", str(out_dir / REL))


def assert_no_output_file(out_dir: Path, *dirs: Path) -> None:
    """Nothing was written: not where relative names land (the processes' working directories,
    the sink's data dir), not where the absolute names point."""
    for where in (out_dir, REPO_ROOT, Path.cwd(), *dirs):
        assert not list(where.glob(f"*{MARK}*")), f"an output file appeared in {where}"


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outfiles")


@pytest.fixture(scope="module")
def sink(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    ensure_topics(kafka_bootstrap, prefix)
    env = {"FOOTFALL_QUERY_CONCURRENCY": str(POOL), "FOOTFALL_QUERY_MAX_MEMORY": "100000000"}
    running = Sink(kafka_bootstrap, prefix, tmp_path_factory.mktemp("ro_sink"), extra_env=env)
    running.start()
    produce(kafka_bootstrap, f"{prefix}events", make_events(EVENTS))
    assert running.wait_rows(EVENTS)[0] == EVENTS
    yield running
    running.stop()


@pytest.fixture(scope="module")
def via_sink(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The analytics server reading through the sink (the default chDB setup)."""
    client = SinkQueryClient(sink.url, read_key=READ_KEY)
    source = Source(cast(Client, client), f"sink {sink.url}/query")
    auth = auth_config(tmp_path_factory.mktemp("ro_auth"))
    with TestClient(create_app(source, auth), headers=KEY_HEADERS) as http:
        yield http
    source.close()


@pytest.fixture(scope="module")
def direct_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    dsn = f"chdb://{tmp_path_factory.mktemp('ro_direct') / 'ch'}"
    ensure_database(dsn, "footfall")
    writer = connect(dsn, "footfall")
    migrations.apply(writer, REPO_ROOT / "deploy/clickhouse/migrations")
    writer.close()
    return dsn


@pytest.fixture(scope="module")
def direct(direct_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The analytics server on a direct chDB DSN (its own read-only session and guard)."""
    source = open_dsn(direct_dsn, "footfall")
    auth = auth_config(tmp_path_factory.mktemp("ro_auth_direct"))
    with TestClient(create_app(source, auth), headers=KEY_HEADERS) as http:
        yield http
    source.close()


# ---- the guard on a direct chDB session (fast) -----------------------------------------------


@pytest.fixture(scope="module")
def reader(direct_dsn: str) -> Iterator[Client]:
    client, _ = connect_reader(direct_dsn, "footfall")
    yield client
    client.close()


@pytest.mark.parametrize("template", REFUSED)
def test_guard_refuses(reader: Client, out_dir: Path, template: str) -> None:
    with pytest.raises(ReadOnlyRefused):
        check_read_only(ClientExplainer(reader), sql_text(template, out_dir))
    assert_no_output_file(out_dir)


@pytest.mark.parametrize(("sql", "rows"), ALLOWED)
def test_guard_allows(reader: Client, sql: str, rows: Any) -> None:
    check_read_only(ClientExplainer(reader), sql)


def test_guard_keeps_other_errors_and_parameters(reader: Client) -> None:
    check_read_only(ClientExplainer(reader, {"n": 41}), "SELECT {n:UInt8} + 1")
    with pytest.raises(Exception, match="UNKNOWN_QUERY_PARAMETER|not set"):
        check_read_only(ClientExplainer(reader), "SELECT {n:UInt8} + 1")
    with pytest.raises(Exception, match="SYNTAX_ERROR|Syntax error"):
        check_read_only(ClientExplainer(reader), "SELECT FROM WHERE")
    with pytest.raises(ReadOnlyRefused):
        check_read_only(ClientExplainer(reader, {"n": 1}), "SELECT {n:UInt8} INTO OUTFILE 'x'")


# ---- every entry point ----------------------------------------------------------------------


@pytest.mark.parametrize("template", REFUSED)
def test_sink_query_refuses(sink: Sink, out_dir: Path, template: str) -> None:
    response = sink.query(sql_text(template, out_dir))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "read_only"
    assert_no_output_file(out_dir, sink.data_dir)


@pytest.mark.parametrize("template", REFUSED)
def test_api_sql_through_the_sink_refuses(
    sink: Sink, via_sink: TestClient, out_dir: Path, template: str
) -> None:
    response = via_sink.post("/api/sql", content=sql_text(template, out_dir))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "read_only"
    assert_no_output_file(out_dir, sink.data_dir)


@pytest.mark.parametrize("template", REFUSED)
def test_api_sql_direct_refuses(direct: TestClient, out_dir: Path, template: str) -> None:
    response = direct.post("/api/sql", content=sql_text(template, out_dir))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "read_only"
    assert_no_output_file(out_dir)


@pytest.mark.parametrize(("sql", "rows"), ALLOWED)
def test_reads_are_answered_everywhere(
    sink: Sink, via_sink: TestClient, direct: TestClient, sql: str, rows: Any
) -> None:
    assert sink.query(sql).status_code == 200
    for http in (via_sink, direct):
        response = http.post("/api/sql", content=sql)
        assert response.status_code == 200, response.text
        if rows is not None:
            assert response.json()["rows"] == rows


def test_sink_parameters_cannot_smuggle_statements(sink: Sink, out_dir: Path) -> None:
    params = {"format": "TabSeparatedRaw", "param_s": f"x' INTO OUTFILE '{out_dir / REL}"}
    ok = httpx.post(f"{sink.url}/query", params=params, content="SELECT {s:String}", headers=AUTH)
    assert ok.status_code == 200 and ok.text.strip() == params["param_s"]
    refused = httpx.post(f"{sink.url}/query", params={"param_n": "1"}, headers=AUTH,
                         content=f"SELECT {{n:UInt8}} INTO OUTFILE '{out_dir / REL}'")  # fmt: skip
    assert refused.status_code == 403 and refused.json()["code"] == "read_only"
    assert_no_output_file(out_dir, sink.data_dir)


def test_no_output_file_anywhere(
    sink: Sink, out_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert not list(tmp_path_factory.getbasetemp().rglob(f"*{MARK}*"))
    assert_no_output_file(out_dir, sink.data_dir, sink.data_dir / "clickhouse")


# ---- fair resources -------------------------------------------------------------------------


def _report_params() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "from": (today - timedelta(days=2)).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(),
        "interval": "day",
    }


def _in_background(sink: Sink, sql: str, statuses: list[int]) -> threading.Thread:
    # The client is built before the thread starts, so the request leaves at once (building
    # one took up to 0.2 s under load, eating the margin of the waits below).
    client = httpx.Client(timeout=60, headers=AUTH)

    def run() -> None:
        with client:
            response = client.post(
                f"{sink.url}/query", params={"format": "TabSeparated"}, content=sql
            )
        statuses.append(response.status_code)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_reports_stay_prompt_beside_a_slow_query(sink: Sink, via_sink: TestClient) -> None:
    statuses: list[int] = []
    slow = _in_background(sink, "SELECT sleep(3)", statuses)
    time.sleep(0.5)  # the slow query holds one session
    started = time.monotonic()
    report = via_sink.get("/api/events-over-time", params=_report_params())
    took = time.monotonic() - started
    assert report.status_code == 200, report.text
    assert sum(r["events"] for r in report.json()["rows"]) == EVENTS
    assert took < 2.0, f"the report waited {took:.1f}s behind the slow query"
    slow.join()
    assert statuses == [200]


def test_busy_beyond_the_pool_is_429_at_once(sink: Sink, via_sink: TestClient) -> None:
    statuses: list[int] = []
    slow = [_in_background(sink, "SELECT sleep(3)", statuses) for _ in range(POOL)]
    # Every session is busy now: they were all taken within 0.1-0.4 s under load (measured);
    # the checks below end by about 1.8 s, before the 3 s sleeps do.
    time.sleep(1.2)
    started = time.monotonic()
    extra = sink.query("SELECT 1")
    assert time.monotonic() - started < 1.0  # refused at once, not queued
    assert extra.status_code == 429, extra.text
    assert extra.json()["code"] == "busy" and int(extra.headers["Retry-After"]) >= 1
    api = via_sink.post("/api/sql", content="SELECT 1")
    assert api.status_code == 429 and api.json()["code"] == "busy", api.text
    assert int(api.headers["Retry-After"]) >= 1
    report = via_sink.get("/api/events-over-time", params=_report_params())
    assert report.status_code == 429 and report.headers["Retry-After"], report.text
    for thread in slow:
        thread.join()
    assert statuses == [200] * POOL
    assert sink.query("SELECT 1").status_code == 200  # the sessions are back


def test_memory_limit_refuses_a_hungry_query(sink: Sink, via_sink: TestClient) -> None:
    sql = "SELECT length(groupArray(number)) FROM numbers(1e10)"
    response = sink.query(sql)
    assert response.status_code == 400
    assert "MEMORY_LIMIT_EXCEEDED" in response.text, response.text[:500]
    api = via_sink.post("/api/sql", content=sql)
    assert api.status_code == 400 and "MEMORY_LIMIT_EXCEEDED" in api.json()["message"]


def test_cli_query_sends_the_read_key(
    sink: Sink, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOOTFALL_SINK_HTTP_PORT", str(sink.port))
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(sink.data_dir))  # holds secrets/read_key
    monkeypatch.delenv("FOOTFALL_READ_KEY", raising=False)
    assert footfall_cli.main(["query", "SELECT 40 + 2", "-f", "TSV"]) == 0  # the key file
    assert capsys.readouterr().out == "42\n"
    monkeypatch.setenv("FOOTFALL_READ_KEY", "not-a-read-key")  # the variable comes first
    assert footfall_cli.main(["query", "SELECT 1"]) == 1
    assert "invalid_read_key" in capsys.readouterr().err
    monkeypatch.setenv("FOOTFALL_READ_KEY", READ_KEY)
    assert footfall_cli.main(["query", f"SELECT 1 INTO OUTFILE '{REL}'"]) == 1
    assert "read_only" in capsys.readouterr().err
