"""README "Analytics": read-only SQL has a time limit. The sink's sessions stop a query after
FOOTFALL_QUERY_MAX_SECONDS (ClickHouse's TIMEOUT_EXCEEDED, a 400 that /api/sql passes on as
`query_error`), and /api/sql itself answers 504 `timeout` after 20 s (SQL_TIMEOUT) when the
session's own limit is longer. Real sink (chDB) and a real analytics server subprocess.

The slow query sleeps one second per block of an endless `system.numbers`: it never finishes on
its own and burns almost no CPU while it runs."""

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from footfall.broker import find_free_ports
from footfall_analytics.server.app import SQL_TIMEOUT
from tests.support.processes import start_healthy
from tests.support.sink import AUTH, READ_KEY, Sink

SLOW_SQL = "SELECT count() FROM system.numbers WHERE sleep(1) = 0"
ANALYTICS_KEY = "ffr_documented-sql-limit-key"


@dataclass
class Stack:
    sink: Sink
    analytics: subprocess.Popen[bytes]
    analytics_url: str

    def api_sql(self, sql: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = httpx.post(
            f"{self.analytics_url}/api/sql", content=sql,
            headers={"Authorization": f"Bearer {ANALYTICS_KEY}"}, timeout=120,
        )  # fmt: skip
        return response, time.monotonic() - started


def start_stack(bootstrap: str, prefix: str, tmp_path: Path, sink_env: dict[str, str]) -> Stack:
    sink = Sink(bootstrap, prefix, tmp_path, extra_env=sink_env)
    sink.start()
    (port,) = find_free_ports(1)
    env = {
        **os.environ,
        "FOOTFALL_DATA_DIR": str(tmp_path),
        "FOOTFALL_SINK_HTTP_PORT": str(sink.port),
        "FOOTFALL_SINK_READ_KEY": READ_KEY,
        "FOOTFALL_READ_KEYS": ANALYTICS_KEY,
        "FOOTFALL_ANALYTICS_PORT": str(port),
        "FOOTFALL_SESSION_SECRET": "documented-sql-limit-session-secret",
        "FOOTFALL_USERS_FILE": str(tmp_path / "users.json"),
    }
    url = f"http://127.0.0.1:{port}"
    try:
        analytics = start_healthy(
            "footfall_analytics.server", env, tmp_path / "analytics.log", f"{url}/healthz", 60
        )
    except BaseException:
        sink.stop()
        raise
    return Stack(sink, analytics, url)


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.analytics.terminate()
        stack.analytics.wait(30)
        stack.sink.stop()


def test_the_sessions_time_limit_stops_a_query_with_timeout_exceeded(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, stacks: list[Stack]
) -> None:
    # One session, so the queries after the stopped one run on the session that stopped it.
    env = {"FOOTFALL_QUERY_MAX_SECONDS": "2", "FOOTFALL_QUERY_CONCURRENCY": "1"}
    stack = start_stack(kafka_bootstrap, topic_prefix, tmp_path, env)
    stacks.append(stack)

    started = time.monotonic()
    direct = stack.sink.query(SLOW_SQL)
    direct_took = time.monotonic() - started
    assert direct.status_code == 400, direct.text
    assert "TIMEOUT_EXCEEDED" in direct.text, direct.text
    assert 2 <= direct_took < 10, direct_took  # stopped near its 2 s, not run on

    answer, took = stack.api_sql(SLOW_SQL)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "query_error" and "TIMEOUT_EXCEEDED" in body["message"], body
    assert 2 <= took < 10, took
    # The session is free again and clean: the next queries run and see only their own output
    # (chDB kept a stopped query's partial output for the session's next result: the sink's
    # read-only check then refused a plain SELECT with 403 read_only).
    for _ in range(2):
        again = stack.sink.query("SELECT 42 AS answer", fmt="TabSeparatedWithNames")
        assert (again.status_code, again.text) == (200, "answer\n42\n")
    timed_out = stack.sink.query(SLOW_SQL)
    assert timed_out.status_code == 400 and "TIMEOUT_EXCEEDED" in timed_out.text
    ok, _ = stack.api_sql("SELECT 1 AS one")
    assert ok.status_code == 200 and ok.json()["rows"] == [[1]], ok.text


def test_api_sql_answers_504_after_its_own_limit_and_the_session_limit_frees_the_sink(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, stacks: list[Stack]
) -> None:
    session_limit = SQL_TIMEOUT + 5  # longer than /api/sql's own limit
    env = {"FOOTFALL_QUERY_MAX_SECONDS": str(int(session_limit)), "FOOTFALL_QUERY_CONCURRENCY": "1"}
    stack = start_stack(kafka_bootstrap, topic_prefix, tmp_path, env)
    stacks.append(stack)

    sent = time.monotonic()
    answer, took = stack.api_sql(SLOW_SQL)

    assert answer.status_code == 504, answer.text
    assert answer.json()["code"] == "timeout", answer.text
    assert SQL_TIMEOUT <= took < SQL_TIMEOUT + 4, took
    # The query still holds the sink's only session until the session's own limit stops it ...
    busy = httpx.post(f"{stack.sink.url}/query", content="SELECT 1", headers=AUTH, timeout=30)
    assert busy.status_code == 429, busy.text
    # ... and then that limit frees it (not an unbounded query left running).
    deadline = sent + session_limit + 15
    while True:
        probe = httpx.post(f"{stack.sink.url}/query", content="SELECT 1", headers=AUTH, timeout=30)
        if probe.status_code == 200:
            break
        assert probe.status_code == 429, probe.text
        assert time.monotonic() < deadline, "the sink's session limit did not stop the query"
        time.sleep(0.25)
    assert time.monotonic() - sent >= session_limit - 1
